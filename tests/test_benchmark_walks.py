"""benchmarks/walks.py runs and prints what issue 11 asks of it (at a small size: no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_walk_benchmark_ends_with_one_json_object_of_its_figures():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "walks.py"), "--kits", "3", "--readings", "6000", "--repeat", "2"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert {"build_s", "core_s", "bare_join_s", "peak_mb", "readings", "core_ratio", "build_ratio"} <= set(figures)
    assert figures["readings"] == 6000 and figures["peak_mb"] > 0
    assert 0 < figures["bare_join_s"] and 0 < figures["core_s"] < figures["build_s"]
    assert sum("bare merge_asof" in line for line in lines) == 3  # beside each of the two builds, and the best of them
