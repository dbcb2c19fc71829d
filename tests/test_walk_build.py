"""`airtrail walk build`: a simulated walk with known truth, built from the files a facilitator has.

Three kits walk a 4 km route together: Heron's kit has its own GPS and a
synchronised clock; Kestrel's runs 40 s fast and never synchronised; Otter's
lost power and resumed three hours behind. Kestrel and Otter carry phones
that record GPX tracks. The kits' readings come from `kit pull` files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from airtrail.cli import app as airtrail
from tests.support.walksim import Kit, Walk, walk_file
from walks.build import assemble, load_inputs
from walks.outputs import OUTPUTS, write_walk
from walks.plan import load_plan
from walks.privacy import haversine_m
from walks.sources import PullSource

KITS = [
    Kit("walk-a", "Heron", 0, "gps", 1.0, phone=False),
    Kit("walk-b", "Kestrel", -40, "rtc", 1.25, phone=True, lag_m=2),
    Kit("walk-c", "Otter", 3 * 3600, "rtc", 0.85, phone=True, lag_m=3),
]
ZONE = (53.4740 + 350 / 111_195.0, -2.2500 + 900 / (111_195.0 * np.cos(np.radians(53.474))), 60.0)  # on the route's second leg
ZONES = f"[[privacy_zones]]\nname = \"a home\"\nlat = {ZONE[0]}\nlon = {ZONE[1]}\nradius_m = {ZONE[2]}\n"


def _build(folder: Path, sim: Walk, **walk_options):
    (folder / "walk.toml").write_text(walk_file(sim, **walk_options))
    plan = load_plan(folder / "walk.toml")
    return assemble(plan, load_inputs(plan, PullSource(plan.path(plan.readings.folder))))


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("walk")
    sim = Walk(KITS)
    truth = sim.write(folder)
    walk = _build(folder, sim, zones=ZONES)
    return folder, sim, truth, walk


def test_each_unsynchronised_clock_is_found_to_within_3_s_and_applied(simulated):
    _, _, _, walk = simulated
    clocks = {c["kit"]: c for c in walk.summary["clocks"]}
    assert clocks["walk-a"]["method"] == "synced"
    for kit in KITS[1:]:
        found = clocks[kit.device]
        assert found["method"] == "estimated" and found["confident"], found
        assert abs(found["offset_s"] - kit.clock_offset_s) <= 3, found
    assert set(walk.readings["clock"]) == {"synced", "estimated"}


def test_at_least_95_percent_of_readings_are_within_10_m_of_where_they_were_taken(simulated):
    _, sim, truth, walk = simulated
    placed = walk.readings[walk.readings["lat"].notna()]
    assert len(placed) > 0.7 * len(walk.readings)
    errors = []
    for kit in KITS:
        mine = placed[placed["kit"] == kit.device]
        true_t = truth[kit.device][mine["seq"].to_numpy() - kit.seq0]
        lat, lon = sim.position(kit, true_t)
        errors.append(haversine_m(mine["lat"].to_numpy(), mine["lon"].to_numpy(), lat, lon))
    errors = np.concatenate(errors)
    assert np.mean(errors <= 10) >= 0.95, np.percentile(errors, [50, 95, 99])


def test_no_published_reading_lies_in_the_privacy_zone_or_near_where_a_trace_starts_or_ends(simulated):
    _, _, _, walk = simulated
    r = walk.readings[walk.readings["lat"].notna()]
    assert (haversine_m(r["lat"], r["lon"], ZONE[0], ZONE[1]) > ZONE[2]).all()
    assert walk.summary["readings"]["removed"]["privacy_zone"] > 0
    _, sim, _, _ = simulated
    for kit in KITS:
        mine = r[r["kit"] == kit.device]
        # Where the trace began and ended (each trace's first and last fix are within GPS noise of these).
        for end in (sim.t0, sim.t0 + 3599):
            lat, lon = sim.position(kit, np.array([end]))
            assert haversine_m(mine["lat"], mine["lon"], lat[0], lon[0]).min() > 200 - 15


def test_cutting_the_walk_into_halves_for_two_cores_changes_nothing(simulated, monkeypatch):
    import walks.build as build

    folder, _, _, walk = simulated
    plan = load_plan(folder / "walk.toml")
    inputs = load_inputs(plan, PullSource(plan.path(plan.readings.folder)))
    monkeypatch.setattr(build, "CHUNK_MIN", 10**12)  # one piece: placed, filtered and matched in one go
    whole = assemble(plan, inputs)
    monkeypatch.setattr(build, "CHUNK_MIN", 10)  # halves of whole participants, on two threads
    assert build._chunks(np.repeat(np.arange(3), 40), 2) == [(0, 40), (40, 120)]
    halves = assemble(plan, inputs)
    pd.testing.assert_frame_equal(halves.readings, whole.readings)
    pd.testing.assert_frame_equal(halves.stats, whole.stats)
    assert json.dumps(halves.summary, default=str) == json.dumps(whole.summary, default=str)


def test_readings_at_a_phone_fix_take_the_fixs_place_on_the_route_as_matching_them_would_give(simulated, monkeypatch):
    import walks.build as build

    folder, _, _, _ = simulated
    plan = load_plan(folder / "walk.toml")
    inputs = load_inputs(plan, PullSource(plan.path(plan.readings.folder)))
    monkeypatch.setattr(build, "CHUNK_MIN", 10**12)  # every published reading matched to the route itself
    itself = assemble(plan, inputs)
    monkeypatch.setattr(build, "CHUNK_MIN", 10)  # the phones' fixes matched ahead, on a second thread
    monkeypatch.setattr(build, "MATCH_FIXES_UP_TO", 10**9)
    ahead, real = [], build._on_route

    def on_route(segments, lat, lon, at_phone, phone_match, max_distance_m):
        ahead.append((phone_match is not None, int((at_phone >= 0).sum()), len(at_phone)))
        return real(segments, lat, lon, at_phone, phone_match, max_distance_m)

    monkeypatch.setattr(build, "_on_route", on_route)
    matched = assemble(plan, inputs)
    [(used, at_fixes, published)] = ahead
    assert used and 0 < at_fixes < published  # some at a phone's fix, the others (the kit with its own GPS) not
    pd.testing.assert_frame_equal(matched.readings, itself.readings)
    pd.testing.assert_frame_equal(matched.stats, itself.stats)
    assert json.dumps(matched.summary, default=str) == json.dumps(itself.summary, default=str)


def test_the_provenance_names_every_input_file_with_the_sha256_of_its_bytes(simulated):
    import hashlib

    folder, _, _, walk = simulated
    provenance = walk.summary["provenance"]
    pulls = sorted((folder / "pulls").glob("*.csv"))
    assert provenance["readings"]["files"] == [{"file": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in pulls]
    named = {entry["file"]: entry["sha256"] for entry in provenance["inputs"]}
    for path in [folder / "walk.toml", *sorted((folder / "phones").glob("*.gpx"))]:
        assert named[str(path.relative_to(folder))] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_reading_is_accounted_for_in_the_summary(simulated):
    _, _, _, walk = simulated
    counts = walk.summary["readings"]
    assert counts["found"] == counts["outside_walk"] + counts["colocation"] + counts["in_walk"]
    assert sum(counts["position"].values()) == counts["in_walk"]
    assert counts["in_walk"] - sum(counts["removed"].values()) == counts["published"] == len(walk.readings)
    assert [p["readings"] for p in walk.summary["participants"]] == [
        int((walk.readings["participant"] == k.participant).sum()) for k in KITS]


def test_the_outputs_are_written_the_data_package_validates_and_a_rebuild_is_byte_identical(simulated, tmp_path):
    import frictionless

    folder, sim, _, walk = simulated
    first = write_walk(walk, tmp_path / "one")
    assert sorted(first) == sorted(OUTPUTS)
    report = frictionless.validate(str(first["datapackage.json"]))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "message"])[:5]
    again = _build(folder, sim, zones=ZONES)
    second = write_walk(again, tmp_path / "two")
    for name in OUTPUTS:
        assert first[name].read_bytes() == second[name].read_bytes(), name


def test_readings_csv_starts_with_the_contracts_row_shape_and_keeps_raw_values(simulated, tmp_path):
    from airkit import contract as wire

    _, _, _, walk = simulated
    paths = write_walk(walk, tmp_path)
    header = paths["readings.csv"].read_text().splitlines()[0].split(",")
    assert header[: header.index("flags") + 1] == wire.reading_columns(walk.fields)
    assert header[header.index("flags") + 1:][:3] == ["participant", "walk_time", "clock"]
    points = json.loads(paths["points.geojson"].read_text())
    assert len(points["features"]) == int(walk.readings["lat"].notna().sum())
    first = points["features"][0]["properties"]
    assert set(first) >= {"participant", "walk_time", "pm25", "segment", "position"} and "Heron" == first["participant"]


_FORKS: list[list[str]] | None = None  # while a test listens: the threads the build runs beside each fork
_BEFORE: set[int] = set()  # the threads the test process already had (other tests' leftovers are not the build's)


def _at_fork() -> None:
    if _FORKS is not None:
        _FORKS.append([t.name for t in threading.enumerate() if t is not threading.current_thread() and t.ident not in _BEFORE])


os.register_at_fork(before=_at_fork)


def test_the_command_builds_the_walk_and_says_what_it_did(simulated, tmp_path):
    global _FORKS, _BEFORE
    folder, *_ = simulated
    _BEFORE = {t.ident for t in threading.enumerate()}
    _FORKS = []
    try:
        result = CliRunner().invoke(airtrail, ["walk", "build", str(folder / "walk.toml"), "--out", str(tmp_path / "out")])
    finally:
        forks, _FORKS = _FORKS, None
    assert result.exit_code == 0, result.output
    assert "readings published" in result.output and "kit walk-b (Kestrel): clock offset -" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(OUTPUTS)
    # The parsing and writing processes are forked while the build runs no other thread (a fork
    # beside a running thread, such as a progress display's, can leave a lock held in the child).
    assert len(forks) >= 2 and all(others == [] for others in forks), forks


def test_a_kit_whose_clock_is_days_off_is_found_by_its_sequence_numbers(tmp_path):
    # Otter's kit synchronised at the office the day before (seq 900-909), lost power, and
    # resumed three days behind; the walk's readings are numbered after the office ones.
    kits = [KITS[0], KITS[1], Kit("walk-c", "Otter", 3 * 86400 + 7, "rtc", 0.85, phone=True, lag_m=3)]
    sim = Walk(kits)
    office = [{"ts": sim.t0 - 86400 + 10 * i, "seq": 900 + i, "clk": "ntp", "pm25": 5.0, "flags": []} for i in range(10)]
    sim.write(tmp_path, extra_readings={"walk-c": office})
    walk = _build(tmp_path, sim)
    otter = next(c for c in walk.summary["clocks"] if c["kit"] == "walk-c" and c["method"] != "synced")
    assert otter["method"] == "estimated" and abs(otter["offset_s"] - (3 * 86400 + 7)) <= 3
    assert (walk.readings["kit"] == "walk-c").sum() > 250


def test_a_kit_that_breathed_other_air_is_flagged_not_silently_moved(tmp_path):
    kits = [KITS[0], Kit("walk-b", "Kestrel", -40, "rtc", 1.25, phone=True, lag_m=2)]
    sim = Walk(kits)
    sim.write(tmp_path)
    pulls = tmp_path / "pulls" / "walk-b-20260516T120000Z.csv"
    lines = pulls.read_text().splitlines()
    rng = np.random.default_rng(5)
    header = lines[0].split(",")
    at = header.index("pm25")
    shuffled = [line.split(",") for line in lines[1:]]
    for row in shuffled:
        row[at] = f"{rng.uniform(5, 60):.1f}"  # unrelated to the air the group breathed
    pulls.write_text("\n".join([lines[0]] + [",".join(r) for r in shuffled]) + "\n")
    walk = _build(tmp_path, sim)
    kestrel = next(c for c in walk.summary["clocks"] if c["kit"] == "walk-b")
    assert kestrel["method"] == "unconfirmed" and kestrel["offset_s"] == 0 and kestrel["confident"] is False
    mine = walk.readings[walk.readings["kit"] == "walk-b"]
    assert (mine["clock"] == "unconfirmed").all() and (mine["clock_offset_s"] == 0).all()


def test_a_walk_without_its_pulled_readings_is_a_problem_that_says_where(tmp_path):
    sim = Walk(KITS[:1])
    sim.write(tmp_path)
    shutil.rmtree(tmp_path / "pulls")
    (tmp_path / "walk.toml").write_text(walk_file(sim))
    result = subprocess.run([str(Path(sys.executable).with_name("airtrail")), "walk", "build", str(tmp_path / "walk.toml")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Problem:") and "pulls is not a folder next to the walk file" in result.stderr


def test_notes_are_published_at_the_walk_point_they_belong_to_and_those_that_fit_nowhere_are_counted(simulated, tmp_path):
    folder, sim, _, _ = simulated
    shutil.copytree(folder, tmp_path / "walk", ignore=shutil.ignore_patterns("build", "walk.toml"))
    (tmp_path / "walk" / "notes.csv").write_text(
        "time,lat,lon,text,participant\n"
        "2026-05-16T10:30:00,,,bus idling at the stop,Kestrel\n"  # local time: 09:30 UTC, mid-walk
        f",{53.4740 + 700 / 111_195.0:.6f},{-2.2500 + 1200 / (111_195.0 * np.cos(np.radians(53.474))):.6f},bonfire smell,\n"
        "2026-05-16T10:00:30,,,left home,Otter\n")  # inside the trimmed start: no published point near in time
    (tmp_path / "walk" / "walk.toml").write_text('observations = ["notes.csv"]\n' + walk_file(sim, zones=ZONES))
    plan = load_plan(tmp_path / "walk" / "walk.toml")
    walk = assemble(plan, load_inputs(plan, PullSource(plan.path(plan.readings.folder))))
    paths = write_walk(walk, tmp_path / "out")
    features = json.loads(paths["observations.geojson"].read_text())["features"]
    assert sorted(f["properties"]["text"] for f in features) == ["bonfire smell", "bus idling at the stop"]
    bus = next(f for f in features if f["properties"]["text"] == "bus idling at the stop")
    published = {(round(float(a), 6), round(float(o), 6)) for a, o in zip(walk.readings["lat"], walk.readings["lon"])}
    assert all((f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0]) in published for f in features)
    assert bus["properties"]["participant"] == "Kestrel" and bus["properties"]["segment"] is not None
    assert walk.summary["observations"]["given"] == 3 and walk.summary["observations"]["attached"] == 2
    assert sum(walk.summary["observations"]["unattached"].values()) == 1


def test_calibration_co_location_ratios_and_the_humidity_correction_are_extra_columns_beside_the_raw_ones(simulated, tmp_path):
    from hardware.calibration import Fit, to_toml

    folder, sim, _, plain = simulated
    shutil.copytree(folder, tmp_path / "walk", ignore=shutil.ignore_patterns("build", "walk.toml"))
    (tmp_path / "walk" / "calibration").mkdir()
    (tmp_path / "walk" / "calibration" / "walk-b.toml").write_text(
        to_toml("walk-b", {"pm25": Fit("linear", slope=0.8, intercept=1.0, n=400, r2=0.9, rmse=2.0, raw_min=0.0, raw_max=500.0)},
                {"reference": "test"}))
    text = walk_file(sim, zones=ZONES, colocation_apply=True).replace("[readings]", '[humidity]\ncorrection = "epa"\n\n[readings]')
    (tmp_path / "walk" / "walk.toml").write_text('calibration = "calibration"\n' + text)
    plan = load_plan(tmp_path / "walk" / "walk.toml")
    walk = assemble(plan, load_inputs(plan, PullSource(plan.path(plan.readings.folder))))
    r = walk.readings
    pd.testing.assert_series_equal(r["pm25"], plain.readings["pm25"])  # raw values untouched
    kestrel = r["kit"] == "walk-b"
    assert np.allclose(r.loc[kestrel, "pm25_cal"], np.maximum(0.8 * r.loc[kestrel, "pm25"] + 1.0, 0))
    assert r.loc[~kestrel, "pm25_cal"].isna().all()
    # Kestrel's kit reads 1.25 x the air and Otter's 0.85 x: their ratios to the group median say so.
    ratios = walk.summary["colocation"]["pm25"]
    assert ratios["walk-b"]["ratio"] == pytest.approx(1.25, rel=0.06) and ratios["walk-c"]["ratio"] == pytest.approx(0.85, rel=0.06)
    assert np.allclose(r.loc[kestrel, "pm25_coloc"], r.loc[kestrel, "pm25"] / ratios["walk-b"]["ratio"])
    assert "pm25_epa" in r and [c["kit"] for c in walk.summary["calibration"] if c["model"]] == ["walk-b"]
    paths = write_walk(walk, tmp_path / "out")
    header = paths["readings.csv"].read_text().splitlines()[0].split(",")
    extra = header[header.index("route_distance_m") + 1:]
    assert extra == ["pm25_cal", "pm1_coloc", "pm25_coloc", "pm10_coloc", "pm25_epa"]  # in the order they were added
    import frictionless

    assert frictionless.validate(str(paths["datapackage.json"])).valid


def test_a_phone_track_without_times_stops_the_build_with_the_gpx_problem(simulated, tmp_path):
    from walks.gpx import GpxError

    folder, sim, _, _ = simulated
    shutil.copytree(folder, tmp_path / "walk", ignore=shutil.ignore_patterns("build"))
    gpx = tmp_path / "walk" / "phones" / "otter.gpx"
    gpx.write_text(re.sub(r"<time>[^<]*</time>", "", gpx.read_text()))
    plan = load_plan(tmp_path / "walk" / "walk.toml")
    with pytest.raises(GpxError, match="otter.gpx has no times"):  # read by the second process, raised here
        load_inputs(plan, PullSource(plan.path(plan.readings.folder)))
