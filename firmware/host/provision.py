"""`airtrail kit provision`: the firmware bundle and /config.json onto a kit, with mpremote.

What lands on the kit:

    /lib/airkit/*.mpy       the bundle (only files whose SHA-256 differs are sent)
    /main.py, /boot.py
    /airtrail-bundle.json   the bundle's manifest: which firmware this kit runs
    /config.json            device id, broker credentials from the device
                            registry, Wi-Fi networks, mode (keys of
                            airkit.config.DEFAULTS; the kit merges the rest)

What is left alone: the kit's stored readings (/queue) and sequence number
(/seq), so re-provisioning a kit that still holds a walk loses nothing.
Files in /lib/airkit that the bundle does not have are removed: an old .py
next to a new .mpy would win the import (MicroPython tries .py first).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airkit import config as kit_config

from .bundle import KIT_MANIFEST, MANIFEST, PACKAGE, Manifest, sha256
from .errors import KitError
from .link import KitLink, LinkError, for_file

CONFIG_PATH = "/config.json"
PACKAGE_DIR = f"/lib/{PACKAGE}"


class ProvisionError(KitError):
    pass


@dataclass
class ProvisionResult:
    copied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


def parse_wifi(spec: str) -> dict[str, str]:
    """'SSID:PASSWORD' -> {"ssid", "password"}; split at the first ':' (passwords may contain one)."""
    ssid, sep, password = spec.partition(":")
    if not sep or not ssid:
        raise ProvisionError(f"--wifi {spec!r} must look like SSID:PASSWORD (SSID:  with nothing after it for an open network)")
    return {"ssid": ssid, "password": password}


def build_config(
    device_id: str,
    password: str,
    wifi: list[dict[str, str]],
    broker_host: str | None,
    broker_port: int | None = None,
    tls: bool = False,
    mode: str = "online",
    variant: str | None = None,
) -> dict[str, Any]:
    """The kit's config.json, checked with the firmware's own airkit.config.validate().

    Raises ProvisionError listing every problem the kit would report at boot.
    """
    mqtt: dict[str, Any] = {"username": device_id, "password": password, "tls": tls}
    if broker_host:
        mqtt["host"] = broker_host
    if broker_port:
        mqtt["port"] = broker_port
    conf: dict[str, Any] = {"device_id": device_id, "mode": mode, "wifi": wifi, "mqtt": mqtt}
    if variant:
        conf["variant"] = variant
    _, problems = kit_config.validate(json.loads(json.dumps(conf)))
    if problems:
        raise ProvisionError("the kit would refuse this configuration:\n  - " + "\n  - ".join(problems))
    return conf


def check_mpy_compatible(kit: tuple[int, int], manifest: Manifest) -> None:
    try:
        major, minor = (int(x) for x in manifest.mpy_version.split("."))
    except ValueError:
        return
    if kit[0] != major or kit[1] < minor:
        raise ProvisionError(
            f"this kit's MicroPython loads .mpy v{kit[0]}.{kit[1]} files but the bundle holds v{major}.{minor} "
            f"({manifest.mpy_cross}): flash a current MicroPython with `airtrail kit flash` "
            "(https://micropython.org/download/ESP32_GENERIC/)"
        )


def provision(
    link: KitLink,
    bundle_dir: Path,
    conf: dict[str, Any],
    progress: Callable[[str, int, int], None] | None = None,
) -> ProvisionResult:
    """Copy the bundle and write config.json over an open KitLink.

    ``progress(path, done_bytes, total_bytes)`` follows each file being sent.
    """
    manifest = Manifest.load(bundle_dir)
    check_mpy_compatible(link.mpy_version(), manifest)
    result = ProvisionResult(config=conf)

    link.makedirs(PACKAGE_DIR)
    wanted = {f"/{f.path}" for f in manifest.files}
    for entry in manifest.files:
        local = bundle_dir / entry.path
        if not local.is_file() or sha256(local) != entry.sha256:
            raise ProvisionError(f"{local} does not match the bundle's manifest: rebuild with `airtrail kit build`")
        dest = f"/{entry.path}"
        if link.exists(dest) and link.sha256(dest).hex() == entry.sha256:
            result.unchanged.append(dest)
            if progress:
                progress(dest, entry.size, entry.size)
            continue
        link.write(dest, local.read_bytes(), for_file(progress, dest))
        result.copied.append(dest)

    for name in link.listdir(PACKAGE_DIR):
        path = f"{PACKAGE_DIR}/{name}"
        if path not in wanted and not link.is_dir(path):
            link.remove(path)
            result.removed.append(path)

    link.write(KIT_MANIFEST, (bundle_dir / MANIFEST).read_bytes())
    link.write(CONFIG_PATH, (json.dumps(conf, indent=1) + "\n").encode())
    return result


def read_kit_config(link: KitLink) -> dict[str, Any] | None:
    """The kit's /config.json, or None when it has none or it is not JSON."""
    if not link.exists(CONFIG_PATH):
        return None
    try:
        doc = json.loads(link.read(CONFIG_PATH))
    except (ValueError, LinkError):
        return None
    return doc if isinstance(doc, dict) else None
