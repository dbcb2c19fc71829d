"""Encoders for the byte streams the kit's sensors send (CPython only).

Virtual kits and tests build *real* wire data with these: every frame has the
checksum or CRC the sensor would compute, so it passes through the firmware's
own decoders (airkit.pms5003, .sds011, .nmea, .scd4x, .bme280) unchanged.
Feed the results to ``airkit_host.fakebus`` (FakeUART, FakeI2C).

    pms5003_frame({"pm25": 13, "pm10": 22})      32 bytes
    sds011_frame(123.6, 261.8)                   10 bytes
    gga(52.52, 13.405, 1763900000), rmc(...)     "$GPGGA,...*hh\\r\\n"
    scd4x_measurement(612, 22.4, 41.0)           9 bytes (3 words + CRCs)
    bme280_registers(21.0, 1013.25, 45.0)        {register: byte} image

Each function's docstring names the protocol section it follows; the
comments in the firmware modules cite the datasheets.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping

from airkit import bme280 as _bme280
from airkit import pms5003 as _pms
from airkit import scd4x as _scd4x
from airkit.crc import word_crc

# -- Plantower PMS5003 / PMS7003 ----------------------------------------------

PMS_MASS = ("pm1", "pm25", "pm10")
PMS_COUNTS = ("n03", "n05", "n10", "n25", "n50", "n100")


def _u16(name: str, value: float) -> int:
    v = int(round(value))
    if not 0 <= v <= 0xFFFF:
        raise ValueError(f"{name}={value} does not fit the sensor's 16-bit word (0..65535)")
    return v


def pms5003_frame(values: Mapping[str, float] | None = None, reserved: int = 0x9700) -> bytes:
    """A 32-byte PMS5003 data frame (Plantower manual, appendix I) with its checksum.

    ``values`` uses the firmware's field names (pm1, pm25, pm10, pm1_cf1,
    pm25_cf1, pm10_cf1, n03 ... n100). A CF=1 value that is not given copies
    the atmospheric one (the two agree below ~30 ug/m3) and vice versa;
    missing counts are 0. ``reserved`` is data word 13 (a PMS7003 puts its
    firmware version 0x97 and error code 0x00 there). Values are rounded.
    """
    values = dict(values or {})
    for name in PMS_MASS:
        cf1 = name + "_cf1"
        if name not in values and cf1 in values:
            values[name] = values[cf1]
        if cf1 not in values and name in values:
            values[cf1] = values[name]
    unknown = set(values) - set(_pms.FIELDS)
    if unknown:
        raise ValueError(f"unknown PMS5003 fields {sorted(unknown)}; use {', '.join(_pms.FIELDS)}")
    words = [_u16(name, values.get(name, 0)) for name in _pms.FIELDS] + [_u16("reserved", reserved)]
    frame = bytearray(b"\x42\x4d\x00\x1c")
    for w in words:
        frame += w.to_bytes(2, "big")
    frame += (sum(frame) & 0xFFFF).to_bytes(2, "big")
    return bytes(frame)


def pms5003_warmup_frame(reserved: int = 0x9700) -> bytes:
    """The all-zero data frame a PMS5003 sends while its fan spins up."""
    return pms5003_frame({}, reserved)


def pms5003_reply(command: int, data: int) -> bytes:
    """The 8-byte acknowledgement of a mode (0xE1) or sleep (0xE4) command."""
    frame = bytearray(b"\x42\x4d\x00\x04") + bytes((command, data))
    return bytes(frame + (sum(frame) & 0xFFFF).to_bytes(2, "big"))


def pms5003_responder(values: Callable[[], Mapping[str, float] | None] | Mapping[str, float]):
    """A FakeUART responder for a PMS5003: acknowledges mode and sleep
    commands, and answers a passive-mode read with a frame of ``values`` (a
    dict, or a callable returning one; None gives a warm-up frame)."""

    def respond(written: bytes) -> bytes:
        out = b""
        for i in range(0, len(written) - 6, 1):
            cmd = written[i:i + 7]
            if cmd[:2] != b"BM" or sum(cmd[:5]) & 0xFFFF != int.from_bytes(cmd[5:7], "big"):
                continue
            if cmd[2] == _pms.CMD_READ:
                v = values() if callable(values) else values
                out += pms5003_frame(v) if v is not None else pms5003_warmup_frame()
            elif cmd[2] in (_pms.CMD_MODE, _pms.CMD_SLEEP):
                out += pms5003_reply(cmd[2], cmd[4])
        return out

    return respond


# -- Nova SDS011 ----------------------------------------------------------------


def sds011_frame(pm25: float, pm10: float, device_id: int = 0xA160) -> bytes:
    """A 10-byte SDS011 data frame (datasheet V1.3 section 6): PM in tenths
    of ug/m3, low byte first, then the device id and the checksum."""
    body = (_u16("pm25 x10", pm25 * 10).to_bytes(2, "little") + _u16("pm10 x10", pm10 * 10).to_bytes(2, "little")
            + device_id.to_bytes(2, "big"))
    return b"\xaa\xc0" + body + bytes((sum(body) & 0xFF,)) + b"\xab"


def sds011_reply(command: int, b3: int, b4: int, device_id: int = 0xA160) -> bytes:
    """A 10-byte 0xC5 reply, e.g. sds011_reply(6, 1, 0) to "sleep" (protocol V1.3)."""
    body = bytes((command, b3, b4, 0)) + device_id.to_bytes(2, "big")
    return b"\xaa\xc5" + body + bytes((sum(body) & 0xFF,)) + b"\xab"


# -- NMEA 0183 (GPS) ----------------------------------------------------------------


def nmea_sentence(body: str) -> str:
    """"$" + body + "*" + the XOR checksum in hex + CR LF."""
    x = 0
    for c in body:
        x ^= ord(c)
    return f"${body}*{x:02X}\r\n"


def _utc(when: float | _dt.datetime) -> _dt.datetime:
    if isinstance(when, _dt.datetime):
        return when.astimezone(_dt.timezone.utc) if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)
    return _dt.datetime.fromtimestamp(when, _dt.timezone.utc)


def _coord(value: float, degree_digits: int, pos: str, neg: str) -> tuple[str, str]:
    hemi = pos if value >= 0 else neg
    value = abs(value)
    deg = int(value)
    minutes = round((value - deg) * 60, 5)
    if minutes >= 60:
        deg, minutes = deg + 1, 0.0
    return f"{deg:0{degree_digits}d}{minutes:08.5f}", hemi


def _hhmmss(t: _dt.datetime) -> str:
    return t.strftime("%H%M%S") + f".{t.microsecond // 10000:02d}"


def gga(lat: float | None, lon: float | None, when: float | _dt.datetime, fix: bool = True, alt: float = 35.0,
        hdop: float = 0.9, sats: int = 8, talker: str = "GP") -> str:
    """A GGA sentence (NMEA 0183 v4.10; u-blox M8 receiver description 31.2.4).

    With fix=False (or no lat/lon) the position fields are empty and the
    quality is 0, as a receiver sends before its first fix.
    """
    t = _hhmmss(_utc(when))
    if fix and lat is not None and lon is not None:
        la, ns = _coord(lat, 2, "N", "S")
        lo, ew = _coord(lon, 3, "E", "W")
        body = f"{talker}GGA,{t},{la},{ns},{lo},{ew},1,{sats:02d},{hdop:.2f},{alt:.1f},M,47.0,M,,"
    else:
        body = f"{talker}GGA,{t},,,,,0,{min(sats, 3):02d},99.99,,,,,,"
    return nmea_sentence(body)


def rmc(lat: float | None, lon: float | None, when: float | _dt.datetime, fix: bool = True, speed_kn: float = 0.0,
        course: float | None = None, talker: str = "GP") -> str:
    """An RMC sentence (NMEA 0183 v2.3+, with the mode indicator field).

    With fix=False the status is V, the mode N and the position empty; the
    date and time are still sent, as receivers do from their own clock.
    """
    u = _utc(when)
    t = _hhmmss(u)
    date = u.strftime("%d%m%y")
    crs = "" if course is None else f"{course:.2f}"
    if fix and lat is not None and lon is not None:
        la, ns = _coord(lat, 2, "N", "S")
        lo, ew = _coord(lon, 3, "E", "W")
        body = f"{talker}RMC,{t},A,{la},{ns},{lo},{ew},{speed_kn:.3f},{crs},{date},,,A"
    else:
        body = f"{talker}RMC,{t},V,,,,,,,{date},,,N"
    return nmea_sentence(body)


# -- Sensirion SCD4x ----------------------------------------------------------------


def scd4x_words(*words: int) -> bytes:
    """16-bit words, each followed by its Sensirion CRC-8 (SCD4x datasheet 3.11)."""
    out = bytearray()
    for w in words:
        out += w.to_bytes(2, "big") + bytes((word_crc(w),))
    return bytes(out)


def scd4x_measurement(co2: float, temp: float, rh: float) -> bytes:
    """The 9-byte read_measurement response (datasheet 3.5.2): the inverse of
    T = -45 + 175 * w / 65535 and RH = 100 * w / 65535, rounded."""
    return scd4x_words(_u16("co2", co2), _u16("temp word", (temp + 45) * 65535 / 175),
                       _u16("rh word", rh * 65535 / 100))


def scd4x_responses(measurements, serial: tuple[int, int, int] = (0xF896, 0x9F07, 0x3BB1)) -> dict:
    """The response table for a fakebus.ScriptedDevice acting as an SCD4x.

    ``measurements`` is a list of (co2, temp, rh) replayed in order (the last
    repeats), or a callable returning one per read. Data is always ready.
    """
    measure: Callable[[bytes], bytes] | list[bytes]
    if callable(measurements):
        measure = lambda _cmd: scd4x_measurement(*measurements())  # noqa: E731
    else:
        measure = [scd4x_measurement(*m) for m in measurements]
    return {
        _scd4x.SERIAL_NUMBER.to_bytes(2, "big"): scd4x_words(*serial),
        _scd4x.DATA_READY.to_bytes(2, "big"): scd4x_words(0x8006),
        _scd4x.READ_MEASUREMENT.to_bytes(2, "big"): measure,
    }


# -- Bosch BME280 -------------------------------------------------------------------

# A realistic calibration: T and P trimming from the Bosch worked example
# (BMP280 datasheet BST-BMP280-DS001, section 3.12, a real part's values; the
# BME280 uses the same registers and formulas), humidity trimming of a
# typical BME280 (dig_H1..H6 as read from production parts).
CALIBRATION = (27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000,
               75, 362, 0, 313, 50, 30)


def bme280_calibration_bytes(cal=CALIBRATION) -> tuple[bytes, bytes]:
    """The inverse of airkit.bme280.parse_calibration: (26 bytes at 0x88, 7 bytes at 0xE1)."""
    t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9, h1, h2, h3, h4, h5, h6 = cal
    tp = bytearray()
    tp += t1.to_bytes(2, "little")
    for v in (t2, t3):
        tp += v.to_bytes(2, "little", signed=True)
    tp += p1.to_bytes(2, "little")
    for v in (p2, p3, p4, p5, p6, p7, p8, p9):
        tp += v.to_bytes(2, "little", signed=True)
    tp += bytes((0, h1))  # 0xA0 is reserved
    h = bytearray(h2.to_bytes(2, "little", signed=True))
    h += bytes((h3, (h4 >> 4) & 0xFF, (h4 & 0x0F) | ((h5 & 0x0F) << 4), (h5 >> 4) & 0xFF, h6 & 0xFF))
    return bytes(tp), bytes(h)


def _bisect(f, lo: int, hi: int, target: float, increasing: bool) -> int:
    # The integer x in [lo, hi] whose f(x) is nearest target, for monotonic f.
    a, b = lo, hi
    while b - a > 1:
        mid = (a + b) // 2
        if (f(mid) < target) == increasing:
            a = mid
        else:
            b = mid
    return min((a, b), key=lambda x: abs(f(x) - target))


def bme280_raw(temp: float, pressure: float, rh: float, cal=CALIBRATION) -> tuple[int, int, int]:
    """(adc_P, adc_T, adc_H) that airkit.bme280.compensate turns into the
    wanted temp (degC), pressure (hPa) and rh (%), found by bisection on the
    datasheet's own compensation formulas (T rises with adc_T, P falls with
    adc_P, RH rises with adc_H)."""
    adc_t = _bisect(lambda a: _bme280.compensate_t(a, cal)[0] / 100, 0, (1 << 20) - 1, temp, True)
    t_fine = _bme280.compensate_t(adc_t, cal)[1]
    adc_p = _bisect(lambda a: _bme280.compensate_p(a, cal, t_fine) / 25600, 0, (1 << 20) - 1, pressure, False)
    adc_h = _bisect(lambda a: _bme280.compensate_h(a, cal, t_fine) / 1024, 0, 0xFFFF, rh, True)
    return adc_p, adc_t, adc_h


def bme280_data(temp: float, pressure: float, rh: float, cal=CALIBRATION) -> dict[int, int]:
    """Just the data registers 0xF7..0xFE (burst-read layout, datasheet 5.4.7-5.4.9)."""
    adc_p, adc_t, adc_h = bme280_raw(temp, pressure, rh, cal)
    raw = bytes((adc_p >> 12, (adc_p >> 4) & 0xFF, (adc_p & 0x0F) << 4,
                 adc_t >> 12, (adc_t >> 4) & 0xFF, (adc_t & 0x0F) << 4,
                 adc_h >> 8, adc_h & 0xFF))
    return {_bme280.REG_DATA + i: raw[i] for i in range(8)}


def bme280_registers(temp: float, pressure: float, rh: float, cal=CALIBRATION) -> dict[int, int]:
    """A BME280's register image: chip id 0x60, calibration, status idle and
    raw ADC values for the wanted temp (degC), pressure (hPa), rh (%)."""
    tp, h = bme280_calibration_bytes(cal)
    regs = {_bme280.REG_ID: _bme280.CHIP_ID, _bme280.REG_STATUS: 0}
    regs.update({_bme280.REG_CALIB_TP + i: b for i, b in enumerate(tp)})
    regs.update({_bme280.REG_CALIB_H + i: b for i, b in enumerate(h)})
    regs.update(bme280_data(temp, pressure, rh, cal))
    return regs
