# Store-and-forward queue in flash: every reading is appended here (and the
# file closed, which commits it) before any attempt to send it, and removed
# only after the broker's PUBACK. Runs unchanged on MicroPython (ESP32,
# littlefs or FAT) and CPython; `airtrail kit pull` decodes a copy of this
# folder with the same code.
#
# On flash the queue is a folder:
#   s00000001, s00000002, ...  segment files, appended to, never rewritten
#   head                       "<segment> <offset> <dropped>\n": where the
#                              oldest unsent record starts, and how many
#                              readings the flash budget has cost so far
# Each record in a segment is framed as
#   0xA7 | length (u16 LE) | CRC-32 of the payload (u32 LE) | payload
# A record is good when its magic byte is there, its length stays inside the
# file and its CRC matches. A torn append (power cut) leaves a short header or
# a length running past the end of the file: end of data. The magic byte makes
# a run of erased (0xFF) or zeroed flash look like the end of data too. A CRC
# mismatch with intact framing (flash damage inside a payload) skips that one
# record. binascii.crc32 exists on the ESP32 port and the WebAssembly port,
# and is unsigned there as on CPython 3: no "& 0xFFFFFFFF" (on a 31-bit
# small-int port that mask makes a second long int per record).
#
# Why this layout:
# - Popping sent records moves the head offset (one small file written by
#   write-temp-then-rename) instead of rewriting the queue, and a segment is
#   deleted once the head has passed it: flash wear and time stay flat however
#   long the backlog is.
# - A power cut can only tear the record being appended at the end of the
#   last segment. At boot the last segment is checked record by record; if it
#   ends in a torn record, that segment is sealed (never appended to again) and
#   the next reading starts a new segment, so nothing written later is hidden
#   behind the torn bytes; reading a sealed segment stops where its good data
#   ends. MicroPython's files have no truncate(), hence sealing.
# - The flash budget (bytes) is enforced when appending: when the next record
#   would not fit, the OLDEST segment is deleted whole (flash is only freed by
#   deleting files) and its unsent readings are added to the persisted
#   `dropped` counter, which the status message reports. Order is preserved:
#   only the front of the queue is ever dropped.
# - Crash at any point = at-least-once: a reading may be sent twice (head not
#   yet advanced when power went), never lost; the collector deduplicates.

import binascii
import os
import struct

MAGIC = 0xA7
HEADER = 7  # magic, u16 length, u32 crc
MAX_RECORD = 65535
_HEADER_FMT = "<BHI"
_SEG_PREFIX = "s"
_HEAD = "head"

DEFAULT_DIR = "/queue"
DEFAULT_BUDGET = 512 * 1024
DEFAULT_SEGMENT = 8192


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def write_atomic(path, data):
    """Replace the file at ``path`` with ``data`` so a power cut leaves the old or the new content.

    littlefs renames atomically over an existing file; MicroPython's FAT driver
    removes the target first, so read_atomic() also looks at the temp file.
    """
    tmp = path + ".tmp"
    f = open(tmp, "wb")
    try:
        f.write(data)
    finally:
        f.close()
    os.rename(tmp, path)


def read_atomic(path):
    """Content written by write_atomic(), or None if there is none yet."""
    for candidate in (path, path + ".tmp"):
        try:
            f = open(candidate, "rb")
        except OSError:
            continue
        try:
            return f.read()
        finally:
            f.close()
    return None


def _segment_path(directory, seg):
    return "%s/%s%08d" % (directory, _SEG_PREFIX, seg)


def _segment_numbers(directory):
    """The segment files of a queue folder, oldest first."""
    segs = []
    for name in os.listdir(directory):
        if len(name) == 9 and name[0] == _SEG_PREFIX:
            try:
                segs.append(int(name[1:]))
            except ValueError:
                pass
    segs.sort()
    return segs


def _read_head(directory):
    """(segment, offset, dropped) from the head file; (0, 0, 0) if missing or
    unreadable, which resends from the oldest segment (the collector
    deduplicates) rather than lose anything."""
    head = read_atomic(directory + "/" + _HEAD)
    if head:
        try:
            fields = head.split()
            return int(fields[0]), int(fields[1]), int(fields[2])
        except (ValueError, IndexError):
            pass
    return 0, 0, 0


class _SegmentReader:
    """Walks the records of one segment file from an offset, stopping at the first bad one."""

    def __init__(self, path, offset, size):
        self.f = open(path, "rb")
        self.offset = offset
        self.size = size
        self.f.seek(offset)
        self.hdr = bytearray(HEADER)
        self._scratch = bytearray(0)  # for skip(): grown to the largest record met

    def _header(self):
        # (length, crc) of the record at self.offset, or None at the end of
        # good data: end of file, a torn header or payload (the length runs
        # past the end of the file), or no magic byte.
        if self.f.readinto(self.hdr) != HEADER:
            return None
        magic, length, crc = struct.unpack(_HEADER_FMT, self.hdr)
        if magic != MAGIC or length == 0 or self.offset + HEADER + length > self.size:
            return None
        return length, crc

    def next_payload(self):
        """Payload of the next good record (advancing past it), or None at the end of good data.

        A record whose framing is intact but whose CRC does not match (flash
        damage inside the payload) is skipped on its own; the framing of the
        records after it still holds.
        """
        return self._next_good(True)

    def skip(self):
        """Pass the next good record without keeping it; False at the end of good data.

        Checked as next_payload() checks it, but read into a reused buffer:
        counting a whole queue at boot allocates nothing per record.
        """
        return self._next_good(False) is not None

    def _next_good(self, keep):
        while True:
            hc = self._header()
            if hc is None:
                return None
            length, crc = hc
            if keep:
                data = self.f.read(length)
            else:
                if len(self._scratch) < length:
                    self._scratch = bytearray(length)
                data = memoryview(self._scratch)[:length]
                self.f.readinto(data)
            self.offset += HEADER + length
            if binascii.crc32(data) == crc:
                return data

    def close(self):
        self.f.close()


class FlashQueue:
    """A bounded, ordered, power-cut-safe queue of byte records in a folder.

        q = FlashQueue("/queue", budget=512 * 1024)
        q.append(encode.reading_json(reading))      # before trying to send
        batch = q.peek(max_count=50, max_bytes=encode.batch_budget(dev, fw))
        ... publish encode.batch_message(dev, fw, batch), wait for PUBACK ...
        q.pop(len(batch))

    ``depth`` is the number of queued records, ``dropped`` the persisted count
    of readings lost to the flash budget, ``torn`` the number of segments found
    to end in a damaged record at boot (this boot only).
    """

    def __init__(self, directory=DEFAULT_DIR, budget=DEFAULT_BUDGET, segment_bytes=DEFAULT_SEGMENT):
        if segment_bytes < HEADER + 1 or budget < 2 * segment_bytes:
            raise ValueError("flash budget %d must be at least two segments of %d bytes" % (budget, segment_bytes))
        self.dir = directory.rstrip("/") or "/"
        self.budget = budget
        self.segment_bytes = segment_bytes
        self.dropped = 0
        self.torn = 0
        self._sizes = {}  # segment number -> file size
        self._sealed = False  # the last segment ends in a torn record
        self._hdr = bytearray(HEADER)
        self._tail_path = (None, "")
        try:
            os.mkdir(self.dir)
        except OSError:
            pass  # exists
        self._recover()

    # -- paths and state ---------------------------------------------------

    def _path(self, seg):
        return _segment_path(self.dir, seg)

    def _reader(self, seg, offset):
        return _SegmentReader(self._path(seg), offset, self._sizes[seg])

    def _segments(self):
        return _segment_numbers(self.dir)

    def _save_head(self):
        write_atomic(self.dir + "/" + _HEAD, b"%d %d %d\n" % (self.head_seg, self.head_off, self.dropped))

    def _recover(self):
        seg, off, self.dropped = _read_head(self.dir)
        for s in self._segments():
            if s < seg:
                # Passed by the head before a power cut interrupted the delete.
                os.remove(self._path(s))
            else:
                self._sizes[s] = os.stat(self._path(s))[6]
        segs = sorted(self._sizes)
        if not segs:
            self.head_seg, self.head_off = max(seg, 1), 0
            self._sizes[self.head_seg] = 0  # created on first append
        elif seg not in self._sizes:
            self.head_seg, self.head_off = segs[0], 0
        else:
            self.head_seg, self.head_off = seg, min(off, self._sizes[seg])

        # Counted as they will be read: a record whose CRC fails is never sent,
        # so it must not count as waiting (depth drives the uplink). Only the
        # last segment can end in a torn append; its scan finds where.
        self.depth = 0
        last = max(self._sizes)
        for s in sorted(self._sizes):
            end, count = self._scan(s, self.head_off if s == self.head_seg else 0)
            self.depth += count
            if s == last and end != self._sizes[last]:
                self._sealed = True
                self.torn += 1
        self._drop_passed_segments()

    def _scan(self, seg, offset):
        """(end of good data, good records) of a segment from ``offset``."""
        if not self._sizes.get(seg) and not _exists(self._path(seg)):
            return 0, 0
        r = self._reader(seg, offset)
        n = 0
        try:
            while r.skip():
                n += 1
            return r.offset, n
        finally:
            r.close()

    @property
    def used_bytes(self):
        total = 0
        for s in self._sizes:
            total += self._sizes[s]
        return total

    @property
    def tail_seg(self):
        return max(self._sizes)

    # -- writing -----------------------------------------------------------

    def append(self, payload):
        """Append one record and commit it to flash before returning."""
        n = len(payload)
        if not 0 < n <= MAX_RECORD:
            raise ValueError("a queue record holds 1 to %d bytes, not %d" % (MAX_RECORD, n))
        need = HEADER + n
        if need > self.segment_bytes:
            raise ValueError("record of %d bytes is larger than a queue segment (%d)" % (need, self.segment_bytes))
        tail = self.tail_seg
        if self._sealed or (self._sizes[tail] and self._sizes[tail] + need > self.segment_bytes):
            tail += 1
            self._sizes[tail] = 0
            self._sealed = False
        while self.used_bytes + need > self.budget and self.head_seg != tail:
            self._drop_head_segment()
        # Header into a reused buffer and two writes: no copy of the payload
        # on a heap of ~100 KB.
        struct.pack_into(_HEADER_FMT, self._hdr, 0, MAGIC, n, binascii.crc32(payload))
        if self._tail_path[0] != tail:
            self._tail_path = (tail, self._path(tail))  # built once per segment, not per append
        f = open(self._tail_path[1], "ab")
        try:
            f.write(self._hdr)
            f.write(payload)
        finally:
            f.close()  # close commits the data (littlefs sync, FAT directory entry)
        self._sizes[tail] += need
        self.depth += 1

    def _drop_head_segment(self):
        seg = self.head_seg
        lost = self._scan(seg, self.head_off)[1]
        self.dropped += lost
        self.depth -= lost
        self.head_seg, self.head_off = self._next_seg(seg), 0
        self._save_head()  # counter and head move together, before the delete
        self._remove(seg)

    def _next_seg(self, seg):
        for s in sorted(self._sizes):
            if s > seg:
                return s
        return seg

    def _remove(self, seg):
        if _exists(self._path(seg)):
            os.remove(self._path(seg))
        del self._sizes[seg]

    def _drop_passed_segments(self):
        # A head at the end of good data in a segment that is no longer the
        # one being appended to moves on to the next segment.
        moved = []
        while self.head_seg != self.tail_seg and self._scan(self.head_seg, self.head_off)[0] == self.head_off:
            moved.append(self.head_seg)
            self.head_seg, self.head_off = self._next_seg(self.head_seg), 0
        if moved:
            self._save_head()
            for s in moved:
                self._remove(s)

    # -- reading -----------------------------------------------------------

    def records(self, max_count=None, max_bytes=None):
        """Yield queued payloads oldest first, without removing them.

        Stops after ``max_count`` records or before the record that would make
        the sum of (len + 1) exceed ``max_bytes`` (the first record is always
        yielded, so an oversized one cannot block the queue).
        """
        count = 0
        spent = 0
        for seg in sorted(self._sizes):
            if seg < self.head_seg or not self._sizes[seg]:
                continue
            r = self._reader(seg, self.head_off if seg == self.head_seg else 0)
            try:
                while max_count is None or count < max_count:
                    payload = r.next_payload()
                    if payload is None:
                        break
                    spent += len(payload) + 1
                    if max_bytes is not None and count and spent > max_bytes:
                        return
                    count += 1
                    yield payload
            finally:
                r.close()
            if max_count is not None and count >= max_count:
                return

    def peek(self, max_count=50, max_bytes=None):
        """The oldest queued payloads, in order, as a list (see records())."""
        return list(self.records(max_count, max_bytes))

    def pop(self, count):
        """Remove the ``count`` oldest records (after the broker's PUBACK for them)."""
        if count <= 0:
            return
        removed = 0
        passed = []
        seg, off = self.head_seg, self.head_off
        while removed < count:
            r = self._reader(seg, off) if self._sizes.get(seg) else None
            try:
                while removed < count and r is not None and r.next_payload() is not None:
                    removed += 1
                if r is not None:
                    off = r.offset
            finally:
                if r is not None:
                    r.close()
            if removed < count:
                nxt = self._next_seg(seg)
                if nxt == seg:
                    break  # asked to pop more than is queued
                passed.append(seg)
                seg, off = nxt, 0
        self.head_seg, self.head_off = seg, off
        self.depth = max(0, self.depth - removed)
        self._save_head()
        for s in passed:
            self._remove(s)
        self._drop_passed_segments()


def read_queue(directory):
    """All readable payloads of a queue folder, oldest first, without changing it.

    For a copy pulled from a kit: unlike FlashQueue() this writes nothing.
    Returns (payloads, dropped).
    """
    directory = directory.rstrip("/") or "/"
    seg, off, dropped = _read_head(directory)
    out = []
    for s in _segment_numbers(directory):
        if s < seg:
            continue
        path = _segment_path(directory, s)
        r = _SegmentReader(path, off if s == seg else 0, os.stat(path)[6])
        try:
            while True:
                payload = r.next_payload()
                if payload is None:
                    break
                out.append(payload)
        finally:
            r.close()
    return out, dropped
