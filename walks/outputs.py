"""A built walk, written out in open formats, the same bytes for the same inputs.

    readings.csv          every published reading: the contract's one row
                          shape (airkit.contract.reading_columns), then the
                          walk's columns (WALK_COLUMNS), then corrections
    points.geojson        each published reading that has a position
    segments.geojson      the route's segments, with their statistics
    observations.geojson  notes and photos, at the point they were attached to
    summary.json          counts in and out and why, clocks, calibration,
                          per-segment statistics, provenance and licence
    datapackage.json      a Frictionless Data Package describing all of them
                          (fields, types, units, licence, hashes)

Everything is written from sorted columns with fixed number formats and no
time of building, so a rebuild with the same inputs gives byte-identical
files (their hashes in datapackage.json say so). Coordinates are rounded to
6 decimals (about 0.1 m, already finer than any GPS); measured values are
written as stored; no number is written in exponent form.

The two big files are built as bytes a block of rows at a time (walks.rowtext):
a million readings are a million rows, and a Python string per cell would cost
most of a build.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from airkit import contract as wire

from . import rowtext
from .build import Walk
from .summary import INDICATIVE

__all__ = ["FORMAT_VERSION", "OUTPUTS", "WALK_COLUMNS", "write_walk"]

FORMAT_VERSION = 1
OUTPUTS = ("readings.csv", "points.geojson", "segments.geojson", "observations.geojson", "summary.json", "datapackage.json")
COORDINATE_DECIMALS = 6

# The walk's own columns of readings.csv, after the contract's: (name, Table Schema type, unit, description).
WALK_COLUMNS = (
    ("participant", "string", "", "pseudonym of the person who carried the kit"),
    ("walk_time", "datetime", "", "true time of the reading (kit time + clock offset), ISO 8601 UTC"),
    ("clock", "string", "", "how the time was put right: synced, explicit, estimated, unconfirmed, no_reference"),
    ("clock_offset_s", "number", "s", "seconds added to the kit's time"),
    ("position", "string", "", "how lat/lon were found: fix, interpolated, nearest; or why not: gap, off_track, no_fixes"),
    ("position_source", "string", "", "gpx (the participant's phone) or kit_gps (the kit's own GPS)"),
    ("segment", "integer", "", "the route segment the reading is on (segments.geojson index); empty when off the route"),
    ("route_distance_m", "number", "m", "distance from the planned route"),
)
_LICENCE_URL = {
    "CC-BY-4.0": ("https://creativecommons.org/licenses/by/4.0/", "Creative Commons Attribution 4.0"),
    "CC-BY-SA-4.0": ("https://creativecommons.org/licenses/by-sa/4.0/", "Creative Commons Attribution Share-Alike 4.0"),
    "CC0-1.0": ("https://creativecommons.org/publicdomain/zero/1.0/", "CC0 1.0"),
    "ODbL-1.0": ("https://opendatacommons.org/licenses/odbl/1-0/", "Open Data Commons Open Database License 1.0"),
    "ODC-By-1.0": ("https://opendatacommons.org/licenses/by/1-0/", "Open Data Commons Attribution License 1.0"),
    "PDDL-1.0": ("https://opendatacommons.org/licenses/pddl/1-0/", "Open Data Commons Public Domain Dedication and License 1.0"),
}


def _airtrail_version() -> str:
    try:
        return version("airtrail")
    except PackageNotFoundError:
        return "unknown"


# -- values as text, column at a time ---------------------------------------------------
# Each column gives its text for a block of rows as cells (walks.rowtext): bytes, not a Python
# string per value, so a million rows are joined in numpy.


class _Coded:
    """A column as text: ``texts[codes]``, with code -1 for a missing value. Low-cardinality
    columns (kits, flags, PM to a tenth) are formatted once per distinct value."""

    def __init__(self, codes: np.ndarray, texts: list[str]) -> None:
        self.codes = np.asarray(codes, dtype=np.int64)
        self.texts = texts
        self._tables: dict[tuple, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.codes)

    def cells(self, rows, style=None, missing: str = "") -> np.ndarray:
        """Cells of ``rows``: each text through ``style`` (quoting), ``missing`` where there is none."""
        key = (style, missing)
        if key not in self._tables:  # once per column and style, not once per block
            texts = self.texts if style is None else [style(t) for t in self.texts]
            self._tables[key] = rowtext.table(texts + [missing])  # code -1 takes the last
        return rowtext.take(self._tables[key], self.codes[rows])


class _Formatted:
    """A column formatted block by block straight to cells (times, sequence numbers, coordinates:
    nearly every value distinct, so there is nothing to format once per value)."""

    def __init__(self, values: np.ndarray, fmt) -> None:
        self.values, self.fmt = values, fmt

    def __len__(self) -> int:
        return len(self.values)

    def cells(self, rows, style=None, missing: str = "") -> np.ndarray:
        return self.fmt(self.values[rows], missing)


def _shortest(x: float) -> str:
    """Shortest round-trip text of a float in plain decimals; whole numbers without '.0'."""
    if x == int(x) and abs(x) < 2**53:
        return str(int(x))
    text = repr(x)
    return np.format_float_positional(x, trim="-") if "e" in text else text


def _numbers(values: np.ndarray) -> _Coded:
    """Floats as stored, each distinct value formatted once."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=float), use_na_sentinel=True)
    return _Coded(codes, [_shortest(x) if math.isfinite(x) else "" for x in np.asarray(uniques, float).tolist()])


def _rounded(values: np.ndarray, places: int) -> _Coded | _Formatted:
    """Floats rounded to ``places`` decimals, written without trailing zeros (and never in
    exponent form, so 0.00001 stays 0.00001)."""
    v = np.asarray(values, dtype=float)
    if not rowtext.exact(v, places):  # beyond exact decimals: value by value
        return _numbers(np.round(v, places))
    return _Formatted(v, lambda part, missing: rowtext.decimals(part, places, missing))


def _integers(values: np.ndarray) -> _Formatted:
    return _Formatted(np.asarray(values, dtype=np.int64), lambda part, missing: rowtext.integers(part))


def _categories(values: pd.Series | np.ndarray) -> _Coded:
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        cat = values if isinstance(values, pd.Series) else pd.Series(values)
        texts = [str(c) for c in cat.cat.categories]
        codes = cat.cat.codes.to_numpy(np.int64)
    else:
        codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        texts = [str(u) for u in uniques]
    empty = np.array([t == "" for t in texts] + [True])
    return _Coded(np.where(empty[codes], -1, codes), texts)


def _times(t_ns: np.ndarray) -> _Formatted:
    """ISO 8601 UTC of int64 ns: whole seconds when every time of the column is whole, else
    milliseconds (decided for the column, so every row of a file has the same form)."""
    t_ns = np.asarray(t_ns, dtype=np.int64)
    milliseconds = bool(np.any(t_ns % 1_000_000_000))
    return _Formatted(t_ns, lambda part, missing: rowtext.iso_times(part, milliseconds))


def _clean(value: Any) -> Any:
    """JSON-able: numpy scalars to Python, NaN to None, floats to at most 6 decimals."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        if math.isnan(f):
            return None
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return round(f, 6)
    if isinstance(value, Path):
        return str(value)
    if value is pd.NA or value is None:
        return None
    return value


def _dump(doc: Any) -> str:
    return json.dumps(_clean(doc), ensure_ascii=False, indent=2, allow_nan=False) + "\n"


# -- the tables ----------------------------------------------------------------------------


def extra_columns(walk: Walk) -> list[str]:
    """Corrections added by the walk (calibration, co-location, humidity), in the order they were added."""
    return [c for c in walk.readings.columns if re.match(r"^[a-z0-9_]+_(cal|coloc|epa|dry)$", c)]


_TEXT_COLUMNS = {"device", "clk", "flags", "participant", "clock", "position", "position_source"}


def readings_table(walk: Walk) -> tuple[list[str], dict[str, _Coded | _Formatted]]:
    """The columns of readings.csv and their text."""
    r = walk.readings
    extra = extra_columns(walk)
    columns = wire.reading_columns(walk.fields) + [name for name, *_ in WALK_COLUMNS] + extra
    text: dict[str, _Coded | _Formatted] = {}
    for name in columns:
        if name == "device":
            text[name] = _categories(r["kit"])
        elif name == "time":
            text[name] = _times(r["ts"].to_numpy(np.int64) * 1_000_000_000)
        elif name == "walk_time":
            text[name] = _times(r["t"].to_numpy(np.int64))
        elif name in ("ts", "seq"):
            text[name] = _integers(r[name].to_numpy(np.int64))
        elif name == "segment":
            seg = r["segment"].to_numpy(np.int64)
            text[name] = _Coded(np.where(seg >= 0, seg, -1), [str(i) for i in range(len(walk.segments))])
        elif name in ("lat", "lon"):
            text[name] = _rounded(r[name].to_numpy(float), COORDINATE_DECIMALS)
        elif name in _TEXT_COLUMNS:
            text[name] = _categories(r[name])
        elif name in ("route_distance_m",):
            text[name] = _rounded(r[name].to_numpy(float), 1)
        elif name in extra:
            text[name] = _rounded(r[name].to_numpy(float), 3)
        else:
            text[name] = _numbers(r[name].to_numpy(float) if name in r else np.full(len(r), np.nan))
    return columns, text


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\n\r') else text


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


CHUNK_ROWS = 50_000  # rows rendered, written and hashed at a time: memory stays flat however long the walk


def _chunks(n: int):
    return (slice(a, min(a + CHUNK_ROWS, n)) for a in range(0, n, CHUNK_ROWS))


def _csv(columns: list[str], text: dict[str, _Coded | _Formatted]):
    """RFC 4180 text, in chunks; quoting is decided once per distinct value (only text columns can need it)."""
    yield (",".join(columns) + "\n").encode("utf-8")
    n = len(next(iter(text.values()))) if text else 0
    for part in _chunks(n):
        count = part.stop - part.start
        blocks = []
        for i, name in enumerate(columns):
            blocks.append(text[name].cells(part, _csv_cell if name in _TEXT_COLUMNS else None))
            blocks.append(rowtext.constant("," if i < len(columns) - 1 else "\n", count))
        yield rowtext.join(blocks)


def points_geojson(walk: Walk, columns: list[str], text: dict[str, _Coded | _Formatted]):
    """The published readings that have a position, as GeoJSON points, in chunks: who, when, what
    was measured and where on the route; the rest of a reading's columns are in readings.csv."""
    placed = np.flatnonzero(walk.readings["lat"].notna().to_numpy())
    if not len(placed):
        yield b'{"type":"FeatureCollection","features":[]}\n'
        return
    measured = [c for c in columns if c in walk.fields and c not in wire.POSITION] + extra_columns(walk)
    names = ["participant", "walk_time", *measured, "flags", "position", "segment"]
    strings = {"participant", "flags", "position"}  # and walk_time, an ISO text
    yield b'{"type":"FeatureCollection","features":[\n'
    for number, part in enumerate(_chunks(len(placed))):
        rows = placed[part]
        count = len(rows)

        def fixed(piece: str) -> np.ndarray:
            return rowtext.constant(piece, count)

        # Every feature after the first starts with the ",\n" that separates it from the one before.
        blocks = [fixed(',\n{"type":"Feature","geometry":{"type":"Point","coordinates":['), text["lon"].cells(rows),
                  fixed(","), text["lat"].cells(rows), fixed(']},"properties":{')]
        for i, name in enumerate(names):
            blocks.append(fixed(("," if i else "") + json.dumps(name) + ":"))
            if name == "walk_time":  # never missing: every published reading has a true time
                blocks += [fixed('"'), text[name].cells(rows), fixed('"')]
            else:
                blocks.append(text[name].cells(rows, _json_string if name in strings else None, missing="null"))
        blocks.append(fixed("}}"))
        body = rowtext.join(blocks)
        yield body[2:] if number == 0 else body
    yield b"\n]}\n"


def segments_geojson(walk: Walk) -> str:
    features = []
    stats = walk.stats.reset_index(drop=True)
    for i in range(len(walk.segments)):
        lat, lon = walk.segments.polyline(i)
        coords = [[round(float(x), COORDINATE_DECIMALS), round(float(y), COORDINATE_DECIMALS)] for x, y in zip(lon, lat)]
        row = stats.iloc[i].to_dict() if i < len(stats) else {}
        props = {"segment": i, "name": walk.segments.names[i], "from_m": float(walk.segments.cuts_m[i]),
                 "to_m": float(walk.segments.cuts_m[i + 1]), **{k: v for k, v in row.items() if k != "segment"}}
        features.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords}, "properties": props})
    return json.dumps(_clean({"type": "FeatureCollection", "features": features}), ensure_ascii=False, allow_nan=False) + "\n"


def observations_geojson(walk: Walk) -> str:
    features = []
    obs = walk.observations
    if len(obs):
        # Published at the walk point they were attached to: its place and its time (the note's
        # own may lie in a stretch the privacy filter trimmed).
        point = obs["point"].to_numpy(np.int64)
        t = walk.readings["t"].to_numpy(np.int64)
        walk_time = _times(t)  # in the form of readings.csv's walk_time column
        obs = obs.assign(_at=t[point], _point=point)
        obs = obs.sort_values(["_at", "source"], kind="stable")
        times = rowtext.join([walk_time.cells(obs["_point"].to_numpy()), rowtext.constant("\n", len(obs))]).decode().split()
        for row, when in zip(obs.to_dict("records"), times):
            props = {"participant": row.get("participant") or None, "time": when, "text": row.get("text") or None,
                     "photo": row.get("photo") or None, "segment": int(row["segment"]) if row.get("segment", -1) >= 0 else None}
            features.append({"type": "Feature",
                             "geometry": {"type": "Point", "coordinates": [round(float(row["lon"]), COORDINATE_DECIMALS),
                                                                           round(float(row["lat"]), COORDINATE_DECIMALS)]},
                             "properties": props})
    return json.dumps(_clean({"type": "FeatureCollection", "features": features}), ensure_ascii=False, allow_nan=False) + "\n"


def summary_doc(walk: Walk) -> dict[str, Any]:
    plan = walk.plan
    start, end = plan.utc_window()
    stats = walk.stats.reset_index(drop=True)
    segments = [{"segment": i, "name": walk.segments.names[i], **{k: v for k, v in row.items() if k != "segment"}}
                for i, row in enumerate(stats.to_dict("records"))]
    colocation = None
    if plan.colocation is not None:
        c0, c1 = plan.utc_window(plan.colocation)
        colocation = {"start": c0.isoformat().replace("+00:00", "Z"), "end": c1.isoformat().replace("+00:00", "Z"),
                      "applied": plan.colocation.apply}
    return {
        "format": {"name": "airtrail-walk", "version": FORMAT_VERSION, "airtrail": _airtrail_version()},
        "walk": {"title": plan.title, "date": plan.date.isoformat(), "timezone": plan.timezone,
                 "start": start.isoformat().replace("+00:00", "Z"), "end": end.isoformat().replace("+00:00", "Z"),
                 "colocation": colocation, "languages": list(plan.languages), "licence": plan.licence,
                 "privacy": {"zones": len(plan.privacy_zones), "trim_m": plan.privacy.trim_m}},
        "indicative": INDICATIVE,
        **{k: v for k, v in walk.summary.items() if k != "provenance"},
        "segments": segments,
        "provenance": walk.summary.get("provenance", {}),
    }


# -- the data package ---------------------------------------------------------------------


def _field_schema(name: str, walk: Walk) -> dict[str, Any]:
    units = {**{k: v[0] for k, v in wire.FIELDS.items()}, **{k: v[0] for k, v in wire.POSITION.items()}}
    described = {**{k: v[3] for k, v in wire.FIELDS.items()}, **{k: v[3] for k, v in wire.POSITION.items()}}
    walk_cols = {n: (t, u, d) for n, t, u, d in WALK_COLUMNS}
    if name in walk_cols:
        kind, unit, text = walk_cols[name]
    elif name == "device":
        kind, unit, text = "string", "", "device id of the kit"
    elif name == "time":
        kind, unit, text = "datetime", "", "the kit's own time of the reading (ts), ISO 8601 UTC"
    elif name == "ts":
        kind, unit, text = "integer", "s", "the kit's own time of the reading, Unix seconds"
    elif name == "clk":
        kind, unit, text = "string", "", "how the kit's clock was set: ntp, gps or rtc (never synchronised)"
    elif name == "seq":
        kind, unit, text = "integer", "", "the kit's sequence number of the reading"
    elif name == "flags":
        kind, unit, text = "string", "", "quality flags joined with ','"
    elif name in ("lat", "lon"):
        kind, unit, text = "number", "°", f"{'latitude' if name == 'lat' else 'longitude'}, WGS84, of the reading on the walk (see position)"
    elif name in units:
        kind, unit, text = ("integer" if name in ("sats", "co2") or name.startswith("n") and name[1:].isdigit() else "number",
                            units[name], described[name])
    else:
        base = name.rsplit("_", 1)[0]
        how = {"cal": "calibrated (hardware/calibration)", "coloc": "divided by the kit's co-location ratio to the group median",
               "epa": "US EPA correction for Plantower sensors (Barkjohn et al. 2021)", "dry": "κ-Köhler humidity correction"}
        kind, unit, text = "number", units.get(base, units.get(base.removesuffix("_cf1"), "")), f"{base}, {how.get(name.rsplit('_', 1)[1], 'derived')}"
    out: dict[str, Any] = {"name": name, "type": kind, "description": text}
    if unit:
        out["unit"] = unit
    return out


def datapackage(walk: Walk, columns: list[str], hashes: dict[str, str], sizes: dict[str, int]) -> dict[str, Any]:
    plan = walk.plan
    url, title = _LICENCE_URL[plan.licence]
    slug = re.sub(r"[^a-z0-9]+", "-", f"{plan.title} {plan.date.isoformat()}".lower()).strip("-")
    geo = {"format": "geojson", "mediatype": "application/geo+json", "encoding": "utf-8"}

    def resource(name: str, path: str, description: str, **more: Any) -> dict[str, Any]:
        return {"name": name, "path": path, "description": description, **more, "bytes": sizes[path], "hash": f"sha256:{hashes[path]}"}

    return {
        "profile": "data-package",
        "name": slug or "walk",
        "title": plan.title,
        "description": f"A data walk on {plan.date.isoformat()} ({plan.timezone}), built with airtrail. {INDICATIVE}",
        "version": f"{FORMAT_VERSION}.0.0",
        "licenses": [{"name": plan.licence, "path": url, "title": title}],
        "sources": [{"title": "airtrail citizen-sensing kits", "path": "https://github.com/airtrail"}],
        "keywords": ["air quality", "data walk", "citizen science", "PM2.5"],
        "resources": [
            resource("readings", "readings.csv", "Every published reading, with where and when it was taken on the walk.",
                     profile="tabular-data-resource", format="csv", mediatype="text/csv", encoding="utf-8",
                     schema={"fields": [_field_schema(c, walk) for c in columns], "missingValues": [""]}),
            resource("points", "points.geojson", "Each published reading that has a position, as a GeoJSON point.", **geo),
            resource("segments", "segments.geojson", "The planned route in segments, with per-segment statistics.", **geo),
            resource("observations", "observations.geojson", "Participants' notes and photos, at the point they were attached to.", **geo),
            resource("summary", "summary.json", "Counts in and out and why, clock offsets, calibration, provenance.",
                     format="json", mediatype="application/json", encoding="utf-8"),
        ],
    }


def _write(path: Path, chunks) -> tuple[str, int]:
    """Write text chunks to ``path`` (through a temporary file, so a failed build leaves no half
    file); its SHA-256 and size."""
    digest, size = hashlib.sha256(), 0
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as f:
        for chunk in chunks:
            data = chunk.encode("utf-8") if isinstance(chunk, str) else chunk
            digest.update(data)
            size += len(data)
            f.write(data)
    partial.replace(path)
    return digest.hexdigest(), size


def _write_elsewhere(path: Path, chunks):
    """Write ``path`` in a forked process, so the two big files are written on two cores at once;
    a join() giving (sha256, size). Where fork does not exist, written here."""
    import multiprocessing as mp

    if "fork" not in mp.get_all_start_methods():
        done = _write(path, chunks)
        return lambda: done
    receive, send = mp.get_context("fork").Pipe(duplex=False)

    def child() -> None:
        try:
            send.send(("ok", _write(path, chunks)))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
            send.send(("error", f"{type(exc).__name__}: {exc}"))

    process = mp.get_context("fork").Process(target=child, daemon=True)
    process.start()

    def join() -> tuple[str, int]:
        status, value = receive.recv() if receive.poll(None) else ("error", "the writer process ended without a word")
        process.join()
        if status != "ok":
            raise OSError(f"writing {path} failed: {value}")
        return value

    return join


def write_walk(walk: Walk, out: Path) -> dict[str, Path]:
    """Write every output into ``out`` (created); returns name -> path."""
    out.mkdir(parents=True, exist_ok=True)
    columns, text = readings_table(walk)
    points = _write_elsewhere(out / "points.geojson", points_geojson(walk, columns, text))
    hashes, sizes, paths = {}, {}, {}
    documents = {
        "readings.csv": _csv(columns, text),
        "segments.geojson": [segments_geojson(walk)],
        "observations.geojson": [observations_geojson(walk)],
        "summary.json": [_dump(summary_doc(walk))],
    }
    for name, chunks in documents.items():
        hashes[name], sizes[name] = _write(out / name, chunks)
    hashes["points.geojson"], sizes["points.geojson"] = points()
    for name in OUTPUTS[:-1]:
        paths[name] = out / name
    (out / "datapackage.json").write_text(_dump(datapackage(walk, columns, hashes, sizes)), encoding="utf-8")
    paths["datapackage.json"] = out / "datapackage.json"
    return paths
