# Millisecond ticks that work on MicroPython and CPython alike.
#
# On MicroPython ticks wrap around (2**30 ms, ~12 days, on the ESP32): always
# compare them with ticks_diff and advance them with ticks_add. On CPython
# (virtual kits, tests) they are plain monotonic milliseconds.

import time

# getattr and the ignores are for type checkers: each branch only exists on
# one side (micropython-esp32-stubs have no time.monotonic, typeshed no ticks_ms).
if hasattr(time, "ticks_ms"):
    ticks_ms = getattr(time, "ticks_ms")
    ticks_diff = getattr(time, "ticks_diff")
    ticks_add = getattr(time, "ticks_add")
    sleep_ms = getattr(time, "sleep_ms")
else:  # CPython

    def ticks_ms():
        return int(getattr(time, "monotonic")() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b

    def sleep_ms(ms):
        time.sleep(ms / 1000)
