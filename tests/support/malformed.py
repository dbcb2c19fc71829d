"""Payloads that break the contract, each with the reason code it must get."""

from __future__ import annotations

import json
import time

from hypothesis import strategies as st

from airkit import contract as wire


def _msg(device: str, **reading_changes) -> dict:
    r = {"ts": int(time.time()) - 60, "clk": "ntp", "seq": 1, "pm25": 12.0}
    r.update(reading_changes)
    return {"v": 1, "dev": device, "fw": "1.0", "r": [r]}


def _dump(doc) -> bytes:
    return json.dumps(doc).encode()


def known_cases(device: str) -> list[tuple[str, bytes]]:
    """Hand-written cases, one per rule of the contract."""
    now = int(time.time())
    big = _msg(device)
    big["r"] = [dict(big["r"][0], seq=i) for i in range(wire.MAX_BATCH + 1)]
    cases = [
        ("invalid_json", b"{not json"),
        ("invalid_json", b""),
        ("invalid_json", b"\xff\xfe\x00garbage"),
        ("invalid", b"[]"),
        ("invalid", b"42"),
        ("schema_version", _dump({**_msg(device), "v": 2})),
        ("schema_version", _dump({**_msg(device), "v": "1"})),
        ("device_mismatch", _dump(_msg("someone-else"))),
        ("timestamp_range", _dump(_msg(device, ts=1_500_000_000))),  # 2017
        ("timestamp_range", _dump(_msg(device, ts=now + 3 * 86400))),
        ("invalid", _dump(_msg(device, ts=str(now)))),  # a time that is no time is a wrong type, not out of range
        ("invalid", _dump(_msg(device, ts=now + 0.5))),
        ("invalid", _dump({**_msg(device), "r": [{"clk": "ntp", "seq": 1, "pm25": 12.0}]})),
        ("invalid", _dump(_msg(device, pm25="12"))),
        ("invalid", _dump(_msg(device, pm25=-1.0))),
        ("invalid", _dump(_msg(device, pm25=5000.0))),
        ("invalid", _dump(_msg(device, temp=200.0))),
        ("invalid", _dump(_msg(device, rh=101.0))),
        ("invalid", _dump(_msg(device, pressure=10.0))),
        ("invalid", _dump(_msg(device, lat=91.0))),
        ("invalid", _dump(_msg(device, co2=None, clk="sundial"))),
        ("invalid", _dump(_msg(device, seq=-5))),
        ("invalid", _dump(_msg(device, seq=1.5))),
        ("invalid", _dump(_msg(device, pm2_5=3.0))),
        ("invalid", _dump(_msg(device, flags="rh_high"))),
        ("invalid", _dump(_msg(device, temp=True))),
        ("invalid", json.dumps(_msg(device, pm25=float("nan"))).encode()),
        ("invalid", json.dumps(_msg(device, pm10=float("inf"))).encode()),
        ("invalid", _dump({**_msg(device), "r": []})),
        ("invalid", _dump(big)),
        ("too_large", b'{"v":1,"pad":"' + b"x" * (wire.MAX_PAYLOAD_BYTES + 1) + b'"}'),
    ]
    return cases


_finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def broken_messages(draw, device: str) -> bytes:
    """A message that is close to valid but breaks exactly one rule."""
    doc = _msg(device)
    reading = doc["r"][0]
    kind = draw(st.sampled_from(["out_of_range", "wrong_type", "unknown_field", "missing", "garbage", "bad_envelope"]))
    if kind == "out_of_range":
        name, (_, lo, hi, _) = draw(st.sampled_from(sorted({**wire.FIELDS, **wire.POSITION}.items())))
        reading[name] = draw(st.one_of(_finite.filter(lambda x: x < lo), _finite.filter(lambda x: x > hi)))
    elif kind == "wrong_type":
        name = draw(st.sampled_from(sorted(wire.FIELDS)))
        reading[name] = draw(st.one_of(st.text(max_size=5), st.booleans(), st.lists(st.integers(), max_size=2)))
    elif kind == "unknown_field":
        name = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12))
        if name in wire.FIELDS or name in wire.POSITION or name.startswith("x_") or name in ("ts", "clk", "seq", "flags"):
            name = "zz_" + name
        reading[name] = draw(_finite)
    elif kind == "missing":
        del reading[draw(st.sampled_from(["ts", "clk", "seq"]))]
    elif kind == "garbage":
        return draw(st.binary(max_size=64).filter(lambda b: not b.strip().startswith(b"{")))
    else:
        key = draw(st.sampled_from(["v", "dev", "fw", "r"]))
        # Any short text is a valid firmware version, so "fw" only gets non-strings.
        wrong = st.one_of(st.none(), st.integers(min_value=2)) if key == "fw" else st.one_of(st.none(), st.integers(min_value=2), st.text(max_size=3))
        doc[key] = draw(wrong)
    return json.dumps(doc).encode()
