"""A walk, built: from its plan and inputs to the published readings, segments and summary.

Two stages, so that each can be measured and tested on its own:

``load_inputs(plan, source)``  reads everything the walk names: each kit's
    readings (walks.sources.gather: by time, and by sequence number for
    kits whose clock was wrong), each participant's phone GPX, the planned
    route, observations and calibrations.
``assemble(plan, inputs)``     the in-memory stage, pure and columnar:
    1. clocks put right, run by run (walks.offsets);
    2. readings kept from the co-location to the walk's end, by true time;
    3. each reading placed by time on its participant's track (the phone's
       GPX, else the kit's own GPS fixes) (walks.align);
    4. calibration, co-location ratios and humidity corrections as extra
       columns, raw values kept (walks.calibrate);
    5. the privacy filter (walks.privacy);
    6. the route cut into segments, each reading on its segment, and the
       statistics per segment (walks.segments, walks.summary);
    7. observations attached to the nearest published point
       (walks.observations);
    8. the summary: every count of what was kept, dropped and why.
The outputs are written by walks.outputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from airkit import contract as wire

from .align import REASONS, positions, tally
from .gpx import Track, read_track
from .offsets import METHODS, correct_clocks
from .order import ascending, by_group_then
from .plan import WalkPlan
from .privacy import Zone, private_mask
from .route import read_route
from .segments import Segments, assign, split_route
from .sources import ReadingSource, concat, gather, readings_frame

__all__ = ["Inputs", "Walk", "assemble", "load_inputs"]

POLLUTANTS = ("pm25", "pm10", "pm1")
_NS = 1_000_000_000
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class Inputs:
    readings: pd.DataFrame  # every kit's found readings (walks.sources.readings_frame)
    tracks: dict[str, Track]  # participant -> their phone's fixes
    route: tuple[np.ndarray, np.ndarray]  # lat, lon of the planned route
    observations: pd.DataFrame | None = None
    fits: dict[str, Any] = field(default_factory=dict)  # kit -> {field: hardware.calibration.Fit}
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class Walk:
    plan: WalkPlan
    readings: pd.DataFrame  # published readings, placed or not, with the walk's columns
    fields: list[str]  # contract and x_* fields measured on the walk
    segments: Segments
    stats: pd.DataFrame  # one row per segment
    observations: pd.DataFrame  # attached observations
    summary: dict[str, Any]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _observation_files(plan: WalkPlan) -> list[Path]:
    out = []
    for relative in plan.observations:
        path = plan.path(relative)
        out += sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    return out


def load_inputs(plan: WalkPlan, source: ReadingSource, progress: Progress = _quiet) -> Inputs:
    """Everything the walk names, read: readings, phone tracks, route, observations, calibrations."""
    start, end = plan.span_s()
    search = int(plan.readings.search_h * 3600)
    phones = [p for p in plan.participants if p.gpx is not None]
    # Files are parsed by two forked processes (the kits' pulls first, then the phones' tracks)
    # while this one gathers each kit's readings as its files come back: parsing is the work,
    # and the machine has more than one core.
    prefetch = getattr(source, "prefetch", None)
    pool = _pool(2) if len(phones) > 1 or (prefetch is not None and len(plan.participants) > 1) else None
    pending = {}
    try:
        if pool is not None:
            if prefetch is not None:
                prefetch(plan.kits, pool)
            pending = {p.pseudonym: pool.submit(read_track, plan.path(p.gpx)) for p in phones}
        frames = []
        for p in plan.participants:
            progress(f"readings of {p.kit}")
            frames.append(gather(source, p.kit, start, end, search))
        readings = concat(frames) if frames else readings_frame({"kit": [], "ts": [], "clk": [], "seq": []})
        # Every source gives kits, clock sources and flags as categories (walks.sources.readings_frame);
        # the kits' are put in the plan's order, so that a kit's code is its participant's number.
        readings = readings.astype({"kit": pd.CategoricalDtype(list(plan.kits))})
        tracks = {}
        hashed: dict[Path, str] = {}  # the phones' tracks, hashed as they were read (the big inputs: not read again)
        for p in phones:
            progress(f"track of {p.pseudonym}")
            tracks[p.pseudonym] = pending[p.pseudonym].result() if p.pseudonym in pending else read_track(plan.path(p.gpx))
            hashed[plan.path(p.gpx)] = tracks[p.pseudonym].sha256
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    progress("route")
    route = read_route(plan.path(plan.route.file))
    observations = None
    obs_files = _observation_files(plan)
    if obs_files:
        progress("observations")
        from .observations import combine, read_notes, read_photos

        notes = [read_notes(f, plan.timezone) for f in obs_files if f.suffix.lower() in (".csv", ".geojson", ".json")]
        photos = [f for f in obs_files if f.suffix.lower() in (".jpg", ".jpeg")]
        observations = combine(notes, read_photos(photos, plan.timezone) if photos else None)
    from .calibrate import load_fits

    fits = load_fits(plan.kits, plan.path(plan.calibration)) if plan.calibration else load_fits(plan.kits)
    files = [plan.source, plan.path(plan.route.file), *(plan.path(p.gpx) for p in phones), *obs_files]
    provenance = {"inputs": [{"file": str(f.relative_to(plan.folder) if f.is_relative_to(plan.folder) else f.name),
                              "sha256": hashed.get(f) or _sha256(f)} for f in files],
                  "readings": source.describe()}
    return Inputs(readings, tracks, route, observations, fits, provenance)


def _pool(workers: int):
    """A pool of processes forked from this one, or None where fork does not exist."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    if "fork" not in mp.get_all_start_methods():
        return None
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"))


def _phone_fixes(plan: WalkPlan, tracks: dict[str, Track]) -> tuple[np.ndarray, ...]:
    """The fixes (participant number, t, lat, lon) of every participant's phone track, by participant."""
    phones = [(i, tracks[p.pseudonym]) for i, p in enumerate(plan.participants) if p.pseudonym in tracks]
    parts = [(np.full(len(track), i, np.int64), track.t, track.lat, track.lon) for i, track in phones]
    return tuple(np.concatenate([part[k] for part in parts]) if parts else np.array([]) for k in range(4))


def _fixes(phones: tuple[np.ndarray, ...], sources: list[str], who: np.ndarray, t: np.ndarray, rows: np.ndarray,
           table: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Each participant's fixes (participant number, t, lat, lon, index among ``phones`` or -1), by
    participant: their phone's (``phones``, _phone_fixes), else their kit's own GPS fixes among the
    readings (``who``, ``t``, ``rows`` of the loaded table; ``sources``: each participant's "gpx" or
    "kit_gps")."""
    parts = [(*phones, np.arange(len(phones[0])))] if len(phones[0]) else []
    if "lat" in table and "lon" in table and "kit_gps" in sources:
        own = np.flatnonzero(np.array([how == "kit_gps" for how in sources])[who])
        at = rows[own]
        lat, lon = table["lat"].to_numpy(float)[at], table["lon"].to_numpy(float)[at]
        bad = np.zeros(len(at), dtype=bool)
        if isinstance(table["flags"].dtype, pd.CategoricalDtype):
            stale = np.flatnonzero(table["flags"].cat.categories.str.contains("gps_stale", regex=False))
            bad = np.isin(table["flags"].cat.codes.to_numpy()[at], stale)
        good = ~np.isnan(lat) & ~np.isnan(lon) & ~bad
        parts.append((who[own[good]], t[own[good]], lat[good], lon[good], np.full(int(good.sum()), -1)))
    columns = parts[0] if len(parts) == 1 else [np.concatenate([p[k] for p in parts]) if parts else np.array([]) for k in range(5)]
    fixes = (columns[0].astype(np.int64, copy=False), columns[1].astype(np.int64, copy=False),
             columns[2].astype(float, copy=False), columns[3].astype(float, copy=False), columns[4].astype(np.int64, copy=False))
    if not ascending(fixes[0]):  # phones' tracks, then kits' own fixes: by participant
        by_who = np.argsort(fixes[0], kind="stable")
        fixes = tuple(f[by_who] for f in fixes)
    return fixes


def _participant_numbers(kit: pd.Series, kits: list[str]) -> np.ndarray:
    """Each reading's participant number (the plan's order), from its kit."""
    if isinstance(kit.dtype, pd.CategoricalDtype) and list(kit.cat.categories) == kits:
        return kit.cat.codes.to_numpy(np.int64)  # the loaded table's categories are the plan's kits, in order
    return kit.map({k: i for i, k in enumerate(kits)}).to_numpy(np.int64)


def _measured(values: np.ndarray) -> bool:
    """Whether a contract or x_* field has at least one value (a glance at its head first)."""
    return values.dtype.kind == "f" and (not np.isnan(values[:1024]).all() or not np.isnan(values).all())


def _gather(column: pd.Series, rows: np.ndarray):
    """``column``'s values at ``rows``: a category stays a category (its codes gathered, not its strings)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return pd.Categorical.from_codes(column.cat.codes.to_numpy()[rows], dtype=column.dtype)
    return column.to_numpy()[rows]


def _take(table: pd.DataFrame, rows: np.ndarray, columns, pool=None) -> dict[str, Any]:
    """_gather of the ``columns`` the table has; on ``pool``'s threads when given (each is a pass
    over a million rows, independent of the others)."""
    present = [c for c in columns if c in table]
    if pool is None:
        return {c: _gather(table[c], rows) for c in present}
    return dict(zip(present, pool.map(lambda c: _gather(table[c], rows), present)))


def _on_route(segments: Segments, lat: np.ndarray, lon: np.ndarray, at_phone: np.ndarray,
              phone_match: tuple[np.ndarray, np.ndarray] | None, max_distance_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(segment, distance from the route) of each point: a point at a phone fix (``at_phone``, its
    index, else -1) takes the fix's (``phone_match``, when the fixes were matched), the others are
    matched here, all at once (walkers share the route's cells, each looked up once)."""
    if phone_match is None:
        return assign(segments, lat, lon, max_distance_m)
    known = at_phone >= 0
    if known.all():
        return phone_match[0][at_phone], phone_match[1][at_phone]
    segment, distance = np.full(len(lat), -1, dtype=np.int64), np.full(len(lat), np.inf)
    segment[known], distance[known] = phone_match[0][at_phone[known]], phone_match[1][at_phone[known]]
    rest = np.flatnonzero(~known)
    segment[rest], distance[rest] = assign(segments, lat[rest], lon[rest], max_distance_m)
    return segment, distance


CHUNK_MIN = 200_000  # fewer readings than this are placed in one piece
# The phones' fixes are matched to the route ahead (on a long walk) when there are at most this many
# of them a reading: beyond, most would be matched for no reading.
MATCH_FIXES_UP_TO = 2.0


def _chunks(who: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Row ranges of about equal size, each a whole number of participants (``who`` sorted)."""
    n = len(who)
    if parts < 2 or n < CHUNK_MIN or not ascending(who):
        return [(0, n)]
    cuts = [0]
    for k in range(1, parts):
        i = k * n // parts
        lo, hi = np.searchsorted(who, who[i], side="left"), np.searchsorted(who, who[i], side="right")
        cuts.append(int(lo if i - lo <= hi - i else hi))  # the nearer end of the participant at the cut
    cuts.append(n)
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def assemble(plan: WalkPlan, inputs: Inputs, progress: Progress = _quiet) -> Walk:
    """The in-memory stage: from loaded columns to the published readings and the summary.

    The steps work on a slim table of keys (participant number, kit time, sequence number,
    true time, position, the row of the loaded table); the measured values are taken from
    the loaded table once, for the published rows, at the end.
    """
    from .calibrate import colocation_ratios
    from .summary import route_summary, segment_stats

    table = inputs.readings
    start, end = plan.span_s()
    walk_start, walk_end = (int(m.timestamp()) for m in plan.utc_window())
    names = [p.pseudonym for p in plan.participants]
    kit_of = {p.kit: i for i, p in enumerate(plan.participants)}
    explicit = {p.kit: -float(p.clock_offset_s) for p in plan.participants if p.clock_offset_s is not None}

    segments = split_route(*inputs.route, every_m=plan.route.segment_m,
                           stops=[(s.name, s.lat, s.lon) for s in plan.route.stops] or None)
    max_distance = plan.alignment.route_distance_m
    # The phones' fixes in one table, and each matched to the route, on a second thread while the
    # clocks are put right: the phones' times are no kit's clock, and a fix's place on the route
    # is a reading's when the reading is at that fix (a kit and a phone that both record on the
    # second, as most do). Not when the phones' fixes far outnumber the readings (MATCH_FIXES_UP_TO).
    pool = ThreadPoolExecutor(max_workers=2) if len(table) >= CHUNK_MIN else None
    try:
        def phones_matched():
            fixes = _phone_fixes(plan, inputs.tracks)
            if len(fixes[0]) > MATCH_FIXES_UP_TO * len(table):
                return fixes, None
            # Only the fixes a walk reading can be at: in the walk's window, or near enough its ends
            # for a reading's nearest fix (a phone records the way there and home too).
            # The others are handed over without a position, which assign leaves off the route.
            reach = int(np.ceil(plan.alignment.tolerance_s * _NS)) + 1
            far = (fixes[1] < walk_start * _NS - reach) | (fixes[1] >= walk_end * _NS + reach)
            lat, lon = (np.where(far, np.nan, c) if far.any() else c for c in fixes[2:4])
            return fixes, assign(segments, lat, lon, max_distance)

        phones = pool.submit(phones_matched) if pool is not None else None
        progress("clocks")
        keys = pd.DataFrame({"kit": table["kit"], "ts": table["ts"], "clk": table["clk"], "seq": table["seq"],
                             "row": np.arange(len(table))})
        if "pm25" in table:
            keys["pm25"] = table["pm25"]
        keys, clock_runs = correct_clocks(keys, explicit, (start, end), plan.readings.search_h * 3600)
        # From here on, columns as arrays (one per key, in the keys' order: by kit, then seq): masks and
        # gathers on arrays cost a fraction of the same on DataFrames.
        who = _participant_numbers(keys["kit"], [p.kit for p in plan.participants])
        t = keys["t"].to_numpy(np.int64)
        row = keys["row"].to_numpy(np.int64)
        in_span = (t >= start * _NS) & (t < end * _NS)
        in_walk = (t >= walk_start * _NS) & (t < walk_end * _NS)
        counts: dict[str, Any] = {"found": len(keys), "outside_walk": int((~in_span).sum()),
                                  "colocation": int((in_span & ~in_walk).sum()), "in_walk": int(in_walk.sum())}

        colocation: dict[str, Any] = {}
        if plan.colocation is not None:
            c0, c1 = (int(m.timestamp()) * _NS for m in plan.utc_window(plan.colocation))
            near = np.flatnonzero(in_span)
            colocation = colocation_ratios(pd.DataFrame({"kit": keys["kit"].to_numpy()[near], "t": t[near],
                                                         **_take(table, row[near], ("pm1", "pm25", "pm10"))}), c0, c1,
                                           fields=tuple(f for f in ("pm1", "pm25", "pm10") if f in table))

        # Placing and filtering readings are each participant's own business: the walk is cut into
        # two runs of whole participants and each is done on its own core.
        progress("positions, privacy, segments")
        walk = np.flatnonzero(in_walk)  # the walk's readings, as positions in the keys
        w_who, w_t = who[walk], t[walk]
        position_source = ["gpx" if p.pseudonym in inputs.tracks else "kit_gps" for p in plan.participants]
        phone_fixes, phone_match = phones.result() if phones is not None else (_phone_fixes(plan, inputs.tracks), None)
        fixes = _fixes(phone_fixes, position_source, w_who, w_t, row[walk], table)
        zones = [Zone(z.lat, z.lon, z.radius_m) for z in plan.privacy_zones]
        chunks = _chunks(w_who, 2 if pool else 1)

        # Each chunk fills its own rows of the walk's columns (on its thread; nothing to join after).
        n_walk = len(walk)
        w_lat, w_lon, w_reason = np.empty(n_walk), np.empty(n_walk), np.empty(n_walk, dtype=np.int8)
        w_phone, keep = np.empty(n_walk, dtype=np.int64), np.empty(n_walk, dtype=bool)

        def place(chunk: tuple[int, int]) -> dict[str, int]:
            a, b = chunk
            who_c, t_c = w_who[a:b], w_t[a:b]
            f0, f1 = np.searchsorted(fixes[0], [who_c[0], who_c[-1] + 1]) if b > a else (0, 0)
            lat, lon, reason, at_fix = positions(who_c, t_c, *(f[f0:f1] for f in fixes[:4]), plan.alignment.tolerance_s,
                                                 plan.alignment.max_gap_s, which_fix=True)
            # The phone fix each reading is at, if any (its place on the route is the reading's).
            origin = fixes[4][f0:f1]
            w_phone[a:b] = np.where(at_fix >= 0, origin[np.maximum(at_fix, 0)], -1) if len(origin) else -1
            # One plane for every chunk (the route's): the filter's along-trace distances do not depend on the cut.
            keep[a:b], removed = private_mask(who_c, t_c, lat, lon, zones, plan.privacy.trim_m, lat0=segments.route.plane()[0])
            w_lat[a:b], w_lon[a:b], w_reason[a:b] = lat, lon, reason
            return removed

        removed = list(pool.map(place, chunks)) if len(chunks) > 1 else [place(chunks[0])]
        counts["position"] = tally(w_reason)
        counts["removed"] = {k: sum(r[k] for r in removed) for k in removed[0]}

        kept = np.flatnonzero(keep)  # once, for the seven columns taken through it
        pub = walk[kept]  # the published readings, as positions in the keys
        p_who, p_t, p_lat, p_lon, p_reason, p_phone = (c[kept] for c in (w_who, w_t, w_lat, w_lon, w_reason, w_phone))
        seq = keys["seq"].to_numpy()
        if not by_group_then(p_who, p_t):
            order = np.lexsort((seq[pub], p_t, p_who))  # by participant, then true time
            pub, p_who, p_t, p_lat, p_lon, p_reason = pub[order], p_who[order], p_t[order], p_lat[order], p_lon[order], p_reason[order]
            p_phone = p_phone[order]
        rows = row[pub]
        segment, distance = _on_route(segments, p_lat, p_lon, p_phone, phone_match, max_distance)
        placed = ~np.isnan(p_lat)
        counts["published"] = len(pub)
        counts["published_placed"] = int(placed.sum())
        counts["off_route"] = int((placed & (segment < 0)).sum())
        # The published rows' values, taken from the loaded table once: for the statistics (those on
        # the route) and for the output.
        candidates = [c for c in table.columns if c in wire.FIELDS or c in wire.POSITION or c.startswith(wire.EXPERIMENTAL_PREFIX)]
        candidates = [c for c in candidates if c not in ("lat", "lon") and table[c].dtype.kind == "f"]
        taken = _take(table, rows, ("kit", "ts", "clk", *candidates, "flags"), pool)
        pollutants = tuple(p for p in POLLUTANTS if p in taken)  # every source gives them as floats (readings_frame)
        # Every published reading: the statistics leave out those off the route (and unplaced), segment -1.
        # They need nothing of what follows, and what follows nothing of them: on a long walk they
        # are worked out beside it.
        on_segments = (pd.DataFrame({"segment": segment, "kit": p_who, **{p: taken[p] for p in pollutants}}, copy=False),
                       len(segments))
        stats_job = pool.submit(segment_stats, *on_segments, pollutants=pollutants) if pool is not None else None

        progress("corrections")
        # lat and lon are the walk's positions, measured by the kit or not: always columns.
        fields = [c for c in wire.reading_columns([*(c for c in candidates if _measured(taken[c])), "lat", "lon"])
                  if c not in wire.READING_HEAD and c != "flags"]
        source_code = np.array([("gpx", "kit_gps").index(u) for u in position_source], dtype=np.int8)
        out = pd.DataFrame({"kit": taken["kit"], "ts": taken["ts"], "clk": taken["clk"], "seq": seq[pub],
                            **{c: taken[c] for c in fields if c not in ("lat", "lon")},
                            "lat": p_lat, "lon": p_lon, "flags": taken["flags"],
                            "participant": pd.Categorical.from_codes(p_who, categories=names),
                            "t": p_t, "clock": _gather(keys["clock"], pub),
                            "clock_offset_s": keys["clock_offset_s"].to_numpy()[pub],
                            "position": pd.Categorical.from_codes(p_reason, categories=REASONS),
                            "position_source": pd.Categorical.from_codes(source_code[p_who], categories=["gpx", "kit_gps"]),
                            "segment": segment, "route_distance_m": np.where(np.isfinite(distance), distance, np.nan)},
                           copy=False)
        out, calibration, observations, obs_summary = _corrections_and_observations(plan, inputs, out, placed, segment,
                                                                                    colocation, progress)
        stats = stats_job.result() if stats_job is not None else segment_stats(*on_segments, pollutants=pollutants)
    finally:
        if pool is not None:
            pool.shutdown()
    per_who = np.bincount(p_who, minlength=len(names))
    summary = {
        "readings": counts,
        "participants": [{"pseudonym": p.pseudonym, "kit": p.kit, "positions": position_source[i], "readings": int(per_who[i])}
                         for i, p in enumerate(plan.participants)],
        "clocks": _synced(keys, who, plan) + [_clock_entry(names[kit_of[r.kit]], r.kit, r.method, r.offset_s, r.estimate, r.readings,
                                                           r.seq_first, r.seq_last) for r in clock_runs],
        "calibration": calibration,
        "colocation": colocation,
        "humidity": {"correction": plan.humidity.correction, "kappa": plan.humidity.kappa},
        "route": {"length_m": float(segments.cuts_m[-1]), **route_summary(stats)},
        "observations": obs_summary,
        "provenance": inputs.provenance,
    }
    return Walk(plan, out, fields, segments, stats, observations, summary)


def _corrections_and_observations(plan: WalkPlan, inputs: Inputs, out: pd.DataFrame, placed: np.ndarray,
                                  segment: np.ndarray, colocation: dict[str, Any], progress: Progress
                                  ) -> tuple[pd.DataFrame, list[dict[str, Any]], pd.DataFrame, dict[str, Any]]:
    """The published readings with the walk's corrections as extra columns, and the observations
    attached to them: (readings, calibration applied, observations, their summary)."""
    from .calibrate import apply_calibration, apply_ratios, humidity_correction

    calibration: list[dict[str, Any]] = []
    if any(inputs.fits.values()):
        out, calibration = apply_calibration(out, inputs.fits)
    if plan.colocation is not None and plan.colocation.apply and colocation:
        out = apply_ratios(out, colocation)
    if plan.humidity.correction != "none":
        out = humidity_correction(out, plan.humidity.correction, plan.humidity.kappa)

    observations = pd.DataFrame()
    obs_summary: dict[str, Any] = {}
    if inputs.observations is not None and len(inputs.observations):
        progress("observations")
        from .observations import attach

        points = pd.DataFrame({"participant": out["participant"], "t": out["t"].to_numpy(),
                               "lat": out["lat"].to_numpy(), "lon": out["lon"].to_numpy()})[placed]
        attached = attach(inputs.observations, points)
        observations = attached.observations
        if len(observations):
            observations = observations.assign(segment=segment[observations["point"].to_numpy(np.int64)])
        obs_summary = {"given": len(inputs.observations), "attached": len(observations), "unattached": attached.unattached}

    return out, calibration, observations, obs_summary


def _clock_entry(participant: str, kit: str, method: str, offset_s: float, estimate, readings: int, seq_first: int,
                 seq_last: int) -> dict[str, Any]:
    """One entry of summary.json's "clocks"."""
    e = estimate
    return {"participant": participant, "kit": kit, "method": method, "offset_s": offset_s,
            "estimated_offset_s": e.offset_s if e else None, "confident": e.confident if e else None,
            "peak": e.peak if e else None, "distinctness": e.distinctness if e else None,
            "overlap_s": e.overlap_s if e else None, "readings": readings, "seq_first": seq_first, "seq_last": seq_last}


def _synced(keys: pd.DataFrame, who: np.ndarray, plan: WalkPlan) -> list[dict[str, Any]]:
    """One entry per participant whose kit has synchronised readings (``who``: each key's participant number)."""
    synced = (keys["clock"].cat.codes == METHODS.index("synced")).to_numpy()
    seq = keys["seq"].to_numpy()
    if not ascending(who):  # the keys come by kit: only a kit table out of the plan's order is not
        order = np.argsort(who, kind="stable")
        who, synced, seq = who[order], synced[order], seq[order]
    bounds = np.searchsorted(who, np.arange(len(plan.participants) + 1))
    out = []
    for i, p in enumerate(plan.participants):
        mine = seq[bounds[i]:bounds[i + 1]][synced[bounds[i]:bounds[i + 1]]]
        if len(mine):
            out.append(_clock_entry(p.pseudonym, p.kit, "synced", 0.0, None, len(mine), int(mine.min()), int(mine.max())))
    return out
