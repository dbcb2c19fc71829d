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


def checksum(body):
    """XOR of the characters of body (the text between '$' and '*')."""
    x = 0
    for c in body:
        x ^= ord(c)
    return x


def fields(sentence):
    """Check a sentence's '*hh' checksum and return its comma-separated
    fields, the first being the address ("GPGGA"). Accepts str or bytes,
    with or without the trailing CR LF. Raises ValueError if corrupt."""
    if not isinstance(sentence, str):
        try:
            sentence = bytes(sentence).decode()
        except UnicodeError:
            raise ValueError("NMEA sentence holds bytes that are not ASCII: wrong baud rate?")
    s = sentence.strip()
    if not s.startswith("$"):
        raise ValueError("NMEA sentence must start with '$': %r" % s[:16])
    star = s.rfind("*")
    if star < 0 or len(s) - star != 3:
        raise ValueError("NMEA sentence has no checksum (\"*hh\" at the end): %r" % s[:16])
    try:
        want = int(s[star + 1:], 16)
    except ValueError:
        raise ValueError("NMEA checksum %r is not two hex digits" % s[star + 1:])
    got = checksum(s[1:star])
    if got != want:
        raise ValueError("NMEA checksum %02X does not match %02X, the XOR of the sentence: the line is corrupt"
                         % (want, got))
    return s[1:star].split(",")


def seconds_of_day(hhmmss):
    """'hhmmss' or 'hhmmss.ss' -> whole seconds since midnight UTC, or None if empty."""
    if len(hhmmss) < 6:
        return None
    h = int(hhmmss[0:2])
    m = int(hhmmss[2:4])
    s = int(hhmmss[4:6])
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


def _gga(f):
    # $--GGA,time,lat,N,lon,E,quality,sats,hdop,alt,M,sep,M,age,station*hh
    if len(f) < 10:
        raise ValueError("GGA sentence has %d fields, expected 14" % (len(f) - 1))
    out = {"type": "GGA", "fix": False}
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


def _rmc(f):
    # $--RMC,time,status,lat,N,lon,E,speed,course,ddmmyy,magvar,E,mode[,navstatus]*hh
    if len(f) < 10:
        raise ValueError("RMC sentence has %d fields, expected 12 or more" % (len(f) - 1))
    out = {"type": "RMC", "fix": False}
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


def parse(sentence):
    """Parse one GGA or RMC sentence into a dict:

        type   "GGA" or "RMC"
        fix    True when the sentence carries a valid position
        lat, lon (signed degrees), and from GGA alt (m), hdop, sats: only with a fix
        time   seconds since midnight UTC, when present
        ts     Unix seconds, RMC only, when date and time are present (the
               receiver may send its own clock's time before it has a fix;
               GPS.unix_time() only trusts it with one)

    Returns None for the other sentence types (GSV, GSA, VTG, ...). Raises
    ValueError for a corrupt sentence.
    """
    f = fields(sentence)
    address = f[0]
    if len(address) != 5:  # proprietary ($PUBX, $PMTK...) or malformed
        return None
    kind = address[2:]
    try:
        if kind == "GGA":
            return _gga(f)
        if kind == "RMC":
            return _rmc(f)
    except ValueError as exc:
        if str(exc).startswith(kind):
            raise
        raise ValueError("%s sentence: %s" % (kind, exc))
    return None


def _wanted(line):
    # GGA or RMC at bytes 3..5 of "$ttXXX", checked without slicing.
    if len(line) < 6:
        return False
    a, b, c = line[3], line[4], line[5]
    return (a == 71 and b == 71 and c == 65) or (a == 82 and b == 77 and c == 67)


class NMEAReader:
    """Splits the bytes a ready UART holds into NMEA sentences.

        for sentence in NMEAReader(uart).lines():  # bytes, "$..*hh", no CR LF
            ...

    lines() yields every complete sentence received so far and returns when
    the UART is drained; it never blocks. Noise before a "$" is dropped; a
    line longer than the buffer is dropped and counted in overflows.
    """

    def __init__(self, uart, size=128):
        self._uart = uart
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
        return bytes(self._mv[dollar:end])


class GPS:
    """The latest fix and UTC time from a GPS module on a ready UART.

        gps = GPS(UART(2, 9600, rx=34, tx=12))
        gps.update()                  # call often; never blocks
        gps.position(max_age_ms=5000)  # {"lat":..,"lon":..,"alt":..,"hdop":..,"sats":..} or None
        gps.unix_time()               # Unix seconds now, or None without a fix

    Corrupt sentences are skipped and counted in errors (last_error says why).
    The position dict is reused: copy what you keep.
    """

    def __init__(self, uart):
        self.reader = NMEAReader(uart)
        self._pos = {}
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
            if not _wanted(line):
                continue
            try:
                d = parse(line)
            except ValueError as exc:
                self.errors += 1
                self.last_error = str(exc)
                continue
            used += 1
            self.sentences += 1
            if not d["fix"]:
                continue
            now = ticks_ms()
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
