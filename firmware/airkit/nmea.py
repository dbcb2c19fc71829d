# Position and UTC time from a GPS module's NMEA 0183 sentences (UART,
# usually 9600 8N1).
#
# Only two sentences are needed (NMEA 0183 v4.10; u-blox M8 receiver
# description, section 31.2 "NMEA messages"):
#   GGA  time, lat, lon, fix quality, satellites used, HDOP, altitude (MSL)
#   RMC  time, status A (valid) / V (void), lat, lon, speed, course, date
# with any two-letter talker: GP (GPS), GL (GLONASS), GA (Galileo),
# GN (several systems combined), BD/GB (BeiDou). Every sentence ends in
# "*hh", the XOR of the characters between "$" and "*"; a sentence whose
# checksum does not match is rejected.
#
# A sentence without a fix gives no position: GGA quality 0 (or 6,
# dead-reckoning estimate), RMC status V or mode N, or empty fields.
#
# ESP32 floats are 32-bit: lat/lon keep about 7 significant digits, ~1 m
# at the equator, which is below a consumer GPS's own error (~2.5 m CEP).
#
# parse() is pure and runs unchanged on MicroPython and CPython; NMEAReader
# splits a UART's bytes into sentences and GPS keeps the latest fix.

from . import contract
from . import ticks as kit_ticks

POSITION_KEYS = ("lat", "lon", "alt", "hdop", "sats")


def _hexdigit(c):
    # The value of one ASCII hex digit, or -1.
    if 48 <= c <= 57:
        return c - 48
    c |= 0x20  # lower case
    if 97 <= c <= 102:
        return c - 87
    return -1


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
    algorithm; integers only, no time.mktime, whose epoch differs by port)."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


# parse() reads the fields where they lie in the sentence's bytes instead of
# splitting it into a list of strings: a GPS talks every second, and the
# split cost ~850 B of heap per sentence, 40 % of the kit's budget for a whole
# sample -> encode -> enqueue cycle (issue 3). _AT holds where each field
# starts (module level, reused: MicroPython runs one thread here); field k
# spans _AT[k] .. _AT[k + 1] - 2, its comma (or the "*") at _AT[k + 1] - 1.
_MAX_FIELDS = 24  # GGA has 15 fields, RMC 13 or 14
_AT = [0] * (_MAX_FIELDS + 1)
_POW10 = (1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000)
_OPTIONAL_KEYS = ("time", "ts") + POSITION_KEYS


def _bytes_of(sentence):
    # MicroPython's str lends its bytes through the buffer protocol (a
    # 16-byte memoryview, not a copy); CPython's does not.
    if isinstance(sentence, str):
        try:
            return memoryview(sentence)  # type: ignore[arg-type]  # MicroPython str has the buffer protocol, its stubs not
        except TypeError:
            return sentence.encode()
    return sentence


def _locate(b):
    """Check the '*hh' checksum of the sentence in b, fill _AT with its field
    starts and return the number of fields. Raises ValueError if corrupt."""
    end = len(b)
    while end and (b[end - 1] == 10 or b[end - 1] == 13 or b[end - 1] == 32):
        end -= 1
    start = 0
    while start < end and b[start] == 32:
        start += 1
    if start >= end or b[start] != 36:  # "$"
        raise ValueError("NMEA sentence must start with '$': %r" % bytes(b[start:start + 16]))
    star = end - 3
    if star <= start or b[star] != 42:  # "*"
        raise ValueError("NMEA sentence has no checksum (\"*hh\" at the end): %r" % bytes(b[start:start + 16]))
    hi = _hexdigit(b[star + 1])
    lo = _hexdigit(b[star + 2])
    if hi < 0 or lo < 0:
        raise ValueError("NMEA checksum %r is not two hex digits" % bytes(b[star + 1:end]))
    at = _AT
    at[0] = start + 1
    n = 1
    got = 0
    ascii_only = True
    for i in range(start + 1, star):
        c = b[i]
        got ^= c
        if c > 127:
            ascii_only = False
        elif c == 44 and n < _MAX_FIELDS:  # ","
            at[n] = i + 1
            n += 1
    at[n] = star + 1
    if got != hi * 16 + lo:
        raise ValueError("NMEA checksum %02X does not match %02X, the XOR of the sentence: the line is corrupt"
                         % (hi * 16 + lo, got))
    if not ascii_only:
        raise ValueError("NMEA sentence holds bytes that are not ASCII: wrong baud rate?")
    return n


def _text(b, k):
    # Field k as a str, for error messages only.
    return bytes(b[_AT[k]:_AT[k + 1] - 1]).decode()


def _empty(k):
    return _AT[k + 1] - 1 == _AT[k]


def _is(b, k, c):
    # Is field k exactly the one character with code c?
    return _AT[k + 1] - 2 == _AT[k] and b[_AT[k]] == c


def _digits(b, i, j):
    # The unsigned decimal integer in b[i:j], without a slice.
    if i >= j:
        raise ValueError("empty number")
    v = 0
    while i < j:
        c = b[i] - 48
        if not 0 <= c <= 9:
            raise ValueError("%r is not a number" % bytes(b[i:j]).decode())
        v = v * 10 + c
        i += 1
    return v


def _int(b, k):
    return _digits(b, _AT[k], _AT[k + 1] - 1)


def _decimal(b, i, j):
    # "[-]ddd[.ddd]" in b[i:j] as a float: the digits as one integer divided
    # by a power of ten, which (both exact) rounds correctly on every port,
    # where float() of a string may differ in the last bit between them.
    first = i
    neg = i < j and b[i] == 45  # "-"
    if neg:
        i += 1
    dot = j
    for n in range(i, j):
        if b[n] == 46:  # "."
            dot = n
            break
    places = j - dot - 1
    try:
        v = _digits(b, i, dot) if dot > i else 0
        if places > 0 and places < len(_POW10):
            v = (v * _POW10[places] + _digits(b, dot + 1, j)) / _POW10[places]
        elif places > 0 or dot == i:
            raise ValueError
        else:
            v = float(v)
    except ValueError:
        raise ValueError("%r is not a number" % bytes(b[first:j]).decode())
    return -v if neg else v


def _float(b, k):
    return _decimal(b, _AT[k], _AT[k + 1] - 1)


def _seconds_of_day(b, k):
    # Field k, "hhmmss" or "hhmmss.ss", as whole seconds since midnight UTC,
    # or None if it is empty.
    i = _AT[k]
    if _AT[k + 1] - 1 - i < 6:
        return None
    v = _digits(b, i, i + 6)
    h = v // 10000
    m = v // 100 % 100
    s = v % 100
    if h > 23 or m > 59 or s > 60:
        raise ValueError("NMEA time %r is not a time of day" % _text(b, k))
    return h * 3600 + m * 60 + s


def _unix_time(b, kd, kt):
    # The RMC date field kd ("ddmmyy") and time field kt as Unix seconds
    # (UTC), or None if either is empty. Two-digit years 80-99 are 19xx (the
    # GPS epoch is 1980), the rest 20xx.
    sod = _seconds_of_day(b, kt)
    i = _AT[kd]
    if sod is None or _AT[kd + 1] - 1 - i != 6:
        return None
    d = _digits(b, i, i + 2)
    m = _digits(b, i + 2, i + 4)
    y = _digits(b, i + 4, i + 6)
    if not (1 <= d <= 31 and 1 <= m <= 12):
        raise ValueError("NMEA date %r is not ddmmyy" % _text(b, kd))
    y += 1900 if y >= 80 else 2000
    return days_from_civil(y, m, d) * 86400 + sod


def _coordinate(b, k):
    # Field k, "ddmm.mmmm" or "dddmm.mmmm", and its hemisphere N/S/E/W in
    # field k + 1, as signed decimal degrees.
    i = _AT[k]
    j = _AT[k + 1] - 1
    dot = j
    for n in range(i, j):
        if b[n] == 46:  # "."
            dot = n
            break
    if dot - i < 3:
        raise ValueError("NMEA coordinate %r is not (d)ddmm.mmmm" % _text(b, k))
    minutes = _decimal(b, dot - 2, j)
    if minutes >= 60:
        raise ValueError("NMEA coordinate %r has %s minutes" % (_text(b, k), bytes(b[dot - 2:j]).decode()))
    deg = _digits(b, i, dot - 2) + minutes / 60
    if _is(b, k + 1, 83) or _is(b, k + 1, 87):  # S, W
        return -deg
    if _is(b, k + 1, 78) or _is(b, k + 1, 69):  # N, E
        return deg
    raise ValueError("NMEA hemisphere %r is not N, S, E or W" % _text(b, k + 1))


def _start(out, kind):
    if out is None:
        return {"type": kind, "fix": False}
    # Refilled rather than cleared: clear() frees the dict's table and the
    # next insert allocates a new one.
    for key in out:
        if key != "type" and key != "fix" and key not in _OPTIONAL_KEYS:
            out.clear()
            break
    for key in _OPTIONAL_KEYS:
        if key in out:
            del out[key]
    out["type"] = kind
    out["fix"] = False
    return out


def _gga(b, n, out):
    # $--GGA,time,lat,N,lon,E,quality,sats,hdop,alt,M,sep,M,age,station*hh
    if n < 10:
        raise ValueError("GGA sentence has %d fields, expected 14" % (n - 1))
    out = _start(out, "GGA")
    t = _seconds_of_day(b, 1)
    if t is not None:
        out["time"] = t
    quality = 0 if _empty(6) else _int(b, 6)
    # 1 GPS, 2 differential, 3 PPS, 4 RTK fixed, 5 RTK float; 0 invalid and
    # 6 dead reckoning (an estimate, not a measured position) are no fix.
    if 1 <= quality <= 5 and not _empty(2) and not _empty(4):
        out["fix"] = True
        out["lat"] = _coordinate(b, 2)
        out["lon"] = _coordinate(b, 4)
        if not _empty(9):
            out["alt"] = _float(b, 9)
        if not _empty(8):
            out["hdop"] = _float(b, 8)
        if not _empty(7):
            out["sats"] = _int(b, 7)
    return out


def _rmc(b, n, out):
    # $--RMC,time,status,lat,N,lon,E,speed,course,ddmmyy,magvar,E,mode[,navstatus]*hh
    if n < 10:
        raise ValueError("RMC sentence has %d fields, expected 12 or more" % (n - 1))
    out = _start(out, "RMC")
    t = _seconds_of_day(b, 1)
    if t is not None:
        out["time"] = t
    ts = _unix_time(b, 9, 1)
    if ts is not None:
        out["ts"] = ts
    # NMEA 2.3 added a mode indicator (field 12); "N" means data not valid.
    valid = _is(b, 2, 65) and not (n > 12 and _is(b, 12, 78))  # "A", "N"
    if valid and not _empty(3) and not _empty(5):
        out["fix"] = True
        out["lat"] = _coordinate(b, 3)
        out["lon"] = _coordinate(b, 5)
    return out


def parse(sentence, out=None):
    """Parse one GGA or RMC sentence (bytes or str, with or without CR LF)
    into a dict:

        type   "GGA" or "RMC"
        fix    True when the sentence carries a valid position
        lat, lon (signed degrees), and from GGA alt (m), hdop, sats: only with a fix
        time   seconds since midnight UTC, when present
        ts     Unix seconds, RMC only, when date and time are present (the
               receiver may send its own clock's time before it has a fix;
               GPS.unix_time() only trusts it with one)

    Returns None for the other sentence types (GSV, GSA, VTG, ...). Raises
    ValueError for a corrupt sentence. Pass a dict as ``out`` to have it
    cleared and filled instead of allocating a new one.
    """
    b = _bytes_of(sentence)
    n = _locate(b)
    i = _AT[0]
    if _AT[1] - 1 - i != 5:  # proprietary ($PUBX, $PMTK...) or malformed
        return None
    kind = None
    if _is_kind(b, i - 1, b"GGA"):
        kind = "GGA"
    elif _is_kind(b, i - 1, b"RMC"):
        kind = "RMC"
    else:
        return None
    try:
        if kind == "GGA":
            return _gga(b, n, out)
        return _rmc(b, n, out)
    except ValueError as exc:
        if str(exc).startswith(kind):
            raise
        raise ValueError("%s sentence: %s" % (kind, exc))


def _is_kind(buf, i, kind):
    # Does the sentence starting at buf[i] ("$ttXXX,") have type kind (b"GGA")?
    return buf[i + 3] == kind[0] and buf[i + 4] == kind[1] and buf[i + 5] == kind[2]


class NMEAReader:
    """Splits the bytes a ready UART holds into NMEA sentences.

        for sentence in NMEAReader(uart).lines():  # bytes, "$..*hh", no CR LF
            ...

    lines() yields every complete sentence received so far and returns when
    the UART is drained; it never blocks. Noise before a "$" is dropped; a
    line longer than the buffer is dropped and counted in overflows. With
    kinds, e.g. (b"GGA", b"RMC"), other sentences are dropped before they
    cost a copy.
    """

    def __init__(self, uart, size=128, kinds=None):
        self._uart = uart
        self.kinds = kinds
        self._buf = bytearray(size)  # NMEA 0183 caps a sentence at 82 characters
        self._mv = memoryview(self._buf)
        self._n = 0
        self.overflows = 0

    def lines(self):
        uart = self._uart
        buf = self._buf
        size = len(buf)
        while True:
            avail = uart.any()
            if not avail:
                return
            if avail > size - self._n:
                avail = size - self._n
            got = uart.readinto(self._mv[self._n:self._n + avail])
            if not got:
                return
            first = self._n
            self._n += got
            start = 0
            for i in range(first, self._n):
                if buf[i] == 10:  # LF ends a sentence
                    line = self._sentence(start, i)
                    if line is not None:
                        yield line
                    start = i + 1
            if start == 0 and self._n == size:
                # A full buffer and no line end: keep from the last "$".
                self.overflows += 1
                start = size
                for i in range(size - 1, 0, -1):
                    if buf[i] == 36:
                        start = i
                        break
            keep = self._n - start
            for i in range(keep):
                buf[i] = buf[start + i]
            self._n = keep

    def _sentence(self, start, end):
        buf = self._buf
        if end > start and buf[end - 1] == 13:  # CR
            end -= 1
        dollar = -1
        for i in range(end - 1, start - 1, -1):
            if buf[i] == 36:  # "$"
                dollar = i
                break
        if dollar < 0 or end - dollar < 6:
            return None
        if self.kinds is not None:
            for kind in self.kinds:
                if _is_kind(buf, dollar, kind):
                    break
            else:
                return None
        return bytes(self._mv[dollar:end])


class GPS:
    """The latest fix and UTC time from a GPS module on a ready UART.

        gps = GPS(UART(2, 9600, rx=34, tx=12))
        gps.update()                  # call often; never blocks
        gps.position()                # {"lat":..,"lon":..,"alt":..,"hdop":..,"sats":..} or None
        gps.fix_age_ms()              # how old that fix is
        gps.unix_time()               # Unix seconds now, or None without a fix

    Only GGA (position, altitude, quality) and RMC (date) are parsed; once
    the clock is set from an RMC, further RMCs are skipped for RESYNC_MS
    while GGAs keep coming, which halves the work per second.
    Corrupt sentences are skipped and counted in errors (last_error says why).
    The position dict is reused: copy what you keep.
    """

    RESYNC_MS = 60000  # re-read the date and time from RMC this often
    GGA_MS = 3000  # GGA counts as "coming" if one arrived this recently

    def __init__(self, uart, ticks=kit_ticks):
        self.reader = NMEAReader(uart, kinds=(b"GGA", b"RMC"))
        self._ticks = ticks  # the timebase of fix_ms and of unix_time() (sensorbase.py)
        self._gga_ms = None
        self._pos = {}
        self._parsed = {}
        self.fix_ms = None  # ticks_ms of the latest fix
        self._ts = None
        self._ts_ms = None
        self.sentences = 0
        self.errors = 0
        self.last_error = None

    def update(self):
        """Read what the UART holds; return how many GGA/RMC sentences were used."""
        used = 0
        for line in self.reader.lines():
            if line[3] == 82 and self._skip_rmc():  # "R"MC
                continue
            try:
                d = parse(line, self._parsed)
            except ValueError as exc:
                self.errors += 1
                self.last_error = str(exc)
                continue
            used += 1
            self.sentences += 1
            now = self._ticks.ticks_ms()
            if d["type"] == "GGA":
                self._gga_ms = now
            if not d["fix"]:
                continue
            pos = self._pos
            for k in POSITION_KEYS:
                if k in d:
                    pos[k] = d[k]
            self.fix_ms = now
            ts = d.get("ts")
            if ts is not None and ts >= contract.EARLIEST_TS:
                self._ts = ts
                self._ts_ms = now
        return used

    def _skip_rmc(self):
        if self._ts is None or self._gga_ms is None:
            return False
        tk = self._ticks
        now = tk.ticks_ms()
        return (tk.ticks_diff(now, self._gga_ms) < self.GGA_MS
                and tk.ticks_diff(now, self._ts_ms) < self.RESYNC_MS)

    def fix_age_ms(self):
        if self.fix_ms is None:
            return None
        return self._ticks.ticks_diff(self._ticks.ticks_ms(), self.fix_ms)

    def position(self):
        """The latest fix, however old, or None before the first. When a fix
        is too old to use is the kit's rule (intervals.add_position)."""
        if self.fix_ms is None:
            return None
        return self._pos

    def unix_time(self):
        """UTC now in Unix seconds, from the latest RMC with a fix plus the
        time elapsed since; None until there has been one."""
        if self._ts is None:
            return None
        return self._ts + self._ticks.ticks_diff(self._ticks.ticks_ms(), self._ts_ms) // 1000
