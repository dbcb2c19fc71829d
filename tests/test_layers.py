"""The import layers of pyproject.toml hold, and breaking them fails the build.

airkit (the firmware, the contract, the error root) is the floor; the
collector, the hardware tools and the kit tooling stand on it; walks and viz
above them; the front door, airtrail, on top, imported by nobody.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
# Where each top-level package lives in the checkout (pyproject's package-dir).
PACKAGES = {
    "airtrail": "airtrail", "viz": "viz", "walks": "walks", "collector": "collector", "hardware": "hardware",
    "airkit": "firmware/airkit", "airkit_host": "firmware/host",
}


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the copy shadows the installed packages
    return subprocess.run([str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
                          capture_output=True, text=True, cwd=tree, env=env, timeout=120)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    for name, where in PACKAGES.items():
        shutil.copytree(ROOT / where, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "bundle"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_checkout_keeps_every_import_contract():
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_clean_copy_keeps_the_contracts_so_the_copy_is_what_is_checked(scratch):
    result = _lint(scratch)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("module", "wrong_import", "contract"), [
    ("collector/readings.py", "import walks.cli", "Layers"),  # the collector reaching up to the walk tooling
    ("collector/api/app.py", "import viz.cli", "Layers"),  # ...or to the maps, for the council view
    ("hardware/pins.py", "import airtrail.cli", "Layers"),  # anything importing the front door
    ("airkit/encode.py", "import collector.contract", "firmware imports nothing"),  # the kit importing the server
])
def test_an_import_against_the_layers_breaks_the_build(scratch, module, wrong_import, contract):
    path = scratch / module
    path.write_text(path.read_text() + f"\n{wrong_import}  # deliberately wrong\n")
    result = _lint(scratch)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(contract in line for line in broken), result.stdout
    assert wrong_import.split()[1] in result.stdout  # the report names the offending import
