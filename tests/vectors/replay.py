# Replays every vector through the firmware's decoders and driver classes and
# prints the results as one JSON line. Runs unchanged under CPython and under
# real MicroPython (test_drivers_micropython.py runs it on both and compares).
# The test prepends VECTORS = {name: text}; .hex vectors arrive as hex digits.
# MicroPython subset only: no f-strings, no typing.

import binascii
import json

from airkit import aggregate, battery, bme280, crc, nmea, pms5003, scd4x, sds011

try:
    import fakebus  # MicroPython: copied into /lib by the test
except ImportError:
    from airkit_host import fakebus

out = {}


def data(name):
    return binascii.unhexlify(VECTORS[name])  # noqa: F821 (prepended by the test)


def frame_results(module, stream, is_reply):
    res = []
    for off, f in module.frames(stream):
        try:
            if is_reply(f):
                res.append(["reply", off, list(module.decode_reply(f))])
            else:
                res.append(["data", off, module.decode(f)])
        except ValueError as e:
            res.append(["error", off, str(e)])
    return res


def byte_by_byte(cls, stream):
    uart = fakebus.FakeUART()
    drv = cls(uart)
    seen = []
    for i in range(len(stream)):
        uart.feed(stream[i:i + 1])
        if drv.poll():
            seen.append(None if drv.values is None else dict(drv.values))
    return [seen, drv.frames, drv.errors]


# -- PMS5003 -------------------------------------------------------------------
for name in ("pms5003_published", "pms5003_wake_stream"):
    s = data(name)
    out[name] = frame_results(pms5003, s, lambda f: len(f) >= 4 and f[3] == 4)
    out[name + "/reader"] = byte_by_byte(pms5003.PMS5003, s)

# -- SDS011 --------------------------------------------------------------------
s = data("sds011_stream")
out["sds011_stream"] = frame_results(sds011, s, lambda f: len(f) > 1 and f[1] == 0xC5)
out["sds011_stream/reader"] = byte_by_byte(sds011.SDS011, s)
out["sds011_commands"] = [binascii.hexlify(c).decode() for c in (sds011.SLEEP, sds011.WORK, sds011.QUERY)]

# -- BME280 --------------------------------------------------------------------
t, t_fine = bme280.compensate_t(519888, (27504, 26435, -1000) + (0,) * 15)
out["bme280_datasheet_t"] = [t, t_fine]
cal = (27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000, 75, 362, 0, 313, 50, 30)
_, tf = bme280.compensate_t(519888, cal)
out["bme280_bosch_p"] = bme280.compensate_p(415148, cal, tf)
grid = []
for adc_t in range(300000, 700001, 50000):
    _, tf = bme280.compensate_t(adc_t, cal)
    for adc_p in (250000, 330000, 415148, 500000):
        grid.append(bme280.compensate_p(adc_p, cal, tf))
    for adc_h in (0, 15000, 28774, 37221, 50000, 65535):
        grid.append(bme280.compensate_h(adc_h, cal, tf))
out["bme280_grid"] = grid
regs = {}
samples = []
for line in VECTORS["bme280_registers"].split("\n"):  # noqa: F821
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    reg, hexdata = line.split(":")
    raw = binascii.unhexlify(hexdata.replace(" ", ""))
    if int(reg, 16) == 0xF7:
        samples.append(raw)
    else:
        for i in range(len(raw)):
            regs[int(reg, 16) + i] = raw[i]
dev = fakebus.RegisterDevice(regs)
env = bme280.BME280(fakebus.FakeI2C({0x76: dev}))
env.MEASURE_MS = 0
res = []
for raw in samples:
    dev.load(dict((0xF7 + i, raw[i]) for i in range(8)))
    res.append(dict(env.read()))
out["bme280_registers"] = [list(env.calibration), res]

# -- SCD4x ---------------------------------------------------------------------
out["crc_beef"] = crc.crc8(b"\xbe\xef")
out["crc_words"] = [crc.word_crc(w) for w in range(0, 65536, 251)]
s = data("scd4x_datasheet")
out["scd4x_datasheet"] = scd4x.decode_measurement(s)
bad = bytearray(s)
bad[4] ^= 0x04
try:
    scd4x.decode_measurement(bad)
    out["scd4x_bad_crc"] = "accepted"
except ValueError as e:
    out["scd4x_bad_crc"] = str(e)


class FastSCD4x(scd4x.SCD4x):
    STOP_MS = 0


def words(*ws):
    b = bytearray()
    for w in ws:
        b.append(w >> 8)
        b.append(w & 0xFF)
        b.append(crc.word_crc(w))
    return bytes(b)


co2 = FastSCD4x(fakebus.FakeI2C({0x62: fakebus.ScriptedDevice({
    b"\x36\x82": words(0xF896, 0x9F07, 0x3BB1),
    b"\xe4\xb8": words(0x8006),
    b"\xec\x05": s,
})}))
out["scd4x_class"] = [co2.serial, co2.read()]

# -- NMEA ----------------------------------------------------------------------
for name in ("nmea_published", "nmea_walk"):
    res = []
    for line in VECTORS[name].split("\n"):  # noqa: F821
        if not line.strip():
            continue
        try:
            res.append(nmea.parse(line))
        except ValueError as e:
            res.append("error: " + str(e))
    out[name] = res
walk = "".join(line + "\r\n" for line in VECTORS["nmea_walk"].split("\n") if line.strip())  # noqa: F821
class EveryRMC(nmea.GPS):
    RESYNC_MS = 0


gps = EveryRMC(fakebus.FakeUART(walk.encode(), chunk=16))
while gps.reader._uart.any():
    gps.update()
out["nmea_walk/gps"] = [gps.position(), gps.sentences, gps.errors, gps.last_error]
out["nmea_days"] = [nmea.days_from_civil(y, m, d) for (y, m, d) in
                    ((1970, 1, 1), (2000, 2, 29), (2020, 1, 1), (2025, 11, 23), (2038, 1, 19), (2100, 3, 1))]

# -- aggregate, battery ------------------------------------------------------------
lists = ([], [None], [5], [3, 1, 2], [4, None, 1, 3, 2], [10, 11, 12, 11, 10, 12, 11, 11, 400, 0], [1.5, 2.25, None, 9.0])
out["aggregate"] = [[aggregate.median(xs), aggregate.trimmed_mean(xs)] for xs in lists]
out["aggregate_combine"] = aggregate.combine([{"pm25": 10, "temp": None}, None, {"pm25": 14}, {"pm25": 12, "rh": 50}])
out["battery"] = [battery.volts(39718, 2.0), battery.volts_from_uv(1950000, 2.0), battery.volts(4095, 3.2, maximum=4095)]

print(json.dumps(out))
