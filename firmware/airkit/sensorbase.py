# What every sensor driver shares: the two errors the main loop catches to
# report a sensor as missing (and leave its fields out of the reading), and a
# millisecond clock that works on MicroPython and CPython alike.
#
# Corrupt data (bad checksum or CRC, impossible frame length) is a ValueError
# raised by the pure decoders; a sensor that is not there or stopped talking
# is one of the OSError subclasses below. Both mean "no value this time".

import time


class SensorMissing(OSError):
    """The sensor does not answer on its bus: absent, unpowered or miswired."""


class SensorTimeout(OSError):
    """The sensor was there but sent nothing (or nothing valid) in time."""


# The ignores are for type checkers: each branch only exists on one side
# (micropython-esp32-stubs have no time.monotonic, typeshed no ticks_ms).
try:
    ticks_ms = time.ticks_ms  # type: ignore[attr-defined]
    ticks_diff = time.ticks_diff  # type: ignore[attr-defined]
    sleep_ms = time.sleep_ms  # type: ignore[attr-defined]
except AttributeError:  # CPython: virtual kits and tests

    def ticks_ms():
        return int(time.monotonic() * 1000)  # type: ignore[attr-defined]

    def ticks_diff(a, b):
        return a - b

    def sleep_ms(ms):
        time.sleep(ms / 1000)
