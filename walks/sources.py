"""Where a walk's readings come from, and how a kit's are found whatever its clock said.

Three sources, one table. Each gives a kit's readings as a DataFrame with
the columns ``kit``, ``ts`` (the kit's clock, Unix seconds), ``clk``, ``seq``,
the contract fields (float, NaN where not measured), x_* fields and
``flags`` ("" when none):

  ``InfluxSource``  the collector's InfluxDB, through the collector's one read
                    of stored readings (``collector.readings.fetch_columns``,
                    paged), with the collector's settings;
  ``ApiSource``     a running collector's HTTP API with a read token (the
                    collector often runs on a server whose InfluxDB the
                    facilitator's laptop cannot reach), CSV pages followed
                    by their ``next`` link;
  ``PullSource``    the files `airtrail kit pull` wrote (firmware/PULL_FORMAT.md)
                    when the kits never had a network.

``gather`` finds a kit's readings of a walk. Readings stamped by a
synchronised clock (``clk`` ntp or gps) are found by time. A kit whose clock
never synchronised (``clk = "rtc"``) may have stamped its readings hours or
days off (after a power cut it continues from its last saved time), so its
readings are found by sequence number: the kit numbers every reading, across
reboots, so the walk's readings are those numbered after the kit's last
synchronised reading before the walk (the hand-out) and before its first
one after it (the block it sent on return), whatever time they carry. When
the kit has no synchronised reading on a side, that side is open.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import numpy as np
import pandas as pd

from airkit import contract as wire
from airkit.errors import ConfigError

__all__ = ["ApiSource", "InfluxSource", "PullSource", "ReadingsError", "ReadingSource", "SYNCED", "concat", "gather", "is_synced",
           "readings_frame"]

SYNCED = ("ntp", "gps")  # clock sources whose stamps are true time
NUMERIC = tuple(wire.FIELDS) + tuple(wire.POSITION)
_PULL_NAME = re.compile(r"^(?P<device>.+)-(?P<stamp>\d{8}T\d{6}Z)\.(?P<ext>csv|jsonl)$")


class ReadingsError(ConfigError):
    """A source of readings that cannot be read; the message says which and what to do."""


def readings_frame(columns: dict[str, Sequence[Any]] | pd.DataFrame, kit: str | None = None) -> pd.DataFrame:
    """Readings in the walk's one table: kit, ts, clk, seq, the measured contract fields in
    contract order, measured x_* fields sorted, flags; NaN where a field was not measured.
    Kit, clock source and flags are categories: few distinct values, compared and grouped as integers."""
    frame = pd.DataFrame(columns) if not isinstance(columns, pd.DataFrame) else columns
    n = len(frame)
    if kit is not None:
        kits = pd.Categorical.from_codes(np.zeros(n, np.int8), categories=[kit])
    elif "kit" in frame.columns or "device" in frame.columns:
        kits = pd.Categorical(frame["kit" if "kit" in frame.columns else "device"].astype(str))
    else:
        kits = pd.Categorical([])
    out = {
        "kit": kits,
        "ts": pd.to_numeric(frame.get("ts", pd.Series(dtype="int64")), errors="raise").to_numpy(np.int64) if n else np.array([], np.int64),
        "clk": _category(frame["clk"], "rtc") if n else pd.Categorical([]),
        "seq": frame["seq"].to_numpy(np.int64) if n else np.array([], np.int64),
    }
    # A field nobody measured is left out (a pull file has a column for every contract field):
    # a walk's table holds what the kits measured, not a million NaNs per missing sensor.
    for name in [*NUMERIC, *sorted(c for c in frame.columns if c.startswith(wire.EXPERIMENTAL_PREFIX))]:
        if name in frame.columns:
            values = frame[name].to_numpy(float) if frame[name].dtype.kind == "f" else pd.to_numeric(frame[name], errors="coerce").to_numpy(float)
            if not np.isnan(values).all():
                out[name] = values
    out["flags"] = _category(frame["flags"], "") if "flags" in frame.columns and n else \
        pd.Categorical.from_codes(np.zeros(n, np.int8), categories=[""])
    return pd.DataFrame(out, copy=False)


def _category(column: pd.Series, missing: str) -> pd.Categorical:
    """A text column as a category of strings, ``missing`` where it has no value."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return pd.Categorical(column.fillna(missing).astype(str))
    codes, names = column.cat.codes.to_numpy(), [str(c) for c in column.cat.categories]
    if (codes < 0).any():
        names += [] if missing in names else [missing]
        codes = np.where(codes < 0, names.index(missing), codes)
    return pd.Categorical.from_codes(codes, categories=names)


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """pd.concat of tables of readings, their categories united: pandas keeps a category only
    where every table has the same categories, and would otherwise turn it into slow strings."""
    if len(frames) == 1:
        return frames[0].reset_index(drop=True)
    recoded = list(frames)
    for name in ("kit", "clk", "flags"):
        dtypes = [f[name].dtype for f in frames if name in f.columns]
        if len(dtypes) == len(frames) and all(isinstance(d, pd.CategoricalDtype) for d in dtypes) \
                and any(d != dtypes[0] for d in dtypes):
            united = pd.CategoricalDtype(list(dict.fromkeys(c for d in dtypes for c in d.categories)))
            recoded = [f.assign(**{name: f[name].astype(united)}) for f in recoded]  # a recode of the integer codes
    return pd.concat(recoded, ignore_index=True)


def is_synced(clk: pd.Series) -> np.ndarray:
    """Whether each reading's clock was synchronised (a category's codes looked up, not its strings compared)."""
    if isinstance(clk.dtype, pd.CategoricalDtype):
        # A comparison of the small codes per synchronised category (two at most), not a lookup
        # table indexed by a million codes widened to 64 bits; code -1 (missing) matches none.
        codes = clk.cat.codes.to_numpy()
        out = np.zeros(len(codes), dtype=bool)
        for code in np.flatnonzero(clk.cat.categories.isin(SYNCED)).tolist():
            out |= codes == code
        return out
    return clk.isin(SYNCED).to_numpy()


def _by_seq(frame: pd.DataFrame) -> pd.DataFrame:
    """Each reading once (by sequence number), in sequence order; as it is when it already is."""
    seq = frame["seq"].to_numpy()
    if len(seq) < 2 or bool(np.all(np.diff(seq) > 0)):
        return frame.reset_index(drop=True)
    return frame.drop_duplicates("seq", keep="first").sort_values("seq", kind="stable").reset_index(drop=True)


def _none(kit: str) -> pd.DataFrame:
    """A kit's table of readings when there are none."""
    return readings_frame(pd.DataFrame(columns=["ts", "clk", "seq", "flags"]), kit=kit)


class ReadingSource(Protocol):
    def by_time(self, kit: str, start_s: int, end_s: int) -> pd.DataFrame:
        """The kit's readings stamped start_s <= ts < end_s."""

    def by_seq(self, kit: str, after: int | None, before: int | None) -> pd.DataFrame | None:
        """The kit's readings with after < seq < before, whatever their stamp; None if the source cannot ask."""

    def describe(self) -> dict[str, Any]:
        """Where the readings came from, for the summary's provenance (no secrets)."""


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class InfluxSource:
    """Readings from the collector's InfluxDB (its settings: config file, environment, flags)."""

    def __init__(self, influx_settings: Any) -> None:
        from collector.influx.client import InfluxQL

        self.settings = influx_settings
        self.influxql = InfluxQL(influx_settings)

    def _fetch(self, kit: str, **bounds: Any) -> pd.DataFrame:
        from collector.errors import InfluxError
        from collector.readings import fetch_columns

        try:
            return readings_frame(fetch_columns(self.influxql, kit, **bounds), kit=kit)
        except InfluxError as exc:
            raise ReadingsError(f"cannot read kit {kit}'s readings from InfluxDB at {self.settings.url}: {exc}") from None

    def by_time(self, kit: str, start_s: int, end_s: int) -> pd.DataFrame:
        return self._fetch(kit, start=_utc(start_s), end=_utc(end_s))

    def by_seq(self, kit: str, after: int | None, before: int | None) -> pd.DataFrame:
        return self._fetch(kit, seq_after=after, seq_before=before)

    def describe(self) -> dict[str, Any]:
        return {"source": "influxdb", "url": self.settings.url, "database": self.settings.database}

    def close(self) -> None:
        self.influxql.close()


class ApiSource:
    """Readings from a running collector's HTTP API (`GET /devices/{id}/readings`, CSV pages)."""

    def __init__(self, url: str, token: str | None, page_size: int = 100_000, client: Any = None) -> None:
        import httpx

        if not url.startswith(("http://", "https://")):
            raise ReadingsError(f"the collector's address {url!r} needs its scheme: https://{url}")
        self.url = url.rstrip("/")
        self.token = token
        self.page_size = page_size
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = client or httpx.Client(headers=headers, timeout=60.0)

    def by_time(self, kit: str, start_s: int, end_s: int) -> pd.DataFrame:
        import httpx

        params: dict[str, Any] | None = {"start": wire.utc_iso(start_s), "end": wire.utc_iso(end_s), "format": "csv",
                                         "limit": self.page_size}
        url: str | None = f"{self.url}/devices/{kit}/readings"
        pages = []
        while url:
            try:
                answer = self.client.get(url, params=params)
            except httpx.HTTPError as exc:
                raise ReadingsError(f"cannot reach the collector at {self.url}: {exc}; check the address and the network") from None
            if answer.status_code == 404:
                return _none(kit)
            if answer.status_code in (401, 403):
                raise ReadingsError(f"the collector at {self.url} refused the read token ({answer.status_code}): set "
                                    "AIRTRAIL_READ_TOKEN (or --token) to its api.read_token")
            if answer.status_code != 200:
                raise ReadingsError(f"the collector at {self.url} answered {answer.status_code} for kit {kit}: {answer.text[:300]}")
            if answer.headers.get("Airtrail-Positions") not in (None, "gps"):
                raise ReadingsError(f"the collector at {self.url} withholds kit {kit}'s positions without the read token: "
                                    "set AIRTRAIL_READ_TOKEN (or --token) to its api.read_token")
            text = answer.text
            if text.count("\n") > 1:
                pages.append(pd.read_csv(io.StringIO(text), dtype={"device": str, "clk": str, "flags": str}, keep_default_na=False,
                                         na_values={c: [""] for c in NUMERIC}))
            url, params = self._follow(str(answer.url), answer.links.get("next", {}).get("url")), None
        return readings_frame(pd.concat(pages, ignore_index=True), kit=kit) if pages else _none(kit)

    def _follow(self, asked: str, link: str | None) -> str | None:
        """The next page's URL, resolved against the page's: only on the collector's own host, since
        the read token goes with every request."""
        if link is None:
            return None
        url = urljoin(asked, link)
        if urlsplit(url)[:2] != urlsplit(self.url)[:2]:
            raise ReadingsError(f"the collector at {self.url} linked its next page at another address ({url}); the read "
                                "token is not sent there. Set api.public_url on the collector to the address it is reached at")
        return url

    def by_seq(self, kit: str, after: int | None, before: int | None) -> None:
        return None  # the API asks by time only: gather searches its wide window

    def describe(self) -> dict[str, Any]:
        return {"source": "api", "url": self.url}


def _require_ts_seq(path: Path, columns) -> None:
    missing = [c for c in ("ts", "seq") if c not in columns]
    if missing:
        raise ReadingsError(f"{path} lacks the column(s) {', '.join(missing)} of a pull file (firmware/PULL_FORMAT.md)")


def _read_pull_csv(path: Path, data: bytes) -> pd.DataFrame:
    """A pull CSV's columns (``data``, the bytes of ``path``), typed as the format says: the device and
    ISO time columns are left out (the file's name says the kit, ``ts`` the time), numbers are
    floats, text are categories."""
    head = data[: data.find(b"\n") if b"\n" in data else len(data)].decode("utf-8").rstrip("\r").split(",")
    _require_ts_seq(path, head)  # by the header: the device and time columns are not read
    types: dict[str, Any] = {c: "float64" for c in head if c in NUMERIC}
    types.update({c: "int64" for c in ("ts", "seq") if c in head})
    types.update({c: "category" for c in ("clk", "flags") if c in head})
    return pd.read_csv(io.BytesIO(data), usecols=lambda c: c not in ("device", "time"), dtype=types, keep_default_na=False,
                       na_values={c: [""] for c in NUMERIC}, engine="c")


@dataclass
class PullSource:
    """Readings from the files `airtrail kit pull --out <folder>` wrote, one CSV (or JSONL) per pull."""

    folder: Path
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    _pending: dict[str, list[Any]] = field(default_factory=dict, repr=False)  # kit -> futures of its files' tables
    _hashes: dict[str, str] = field(default_factory=dict, repr=False)  # file name -> SHA-256, of each file read

    def __post_init__(self) -> None:
        if not self.folder.is_dir():
            raise ReadingsError(f"there is no folder {self.folder} of pulled readings: run `airtrail kit pull --out {self.folder}` "
                                "for each kit, or fix [readings] folder in the walk file")

    def files(self, kit: str) -> list[Path]:
        """The kit's pulls: its CSVs, and the JSONL of any pull without one."""
        found: dict[str, Path] = {}
        for path in sorted(self.folder.iterdir()):
            m = _PULL_NAME.match(path.name)
            if m and m["device"] == kit:
                key = m["stamp"]
                if m["ext"] == "csv" or key not in found:
                    found[key] = path
        return [found[k] for k in sorted(found)]

    def prefetch(self, kits: Sequence[str], pool: Any) -> None:
        """Have ``pool`` (an Executor) parse the kits' files, in this order, ahead of asking for them."""
        for kit in kits:
            if kit not in self._cache and kit not in self._pending:
                self._pending[kit] = [pool.submit(PullSource._read, path, kit) for path in self.files(kit)]

    def _all(self, kit: str) -> pd.DataFrame:
        if kit not in self._cache:
            pending = self._pending.pop(kit, None)
            read = [f.result() for f in pending] if pending is not None else [self._read(path, kit) for path in self.files(kit)]
            frames = [frame for frame, _, _ in read]
            self._hashes.update({name: digest for _, name, digest in read})
            # Pulls without --delete overlap: each reading once, by its sequence number.
            self._cache[kit] = _by_seq(concat(frames)) if frames else _none(kit)
        return self._cache[kit]

    @staticmethod
    def _read(path: Path, kit: str) -> tuple[pd.DataFrame, str, str]:
        """(the file's table, its name, the SHA-256 of its bytes): read once, for both."""
        try:
            data = path.read_bytes()
            if path.suffix == ".csv":
                frame = _read_pull_csv(path, data)
            else:
                frame = pd.DataFrame([json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()])
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise ReadingsError(f"{path} is not a pull file airtrail can read ({exc}); pull the kit again, or decode its raw "
                                "copy with `airtrail kit decode`") from None
        if len(frame):
            _require_ts_seq(path, frame.columns)
        return readings_frame(frame, kit=kit), path.name, hashlib.sha256(data).hexdigest()

    def whole(self, kit: str) -> pd.DataFrame:
        """All the kit's pulled readings, each once, in sequence order."""
        return self._all(kit)

    def by_time(self, kit: str, start_s: int, end_s: int) -> pd.DataFrame:
        frame = self._all(kit)
        return frame[(frame["ts"] >= start_s) & (frame["ts"] < end_s)].reset_index(drop=True)

    def by_seq(self, kit: str, after: int | None, before: int | None) -> pd.DataFrame:
        frame = self._all(kit)
        keep = np.ones(len(frame), dtype=bool)
        if after is not None:
            keep &= frame["seq"].to_numpy() > after
        if before is not None:
            keep &= frame["seq"].to_numpy() < before
        return frame[keep].reset_index(drop=True)

    def describe(self) -> dict[str, Any]:
        """The folder, and each pull file read so far with its SHA-256: a rebuild from other pulls says so."""
        return {"source": "pull", "folder": self.folder.name,
                "files": [{"file": name, "sha256": self._hashes[name]} for name in sorted(self._hashes)]}


def gather(source: ReadingSource, kit: str, start_s: int, end_s: int, search_s: int) -> pd.DataFrame:
    """The kit's readings of a walk from ``start_s`` to ``end_s`` (true time, Unix seconds):
    its synchronised readings in that span, and every unsynchronised one numbered between its
    last synchronised reading before the span and its first after it (module docstring)."""
    whole = getattr(source, "whole", None)
    if whole is not None:
        return _gather_whole(whole(kit), start_s, end_s, search_s)
    near = source.by_time(kit, start_s - search_s, end_s + search_s)
    synced_rows = is_synced(near["clk"])
    ts_all = near["ts"].to_numpy()
    in_span = synced_rows & (ts_all >= start_s) & (ts_all < end_s)
    ts, seq = ts_all[synced_rows], near["seq"].to_numpy()[synced_rows]
    before = seq[ts < start_s]
    after = seq[ts >= end_s]
    lo = int(before.max()) if len(before) else None
    hi = int(after.min()) if len(after) else None
    by_seq = source.by_seq(kit, lo, hi)
    if by_seq is None:  # the source asks by time only: the unsynchronised readings of the wide window
        seq_all = near["seq"].to_numpy()
        between = ~synced_rows
        if lo is not None:
            between &= seq_all > lo
        if hi is not None:
            between &= seq_all < hi
        return _by_seq(near[in_span | between])  # one selection of the one table
    return _by_seq(concat([near[in_span], by_seq[~is_synced(by_seq["clk"])]]))



def _gather_whole(table: pd.DataFrame, start_s: int, end_s: int, search_s: int) -> pd.DataFrame:
    """gather on a source that holds all of a kit's readings as one table in sequence order
    (a pull): the same rule, as one selection of that table, so nothing is sorted again."""
    ts, seq = table["ts"].to_numpy(), table["seq"].to_numpy()
    synced = is_synced(table["clk"])
    near = synced & (ts >= start_s - search_s) & (ts < end_s + search_s)
    before = seq[near & (ts < start_s)]
    after = seq[near & (ts >= end_s)]
    rows = synced & (ts >= start_s) & (ts < end_s)
    between = ~synced
    if len(before):
        between &= seq > before.max()
    if len(after):
        between &= seq < after.min()
    return table[rows | between].reset_index(drop=True)
