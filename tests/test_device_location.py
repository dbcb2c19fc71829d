"""A fixed kit's registered location, and how precisely its owner lets it be published."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from collector.devices import DeviceRegistry
from collector.errors import DeviceError

AIRTRAIL = Path(sys.executable).with_name("airtrail")


def _airtrail(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The installed command on a data folder of its own, in a wide terminal (tables unwrapped)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRTRAIL_")} | {"COLUMNS": "200"}
    return subprocess.run([str(AIRTRAIL), "--data-dir", str(tmp_path), *args], capture_output=True, text=True, cwd=tmp_path, env=env)


def test_a_registry_file_from_before_locations_still_loads_with_no_location(tmp_path):
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"collector": {"username": "airtrail-collector", "password": "pw"},
                                "devices": [{"device_id": "kit-01", "password": "x", "created": 1.0, "rotated": None, "note": ""}]}))
    device = DeviceRegistry(path).get("kit-01")
    assert (device.lat, device.lon, device.location_privacy) == (None, None, "coarse")
    assert device.published_location() is None


def test_a_location_is_kept_and_coarse_by_default(tmp_path):
    registry = DeviceRegistry(tmp_path / "devices.json")
    registry.add("kit-01", location=(52.37021, 4.89517))
    device = DeviceRegistry(tmp_path / "devices.json").get("kit-01")
    assert (device.lat, device.lon, device.location_privacy) == (52.37021, 4.89517, "coarse")


def test_coarsening_snaps_to_the_centre_of_a_grid_cell_the_same_way_every_time(tmp_path):
    registry = DeviceRegistry(tmp_path / "devices.json")
    registry.add("kit-01", location=(52.37021, 4.89517))
    registry.add("kit-02", location=(52.37998, 4.89001))  # another house in the same 0.01° cell
    registry.add("kit-03", location=(-33.86882, 151.20929))
    assert registry.get("kit-01").published_location() == (52.375, 4.895)
    assert registry.get("kit-02").published_location() == (52.375, 4.895)
    assert registry.get("kit-03").published_location() == (-33.865, 151.205)
    assert {registry.get("kit-01").published_location() for _ in range(100)} == {(52.375, 4.895)}


def test_the_cell_centre_never_leaves_the_globe(tmp_path):
    registry = DeviceRegistry(tmp_path / "devices.json")
    registry.add("kit-01", location=(90.0, 180.0))
    assert registry.get("kit-01").published_location() == (90.0, 180.0)


def test_an_exact_location_is_published_as_registered(tmp_path):
    registry = DeviceRegistry(tmp_path / "devices.json")
    registry.add("kit-01", location=(52.37021, 4.89517), location_privacy="exact")
    assert registry.get("kit-01").published_location() == (52.37021, 4.89517)


def test_locate_changes_and_clears_a_location(tmp_path):
    registry = DeviceRegistry(tmp_path / "devices.json")
    registry.add("kit-01")
    registry.locate("kit-01", (51.5, -0.12), "exact")
    assert DeviceRegistry(tmp_path / "devices.json").get("kit-01").published_location() == (51.5, -0.12)
    registry.locate("kit-01", None)
    assert DeviceRegistry(tmp_path / "devices.json").get("kit-01").published_location() is None


@pytest.mark.parametrize("location,privacy,problem", [
    ((91.0, 0.0), "coarse", "not a place on Earth"),
    ((0.0, -180.5), "coarse", "not a place on Earth"),
    ((float("nan"), 0.0), "coarse", "not a place on Earth"),
    ((1.0, 2.0), "fuzzy", "neither of coarse, exact"),
])
def test_a_location_off_the_globe_or_an_unknown_privacy_is_refused(tmp_path, location, privacy, problem):
    with pytest.raises(DeviceError, match=problem):
        DeviceRegistry(tmp_path / "devices.json").add("kit-01", location=location, location_privacy=privacy)


def test_a_hand_edited_location_off_the_globe_is_a_damaged_registry(tmp_path):
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"collector": {"password": "pw"},
                                "devices": [{"device_id": "kit-01", "password": "x", "created": 1.0, "lat": 123.0, "lon": 4.0}]}))
    with pytest.raises(DeviceError, match="damaged.*not a place on Earth"):
        DeviceRegistry(path)


def test_device_add_and_locate_take_the_location_and_the_privacy_choice(tmp_path):
    added = _airtrail(tmp_path, "device", "add", "kit-01", "--location", "52.37021,4.89517", "--exact")
    assert added.returncode == 0, added.stderr
    assert DeviceRegistry(tmp_path / "devices.json").get("kit-01").published_location() == (52.37021, 4.89517)
    located = _airtrail(tmp_path, "device", "locate", "kit-01", "--location", "52.37021,4.89517", "--coarse")
    assert located.returncode == 0, located.stderr
    assert "(52.375, 4.895)" in located.stdout
    listed = _airtrail(tmp_path, "device", "list")
    assert "52.37021,4.89517 (coarse)" in listed.stdout
    cleared = _airtrail(tmp_path, "device", "locate", "kit-01", "--clear")
    assert cleared.returncode == 0 and "no position" in cleared.stdout


@pytest.mark.parametrize("args,problem", [
    (["device", "add", "kit-01", "--location", "52.37;4.89"], "is not LAT,LON"),
    (["device", "add", "kit-01", "--location", "4.89,252.37"], "not a place on Earth"),
    (["device", "locate", "kit-01"], "either --location LAT,LON or --clear"),
])
def test_a_mistyped_location_is_a_problem_line(tmp_path, args, problem):
    result = _airtrail(tmp_path, *args)
    assert result.returncode == 1
    assert "Problem:" in result.stderr and problem in result.stderr and "Traceback" not in result.stderr
