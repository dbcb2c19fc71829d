# Per-device reading sequence number that increases across reboots and power
# cuts without a flash write per reading.
#
# The collector stores a reading once per (device, timestamp, seq) and the
# walk tooling orders a kit's readings by seq when its clock was unsynced, so
# seq must never repeat or go back. Writing it to flash after every reading
# would wear the flash (a reading a minute is half a million writes a year)
# and cost time, so numbers are reserved in blocks: the file holds the first
# number NOT yet reserved; on reaching it, the kit persists limit + block
# (write-temp-then-rename) and only then hands out numbers below the new
# limit. After a reboot counting resumes at the persisted limit, skipping at
# most one block of unused numbers: gaps, never repeats.

from .queue import read_atomic, write_atomic

DEFAULT_PATH = "/seq"
DEFAULT_BLOCK = 64


class SeqCounter:
    """Hands out 0, 1, 2, ... persisted in blocks; ``next()`` returns the next number."""

    def __init__(self, path=DEFAULT_PATH, block=DEFAULT_BLOCK):
        if block < 1:
            raise ValueError("sequence block must be at least 1, not %r" % (block,))
        self.path = path
        self.block = block
        self.limit = 0
        # True when the file was unreadable and counting restarted at 0. The
        # kit keeps running (a crash loop would lose more than a repeat): the
        # collector keys points on ts as well as seq, so a repeated seq only
        # collides with a reading stamped in the same second.
        self.damaged = False
        saved = read_atomic(path)
        if saved:
            try:
                self.limit = int(saved.split()[0])
            except (ValueError, IndexError):
                self.damaged = True
        self._next = self.limit

    def next(self):
        n = self._next
        if n >= self.limit:
            self.limit = n + self.block
            write_atomic(self.path, b"%d\n" % self.limit)
        self._next = n + 1
        return n
