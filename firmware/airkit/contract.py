# The airtrail wire contract, version 1: the one definition shared by the kit
# firmware (MicroPython) and the collector (CPython, which builds its pydantic
# models and the published JSON Schema from these tables).
#
# Keep this module pure and import-light: it runs on an ESP32 with ~100 KB of
# heap, so no typing, no dataclasses, no f-strings with format specs that
# MicroPython lacks.
#
# A readings message (topic airtrail/v1/<device>/readings) is one JSON object:
#   {"v":1,"dev":"kit-01","fw":"0.1.0","r":[<reading>, ...]}
# "r" holds one reading (a live sample) or a batch (a kit flushing its backlog).
# A reading is a flat object:
#   {"ts":1763900000,"clk":"ntp","seq":42,"pm25":13.0,"temp":21.4,...,"flags":["rh_high"]}
# Timestamps are whole seconds since the Unix epoch, UTC: an ESP32 float is
# 32-bit and cannot hold a Unix time to the second, so times travel as integers.

SCHEMA_VERSION = 1
TOPIC_ROOT = "airtrail/v1"
READINGS = "readings"
STATUS = "status"

# How the kit's clock was set when the reading was stamped.
#   ntp: synchronised over the network; gps: taken from a GPS fix;
#   rtc: free-running real-time clock, never synchronised this boot (the walk
#        tooling estimates a clock offset for these).
CLOCKS = ("ntp", "gps", "rtc")

# Device ids are MQTT topic levels and MQTT user names: lower-case, no
# wildcards or separators, short enough for a label printed on the kit.
DEVICE_ID_PATTERN = "^[a-z0-9][a-z0-9_-]{0,31}$"

# Measured values. The unit is fixed by the field name; the bounds are what a
# working sensor can physically report (datasheet ranges, with headroom), so a
# value outside them is a fault, not weather.
# name: (unit, minimum, maximum, description)
FIELDS = {
    "pm1": ("µg/m³", 0, 2000, "PM1.0 mass concentration, atmospheric calibration"),
    "pm25": ("µg/m³", 0, 2000, "PM2.5 mass concentration, atmospheric calibration"),
    "pm10": ("µg/m³", 0, 2000, "PM10 mass concentration, atmospheric calibration"),
    "pm1_cf1": ("µg/m³", 0, 2000, "PM1.0 mass concentration, CF=1 (factory) calibration"),
    "pm25_cf1": ("µg/m³", 0, 2000, "PM2.5 mass concentration, CF=1 (factory) calibration"),
    "pm10_cf1": ("µg/m³", 0, 2000, "PM10 mass concentration, CF=1 (factory) calibration"),
    "n03": ("#/0.1L", 0, 65535, "particles > 0.3 µm per 0.1 L of air"),
    "n05": ("#/0.1L", 0, 65535, "particles > 0.5 µm per 0.1 L of air"),
    "n10": ("#/0.1L", 0, 65535, "particles > 1.0 µm per 0.1 L of air"),
    "n25": ("#/0.1L", 0, 65535, "particles > 2.5 µm per 0.1 L of air"),
    "n50": ("#/0.1L", 0, 65535, "particles > 5.0 µm per 0.1 L of air"),
    "n100": ("#/0.1L", 0, 65535, "particles > 10 µm per 0.1 L of air"),
    "temp": ("°C", -50, 85, "air temperature"),
    "rh": ("%", 0, 100, "relative humidity"),
    "pressure": ("hPa", 300, 1100, "barometric pressure"),
    "co2": ("ppm", 0, 40000, "carbon dioxide"),
    "batt_v": ("V", 0, 6, "battery voltage"),
}

# Where the kit was, from its own GPS. Absent when there is no fix.
POSITION = {
    "lat": ("°", -90, 90, "latitude, WGS84"),
    "lon": ("°", -180, 180, "longitude, WGS84"),
    "alt": ("m", -500, 10000, "altitude above mean sea level"),
    "hdop": ("", 0, 100, "horizontal dilution of precision"),
    "sats": ("", 0, 64, "satellites used in the fix"),
}

# Fields outside FIELDS are accepted only under this prefix, so a new sensor
# can be tried without a schema release and without colliding with a future
# official name.
EXPERIMENTAL_PREFIX = "x_"

# Per-reading sensor status flags.
FLAGS = {
    "rh_high": "PM measured at relative humidity >= 85 %; optical PM sensors over-read in fog and mist",
    "pm_warmup": "PM sensor still inside its warm-up time; values may be low",
    "gps_stale": "position is from an older fix, not this interval",
    "sensor_fault": "a sensor reported an error this interval; its fields are left out",
}
MAX_FLAGS = 8

# A reading as a row of a table, wherever readings leave as rows (the API's
# CSV and JSON, `airtrail kit pull`'s CSV and JSONL, the walk tooling's
# outputs): these columns in this order, then the experimental x_* fields
# present, sorted by name, then "flags" (see reading_columns, reading_row).
#   device: the device id; time: ts as ISO 8601 UTC (2025-11-23T12:13:20Z);
#   ts, clk, seq: as in the reading; then FIELDS and POSITION in table order.
# Spelled out because MicroPython's dicts do not keep insertion order, so
# tuple(FIELDS) is another order on the kit (a test holds the two together).
READING_HEAD = ("device", "time", "ts", "clk", "seq")
READING_COLUMNS = READING_HEAD + (
    "pm1", "pm25", "pm10", "pm1_cf1", "pm25_cf1", "pm10_cf1", "n03", "n05", "n10", "n25", "n50", "n100",
    "temp", "rh", "pressure", "co2", "batt_v",
    "lat", "lon", "alt", "hdop", "sats",
)
# Flags in a row (and in a stored point) are one string, joined with this.
FLAG_SEPARATOR = ","

# Earliest believable reading time (2020-01-01T00:00:00Z) and how far ahead of
# the collector's clock a kit's clock may run.
EARLIEST_TS = 1577836800
MAX_FUTURE_S = 86400

# Limits that keep one message from hurting the collector or the broker.
MAX_PAYLOAD_BYTES = 262144
MAX_BATCH = 1000

# A firmware version string, in both message kinds.
MAX_FW_LENGTH = 32

# The status message (topic airtrail/v1/<device>/status, retained; the last
# will carries only v, dev and online=false). The kit publishes it when it
# connects and every 10 minutes; the collector keeps the last one per kit.
#   {"v":1,"dev":"kit-01","online":true,"ts":1763900000,"clk":"ntp","fw":"0.1.0",
#    "mode":"online","queue":0,"dropped":0,"refused":0,"rssi":-61,"sensors":{"pms5003":"ok"}}

# What the kit is for. online: sends readings as they are taken whenever Wi-Fi
# is up; walk: records with no network, forwards the backlog when it finds
# Wi-Fi (or is pulled over USB), then switches the radio off again.
MODES = ("online", "walk")

# Health of each sensor, as the status message reports it.
SENSOR_HEALTH = {
    "ok": "answering and measuring",
    "missing": "enabled in config.json but never answered since boot",
    "error": "answered once, now fails (bad checksums, no frames, bus errors)",
    "warmup": "PM fan inside its warm-up time",
    "nofix": "GPS talking, but no position fix",
    "off": "disabled in config.json",
}
MAX_SENSORS = 16
MAX_SENSOR_NAME_LENGTH = 24

# Wi-Fi signal strength in dBm; the kit clamps what the radio reports to this.
RSSI_MIN = -130
RSSI_MAX = 0

# Status message fields.
# name: (type, required, minimum, maximum, allowed values, description)
# type is one of "int", "float", "bool", "str", "device_id" (a str matching
# DEVICE_ID_PATTERN) or "sensors" (an object: sensor name -> health). For a
# str the bounds are on its length, for "sensors" on its number of entries
# (names up to MAX_SENSOR_NAME_LENGTH, values from SENSOR_HEALTH). None: no
# bound, or any value. Optional fields may also be null, except "sensors"
# (an empty object when the kit has none).
STATUS_FIELDS = {
    "v": ("int", True, None, None, (SCHEMA_VERSION,), "Schema version."),
    "dev": ("device_id", True, None, None, None, "Device id; must equal the <device> level of the topic."),
    "online": ("bool", True, None, None, None, "False in the last will and before a planned disconnect."),
    "ts": ("int", False, EARLIEST_TS, None, None, "Kit clock time of the status, whole seconds since the Unix epoch (UTC); absent while the kit has never known the time."),
    "clk": ("str", False, None, None, CLOCKS, "How the kit's clock was set (as for readings)."),
    "fw": ("str", False, None, MAX_FW_LENGTH, None, "Firmware version of the kit."),
    "mode": ("str", False, None, None, MODES, "online: sends as it measures; walk: records, forwards later."),
    "batt_v": ("float", False, FIELDS["batt_v"][1], FIELDS["batt_v"][2], None, "Battery or supply voltage (V)."),
    "queue": ("int", False, 0, None, None, "Readings waiting in the kit's flash queue."),
    "dropped": ("int", False, 0, None, None, "Readings the kit dropped because its flash was full."),
    "refused": ("int", False, 0, None, None, "Logins and publishes the broker refused since the kit booted (MQTT 5 reason code >= 0x80, e.g. 0x87 not authorized; or 0x10 no matching subscribers for readings: no collector subscribed); their readings stay in the kit's flash queue."),
    "rssi": ("int", False, RSSI_MIN, RSSI_MAX, None, "Wi-Fi signal strength (dBm)."),
    "uptime": ("int", False, 0, None, None, "Seconds since the kit booted."),
    "sensors": ("sensors", False, None, MAX_SENSORS, SENSOR_HEALTH, "Health of each sensor, by name."),
}


# Why the collector refused something: the reason code of each quarantine
# record (and the reason label of airtrail_quarantined_total). Stable: operators
# filter and alert on them.
REASON_INVALID_JSON = "invalid_json"
REASON_SCHEMA_VERSION = "schema_version"
REASON_DEVICE_MISMATCH = "device_mismatch"
REASON_TIMESTAMP_RANGE = "timestamp_range"
REASON_INVALID = "invalid"
REASON_TOO_LARGE = "too_large"
REASON_BAD_TOPIC = "bad_topic"
REASON_INFLUX_REJECTED = "influx_rejected"
# code: meaning
REASONS = {
    REASON_INVALID_JSON: "the payload is not a JSON document (or not UTF-8)",
    REASON_SCHEMA_VERSION: "v is missing or is not SCHEMA_VERSION, the integer this collector speaks",
    REASON_DEVICE_MISMATCH: "dev in the payload differs from the <device> level of the topic",
    REASON_TIMESTAMP_RANGE: "ts before 2020, or more than MAX_FUTURE_S ahead of the collector's clock",
    REASON_INVALID: "wrong types (ts included), NaN/inf, out-of-range values, missing or unknown fields",
    REASON_TOO_LARGE: "the payload is over MAX_PAYLOAD_BYTES",
    REASON_BAD_TOPIC: "the topic is not airtrail/v1/<device id>/readings or .../status",
    REASON_INFLUX_REJECTED: "a point InfluxDB refused (e.g. a field-type conflict); quarantined by the store, not at ingest",
}

def readings_topic(device_id):
    return TOPIC_ROOT + "/" + device_id + "/" + READINGS


def status_topic(device_id):
    return TOPIC_ROOT + "/" + device_id + "/" + STATUS


def parse_topic(topic):
    """Split 'airtrail/v1/<device>/<kind>' into (device, kind), or None."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] + "/" + parts[1] != TOPIC_ROOT:
        return None
    return parts[2], parts[3]


def offline_status(device_id):
    """The last-will payload: the broker publishes it if the kit vanishes."""
    return '{"v":%d,"dev":"%s","online":false}' % (SCHEMA_VERSION, device_id)


def reading_columns(fields):
    """The columns of a table of readings holding ``fields`` (measured or
    position names, x_* names), in the one order: READING_HEAD, the contract
    fields among ``fields`` in table order, the x_* ones sorted, "flags"."""
    wanted = set(fields)
    columns = list(READING_HEAD)
    columns += [name for name in READING_COLUMNS[len(READING_HEAD):] if name in wanted]
    columns += sorted(name for name in wanted if name.startswith(EXPERIMENTAL_PREFIX))
    columns.append("flags")
    return columns


def reading_row(device_id, reading, columns):
    """The values of ``columns`` (from reading_columns) for one reading: a
    reading as published, or as stored (flags already joined). None where the
    reading has no such field, or no flags."""
    row = []
    for column in columns:
        if column == "device":
            row.append(device_id)
        elif column == "time":
            row.append(utc_iso(reading["ts"]))
        elif column == "flags":
            flags = reading.get("flags")
            row.append((FLAG_SEPARATOR.join(flags) if isinstance(flags, (list, tuple)) else flags) or None)
        else:
            row.append(reading.get(column))
    return row


def utc_iso(ts):
    """Unix seconds as ISO 8601 UTC, "2025-11-23T12:13:20Z". Arithmetic, not
    the time module: MicroPython's epoch is 2000 on some ports. Days to a civil
    date as in H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"
    (civil_from_days)."""
    days, secs = divmod(ts, 86400)
    days += 719468  # days from 0000-03-01 to 1970-01-01
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (year, month, day, secs // 3600, secs // 60 % 60, secs % 60)
