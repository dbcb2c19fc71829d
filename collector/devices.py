"""The device registry and the broker credentials generated from it.

``devices.json`` (mode 0600, in the data folder) is the source of truth: one
entry per kit with its MQTT password (kept in clear because `airtrail kit
provision` writes it onto the kit), plus the collector's own account. From it
we generate Mosquitto's password file (PBKDF2-SHA512 hashes, the ``$7$``
format of mosquitto_passwd) and ACL: a kit may publish only under its own
topic prefix and read nothing; the collector reads every kit's readings and
status.

Accounts that are not kits (their names start with ``airtrail-``, which no kit
id may): ``airtrail-collector``, the default collector; one more per collector
replica (``airtrail device add-collector``); and ``airtrail-probe``, which
`airtrail stack status` logs in with, so that a status check never connects
as a collector. The local broker binds every session to its account
(``use_username_as_clientid``, see collector.stack.services), so each replica
needs its own account: its client id is its user name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from airkit import contract as wire

from .contract import DEVICE_ID
from .errors import DeviceError
from .settings import COLLECTOR_USER

# mosquitto_passwd's defaults (mosquitto 2.x): PBKDF2-SHA512, 101 rounds, 12-byte salt.
_PBKDF2_ROUNDS = 101

# How a fixed kit's registered location may be published: "coarse" snaps it to
# the centre of a COARSE_GRID_DEG cell (0.01° is 1.1 km north-south and 0.64-0.79 km
# east-west at 45-55° N), "exact" publishes it as registered. The snap is the
# same for every answer: a fresh random shift per answer would average back to
# the true point over many answers.
LOCATION_PRIVACY = ("coarse", "exact")
COARSE_GRID_DEG = 0.01


@dataclass
class Device:
    device_id: str
    password: str
    created: float
    rotated: float | None = None
    note: str = ""
    # Where a fixed kit stands, as its owner registered it (WGS84 degrees), and
    # how precisely it may be published. Absent from older registry files.
    lat: float | None = None
    lon: float | None = None
    location_privacy: str = "coarse"

    def __post_init__(self) -> None:
        try:
            check_location(self.lat, self.lon, self.location_privacy)
        except DeviceError as exc:  # the registry reports a ValueError as a damaged file
            raise ValueError(f"{self.device_id}: {exc}") from None

    def published_location(self) -> tuple[float, float] | None:
        """The registered location as the owner lets it be published, or None if none is registered."""
        if self.lat is None or self.lon is None:
            return None
        if self.location_privacy == "exact":
            return self.lat, self.lon
        return _snap(self.lat, 90.0), _snap(self.lon, 180.0)


def _snap(degrees: float, bound: float) -> float:
    centre = (math.floor(degrees / COARSE_GRID_DEG) + 0.5) * COARSE_GRID_DEG
    return round(min(max(centre, -bound), bound), 6)


def check_location(lat: float | None, lon: float | None, privacy: str = "coarse") -> None:
    if privacy not in LOCATION_PRIVACY:
        raise DeviceError(f"location privacy {privacy!r} is neither of {', '.join(LOCATION_PRIVACY)}")
    if (lat is None) != (lon is None):
        raise DeviceError("a location needs both a latitude and a longitude")
    if lat is not None and lon is not None:
        if not (math.isfinite(lat) and -90 <= lat <= 90 and math.isfinite(lon) and -180 <= lon <= 180):
            raise DeviceError(f"{lat},{lon} is not a place on Earth: latitude is -90..90, longitude -180..180 (decimal degrees, WGS84)")


def parse_location(text: str) -> tuple[float, float]:
    """"LAT,LON" in decimal degrees, as `airtrail device add --location` takes it."""
    try:
        lat, lon = (float(part) for part in text.split(","))
    except ValueError:
        raise DeviceError(f"location {text!r} is not LAT,LON: give decimal degrees, e.g. --location 52.3702,4.8952") from None
    check_location(lat, lon)
    return lat, lon


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ROUNDS)
    return f"$7${_PBKDF2_ROUNDS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


SERVICE_PREFIX = "airtrail-"  # accounts that are not kits: collectors, the status probe
PROBE_USER = "airtrail-probe"


def check_device_id(device_id: str) -> str:
    if device_id.startswith(SERVICE_PREFIX):
        raise DeviceError(f"{device_id!r} is reserved: ids starting with {SERVICE_PREFIX!r} are airtrail's own broker accounts "
                          "(collectors); give the kit another id, e.g. kit-01")
    if not DEVICE_ID.match(device_id):
        raise DeviceError(
            f"{device_id!r} is not a valid device id: use 1-32 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit (it becomes an MQTT topic level and user name)"
        )
    return device_id


def _new_password() -> str:
    return secrets.token_urlsafe(18)


class DeviceRegistry:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._devices: dict[str, Device] = {}
        # Service accounts (collectors, the probe): user name -> password.
        self._accounts: dict[str, str] = {}
        if path.exists():
            try:
                doc = json.loads(path.read_text())
                self._devices = {d["device_id"]: Device(**d) for d in doc.get("devices", [])}
                if doc.get("collector", {}).get("password"):
                    self._accounts[COLLECTOR_USER] = doc["collector"]["password"]
                self._accounts.update({a["username"]: a["password"] for a in doc.get("accounts", [])})
            except (ValueError, KeyError, TypeError) as exc:
                raise DeviceError(f"the device registry {path} is damaged ({exc}); restore it from a backup") from exc
        missing = [name for name in (COLLECTOR_USER, PROBE_USER) if name not in self._accounts]
        for name in missing:
            self._accounts[name] = _new_password()
        if missing:
            self.save()

    @property
    def collector_password(self) -> str:
        return self._accounts[COLLECTOR_USER]

    @property
    def probe_password(self) -> str:
        return self._accounts[PROBE_USER]

    def collectors(self) -> list[str]:
        """The collector accounts, the default one first."""
        return [COLLECTOR_USER, *sorted(a for a in self._accounts if a not in (COLLECTOR_USER, PROBE_USER))]

    def add_collector(self, username: str) -> str:
        """A broker account for one more collector replica; returns its password."""
        if not username.startswith(SERVICE_PREFIX) or not DEVICE_ID.match(username) or username == PROBE_USER:
            raise DeviceError(f"{username!r} cannot be a collector account: use {SERVICE_PREFIX}<name> with lower-case letters, "
                              f"digits, '-' or '_', at most 32 characters (e.g. {COLLECTOR_USER}-2)")
        if username in self._accounts:
            raise DeviceError(f"the collector account {username!r} exists already")
        self._accounts[username] = _new_password()
        self.save()
        return self._accounts[username]

    def remove_collector(self, username: str) -> None:
        if username not in self.collectors() or username == COLLECTOR_USER:
            raise DeviceError(f"{username!r} is not a collector account that can be removed (the default {COLLECTOR_USER} stays)")
        del self._accounts[username]
        self.save()

    def account_password(self, username: str) -> str:
        try:
            return self._accounts[username]
        except KeyError:
            raise DeviceError(f"there is no collector account {username!r}; create it with `airtrail device add-collector {username}`") from None

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "collector": {"username": COLLECTOR_USER, "password": self._accounts[COLLECTOR_USER]},
            "accounts": [{"username": name, "password": pw} for name, pw in sorted(self._accounts.items()) if name != COLLECTOR_USER],
            "devices": [asdict(d) for d in sorted(self._devices.values(), key=lambda d: d.device_id)],
        }
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=2)
        os.replace(tmp, self.path)

    def add(self, device_id: str, note: str = "", location: tuple[float, float] | None = None, location_privacy: str = "coarse") -> Device:
        check_device_id(device_id)
        if device_id in self._devices:
            raise DeviceError(f"device {device_id!r} is already registered; use `airtrail device rotate {device_id}` for a new password")
        lat, lon = location or (None, None)
        check_location(lat, lon, location_privacy)
        device = Device(device_id, _new_password(), time.time(), note=note, lat=lat, lon=lon, location_privacy=location_privacy)
        self._devices[device_id] = device
        self.save()
        return device

    def get(self, device_id: str) -> Device:
        check_device_id(device_id)  # a malformed id is its own problem: no command could register it
        try:
            return self._devices[device_id]
        except KeyError:
            raise DeviceError(f"device {device_id!r} is not registered; add it with `airtrail device add {device_id}`") from None

    def remove(self, device_id: str) -> None:
        self.get(device_id)
        del self._devices[device_id]
        self.save()

    def rotate(self, device_id: str) -> Device:
        device = self.get(device_id)
        device.password = _new_password()
        device.rotated = time.time()
        self.save()
        return device

    def locate(self, device_id: str, location: tuple[float, float] | None, location_privacy: str = "coarse") -> Device:
        """Register where a fixed kit stands (None: forget it) and how precisely to publish it."""
        device = self.get(device_id)
        lat, lon = location or (None, None)
        check_location(lat, lon, location_privacy)
        device.lat, device.lon, device.location_privacy = lat, lon, location_privacy
        self.save()
        return device

    def __iter__(self):
        return iter(sorted(self._devices.values(), key=lambda d: d.device_id))

    def __len__(self) -> int:
        return len(self._devices)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._devices

    # Mosquitto's files -------------------------------------------------------

    def password_file(self) -> str:
        lines = [f"{name}:{mosquitto_hash(pw)}" for name, pw in sorted(self._accounts.items())]
        lines += [f"{d.device_id}:{mosquitto_hash(d.password)}" for d in self]
        return "\n".join(lines) + "\n"

    def acl_file(self) -> str:
        root = wire.TOPIC_ROOT
        collectors = "".join(
            f"user {name}\ntopic read {root}/+/{wire.READINGS}\ntopic read {root}/+/{wire.STATUS}\n\n" for name in self.collectors()
        )
        return (
            "# Generated by airtrail from devices.json; edits are overwritten.\n"
            "# Collector accounts read every kit's readings and status.\n"
            + collectors
            + f"# {PROBE_USER} (airtrail stack status) may only log in.\nuser {PROBE_USER}\n\n"
            "# Every other account is a kit: it may publish only under its own\n"
            "# prefix (%u is the user name, which is the device id) and read nothing.\n"
            f"pattern write {root}/%u/{wire.READINGS}\n"
            f"pattern write {root}/%u/{wire.STATUS}\n"
        )

    def write_broker_files(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        passwd, acl = directory / "passwd", directory / "acl"
        for path, text in ((passwd, self.password_file()), (acl, self.acl_file())):
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, path)
        return passwd, acl
