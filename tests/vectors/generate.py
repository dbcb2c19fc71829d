"""Write the synthetic vector files in this folder (run once; the files are frozen).

    .venv/bin/python -m tests.vectors.generate

The published and captured vectors (pms5003_published.hex, parts of
sds011_stream.hex, nmea_published.nmea, scd4x_datasheet.hex) are written by
hand from their sources (see README.md) and not touched here. The synthetic
streams are built with airkit_host.frames, so every checksum and CRC is the
one a sensor would send; test_drivers_vectors.py checks that regenerating
them gives the same bytes, so the encoders and the frozen files cannot drift.
"""

from __future__ import annotations

from pathlib import Path

from airkit_host import frames

HERE = Path(__file__).resolve().parent

# A wake-up as a PMS5003 sends it in active mode, with what a real serial
# line adds: the tail of a frame cut off at power-on, noise with a false
# header byte, a frame corrupted in transit (one bit flipped).
PMS_VALUES = [
    {"pm1": 4, "pm25": 7, "pm10": 9, "n03": 1326, "n05": 394, "n10": 52, "n25": 0, "n50": 0, "n100": 0},
    {"pm1": 5, "pm25": 9, "pm10": 9, "n03": 1398, "n05": 402, "n10": 70, "n25": 4, "n50": 0, "n100": 0},
    {"pm1_cf1": 38, "pm25_cf1": 61, "pm10_cf1": 70, "pm1": 31, "pm25": 45, "pm10": 57,
     "n03": 6231, "n05": 1850, "n10": 402, "n25": 38, "n50": 9, "n100": 2},
    {"pm1": 6, "pm25": 8, "pm10": 11, "n03": 1290, "n05": 380, "n10": 61, "n25": 6, "n50": 2, "n100": 0},
]


def pms5003_wake_stream() -> list[tuple[str, bytes]]:
    good = [frames.pms5003_frame(v) for v in PMS_VALUES]
    corrupt = bytearray(frames.pms5003_frame({"pm1": 99, "pm25": 99, "pm10": 99, "n03": 5000}))
    corrupt[9] ^= 0x10
    return [
        ("tail of a frame cut off at power-on", frames.pms5003_frame(PMS_VALUES[0])[20:]),
        ("ack of 'passive' (e1 00) then of 'active' (e1 01)", frames.pms5003_reply(0xE1, 0) + frames.pms5003_reply(0xE1, 1)),
        ("three all-zero frames while the fan spins up", frames.pms5003_warmup_frame() * 3),
        ("data frame 1", good[0]),
        ("line noise with a false header byte 0x42", bytes.fromhex("00ff42154d")),
        ("data frame 2", good[1]),
        ("a frame with one bit flipped in transit (checksum no longer matches)", bytes(corrupt)),
        ("data frame 3 (CF=1 above atmospheric, as at higher loads)", good[2]),
        ("data frame 4", good[3]),
        ("first 11 bytes of a frame still arriving", frames.pms5003_frame(PMS_VALUES[0])[:11]),
    ]


SDS_VALUES = [(4.2, 7.9), (5.0, 9.1), (12.3, 20.0)]


def sds011_stream() -> list[tuple[str, bytes]]:
    corrupt = bytearray(frames.sds011_frame(8.8, 10.1))
    corrupt[3] ^= 0x01
    return [
        ("published example (Nova protocol V1.3 / issue 3): PM2.5 123.6, PM10 261.8",
         bytes.fromhex("AAC0D4043A0AA1601DAB")),
        ("reply to 'work' (06 01 01)", frames.sds011_reply(6, 1, 1)),
        ("noise", bytes.fromhex("ab00aa17")),
        ("data 1", frames.sds011_frame(*SDS_VALUES[0])),
        ("a frame with one bit flipped", bytes(corrupt)),
        ("data 2", frames.sds011_frame(*SDS_VALUES[1])),
        ("data 3", frames.sds011_frame(*SDS_VALUES[2])),
        ("reply to 'sleep' (06 01 00)", frames.sds011_reply(6, 1, 0)),
    ]


# A walk: cold start without a fix, then a fix, moving north-east.
WALK_T0 = 1763900000  # 2025-11-23T12:13:20Z
WALK_FIXES = [(52.520008, 13.404954, 34.5), (52.520120, 13.405110, 34.7), (52.520231, 13.405265, 34.6)]


def nmea_walk() -> list[str]:
    lines = [
        frames.nmea_sentence("GPTXT,01,01,02,u-blox ag - www.u-blox.com"),
        frames.rmc(None, None, WALK_T0 - 3, fix=False, talker="GN"),
        frames.gga(None, None, WALK_T0 - 3, fix=False, sats=0, talker="GN"),
        frames.nmea_sentence("GPGSV,1,1,02,05,43,120,28,13,12,045,"),
        frames.rmc(None, None, WALK_T0 - 2, fix=False, talker="GN"),
        frames.gga(None, None, WALK_T0 - 2, fix=False, sats=2, talker="GN"),
    ]
    for i, (lat, lon, alt) in enumerate(WALK_FIXES):
        t = WALK_T0 + i
        lines.append(frames.rmc(lat, lon, t, speed_kn=0.3, talker="GN"))
        lines.append(frames.gga(lat, lon, t, alt=alt, hdop=1.1, sats=7, talker="GN"))
        lines.append(frames.nmea_sentence("GLGSV,1,1,03,65,31,281,22,72,44,055,30,88,13,149,"))
    # Transmission damage a GPS log really shows: a character changed, a
    # sentence cut short by a reset.
    broken = frames.gga(52.5203, 13.4054, WALK_T0 + 3, talker="GN").replace("5231", "5221", 1)
    lines.append(broken)
    lines.append(frames.rmc(52.5203, 13.4054, WALK_T0 + 3, talker="GN")[:30] + "\r\n")
    return lines


# Weather a kit meets: mild, a freezing fog, a hot dry afternoon.
BME_SAMPLES = [(21.37, 1008.25, 48.1), (-5.2, 985.0, 91.0), (34.9, 1021.7, 22.5)]


def bme280_registers() -> str:
    tp, h = frames.bme280_calibration_bytes()
    out = [
        "# BME280 register image: 'register: bytes' from that register on.",
        "# Synthetic: written by tests/vectors/generate.py with airkit_host.frames (frozen).",
        "# Calibration: airkit_host.frames.CALIBRATION (T/P from Bosch's worked example).",
        f"d0: {frames.bme280_registers(20, 1000, 50)[0xD0]:02x}",
        f"88: {tp.hex(' ')}",
        f"e1: {h.hex(' ')}",
    ]
    for temp, pressure, rh in BME_SAMPLES:
        data = frames.bme280_data(temp, pressure, rh)
        out.append(f"# sample: {temp} degC, {pressure} hPa, {rh} %RH")
        out.append("f7: " + bytes(data[0xF7 + i] for i in range(8)).hex(" "))
    return "\n".join(out) + "\n"


def _write_hex(path: Path, title: str, parts: list[tuple[str, bytes]]) -> None:
    out = [f"# {title}", "# Synthetic: written by tests/vectors/generate.py with airkit_host.frames (frozen)."]
    for note, data in parts:
        out.append(f"# {note}")
        out.append(data.hex(" "))
    path.write_text("\n".join(out) + "\n")


def render() -> dict[str, str]:
    """The synthetic files' contents, by name."""
    import tempfile

    texts = {}
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "x"
        _write_hex(p, "PMS5003 in active mode, waking up", pms5003_wake_stream())
        texts["pms5003_wake_stream.hex"] = p.read_text()
        _write_hex(p, "SDS011 in active mode", sds011_stream())
        texts["sds011_stream.hex"] = p.read_text()
    # One sentence per line, LF only; the tests add CR LF when replaying.
    texts["nmea_walk.nmea"] = "".join(line.rstrip("\r\n") + "\n" for line in nmea_walk())
    texts["bme280_registers.hex"] = bme280_registers()
    return texts


def main() -> None:
    for name, text in render().items():
        (HERE / name).write_text(text, newline="")
        print("wrote", name)


if __name__ == "__main__":
    main()
