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
from .sensorbase import ticks_diff, ticks_ms

POSITION_KEYS = ("lat", "lon", "alt", "hdop", "sats")


def _hexdigit(c):
    # The value of one ASCII hex digit, or -1.
    if 48 <= c <= 57:
        return c - 48
    c |= 0x20  # lower case
    if 97 <= c <= 102:
        return c - 87
    return -1


def checksum(body):
    """XOR of the bytes of body (the text between '$' and '*')."""
    if isinstance(body, str):
        body = body.encode()
    x = 0
    for c in body:
        x ^= c
    return x


def fields(sentence):
    """Check a sentence's '*hh' checksum and return its comma-separated
    fields, the first being the address ("GPGGA"). Accepts bytes or str,
    with or without the trailing CR LF. Raises ValueError if corrupt."""
    # Checked on the bytes, before any string is made: a GPS talks every
    # second and this runs on a heap of ~100 KB.
    b = sentence.encode() if isinstance(sentence, str) else sentence
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
    got = 0
    for i in range(start + 1, star):
        got ^= b[i]
    if got != hi * 16 + lo:
        raise ValueError("NMEA checksum %02X does not match %02X, the XOR of the sentence: the line is corrupt"
                         % (hi * 16 + lo, got))
    body = b[start + 1:star]
    if not isinstance(body, bytes):
        body = bytes(body)
    try:
        return body.decode().split(",")
    except UnicodeError:
        raise ValueError("NMEA sentence holds bytes that are not ASCII: wrong baud rate?")


def seconds_of_day(hhmmss):
    """'hhmmss' or 'hhmmss.ss' -> whole seconds since midnight UTC, or None if empty."""
    if len(hhmmss) < 6:
        return None
    v = int(hhmmss[:6])  # one slice, not three: this runs every second
    h = v // 10000
    m = v // 100 % 100
    s = v % 100
    if h > 23 or m > 59 or s > 60:
        raise ValueError("NMEA time %r is not a time of day" % hhmmss)
    return h * 3600 + m * 60 + s


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


def unix_time(ddmmyy, hhmmss):
    """RMC date and time -> Unix seconds (UTC), or None if either is empty.
    Two-digit years 80-99 are 19xx (the GPS epoch is 1980), the rest 20xx."""
    sod = seconds_of_day(hhmmss)
    if sod is None or len(ddmmyy) != 6:
        return None
    d = int(ddmmyy[0:2])
    m = int(ddmmyy[2:4])
    y = int(ddmmyy[4:6])
    if not (1 <= d <= 31 and 1 <= m <= 12):
        raise ValueError("NMEA date %r is not ddmmyy" % ddmmyy)
    y += 1900 if y >= 80 else 2000
    return days_from_civil(y, m, d) * 86400 + sod


def coordinate(value, hemisphere):
    """'ddmm.mmmm'/'dddmm.mmmm' and N/S/E/W -> signed decimal degrees."""
    dot = value.find(".")
    if dot < 0:
        dot = len(value)
    if dot < 3:
        raise ValueError("NMEA coordinate %r is not (d)ddmm.mmmm" % value)
    minutes = float(value[dot - 2:])
    if minutes >= 60:
        raise ValueError("NMEA coordinate %r has %s minutes" % (value, value[dot - 2:]))
    deg = int(value[:dot - 2]) + minutes / 60
    if hemisphere == "S" or hemisphere == "W":
        return -deg
    if hemisphere == "N" or hemisphere == "E":
        return deg
    raise ValueError("NMEA hemisphere %r is not N, S, E or W" % hemisphere)


def _start(out, kind):
    if out is None:
        return {"type": kind, "fix": False}
    out.clear()
    out["type"] = kind
    out["fix"] = False
    return out


def _gga(f, out):
    # $--GGA,time,lat,N,lon,E,quality,sats,hdop,alt,M,sep,M,age,station*hh
    if len(f) < 10:
        raise ValueError("GGA sentence has %d fields, expected 14" % (len(f) - 1))
    out = _start(out, "GGA")
    t = seconds_of_day(f[1])
    if t is not None:
        out["time"] = t
    quality = int(f[6]) if f[6] else 0
    # 1 GPS, 2 differential, 3 PPS, 4 RTK fixed, 5 RTK float; 0 invalid and
    # 6 dead reckoning (an estimate, not a measured position) are no fix.
    if 1 <= quality <= 5 and f[2] and f[4]:
        out["fix"] = True
        out["lat"] = coordinate(f[2], f[3])
        out["lon"] = coordinate(f[4], f[5])
        if f[9]:
            out["alt"] = float(f[9])
        if f[8]:
            out["hdop"] = float(f[8])
        if f[7]:
            out["sats"] = int(f[7])
    return out


def _rmc(f, out):
    # $--RMC,time,status,lat,N,lon,E,speed,course,ddmmyy,magvar,E,mode[,navstatus]*hh
    if len(f) < 10:
        raise ValueError("RMC sentence has %d fields, expected 12 or more" % (len(f) - 1))
    out = _start(out, "RMC")
    t = seconds_of_day(f[1])
    if t is not None:
        out["time"] = t
    ts = unix_time(f[9], f[1])
    if ts is not None:
        out["ts"] = ts
    # NMEA 2.3 added a mode indicator (field 12); "N" means data not valid.
    valid = f[2] == "A" and not (len(f) > 12 and f[12] == "N")
    if valid and f[3] and f[5]:
        out["fix"] = True
        out["lat"] = coordinate(f[3], f[4])
        out["lon"] = coordinate(f[5], f[6])
    return out


def parse(sentence, out=None):
    """Parse one GGA or RMC sentence into a dict:

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
    f = fields(sentence)
    address = f[0]
    if len(address) != 5:  # proprietary ($PUBX, $PMTK...) or malformed
        return None
    kind = address[2:]
    try:
        if kind == "GGA":
            return _gga(f, out)
        if kind == "RMC":
            return _rmc(f, out)
    except ValueError as exc:
        if str(exc).startswith(kind):
            raise
        raise ValueError("%s sentence: %s" % (kind, exc))
    return None


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
        gps.position(max_age_ms=5000)  # {"lat":..,"lon":..,"alt":..,"hdop":..,"sats":..} or None
        gps.unix_time()               # Unix seconds now, or None without a fix

    Only GGA (position, altitude, quality) and RMC (date) are parsed; once
    the clock is set from an RMC, further RMCs are skipped for RESYNC_MS
    while GGAs keep coming, which halves the work per second.
    Corrupt sentences are skipped and counted in errors (last_error says why).
    The position dict is reused: copy what you keep.
    """

    RESYNC_MS = 60000  # re-read the date and time from RMC this often
    GGA_MS = 3000  # GGA counts as "coming" if one arrived this recently

    def __init__(self, uart):
        self.reader = NMEAReader(uart, kinds=(b"GGA", b"RMC"))
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
            now = ticks_ms()
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
        now = ticks_ms()
        return (ticks_diff(now, self._gga_ms) < self.GGA_MS
                and ticks_diff(now, self._ts_ms) < self.RESYNC_MS)

    def fix_age_ms(self):
        if self.fix_ms is None:
            return None
        return ticks_diff(ticks_ms(), self.fix_ms)

    def position(self, max_age_ms=None):
        """The latest fix, or None if there is none (or it is older than max_age_ms)."""
        age = self.fix_age_ms()
        if age is None or (max_age_ms is not None and age > max_age_ms):
            return None
        return self._pos

    def unix_time(self):
        """UTC now in Unix seconds, from the latest RMC with a fix plus the
        time elapsed since; None until there has been one."""
        if self._ts is None:
            return None
        return self._ts + ticks_diff(ticks_ms(), self._ts_ms) // 1000
