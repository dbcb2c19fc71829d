"""`airtrail kit provision`: the firmware bundle and /config.json onto a kit, with mpremote.

What lands on the kit:

    /lib/airkit/*.mpy       the bundle (only files whose SHA-256 differs are sent)
    /main.py, /boot.py
    /airtrail-bundle.json   the bundle's manifest: which firmware this kit runs
    /config.json            device id, variant, sensors, intervals, mode,
                            Wi-Fi networks, the broker and the credentials from
                            the device registry (keys of airkit.config.DEFAULTS;
                            the kit merges the rest)
    /airtrail-ca.pem        the CA that signed the broker's certificate (--ca),
                            which the kit verifies the broker with

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
from collector.settings import is_loopback

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


@dataclass
class KitOptions:
    """What `kit provision` can set, as its flags give it; None: the variant's or firmware's default.

    The keys are airkit.config's: a fixed kit has no GPS and no battery unless
    asked for (airkit.config.VARIANT_SENSORS), every kit a BME280.
    """

    variant: str = "walk"
    pm: str | None = None  # airkit.config.PM_SENSORS
    co2: bool | None = None  # a Sensirion SCD4x on the I2C bus
    gps: bool | None = None
    battery: bool | None = None
    interval_s: int | None = None
    sample_s: int | None = None
    mode: str = "online"
    wifi: list[dict[str, str]] = field(default_factory=list)
    broker_host: str | None = None
    broker_port: int | None = None
    tls: bool = False
    ca_file: Path | None = None  # on this computer; copied onto the kit as KIT_CA_PATH


@dataclass
class KitConfig:
    config: dict[str, Any]  # /config.json
    ca_pem: bytes | None = None  # the CA certificate to write at config["mqtt"]["ca_file"]


# Where the broker's CA goes on the kit. PEM: MicroPython's mbedtls parses it
# (its load_verify_locations passes the text with its terminating NUL) and
# so does CPython's load_verify_locations(cafile=...), which the virtual kits use.
KIT_CA_PATH = "/airtrail-ca.pem"


def read_ca(path: Path) -> bytes:
    """The CA file's bytes, refused unless it holds a PEM certificate."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ProvisionError(f"--ca {path}: {exc.strerror}; give the CA the broker's certificate is signed with "
                             "(`airtrail stack status` prints the local stack's)") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ProvisionError(f"--ca {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA file, "
                             "not a key or a DER file (convert one with `openssl x509 -inform der -in FILE -out ca.pem`)")
    return data


def build_config(device_id: str, password: str, options: KitOptions) -> KitConfig:
    """The kit's config.json and CA, checked with the firmware's own airkit.config.validate().

    Raises ProvisionError listing every problem the kit would report at boot,
    plus those only this computer can see (a loopback broker, a CA file that is
    not there), before anything is built or written.
    """
    problems = []
    host = options.broker_host
    if host and is_loopback(host):
        problems.append(f"--broker-host {host} is this computer's loopback: on the kit it would mean the kit itself. "
                        "Give this computer's address on the kits' network, or start the stack with "
                        "`airtrail stack up --kit-address ADDRESS` and leave --broker-host out")
    mqtt: dict[str, Any] = {"username": device_id, "password": password, "tls": options.tls}
    if host:
        mqtt["host"] = host
    if options.broker_port:
        mqtt["port"] = options.broker_port
    ca_pem = None
    if options.ca_file is not None:
        if not options.tls:
            problems.append("--ca is given but TLS is off: add --tls (the CA is only used to verify a TLS broker)")
        try:
            ca_pem = read_ca(options.ca_file)
        except ProvisionError as exc:
            problems.append(str(exc))
        mqtt["ca_file"] = KIT_CA_PATH
    sensors = {key: value for key, value in (("pm", options.pm), ("scd4x", options.co2), ("gps", options.gps),
                                             ("battery", options.battery)) if value is not None}
    conf: dict[str, Any] = {"device_id": device_id, "variant": options.variant, "mode": options.mode,
                            "wifi": options.wifi, "mqtt": mqtt, "sensors": sensors}
    for key, value in (("interval_s", options.interval_s), ("sample_s", options.sample_s)):
        if value is not None:
            conf[key] = value
    merged, kit_problems = kit_config.validate(json.loads(json.dumps(conf)))
    problems += kit_problems
    if problems:
        raise ProvisionError("the kit would refuse this configuration:\n  - " + "\n  - ".join(problems))
    # Every sensor spelt out, the variant's defaults included, so config.json
    # on the kit says what the kit has.
    conf["sensors"] = merged["sensors"]
    return KitConfig(conf, ca_pem)


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
    kit: KitConfig,
    progress: Callable[[str, int, int], None] | None = None,
) -> ProvisionResult:
    """Copy the bundle, the broker's CA (if any) and config.json over an open KitLink.

    ``progress(path, done_bytes, total_bytes)`` follows each file being sent.
    """
    manifest = Manifest.load(bundle_dir)
    check_mpy_compatible(link.mpy_version(), manifest)
    conf = kit.config
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
    if kit.ca_pem is not None:
        link.write(conf["mqtt"]["ca_file"], kit.ca_pem)
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
