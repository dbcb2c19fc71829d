# What the kit says about itself: the retained status message on
# airtrail/v1/<device>/status (collector.contract.StatusMessage), and the LED
# patterns a volunteer can read without a laptop.

import json

from . import contract

# Sensor health values, short names for the ones in contract.SENSOR_HEALTH
# (where each is explained); a test holds the two together.
OK = "ok"
MISSING = "missing"
ERROR = "error"
WARMUP = "warmup"
NOFIX = "nofix"
OFF = "off"


def status_message(dev, fw, mode, now, queue, dropped, rssi=None, batt_v=None, uptime_s=None, sensors=None, refused=0):
    """The online status payload (bytes). ``now`` is Clock.now(): (ts, clk).
    ``refused``: logins and publishes the broker refused this boot (Uplink.refused).

    The time is left out while the clock is still before contract.EARLIEST_TS
    (a new kit that never knew the time): the collector would refuse it.
    """
    doc = {"v": contract.SCHEMA_VERSION, "dev": dev, "online": True, "fw": fw, "mode": mode,
           "queue": queue, "dropped": dropped, "refused": refused}
    if now[0] >= contract.EARLIEST_TS:
        doc["ts"] = now[0]
        doc["clk"] = now[1]
    if rssi is not None:
        doc["rssi"] = max(contract.RSSI_MIN, min(contract.RSSI_MAX, rssi))
    if batt_v is not None:
        doc["batt_v"] = round(batt_v, 2)
    if uptime_s is not None:
        doc["uptime"] = uptime_s
    doc["sensors"] = sensors or {}
    return json.dumps(doc, separators=(",", ":")).encode()


def offline_message(dev):
    """Published (retained) before a planned disconnect, e.g. walk mode going
    quiet: the same payload the broker sends as our last will otherwise."""
    return contract.offline_status(dev).encode()


# LED patterns: (on ms, off ms) pairs, then a pause. Chosen to be told apart
# at a glance across a workshop table.
HEARTBEAT = ((30, 0),)  # one flick per stored reading: the kit is alive
# One long glow per stored reading instead: stored, but the broker refuses
# this kit's login or messages (its account or ACL); the readings wait in flash.
REFUSED = ((1000, 0),)
CONFIG_PROBLEM = ((150, 150), (150, 150), (150, 1500))  # 3 short, pause: fix config.json
CRASHED = ((50, 50),) * 10  # fast flicker before a restart


def blink(led, pattern, sleep_ms):
    for on_ms, off_ms in pattern:
        led.value(1)
        sleep_ms(on_ms)
        led.value(0)
        if off_ms:
            sleep_ms(off_ms)


def safe_loop(problems, led, sleep_ms, out=print, rounds=None):
    """Bad config: never crash-loop. Print the problems every ~20 s and blink
    CONFIG_PROBLEM, forever; Ctrl-C on the USB console ends the loop and
    leaves the REPL (and `mpremote`) usable to fix /config.json.

    ``rounds`` bounds the loop for tests; the kit passes None.
    """
    n = 0
    while rounds is None or n < rounds:
        if n % 10 == 0:
            out("airtrail: config.json has %d problem(s); the kit will not start until they are fixed:" % len(problems))
            for p in problems:
                out("  - " + p)
            out("Fix them with `airtrail kit provision` (or `mpremote edit :config.json`), then reset the kit.")
        if led is not None:
            blink(led, CONFIG_PROBLEM, sleep_ms)
        else:
            sleep_ms(3000)
        n += 1
