"""Readings and status messages as InfluxDB line protocol (pure functions).

Schema (see README, "Storage schema"):

    readings,device=<id> pm25=13.0,temp=21.4,...,seq=42i,clk="ntp",flags="rh_high" <time µs>
    kit_status,device=<id> online=true,batt_v=3.9,queue=12i,dropped=0i,rssi=-61i <time µs>

One tag, ``device``, so the number of series is the number of kits: positions,
clock sources and flags are fields, never tags, because their values are
unbounded and would multiply series.

Point identity is (measurement, device, time). The time of a reading is its
kit timestamp in whole seconds plus ``seq mod 10^6`` microseconds: a reading
delivered twice (QoS 1 redelivery, a kit resending its backlog) lands on the
same point and overwrites it with identical values, while two distinct readings
stamped in the same second (a kit whose clock stepped back) stay two points.
"""

from __future__ import annotations

from collections.abc import Sequence

from airkit.contract import FLAG_SEPARATOR

PRECISION = "u"  # microseconds, for both /write and /api/v2/write
READINGS_MEASUREMENT = "readings"
STATUS_MEASUREMENT = "kit_status"
_US = 1_000_000

# Device ids and field names are restricted by the contract to characters
# that need no escaping in line protocol (letters, digits, '-', '_'), so the
# hot path writes them as they are; string field values are always escaped.


def point_time_us(ts: int, seq: int) -> int:
    return ts * _US + seq % _US


def reading_seconds(time_us: int) -> int:
    """The kit timestamp a stored point's time came from."""
    return time_us // _US


def _string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _float(value: float) -> str:
    # repr gives the shortest string that round-trips; ints become floats so a
    # field never changes type between points (InfluxDB refuses that).
    return repr(float(value))


def reading_line(device: str, ts: int, seq: int, clk: str, values: dict[str, float], flags: Sequence[str] = ()) -> str:
    """One reading as line protocol. ``device``, field names and ``clk`` must be
    contract-valid (they are written unescaped)."""
    fields = [f"{k}={v!r}" if type(v) is float else f"{k}={_float(v)}" for k, v in values.items()]
    fields.append(f'seq={seq}i,clk="{clk}"')
    if flags:
        fields.append(f"flags={_string_field(FLAG_SEPARATOR.join(flags))}")
    return f"{READINGS_MEASUREMENT},device={device} {','.join(fields)} {point_time_us(ts, seq)}"


def count_readings(lines: Sequence[str]) -> int:
    """How many of ``lines`` are reading points (the rest are kit status)."""
    return sum(1 for line in lines if line.startswith(_READING_PREFIX))


_READING_PREFIX = READINGS_MEASUREMENT + ","


def status_line(device: str, time_us: int, online: bool, numbers: dict[str, float | int | None], fw: str | None) -> str:
    fields = [f"online={'true' if online else 'false'}"]
    for key, value in numbers.items():
        if value is None:
            continue
        fields.append(f"{key}={value}i" if isinstance(value, int) else f"{key}={_float(value)}")
    if fw:
        fields.append(f"fw={_string_field(fw)}")
    return f"{STATUS_MEASUREMENT},device={device} {','.join(fields)} {time_us}"
