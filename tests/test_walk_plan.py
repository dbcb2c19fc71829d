"""The walk file: the template is a valid walk, and every mistake is named with its line."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airtrail.cli import app
from walks.plan import PlanError, line_index, load_plan, template

ROUTE = {"type": "LineString", "coordinates": [[-2.2426, 53.4808], [-2.2380, 53.4760]]}


@pytest.fixture
def walk(tmp_path: Path) -> Path:
    (tmp_path / "route.geojson").write_text(json.dumps(ROUTE))
    path = tmp_path / "walk.toml"
    path.write_text(template("Oxford Road", date(2026, 11, 21)))
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    return caught.value.problems


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_template_is_a_valid_walk(walk):
    plan = load_plan(walk)
    assert plan.title == "Oxford Road" and plan.kits == ("walk-01", "walk-02")
    assert plan.languages == ("en", "es") and plan.licence == "CC-BY-4.0" and plan.privacy.trim_m == 200
    assert plan.route.segment_m == 50 and plan.route.stops[0].name == "Start"
    assert plan.path(plan.route.file) == walk.parent / "route.geojson"


def test_the_walk_window_is_local_time_turned_into_utc(walk):
    # 21 November: London is on GMT; Mexico City is UTC-6 all year.
    assert load_plan(walk).utc_window() == (datetime(2026, 11, 21, 10, tzinfo=UTC), datetime(2026, 11, 21, 11, 30, tzinfo=UTC))
    _edit(walk, 'timezone = "Europe/London"', 'timezone = "America/Mexico_City"')
    assert load_plan(walk).utc_window()[0] == datetime(2026, 11, 21, 16, tzinfo=UTC)


def test_summer_time_is_applied_on_the_walks_own_date(walk):
    _edit(walk, "date = 2026-11-21", "date = 2026-07-04")
    assert load_plan(walk).utc_window()[0] == datetime(2026, 7, 4, 9, tzinfo=UTC)


@pytest.mark.parametrize(("old", "new", "line_of", "says"), [
    ("end = 11:30:00", "end = 09:30:00", "[window]", "must come after start"),
    ('kit = "walk-02"', 'kit = "Walk 02"', 'kit = "Walk 02"', "is not a device id"),
    ('kit = "walk-02"', 'kit = "walk-02"\ncolour = "red"', 'colour = "red"', "participants[1].colour is not a walk-file key"),
    ('timezone = "Europe/London"', 'timezone = "Europe/Manchester"', "timezone =", "not a time zone name"),
    ('languages = ["en", "es"]', 'languages = ["en", "fr"]', "languages =", "languages are a list of en, es"),
    ('licence = "CC-BY-4.0"', 'licence = "all rights reserved"', "licence =", "not one of the open licences"),
    ("radius_m = 100", "radius_m = -5", "radius_m = -5", "privacy_zones[0].radius_m"),
    ('file = "route.geojson"', 'file = "route.kml"', 'file = "route.kml"', "a route is a .geojson, .json, .gpx file"),
    ('title = "Oxford Road"\n', "", None, "title is missing"),
    ('pseudonym = "Kestrel"', 'pseudonym = "heron"', None, "used more than once: Heron, heron"),
])
def test_a_mistake_is_named_with_its_line_and_what_to_change(walk, old, new, line_of, says):
    _edit(walk, old, new)
    problems = _problems(walk)
    assert any(says in p for p in problems), problems
    if line_of is not None:
        line = next(n for n, text in enumerate(walk.read_text().splitlines(), 1) if text.startswith(line_of))
        assert any(p.startswith(f"line {line}: ") and says in p for p in problems), (line, problems)


def test_every_problem_is_reported_at_once(walk):
    _edit(walk, "end = 11:30:00", "end = 09:30:00")
    _edit(walk, 'kit = "walk-02"', 'kit = "Walk 02"')
    assert len(_problems(walk)) == 2


def test_where_the_file_is_cannot_be_written_in_it(walk):
    _edit(walk, 'title = "Oxford Road"', 'folder = "/elsewhere"\ntitle = "Oxford Road"')
    [problem] = _problems(walk)
    assert problem.startswith("line 4: folder is not a walk-file key")


def test_a_plan_knows_its_own_file_and_folder(walk):
    plan = load_plan(walk)
    assert (plan.source, plan.folder) == (walk, walk.parent)


def test_files_the_walk_names_must_be_there(walk):
    (walk.parent / "route.geojson").unlink()
    _edit(walk, '# gpx = "phones/heron.gpx"', 'gpx = "phones/heron.gpx"')
    problems = _problems(walk)
    assert len(problems) == 2
    line = next(n for n, text in enumerate(walk.read_text().splitlines(), 1) if text.startswith('file = "route.geojson"'))
    assert problems[0].startswith(f"line {line}: route.geojson does not exist")
    assert "phones/heron.gpx does not exist" in problems[1]


def test_a_toml_syntax_error_is_a_problem_with_its_line(walk):
    _edit(walk, 'title = "Oxford Road"', 'title = "Oxford Road')
    [problem] = _problems(walk)
    assert "not valid TOML" in problem and "line 4" in problem


def test_the_line_index_finds_keys_inside_arrays_of_tables():
    index = line_index('a = 1\n[[p]]\nk = "x"\n[[p]]\n# c\nk = "y"\n[r]\ns = 2\n[[r.t]]\nn = 1\n')
    assert index[("p", 1, "k")] == 6 and index[("r", "s")] == 8 and index[("r", "t", 0, "n")] == 10


def test_walk_new_then_check_from_the_command_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["walk", "new", "--title", "Ghent"]).exit_code == 0
    (tmp_path / "route.geojson").write_text(json.dumps(ROUTE))
    checked = runner.invoke(app, ["walk", "check", "walk.toml"])
    assert checked.exit_code == 0 and "Ghent" in checked.output and "walk-01, walk-02" in checked.output
    again = runner.invoke(app, ["walk", "new"])
    assert "exists already" in str(again.exception)  # never overwrites a plan by accident
