"""Reading phones' GPX tracks: airtrail's reader against gpxpy, measured in the same run.

A walk of 50 phones recording one fix a second for 5.5 hours is a million
track points; the walk build's whole budget is about 6 s, so reading them
must take well under 1.5 s. This generates that walk (50 files x 20,000
points, as phone apps write them: GPX 1.1, metadata, elevation, every third
point with a heart-rate extension, a third of the files with millisecond
fractions and a third with a +01:00 offset) in a temporary folder, then times

    read_track  airtrail's reader over all the files (best of 3)
    gpxpy       gpxpy.parse of a tenth of the files, the baseline (best of 3)

and prints points/s for both and their ratio. Target: the million points in
under 1.5 s. The last line printed is one JSON object with the figures.

    python benchmarks/gpx.py [--files N] [--points P]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from walks.gpx import read_track  # noqa: E402

START_S = 1_777_629_600  # 2026-05-01T10:00:00Z
BUDGET_S = 1.5


def phone_gpx(n: int, seed: int, layout: str) -> bytes:
    """A recording of n fixes, one a second, laid out as OsmAnd or Strava write it."""
    rng = np.random.default_rng(seed)
    lat = 53.48 + np.cumsum(rng.normal(0, 2e-5, n))
    lon = -2.24 + np.cumsum(rng.normal(0, 2e-5, n))
    ele = 40 + np.cumsum(rng.normal(0, 0.1, n))
    shift = 3600 if layout == "offset" else 0
    stamps = np.datetime_as_string((np.int64(START_S + shift) + np.arange(n)).astype("datetime64[s]"))
    millis = (np.arange(n) * 37) % 1000
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="OsmAnd 4.7" '
             'xmlns="http://www.topografix.com/GPX/1/1" xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">\n'
             "  <metadata><name>walk</name><time>2026-05-01T09:59:00Z</time></metadata>\n  <trk>\n    <name>walk</name>\n    <trkseg>\n"]
    for i in range(n):
        stamp = stamps[i] + (f".{millis[i]:03d}Z" if layout == "millis" else "+01:00" if layout == "offset" else "Z")
        point = (f'      <trkpt lat="{lat[i]:.7f}" lon="{lon[i]:.7f}">\n        <ele>{ele[i]:.1f}</ele>\n'
                 f"        <time>{stamp}</time>\n")
        if i % 3 == 0:
            point += ("        <extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>"
                      f"{90 + i % 40}</gpxtpx:hr></gpxtpx:TrackPointExtension></extensions>\n")
        parts.append(point + "      </trkpt>\n")
    parts.append("    </trkseg>\n  </trk>\n</gpx>\n")
    return "".join(parts).encode()


def best_of(runs: int, work) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--points", type=int, default=20_000, help="points per file")
    args = parser.parse_args()
    import gpxpy

    with tempfile.TemporaryDirectory(prefix="airtrail-bench-gpx-") as tmp:
        paths = []
        for k in range(args.files):
            path = Path(tmp) / f"phone-{k:02d}.gpx"
            path.write_bytes(phone_gpx(args.points, k, ("plain", "millis", "offset")[k % 3]))
            paths.append(path)
        points = args.files * args.points
        print(f"airtrail GPX benchmark: {args.files} files x {args.points:,} points = {points:,} track points", flush=True)

        readers: set[str] = set()

        def read_all() -> None:
            total = 0
            for path in paths:
                track = read_track(path)
                total += len(track)
                readers.add(track.reader)
            if total != points:
                raise SystemExit(f"read_track gave {total:,} fixes, expected {points:,}")

        read_s = best_of(3, read_all)
        print(f"read_track: {read_s:.3f} s, {points / read_s:,.0f} points/s (readers: {', '.join(sorted(readers))})", flush=True)

        sample = paths[:: 10] or paths[:1]
        texts = [p.read_text() for p in sample]  # gpxpy gets text; reading it from disk is not what is measured
        gpxpy_s = best_of(3, lambda: [gpxpy.parse(text) for text in texts])
        gpxpy_rate = len(sample) * args.points / gpxpy_s
        print(f"gpxpy (baseline), {len(sample)} files: {gpxpy_s:.3f} s, {gpxpy_rate:,.0f} points/s", flush=True)

    rate = points / read_s
    result = {"points": points, "read_s": round(read_s, 3), "points_per_s": round(rate), "gpxpy_points_per_s": round(gpxpy_rate),
              "ratio": round(rate / gpxpy_rate, 1)}
    print(f"read_track / gpxpy = {result['ratio']}; {points:,} points in {read_s:.2f} s (budget {BUDGET_S} s per million)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
