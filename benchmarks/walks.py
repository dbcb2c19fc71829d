"""Walk build benchmark: a million readings from 50 kits, with their phones' GPX tracks as files.

    python benchmarks/walks.py [--kits 50] [--readings 1000000] [--repeat 5]

A walk of ``--kits`` participants, each carrying a kit that recorded a
reading a second and a phone that recorded a fix a second (GPX 1.1 files);
five of the kits never synchronised their clock. The kits' readings are
`kit pull` CSV files (firmware/PULL_FORMAT.md), the form a walk with no
network gives. It measures, in one run on this machine, in each of --repeat rounds:

  build_s      the whole `airtrail walk build`: reading the pull files and
               GPX files, clocks, alignment, privacy filter, segments,
               statistics, writing every output;
  core_s       the in-memory stage alone, from loaded columns to the summary
               (walks.build.assemble), timed inside that build;
  bare_join_s  beside each build, a bare ``pandas.merge_asof`` of the same
               readings onto the same fixes, both sorted by time, ``by`` an
               integer kit code (best of 3): the least any alignment can cost.
  peak_mb      peak memory of one build, `airtrail walk build` run in a fresh
               process: the proportional set size (PSS, /proc/<pid>/smaps_rollup)
               of it and the processes it forks, summed and sampled every 20 ms, so
               pages a forked writer shares with its parent count once; the
               largest peak resident set of any one of them is printed beside it
               (once, after the rounds).
Each round's times are divided by that round's bare join (this shared host's
speed drifts by 2-4 x within an hour, and a baseline from another moment would
compare unlike with unlike). Every figure reported is the median round's, the
median by the in-memory stage's ratio: core_ratio = core_s / bare_join_s and
build_ratio = build_s / bare_join_s of that one round.
Targets (issue 11): core_ratio <= 20; build_ratio <= 200; peak_mb <= 1500.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airkit import contract as wire  # noqa: E402
from walks.build import assemble, load_inputs  # noqa: E402
from walks.outputs import write_walk  # noqa: E402
from walks.plan import load_plan  # noqa: E402
from walks.sources import PullSource  # noqa: E402

LAT0, LON0 = 53.4740, -2.2500
M_PER_DEG = 111_195.0
M_PER_DEG_LON = M_PER_DEG * np.cos(np.radians(LAT0))
T0 = int(datetime(2026, 5, 16, 7, 0, tzinfo=UTC).timestamp())  # 08:00 in Europe/London


def route(n_legs: int = 24, leg_m: float = 400.0) -> np.ndarray:
    """A zig-zag route through a city grid, metres east/north."""
    pts = [(0.0, 0.0)]
    for i in range(n_legs):
        e, n = pts[-1]
        pts.append((e + leg_m, n) if i % 2 == 0 else (e, n + leg_m * (1 if (i // 2) % 2 == 0 else -0.5)))
    return np.array(pts)


def generate(folder: Path, kits: int, per_kit: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    legs = route()
    at = np.concatenate([[0], np.cumsum(np.hypot(*np.diff(legs, axis=0).T))])
    t = np.arange(per_kit)
    background = 9 + 3 * np.sin(t / 900) + np.cumsum(rng.normal(0, 0.05, per_kit))
    plumes = np.zeros(per_kit)
    for centre in rng.uniform(0, per_kit, per_kit // 200):
        plumes += rng.uniform(5, 40) * np.exp(-0.5 * ((t - centre) / rng.uniform(5, 30)) ** 2)
    air = np.clip(background, 1, None) + plumes
    (folder / "pulls").mkdir()
    (folder / "phones").mkdir()
    lat_r, lon_r = LAT0 + legs[:, 1] / M_PER_DEG, LON0 + legs[:, 0] / M_PER_DEG_LON
    (folder / "route.geojson").write_text(json.dumps({"type": "LineString", "coordinates": np.column_stack([lon_r, lat_r]).round(7).tolist()}))
    columns = wire.reading_columns(wire.READING_COLUMNS[len(wire.READING_HEAD):])
    participants = []
    speed = at[-1] / per_kit
    for k in range(kits):
        device, name = f"walk-{k:02d}", f"P{k:02d}"
        offset = 0 if k >= 5 else int(rng.integers(-4 * 3600, 4 * 3600))
        d = np.clip(t * speed - rng.uniform(0, 10), 0, at[-1])
        east, north = np.interp(d, at, legs[:, 0]), np.interp(d, at, legs[:, 1])
        lat, lon = LAT0 + north / M_PER_DEG, LON0 + east / M_PER_DEG_LON
        pm25 = np.round(air * rng.uniform(0.8, 1.25) * rng.lognormal(0, 0.06, per_kit), 1)
        frame = pd.DataFrame({c: "" for c in columns}, index=range(per_kit))
        frame["device"] = device
        ts = T0 + t - offset
        frame["time"] = np.char.add(np.datetime_as_string(ts.astype("datetime64[s]"), unit="s").astype(str), "Z")
        frame["ts"], frame["clk"], frame["seq"] = ts, "gps" if offset == 0 else "rtc", 1000 + t
        frame["pm25"], frame["pm10"], frame["pm1"] = pm25, np.round(pm25 * 1.4, 1), np.round(pm25 * 0.7, 1)
        frame["pm25_cf1"], frame["rh"], frame["temp"] = np.round(pm25 * 1.1, 1), 60.0, 14.5
        frame.to_csv(folder / "pulls" / f"{device}-20260516T150000Z.csv", index=False)
        stamps = np.datetime_as_string((T0 + t).astype("datetime64[s]"), unit="s").astype(object)
        e, n = rng.normal(0, 3, (2, per_kit))
        glat, glon = np.round(lat + n / M_PER_DEG, 7).astype(str).astype(object), np.round(lon + e / M_PER_DEG_LON, 7).astype(str).astype(object)
        body = ('<trkpt lat="' + glat + '" lon="' + glon + '"><ele>40.0</ele><time>' + stamps + "Z</time></trkpt>\n").sum()
        (folder / "phones" / f"{name}.gpx").write_text('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="bench" '
                                                       'xmlns="http://www.topografix.com/GPX/1/1">\n<trk><trkseg>\n' + body + "</trkseg></trk>\n</gpx>\n")
        participants.append(f'[[participants]]\npseudonym = "{name}"\nkit = "{device}"\ngpx = "phones/{name}.gpx"\n')
    end = datetime.fromtimestamp(T0 + per_kit + 60, ZoneInfo("Europe/London"))
    (folder / "walk.toml").write_text(f'''title = "Benchmark walk"
date = 2026-05-16
timezone = "Europe/London"

[window]
start = 08:00:00
end = {end:%H:%M}:00

[route]
file = "route.geojson"

[readings]
source = "pull"
folder = "pulls"

[[privacy_zones]]
lat = {LAT0 + 200 / M_PER_DEG}
lon = {LON0 + 2000 / M_PER_DEG_LON}
radius_m = 80

''' + "\n".join(participants))


def bare_join(inputs) -> float:
    readings, tracks = inputs.readings, inputs.tracks
    codes = {kit: i for i, kit in enumerate(pd.unique(readings["kit"]))}
    left = pd.DataFrame({"t": readings["ts"].to_numpy(np.int64) * 1_000_000_000, "code": readings["kit"].map(codes).to_numpy()})
    right = pd.concat([pd.DataFrame({"t": tr.t, "code": i, "lat": tr.lat, "lon": tr.lon}) for i, tr in enumerate(tracks.values())])
    left, right = left.sort_values("t", kind="stable"), right.sort_values("t", kind="stable")
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        pd.merge_asof(left, right, on="t", by="code")
        best = min(best, time.perf_counter() - start)
    return best


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass  # the process ended between listing and reading
    return 0


def _family(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children") if Path(f"/proc/{p}/task").exists() else []:
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
    return out


def one_build_memory(folder: Path) -> tuple[float, float]:
    """(peak PSS MB of the build and its forks together, largest peak RSS MB of any one of them) of
    `airtrail walk build` on ``folder`` in a fresh process."""
    import subprocess

    out = folder / "build-memory"
    child = subprocess.Popen([sys.executable, "-m", "airtrail", "walk", "build", str(folder / "walk.toml"), "--out", str(out)],
                             stdout=subprocess.DEVNULL, cwd=ROOT)
    peak = 0
    while child.poll() is None:
        peak = max(peak, sum(_pss_kb(p) for p in _family(child.pid)))
        time.sleep(0.02)
    if child.returncode != 0:
        raise SystemExit(f"the measured build failed ({child.returncode})")
    return peak / 1024, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest single peak RSS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kits", type=int, default=50)
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="airtrail-walk-bench-") as tmp:
        folder = Path(tmp)
        generate(folder, args.kits, args.readings // args.kits)
        plan = load_plan(folder / "walk.toml")
        rounds = []  # (build_s, core_s, bare_join_s) of each round
        inputs = walk = None
        for _ in range(args.repeat):
            inputs = walk = None  # the last round's build is not held while the next one runs
            start = time.perf_counter()
            inputs = load_inputs(plan, PullSource(plan.path(plan.readings.folder)))
            loaded = time.perf_counter()
            walk = assemble(plan, inputs)
            assembled = time.perf_counter()
            write_walk(walk, folder / "build")
            written = time.perf_counter()
            # The baseline beside each build: this shared host's speed drifts by 2-4 x within an
            # hour, so each round's times are compared with the bare join measured in that round.
            bare = bare_join(inputs)
            rounds.append((written - start, assembled - loaded, bare))
            print(f"  load {loaded - start:.2f} s, assemble {assembled - loaded:.2f} s, write {written - assembled:.2f} s; "
                  f"bare merge_asof {bare:.3f} s: {(assembled - loaded) / bare:.1f} x and {(written - start) / bare:.1f} x")
        # The median round by the in-memory stage's ratio, all its figures from that one round (not
        # the best of each side: a lucky moment for either would decide it).
        build_s, core_s, bare_s = sorted(rounds, key=lambda r: r[1] / r[2])[len(rounds) // 2]
        readings = len(inputs.readings)
        inputs = walk = None
        peak_mb, rss_max_mb = one_build_memory(folder)
    print(f"readings {readings:,}; the median round (by the in-memory stage's ratio): bare merge_asof {bare_s:.3f} s")
    print(f"in-memory stage {core_s:.2f} s = {core_s / bare_s:.1f} x bare join (target <= 20)")
    print(f"whole build {build_s:.2f} s = {build_s / bare_s:.1f} x bare join (target <= 200)")
    print(f"peak memory of one build {peak_mb:.0f} MB PSS, build and forks together (target <= 1500); "
          f"largest peak RSS of one process {rss_max_mb:.0f} MB")
    print(json.dumps({"build_s": round(build_s, 3), "core_s": round(core_s, 3), "bare_join_s": round(bare_s, 4),
                      "peak_mb": round(peak_mb, 1), "rss_max_mb": round(rss_max_mb, 1), "readings": readings, "core_ratio": round(core_s / bare_s, 2),
                      "build_ratio": round(build_s / bare_s, 2)}))


if __name__ == "__main__":
    main()
