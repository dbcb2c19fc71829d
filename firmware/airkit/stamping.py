# Stamping readings with the kit's time, and keeping that time across power
# cuts. A reading is stamped when it is stored, with Clock.now() (Unix
# seconds and the clock source); two cases need more than that:
#
#   power cut   the ESP32's RTC restarts at its epoch. The last known time is
#               saved to CLOCK_FILE at most every CLOCK_SAVE_MS (a tiny file,
#               replaced atomically); at boot the clock continues from it
#               plus that much and an interval, so new readings are never
#               stamped before ones already stored (Clock.restore).
#   never set   a kit that has never known the time (a new board, no clock
#               file) cannot stamp a reading the collector would accept
#               (contract.EARLIEST_TS). Its readings wait in RAM with their
#               ticks, at most UNSTAMPED_MAX, oldest dropped first, and are
#               stamped back from the time NTP or GPS gives. Only this case
#               waits before flash.

from . import contract
from .queue import read_atomic, write_atomic

CLOCK_SAVE_MS = 60000
CLOCK_FILE = "clock.txt"  # last known Unix time, for Clock.restore() after a power cut
UNSTAMPED_MAX = 120


class Stamper:
    """The clock file and the readings held until the clock is set."""

    def __init__(self, clock, timebase, data_dir="/"):
        self.clock = clock  # airkit.clock.Clock
        self.tb = timebase
        self.path = data_dir.rstrip("/") + "/" + CLOCK_FILE
        self.held = []  # (ticks, values, flags) taken before the clock was ever set
        self.dropped = 0  # held readings dropped to stay within UNSTAMPED_MAX
        self._saved_at = None

    def restore(self, interval_s):
        """At boot: never run behind the last saved time (see the top of this file)."""
        try:
            saved = int((read_atomic(self.path) or b"0").split()[0])
            if saved:
                self.clock.restore(saved + CLOCK_SAVE_MS // 1000 + interval_s)
        except (OSError, ValueError, IndexError):
            pass

    def now(self):
        """(ts, clk) to stamp a reading taken now, or None while the kit has
        never known the time (then hold() the reading)."""
        stamp = self.clock.now()
        return stamp if stamp[0] >= contract.EARLIEST_TS else None

    def hold(self, values, flags):
        self.held.append((self.tb.ticks_ms(), values, flags))
        if len(self.held) > UNSTAMPED_MAX:
            self.held.pop(0)
            self.dropped += 1

    def release(self, ts):
        """The held readings stamped back from ``ts``, the time now, oldest
        first, as (ts, values, flags); empties the hold. One that would land
        before contract.EARLIEST_TS (held longer than the clock can say) is
        left out."""
        now = self.tb.ticks_ms()
        out = []
        for ticks, values, flags in self.held:
            then = ts - self.tb.ticks_diff(now, ticks) // 1000
            if then >= contract.EARLIEST_TS:
                out.append((then, values, flags))
        self.held = []
        return out

    def save(self, ts):
        """Remember ``ts`` in the clock file, at most every CLOCK_SAVE_MS."""
        now = self.tb.ticks_ms()
        if self._saved_at is not None and self.tb.ticks_diff(now, self._saved_at) < CLOCK_SAVE_MS:
            return
        self._saved_at = now
        try:
            write_atomic(self.path, b"%d\n" % ts)
        except OSError:
            pass
