# Wire encoding of readings: compact JSON, exactly as the collector's pydantic
# model (collector/contract.py, built from airkit.contract) accepts it.
#
# Runs unchanged on MicroPython (ESP32) and CPython. It builds bytes directly
# (b"%d" % n works on both) and formats decimals with integer arithmetic rather
# than "%.2f": MicroPython's float formatting can differ from CPython's in the
# last digit, and the same reading must give the same bytes everywhere (the
# tests compare them, and the collector deduplicates on the values).
#
# One rule matters more than compactness: a message the collector refuses is
# quarantined WHOLE, so one bad field would take a batch of hundreds of
# readings with it. Hence a value that cannot be sent (NaN, +-inf, outside the
# contract's physical bounds) is left out and the reading is flagged
# "sensor_fault" (contract.FLAGS: "its fields are left out"), and an unknown
# field name is never emitted.

from . import contract

# A readings message must fit the kit's RAM next to the MQTT client and TLS
# buffers: 8 KB per message by default (the collector allows 256 KB).
MAX_MESSAGE_BYTES = 8192

# Decimal places per field, in the order fields are written (the order of
# contract.FIELDS then contract.POSITION; spelled out because MicroPython's
# dicts do not keep insertion order). The sensor's real resolution, no more:
# PMS5003 reports whole ug/m3, the BME280's pressure resolution is 0.18 Pa, a
# position to 6 decimals of a degree is 0.1 m. 0 means an integer.
DECIMALS = (
    ("pm1", 1), ("pm25", 1), ("pm10", 1),
    ("pm1_cf1", 1), ("pm25_cf1", 1), ("pm10_cf1", 1),
    ("n03", 0), ("n05", 0), ("n10", 0), ("n25", 0), ("n50", 0), ("n100", 0),
    ("temp", 2), ("rh", 1), ("pressure", 2), ("co2", 0), ("batt_v", 2),
    ("lat", 6), ("lon", 6), ("alt", 1), ("hdop", 1), ("sats", 0),
)
EXPERIMENTAL_DECIMALS = 3
FAULT_FLAG = "sensor_fault"

_SCALE = (1, 10, 100, 1000, 10000, 100000, 1000000)
_FRACTION = (b"", b"%s%d.%01d", b"%s%d.%02d", b"%s%d.%03d", b"%s%d.%04d", b"%s%d.%05d", b"%s%d.%06d")
_FLAG_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"


def _build_order():
    # (name, b',"name":', decimals, lo, hi), computed once at import so that
    # encoding a reading allocates no key strings.
    order = []
    for name, decimals in DECIMALS:
        spec = contract.FIELDS.get(name) or contract.POSITION[name]
        order.append((name, b',"' + name.encode() + b'":', decimals, spec[1], spec[2]))
    return tuple(order)


_ORDER = _build_order()
_KNOWN = {"ts": True, "clk": True, "seq": True, "flags": True}
for _entry in _ORDER:
    _KNOWN[_entry[0]] = True


def number(value, decimals):
    """``value`` as JSON bytes with exactly ``decimals`` places (0: integer)."""
    scale = _SCALE[decimals]
    n = round(value * scale)
    if decimals == 0:
        return b"%d" % n
    sign = b""
    if n < 0:
        sign = b"-"
        n = -n
    return _FRACTION[decimals] % (sign, n // scale, n % scale)


_NUMBER = (int, float)  # a module constant: a literal tuple in a function is built at every call
_INF = float("inf")


def _sendable(value):
    # bool is an int in Python but never a measurement. NaN and +-inf are
    # refused by the collector (allow_inf_nan=False); NaN is the only value
    # unequal to itself. Comparisons allocate nothing (x - x would, for floats).
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        return False
    return value == value and -_INF < value < _INF


def _flag_ok(flag):
    if not isinstance(flag, str) or not 0 < len(flag) <= 24:
        return False
    for ch in flag:
        if ch not in _FLAG_CHARS:
            return False
    return True


_CLOCK_BYTES = {}
for _clk in contract.CLOCKS:
    _CLOCK_BYTES[_clk] = _clk.encode()

# One %-template per set of fields present, built the first time that set is
# seen (a kit meets only a handful: its sensors, with or without a GPS fix).
# Formatting a whole reading with one template allocates the argument tuple
# and the result instead of a bytes object and a tuple per field: the heap
# cost per reading drops about threefold (benchmarks/firmware.py). Each
# template keeps its own argument list, refilled at every call (a fresh one
# was ~250 B of heap per reading); only the tuple that % needs is new.
_TEMPLATES = {}
_TEMPLATES_MAX = 16


def _template(mask):
    entry = _TEMPLATES.get(mask)
    if entry is None:
        parts = [b'{"ts":%d,"clk":"%s","seq":%d']
        nargs = 3
        bit = 1
        for _name, key, decimals, _lo, _hi in _ORDER:
            if mask & bit:
                parts.append(key)
                if decimals:
                    parts.append(_FRACTION[decimals])
                    nargs += 3
                else:
                    parts.append(b"%d")
                    nargs += 1
            bit <<= 1
        parts.append(b"%s}")
        entry = (b"".join(parts), [None] * (nargs + 1))
        if len(_TEMPLATES) >= _TEMPLATES_MAX:
            _TEMPLATES.clear()
        _TEMPLATES[mask] = entry
    return entry


def _tail(reading, fault):
    # Experimental fields and flags: rare, so built piece by piece.
    parts = None
    experimental = None
    for name in reading:
        if name not in _KNOWN and name.startswith(contract.EXPERIMENTAL_PREFIX) and len(name) <= 32:
            experimental = experimental or []
            experimental.append(name)
    if experimental:
        experimental.sort()  # same bytes on MicroPython, whose dicts are unordered
        parts = []
        for name in experimental:
            value = reading[name]
            if not _sendable(value):
                fault = True
            elif isinstance(value, int):
                parts.append(b',"%s":%d' % (name.encode(), value))
            else:
                parts.append(b',"%s":' % name.encode() + number(value, EXPERIMENTAL_DECIMALS))
    flags = reading.get("flags") or ()
    kept = 0
    for flag in flags:
        if kept < contract.MAX_FLAGS and _flag_ok(flag) and flag != FAULT_FLAG:
            parts = parts or []
            parts.append((b',"flags":["%s"' if kept == 0 else b',"%s"') % flag.encode())
            kept += 1
    if (fault or FAULT_FLAG in flags) and kept < contract.MAX_FLAGS:
        parts = parts or []
        parts.append((b',"flags":["%s"' if kept == 0 else b',"%s"') % FAULT_FLAG.encode())
        kept += 1
    if not parts:
        return b""
    if kept:
        parts.append(b"]")
    return b"".join(parts)


def reading_json(reading):
    """One reading dict -> compact JSON bytes, keys in contract order.

    ``reading`` has ``ts`` (int, Unix seconds UTC, not before 2020), ``clk``
    (one of contract.CLOCKS), ``seq`` (int >= 0), any of the contract's
    measurement and position fields, ``x_*`` experimental fields, and
    ``flags`` (list of str). Raises ValueError for a missing or impossible
    ts/clk/seq: those are programming errors, not sensor faults.
    """
    ts = reading.get("ts")
    clk = reading.get("clk")
    seq = reading.get("seq")
    if not isinstance(ts, int) or isinstance(ts, bool) or ts < contract.EARLIEST_TS:
        raise ValueError("reading ts %r is not a Unix time after 2020: stamp readings only once the clock is set" % (ts,))
    if clk not in _CLOCK_BYTES:
        raise ValueError("reading clk %r is not one of %r" % (clk, contract.CLOCKS))
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ValueError("reading seq %r is not a non-negative int" % (seq,))

    # Pass 1: which fields go out (a bit per field of _ORDER).
    mask = 0
    fault = False
    bit = 1
    for name, _key, _decimals, lo, hi in _ORDER:
        value = reading.get(name)
        if value is not None:
            # The bounds also refuse NaN (every comparison with it is false) and +-inf.
            if isinstance(value, _NUMBER) and not isinstance(value, bool) and lo <= value <= hi:
                mask |= bit
            else:
                fault = True
        bit <<= 1

    # Pass 2: the template's arguments, decimals as integer parts.
    template, args = _template(mask)
    args[0] = ts
    args[1] = _CLOCK_BYTES[clk]
    args[2] = seq
    i = 3
    bit = 1
    for name, _key, decimals, _lo, _hi in _ORDER:
        if mask & bit:
            if decimals:
                scale = _SCALE[decimals]
                n = round(reading[name] * scale)
                if n < 0:
                    args[i] = b"-"
                    n = -n
                else:
                    args[i] = b""
                args[i + 1] = n // scale
                args[i + 2] = n % scale
                i += 3
            else:
                args[i] = round(reading[name])
                i += 1
        bit <<= 1
    args[i] = _tail(reading, fault)
    return template % tuple(args)


def _check_text(what, text):
    if '"' in text or "\\" in text or len(text) > 32:
        raise ValueError("%s %r must be at most 32 characters, without quotes or backslashes" % (what, text))


def envelope_bytes(device_id, fw_version):
    """Size of a readings message around its records (with zero records)."""
    return len('{"v":,"dev":"","fw":"","r":[]}') + len(str(contract.SCHEMA_VERSION)) + len(device_id) + len(fw_version)


def batch_budget(device_id, fw_version, max_bytes=MAX_MESSAGE_BYTES):
    """Bytes available to records in one message, counting each record as len + 1.

    A batch of records r1..rn makes a message of envelope + sum(len(ri) + 1) - 1
    bytes (n - 1 commas), so records whose (len + 1) sum to at most this
    budget fit in ``max_bytes``. FlashQueue.peek(max_bytes=...) counts the same way.
    """
    return max_bytes - envelope_bytes(device_id, fw_version) + 1


def batch_parts(device_id, fw_version, records):
    """A readings message {"v":1,"dev":..,"fw":..,"r":[r1,r2,...]} as three
    parts (envelope head, records, tail) that MQTTClient.publish sends back to
    back: the records are joined once and never copied again.

    ``records`` are reading_json() outputs (a live sample is a batch of one).
    """
    if not 0 < len(records) <= contract.MAX_BATCH:
        raise ValueError("a readings message carries 1 to %d readings, not %d" % (contract.MAX_BATCH, len(records)))
    _check_text("device id", device_id)
    _check_text("firmware version", fw_version)
    head = b'{"v":%d,"dev":"%s","fw":"%s","r":[' % (contract.SCHEMA_VERSION, device_id.encode(), fw_version.encode())
    return (head, b",".join(records), b"]}")


def batch_message(device_id, fw_version, records):
    """The readings message of batch_parts() as one bytes object."""
    return b"".join(batch_parts(device_id, fw_version, records))
