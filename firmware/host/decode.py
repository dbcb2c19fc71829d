"""Decode sensor frames and NMEA from a kit's serial log (`airtrail kit decode`).

For debugging a kit at a workshop table: paste the bytes a sensor sent (hex,
with or without spaces) or the GPS sentences, and see what the firmware makes
of them. The decoding is done by the firmware's own modules (airkit.pms5003,
.sds011, .nmea, .scd4x), so a frame that decodes here decodes on the kit.
Each function returns one dict per frame or sentence.
"""

from __future__ import annotations

import re

from airkit import nmea, pms5003, scd4x, sds011

from .errors import KitError

__all__ = ["SENSORS", "decode", "parse_hex"]

SENSORS = ("pms5003", "pms7003", "sds011", "nmea", "scd4x")

_SEPARATORS = re.compile(r"[\s:,;\-]+")
_HEX_PREFIX = re.compile(r"0[xX]")


def parse_hex(text: str) -> bytes:
    """Bytes from hex written as '424d001c', '42 4d 00 1c', '0x42,0x4d' or '42:4d'."""
    digits = _SEPARATORS.sub("", _HEX_PREFIX.sub("", text))
    if not digits:
        raise KitError("no bytes given: paste the frame as hex, e.g. '42 4d 00 1c ...'")
    bad = re.search(r"[^0-9a-fA-F]", digits)
    if bad:
        raise KitError(f"{bad.group()!r} is not a hex digit: give bytes as hex, e.g. '42 4d 00 1c' or '424d001c'")
    if len(digits) % 2:
        raise KitError(f"{len(digits)} hex digits is not a whole number of bytes: a digit is missing or extra")
    return bytes.fromhex(digits)


def _tidy(values: dict) -> dict:
    # Floats to 6 decimals: enough for lat/lon (~0.1 m), readable for the rest.
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in values.items()}


def decode_pms5003(data: bytes) -> list[dict]:
    out = []
    for n, (offset, frame) in enumerate(pms5003.frames(data), 1):
        try:
            if len(frame) >= 4 and ((frame[2] << 8) | frame[3]) == pms5003.REPLY_LENGTH:
                if len(frame) < pms5003.REPLY_SIZE:
                    raise ValueError(f"PMS5003 reply is {len(frame)} bytes, expected {pms5003.REPLY_SIZE}")
                cmd, value = pms5003.decode_reply(frame)
                out.append({"offset": offset, "reply_to": f"0x{cmd:02x}", "data": value})
                continue
            values = pms5003.decode(frame)
        except ValueError as exc:
            raise KitError(f"frame {n} at byte {offset}: {exc}") from None
        if values is None:
            out.append({"offset": offset, "warming_up": True})
        else:
            out.append({"offset": offset, **values})
    if not out:
        raise KitError("no PMS5003 frame in the input: frames start with 42 4d; check the baud rate (9600)")
    return out


def decode_sds011(data: bytes) -> list[dict]:
    out = []
    for n, (offset, frame) in enumerate(sds011.frames(data), 1):
        try:
            if len(frame) >= 2 and frame[1] == sds011.REPLY:
                cmd, b3, b4 = sds011.decode_reply(frame)
                out.append({"offset": offset, "reply_to": f"0x{cmd:02x}", "data": [b3, b4]})
                continue
            values = sds011.decode(frame)
        except ValueError as exc:
            raise KitError(f"frame {n} at byte {offset}: {exc}") from None
        out.append({"offset": offset, **_tidy(values), "device_id": f"0x{sds011.device_id(frame):04x}"})
    if not out:
        raise KitError("no SDS011 frame in the input: frames start with aa c0; check the baud rate (9600)")
    return out


def decode_scd4x(data: bytes) -> list[dict]:
    if len(data) % 3:
        raise KitError(f"SCD4x responses are 3-byte groups (16-bit word + CRC); got {len(data)} bytes")
    try:
        if len(data) % 9 == 0:
            return [{"offset": i, **_tidy(scd4x.decode_measurement(data[i:i + 9]))} for i in range(0, len(data), 9)]
        scd4x.check_words(data, len(data) // 3)
    except ValueError as exc:
        raise KitError(str(exc)) from None
    return [{"words": [f"0x{scd4x.word(data, k):04x}" for k in range(len(data) // 3)]}]


def decode_nmea(text: str) -> list[dict]:
    sentences = ["$" + s for s in re.split(r"\$", text) if s.strip()]
    if not sentences or "$" not in text:
        raise KitError("no NMEA sentence in the input: sentences start with '$', e.g. '$GPGGA,...*47'")
    out = []
    for n, sentence in enumerate(sentences, 1):
        sentence = sentence.strip()
        try:
            values = nmea.parse(sentence)
        except ValueError as exc:
            raise KitError(f"sentence {n} ({sentence[:12]}...): {exc}") from None
        if values is None:
            out.append({"type": sentence[3:].split(",")[0][:3], "note": "not decoded: the kit uses GGA and RMC"})
        else:
            out.append(_tidy(values))
    return out


def decode(sensor: str, text: str) -> list[dict]:
    """Decode ``text`` (hex bytes, or NMEA sentences) as ``sensor`` sends it."""
    if sensor == "nmea":
        return decode_nmea(text)
    data = parse_hex(text)
    if sensor in ("pms5003", "pms7003"):
        return decode_pms5003(data)
    if sensor == "sds011":
        return decode_sds011(data)
    if sensor == "scd4x":
        return decode_scd4x(data)
    raise KitError(f"unknown sensor {sensor!r}: use one of {', '.join(SENSORS)}")
