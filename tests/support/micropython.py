"""Run code under real MicroPython (WebAssembly port under Node) from tests.

    result = run_micropython("from airkit import pms5003\\nprint(...)")

The firmware package is mounted at /lib/airkit; the working directory is /work
(an empty in-memory folder that files can be written to).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("mpy_run.mjs")
MODULE_DIR = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"


class MicroPythonError(AssertionError):
    pass


def micropython_available() -> bool:
    return shutil.which("node") is not None and MODULE_DIR.is_dir()


requires_micropython = pytest.mark.skipif(
    not micropython_available(),
    reason="MicroPython WebAssembly port not installed: run `make setup` (needs node and npm)",
)


def run_micropython(code: str, mounts: dict[Path, str] | None = None, timeout: float = 120) -> str:
    """Run ``code`` under MicroPython and return what it printed.

    Raises MicroPythonError with MicroPython's traceback if the code raises.
    """
    if not micropython_available():
        pytest.fail("MicroPython WebAssembly port missing: run `make setup`")
    mounts = {ROOT / "firmware" / "airkit": "/lib/airkit", **(mounts or {})}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
        script = f.name
    try:
        proc = subprocess.run(
            ["node", str(RUNNER), script, *(f"{host}={dest}" for host, dest in mounts.items())],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    finally:
        Path(script).unlink(missing_ok=True)
    if proc.returncode != 0:
        raise MicroPythonError(f"MicroPython raised:\n{proc.stderr}\n--- stdout ---\n{proc.stdout}")
    return proc.stdout
