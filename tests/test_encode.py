"""Wire encoding of readings (airkit.encode): compact JSON the collector accepts.

The collector's own validator (collector.contract.parse_message) is the judge
of every message built here; MicroPython must produce the same bytes as CPython.
"""

from __future__ import annotations

import ast
import json
import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airkit import contract, encode
from collector.contract import ContractViolation, measurements, parse_message
from tests.support.micropython import requires_micropython, run_micropython

TS = 1763900000
BASE = {"ts": TS, "clk": "ntp", "seq": 42}


def reading(**fields):
    return {**BASE, **fields}


def decoded(record: bytes) -> dict:
    return json.loads(record)


def accepted(records: list[bytes], dev: str = "kit-01"):
    message = encode.batch_message(dev, "0.1.0", records)
    return parse_message(contract.READINGS, dev, message, now=TS)


def test_reading_is_compact_json_with_contract_keys_in_contract_order():
    record = encode.reading_json(reading(temp=21.4, pm25=13.0, lat=52.5, rh=40.0))
    assert record == b'{"ts":1763900000,"clk":"ntp","seq":42,"pm25":13.0,"temp":21.40,"rh":40.0,"lat":52.500000}'


def test_readings_with_the_same_fields_are_encoded_independently():
    # Each field set's template reuses one argument list: nothing of one
    # reading may show in the next, nor change a record already returned.
    first = encode.reading_json(reading(temp=21.4, pm25=13.0))
    second = encode.reading_json({**BASE, "seq": 43, "temp": -5.25, "pm25": 2.0})
    assert first == b'{"ts":1763900000,"clk":"ntp","seq":42,"pm25":13.0,"temp":21.40}'
    assert second == b'{"ts":1763900000,"clk":"ntp","seq":43,"pm25":2.0,"temp":-5.25}'


@pytest.mark.parametrize(
    "field,value,text",
    [
        ("pm25", 13.04, "13.0"),
        ("pm10_cf1", 22.06, "22.1"),
        ("n03", 765.4, "765"),
        ("temp", 21.456, "21.46"),
        ("temp", -3.456, "-3.46"),
        ("rh", 45.55, "45.6"),
        ("pressure", 1013.256, "1013.26"),
        ("co2", 415.6, "416"),
        ("batt_v", 3.7, "3.70"),
        ("lat", 52.5200081, "52.520008"),
        ("lon", -0.1275, "-0.127500"),
        ("alt", 34.25, "34.2"),
        ("hdop", 0.9, "0.9"),
        ("sats", 7, "7"),
    ],
)
def test_each_field_has_a_fixed_number_of_decimals(field, value, text):
    record = encode.reading_json(reading(**{field: value}))
    assert b'"%s":%s' % (field.encode(), text.encode()) in record


def test_every_contract_field_has_a_decimals_rule_in_contract_order():
    assert [name for name, _ in encode.DECIMALS] == list(contract.FIELDS) + list(contract.POSITION)


def test_a_value_rounding_to_minus_zero_is_written_as_zero():
    assert b'"temp":0.00' in encode.reading_json(reading(temp=-0.001))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_left_out_and_flag_a_sensor_fault(bad):
    doc = decoded(encode.reading_json(reading(pm25=bad, temp=20.0)))
    assert "pm25" not in doc and doc["temp"] == 20.0
    assert doc["flags"] == ["sensor_fault"]


def test_a_value_outside_the_contract_bounds_is_left_out_and_flags_a_sensor_fault():
    doc = decoded(encode.reading_json(reading(rh=104.0, temp=20.0)))
    assert "rh" not in doc
    assert doc["flags"] == ["sensor_fault"]


def test_a_boolean_is_not_a_measurement():
    doc = decoded(encode.reading_json(reading(co2=True)))
    assert "co2" not in doc and doc["flags"] == ["sensor_fault"]


def test_an_unknown_field_is_never_emitted():
    doc = decoded(encode.reading_json(reading(pm2_5=13.0, temp=20.0)))
    assert "pm2_5" not in doc and "flags" not in doc


def test_experimental_fields_are_kept_with_three_decimals_or_as_integers():
    doc = decoded(encode.reading_json(reading(x_no2=12.34567, x_count=3)))
    assert doc["x_no2"] == 12.346 and doc["x_count"] == 3


def test_flags_are_kept_in_order_and_an_empty_list_is_left_out():
    assert decoded(encode.reading_json(reading(flags=["rh_high", "pm_warmup"])))["flags"] == ["rh_high", "pm_warmup"]
    assert "flags" not in decoded(encode.reading_json(reading(flags=[])))


def test_flags_the_collector_would_refuse_are_dropped():
    doc = decoded(encode.reading_json(reading(flags=["rh_high", "Bad Flag", "x" * 30] + ["f%d" % i for i in range(10)])))
    assert doc["flags"][0] == "rh_high" and len(doc["flags"]) == contract.MAX_FLAGS
    assert "Bad Flag" not in doc["flags"]


@pytest.mark.parametrize(
    "bad",
    [{"ts": 1000}, {"ts": 1763900000.5}, {"clk": "gps?"}, {"seq": -1}, {"seq": None}, {"ts": None}],
    ids=["ts-before-2020", "ts-float", "clk", "seq-negative", "seq-missing", "ts-missing"],
)
def test_an_impossible_timestamp_clock_or_sequence_raises(bad):
    with pytest.raises(ValueError):
        encode.reading_json({**BASE, **bad})


def test_a_batch_is_the_v1_envelope_around_the_records():
    records = [encode.reading_json(reading(seq=i, pm25=1.0)) for i in range(2)]
    message = encode.batch_message("kit-01", "0.1.0", records)
    assert message == b'{"v":1,"dev":"kit-01","fw":"0.1.0","r":[' + records[0] + b"," + records[1] + b"]}"


def test_a_batch_with_every_field_is_accepted_by_the_collector():
    values = {"pm1": 5.0, "pm25": 13.0, "pm10": 22.0, "pm1_cf1": 5.0, "pm25_cf1": 13.0, "pm10_cf1": 22.0,
              "n03": 765, "n05": 252, "n10": 29, "n25": 15, "n50": 6, "n100": 6, "temp": 25.08, "rh": 45.2,
              "pressure": 1006.53, "co2": 612, "batt_v": 3.91, "lat": 52.520008, "lon": 13.404954, "alt": 34.0,
              "hdop": 0.9, "sats": 9}  # fmt: skip
    records = [encode.reading_json(reading(seq=i, flags=["rh_high"], **values)) for i in range(3)]
    message = accepted(records)
    assert [r["seq"] for r in message["r"]] == [0, 1, 2]
    assert measurements(message["r"][0]) == pytest.approx(values)


def test_a_live_reading_is_a_batch_of_one():
    message = accepted([encode.reading_json(reading(pm25=13.0))])
    assert len(message["r"]) == 1


def test_an_empty_or_oversized_batch_is_refused():
    with pytest.raises(ValueError):
        encode.batch_message("kit-01", "0.1.0", [])
    with pytest.raises(ValueError):
        encode.batch_message("kit-01", "0.1.0", [b"{}"] * (contract.MAX_BATCH + 1))


def test_a_firmware_version_that_would_break_the_json_is_refused():
    with pytest.raises(ValueError):
        encode.batch_message("kit-01", 'v"1', [b"{}"])


def test_records_within_the_batch_budget_make_a_message_within_the_byte_limit():
    record = encode.reading_json(reading(pm25=13.0, temp=21.4, rh=40.0, pressure=1013.25))
    budget = encode.batch_budget("kit-01", "0.1.0", max_bytes=1000)
    n = budget // (len(record) + 1)
    assert len(encode.batch_message("kit-01", "0.1.0", [record] * n)) <= 1000
    assert len(encode.batch_message("kit-01", "0.1.0", [record] * (n + 1))) > 1000 - len(record)


def test_the_batch_budget_is_exact():
    record = b"x" * 10
    budget = encode.batch_budget("kit-01", "0.1.0", max_bytes=200)
    n = budget // 11
    assert len(encode.batch_message("kit-01", "0.1.0", [record] * n)) == 200 - (budget - 11 * n)


def test_an_esp32_single_precision_position_still_encodes_to_the_microdegree():
    # ESP32 floats are 32-bit: 13.404954 is stored as 13.4049539566...
    lon32 = struct.unpack("<f", struct.pack("<f", 13.404954))[0]
    assert b'"lon":13.404954' in encode.reading_json(reading(lon=lon32))


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    values=st.fixed_dictionaries(
        {},
        optional={name: st.one_of(finite, st.integers(-10**6, 10**6), st.just(math.nan))
                  for name in list(contract.FIELDS) + list(contract.POSITION)},  # fmt: skip
    ),
    seq=st.integers(0, 2**40),
    ts=st.integers(contract.EARLIEST_TS, TS),
)
def test_any_reading_encodes_to_a_message_the_collector_accepts_with_values_rounded_not_changed(values, seq, ts):
    record = encode.reading_json({"ts": ts, "clk": "gps", "seq": seq, **values})
    try:
        message = accepted([record])
    except ContractViolation as exc:  # pragma: no cover - the failure we look for
        pytest.fail(f"collector refused {record!r}: {exc}")
    got = measurements(message["r"][0])
    for name, value in values.items():
        lo, hi = contract.FIELDS.get(name, contract.POSITION.get(name))[1:3]
        if math.isfinite(value) and lo <= value <= hi:
            assert abs(got[name] - value) <= 0.5 * 10 ** -dict(encode.DECIMALS)[name] + 1e-9 * abs(value)
        else:
            assert name not in got and "sensor_fault" in message["r"][0]["flags"]


# -- the same bytes under real MicroPython --------------------------------------

SAMPLES = [
    {"pm25": 13.04, "temp": 21.456, "rh": 45.55, "pressure": 1013.256, "flags": ["rh_high"]},
    {"pm1": 5.0, "pm10": 22.0, "n03": 765, "n05": 252.4, "co2": 612.5, "batt_v": 3.7},
    {"lat": 52.5200081, "lon": -0.1275, "alt": 34.25, "hdop": 0.9, "sats": 9},
    {"temp": -0.001, "pm25": math.nan, "rh": math.inf, "co2": -5, "x_no2": 12.34567, "x_a": 2, "unknown": 1.0},
    {"pm25_cf1": 1999.96, "pm10_cf1": 0.049, "pressure": 300.004},
]


def _as_micropython_source(sample: dict) -> str:
    # Floats travel as their exact bits: decimal literals could be parsed to
    # a different last bit by MicroPython's float parser.
    items = []
    for key, value in sample.items():
        if isinstance(value, float):
            items.append(f"{key!r}: F({struct.pack('<d', value).hex()!r})")
        else:
            items.append(f"{key!r}: {value!r}")
    return "{" + ", ".join(items) + "}"


@requires_micropython
@pytest.mark.micropython
def test_micropython_encodes_the_same_bytes_as_cpython():
    script = "import struct, binascii\nfrom airkit import encode\n"
    script += "def F(h):\n    return struct.unpack('<d', binascii.unhexlify(h))[0]\n"
    script += "records = []\n"
    for i, sample in enumerate(SAMPLES):
        script += f"r = {_as_micropython_source(sample)}\nr.update({{'ts': {TS}, 'clk': 'ntp', 'seq': {i}}})\n"
        script += "records.append(encode.reading_json(r))\nprint(repr(records[-1]))\n"
    script += "print(repr(encode.batch_message('kit-01', '0.1.0', records)))\n"
    lines = [ast.literal_eval(line) for line in run_micropython(script).splitlines()]
    expected = [encode.reading_json(reading(seq=i, **s)) for i, s in enumerate(SAMPLES)]
    assert lines[:-1] == expected
    assert lines[-1] == encode.batch_message("kit-01", "0.1.0", expected)
    assert len(accepted(expected)["r"]) == len(SAMPLES)


@requires_micropython
@pytest.mark.micropython
def test_encoding_a_full_reading_allocates_under_768_bytes_of_micropython_heap():
    # The kit's heap is ~100 KB shared with Wi-Fi, TLS and MQTT buffers; see
    # benchmarks/firmware.py for the whole sample -> encode -> enqueue cycle.
    script = """
import gc
from airkit import encode
r = {"ts": 1763900000, "clk": "gps", "seq": 12345, "pm1": 5, "pm25": 13, "pm10": 22, "pm1_cf1": 5,
     "pm25_cf1": 13, "pm10_cf1": 22, "n03": 765, "n05": 252, "n10": 29, "n25": 15, "n50": 6, "n100": 6,
     "temp": 21.37, "rh": 48.09, "pressure": 1008.2493, "batt_v": 3.91, "lat": 48.1173, "lon": 11.516667,
     "alt": 545.4, "hdop": 0.9, "sats": 8}
encode.reading_json(r)
gc.collect()
gc.disable()
before = gc.mem_alloc()
for i in range(20):
    encode.reading_json(r)
print((gc.mem_alloc() - before) // 20)
"""
    # Measured 688: the record, the argument tuple, one float per decimal field.
    assert int(run_micropython(script)) <= 768
