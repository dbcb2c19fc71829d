"""Power budget: how long a kit runs on a battery, from the parts' datasheet currents.

    r = runtime("walk", interval_s=10, battery_mah=5000)
    r.hours, r.average_ma, r.states   # per-state current, duty cycle and average

The model, in the order the guide's worked example follows it:

1. Each part spends a fraction of its time (its *duty cycle*) in each state;
   a part's average current is the sum of state current x duty cycle.
2. The kit's average current is the sum over all parts. Every figure is a
   current from the 5 V supply (see hardware/power.toml for why).
3. A power bank's label gives the charge of its 3.7 V cells; at 5 V, after
   the boost converter's losses, it delivers
   ``battery_mah x cell_v / output_v x efficiency``.
4. Runtime = usable charge / average current. The GPS's one cold start per
   power-on is a fixed charge taken off the battery first.

Pure arithmetic over hardware/power.toml: no I/O beyond reading that file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airkit.config import DEFAULTS as KIT_DEFAULTS
from airkit.errors import ConfigError
from airkit.intervals import pm_wake_offset_ms

POWER_FILE = Path(__file__).with_name("power.toml")
PM_SENSORS = ("pms5003", "sds011")
VARIANTS = ("walk", "fixed")


class PowerModelError(ConfigError):
    """A runtime question the power model cannot answer: an unknown variant or sensor, a non-positive figure."""


@dataclass(frozen=True)
class State:
    name: str
    label: str
    ma: float
    source: str
    kind: str = "datasheet"
    verified: bool = True
    note: str = ""


@dataclass(frozen=True)
class StateUse:
    """One row of the budget: a state, its share of the time and its average."""

    state: State
    duty: float  # 0..1

    @property
    def average_ma(self) -> float:
        return self.state.ma * self.duty


@dataclass(frozen=True)
class Runtime:
    variant: str
    interval_s: float
    battery_mah: float
    wifi: bool
    pm: str
    co2: bool
    uses: tuple[StateUse, ...]
    usable_mah: float  # charge available at 5 V after conversion losses
    cold_start_mah: float  # charge spent on the GPS's cold start
    average_ma: float
    hours: float
    efficiency: float
    cell_v: float
    output_v: float


def load_data(path: Path = POWER_FILE) -> dict[str, Any]:
    return tomllib.loads(Path(path).read_text(encoding="utf-8"))


def states(data: dict[str, Any] | None = None) -> dict[str, State]:
    data = data if data is not None else load_data()
    return {
        name: State(name=name, label=s["label"], ma=float(s["ma"]), source=s["source"], kind=s.get("kind", "datasheet"),
                    verified=bool(s.get("verified", True)), note=s.get("note", ""))
        for name, s in data["states"].items()
    }


def usable_mah(battery_mah: float, cell_v: float, output_v: float, efficiency: float) -> float:
    """Charge a power bank delivers at its 5 V output: its cells' charge,
    converted at equal energy to the output voltage, minus conversion losses."""
    return battery_mah * cell_v / output_v * efficiency


def pm_duty(interval_s: float, warmup_s: float, sample_s: float) -> float:
    """Fraction of the time the PM fan runs with pm_duty "cycle", by the
    firmware's own rule (airkit.intervals.pm_wake_offset_ms, called, not
    re-derived): the fan sleeps between readings only when it can then sleep
    at least PM_MIN_SLEEP_MS and still warm up and sample its window (10 s,
    or two of config.json's ``sample_s``) before the interval ends; otherwise
    it runs all the time."""
    interval_ms = interval_s * 1000
    wake_ms = pm_wake_offset_ms(interval_ms, warmup_s * 1000, sample_s * 1000, "cycle")
    if wake_ms is None:
        return 1.0
    return (interval_ms - wake_ms) / interval_ms


def runtime(
    variant: str = "walk",
    interval_s: float = 10,
    battery_mah: float = 5000,
    *,
    wifi: bool = True,
    pm: str = "pms5003",
    co2: bool = False,
    efficiency: float | None = None,
    sample_s: float = KIT_DEFAULTS["sample_s"],
    data: dict[str, Any] | None = None,
) -> Runtime:
    """Expected runtime of a kit on a power bank, with the budget behind it.

    ``wifi=True`` counts the radio as listening all the time (MicroPython's
    default power-save mode listens less, so the hours are a floor);
    ``wifi=False`` is walk mode with no network: the CPU runs, the radio is off.
    ``sample_s`` is config.json's (the firmware's default unless given): it
    sets how long the PM fan samples after warm-up (pm_duty).
    """
    if variant not in VARIANTS:
        raise PowerModelError(f"unknown variant '{variant}'; choose one of {', '.join(VARIANTS)}")
    if pm not in PM_SENSORS:
        raise PowerModelError(f"unknown PM sensor '{pm}'; choose one of {', '.join(PM_SENSORS)}")
    if interval_s <= 0:
        raise PowerModelError("the interval must be a positive number of seconds")
    if battery_mah <= 0:
        raise PowerModelError("the battery capacity must be a positive number of mAh")
    data = data if data is not None else load_data()
    s = states(data)
    timing, battery = data["timing"], data["battery"]
    eff = battery["efficiency"] if efficiency is None else efficiency
    if not 0 < eff <= 1:
        raise PowerModelError("the conversion efficiency must be between 0 and 1 (e.g. 0.85)")

    uses: list[StateUse] = []
    # ESP32: with Wi-Fi it is listening except while it transmits one publish
    # per interval; without, the CPU runs with the radio off.
    if wifi:
        tx = min(1.0, timing["wifi_tx_s_per_publish"] / interval_s)
        uses += [StateUse(s["esp32_wifi_tx"], tx), StateUse(s["esp32_wifi_rx"], 1.0 - tx)]
    else:
        uses.append(StateUse(s["esp32_modem_sleep"], 1.0))
    uses.append(StateUse(s["board_overhead"], 1.0))

    on = pm_duty(interval_s, timing["pm_warmup_s"], sample_s)
    idle = "pms5003_standby" if pm == "pms5003" else "sds011_sleep"
    uses += [StateUse(s[f"{pm}_active"], on), StateUse(s[idle], 1.0 - on)]
    uses.append(StateUse(s["bme280"], 1.0))
    if co2:
        uses.append(StateUse(s["scd40"], 1.0))

    usable = usable_mah(battery_mah, battery["cell_v"], battery["output_v"], eff)
    steady = sum(u.average_ma for u in uses)
    cold_start = 0.0
    if variant == "walk":
        # One cold start per power-on: (acquisition - tracking) current for
        # TTFF seconds comes off the battery first; the rest of the time the
        # GPS tracks.
        acq, track = s["gps_acquisition"], s["gps_tracking"]
        cold_start = (acq.ma - track.ma) * timing["gps_ttff_s"] / 3600
        steady += track.ma
        hours = max(0.0, usable - cold_start) / steady
        acq_duty = min(1.0, timing["gps_ttff_s"] / (hours * 3600)) if hours else 1.0
        uses += [StateUse(acq, acq_duty), StateUse(track, 1.0 - acq_duty)]
    else:
        hours = usable / steady
    average = usable / hours if hours else steady
    return Runtime(variant=variant, interval_s=interval_s, battery_mah=battery_mah, wifi=wifi, pm=pm, co2=co2,
                   uses=tuple(uses), usable_mah=usable, cold_start_mah=cold_start, average_ma=average, hours=hours,
                   efficiency=eff, cell_v=battery["cell_v"], output_v=battery["output_v"])
