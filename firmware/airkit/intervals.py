# The rules for one reading interval, as pure functions: which samples make
# the reading, which flags it carries, where the GPS fix goes, and when in
# the interval the PM fan runs. They run the same on the kit, in the virtual
# kits, under the tests and in hardware/power.py's battery budget, which
# calls pm_wake_offset_ms() rather than re-deriving the duty cycle.

from . import aggregate

# PM duty cycle: after warm-up, sample for PM_WINDOW_MS (at least two
# samples); cycling is worth it only if the fan then sleeps at least
# PM_MIN_SLEEP_MS per interval.
PM_WINDOW_MS = 10000
PM_MIN_SLEEP_MS = 20000

RH_HIGH = 85  # % RH: optical PM sensors over-read in mist and fog (contract.FLAGS)
GPS_STALE_MAX_MS = 120000  # an older fix is no position at all


class Interval:
    """The samples collected during one reading interval."""

    def __init__(self):
        self.pm = []  # PM samples after warm-up
        self.pm_warm = []  # PM samples inside the warm-up time
        self.env = []  # every other sensor's samples
        self.faults = 0  # samples an enabled sensor failed to give


def pm_wake_offset_ms(interval_ms, warmup_ms, sample_ms, duty):
    """When in each interval to wake the PM fan (ms after the interval starts),
    or None to keep it running: cycling only pays when the fan can then sleep
    for PM_MIN_SLEEP_MS and still warm up and sample before the interval ends."""
    window = max(PM_WINDOW_MS, 2 * sample_ms)
    if duty != "cycle" or interval_ms < warmup_ms + window + PM_MIN_SLEEP_MS:
        return None
    return interval_ms - warmup_ms - window


def interval_values(iv, method="median"):
    """Aggregate an Interval: (values, flags). Pure: runs the same on the kit,
    in the virtual kits and under the tests.

    PM samples from inside the warm-up time count only when the interval had
    no others, and then carry the pm_warmup flag. PM taken at RH >= 85 % is
    flagged rh_high and left as measured: corrections belong to the collector
    or the walk tooling, where the raw values are kept.
    """
    flags = []
    values = aggregate.combine(iv.env, method)
    pm = iv.pm
    if not pm and iv.pm_warm:
        pm = iv.pm_warm
        flags.append("pm_warmup")
    pm_values = aggregate.combine(pm, method)
    for k in pm_values:
        values[k] = pm_values[k]
    if pm_values and values.get("rh", 0) >= RH_HIGH:
        flags.append("rh_high")
    if iv.faults:
        flags.append("sensor_fault")
    return values, flags


def add_position(values, flags, fix, fix_age_ms, interval_ms):
    """Put the GPS fix into the reading: a fix from this interval as is, an
    older one (up to GPS_STALE_MAX_MS) flagged gps_stale, none otherwise."""
    if fix is None or fix_age_ms is None or fix_age_ms > GPS_STALE_MAX_MS:
        return
    for k in fix:
        values[k] = fix[k]
    if fix_age_ms > interval_ms:
        flags.append("gps_stale")
