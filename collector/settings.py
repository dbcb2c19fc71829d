"""The one place configuration enters airtrail.

Precedence, highest first: CLI flags (passed to ``load_settings`` as
overrides), ``AIRTRAIL_*`` environment variables (nested with ``__``, e.g.
``AIRTRAIL_INFLUX__URL``), an ``airtrail.toml`` file (``AIRTRAIL_CONFIG`` names
another), then the defaults below.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from airkit import contract as wire

from .errors import ConfigError

COLLECTOR_USER = "airtrail-collector"


class _Section(BaseModel):
    # A misspelt key in airtrail.toml is an error, not a silently ignored line.
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _empty_means_unset(cls, data: Any) -> Any:
        # `token = ""` in airtrail.toml or AIRTRAIL_INFLUX__TOKEN= in the
        # environment means "not set", not a credential made of nothing.
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {k: None if v == "" and k in fields and fields[k].default is None else v for k, v in data.items()}


def default_data_dir() -> Path:
    return Path(user_data_dir("airtrail", appauthor=False))


class MqttSettings(_Section):
    host: str = "127.0.0.1"
    # Defaults to the local stack's port (stack.mqtt_port).
    port: int = 11883
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    ca_file: Path | None = None
    # Fixed, so the broker keeps this session's backlog across restarts.
    # Default: the user name (the local stack's broker uses it as the client id
    # whatever is sent, see collector.stack.services), else airtrail-collector.
    client_id: str | None = None
    # Set to share the readings subscription ($share/<group>/...) between
    # several collector replicas; each replica needs its own client_id.
    share_group: str | None = None
    # MQTT 5 Receive Maximum: how many unacknowledged QoS 1 messages the broker
    # may have in flight to us. We ack only after storage, so this window is
    # what keeps throughput up (Mosquitto's default of 20 would starve us).
    receive_maximum: int = Field(default=4000, ge=20, le=65535)
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=60)
    keepalive_s: int = 30


class InfluxSettings(_Section):
    # Defaults to the local stack's InfluxDB (stack.influx_port).
    url: str = "http://127.0.0.1:18086"
    # v1: /write and /query (InfluxDB 1.x, the 1.x compatibility API of 2.x/3.x)
    # v2: /api/v2/write through influxdb-client (1.8+, 2.x, 3.x, Cloud)
    transport: Literal["v1", "v2"] = "v1"
    database: str = "airtrail"
    retention_policy: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    org: str | None = None
    bucket: str | None = None
    timeout_s: float = 10.0

    @field_validator("url")
    @classmethod
    def _url_has_a_scheme(cls, url: str) -> str:
        # "127.0.0.1:18086" would be read as scheme "127.0.0.1" and fail at the
        # first write, long after start; say it now.
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"an InfluxDB URL starts with http:// or https://, e.g. http://{url.split('://')[-1]}")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _v2_needs_bucket(self) -> "InfluxSettings":
        if self.transport == "v2" and not (self.bucket or self.database):
            raise ValueError("influx.transport = 'v2' needs influx.bucket")
        return self


class CollectorSettings(_Section):
    batch_max_readings: int = Field(default=2000, ge=1)
    batch_linger_s: float = Field(default=0.05, ge=0)
    spool_max_bytes: int = Field(default=1024**3, ge=1024 * 1024)
    spool_warn_ratio: float = Field(default=0.8, gt=0, le=1)
    replay_batch_lines: int = Field(default=5000, ge=1)
    max_payload_bytes: int = wire.MAX_PAYLOAD_BYTES
    # Received but not yet handled; past this the collector stops reading from
    # the broker until it catches up (the broker keeps the rest).
    inbox_max_bytes: int = Field(default=64 * 1024 * 1024, ge=64 * 1024)


class ApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8000
    admin_token: SecretStr | None = None
    # Reading endpoints (/devices, readings) are public unless this is false,
    # in which case they need the read token (or the admin token).
    public_read: bool = True
    read_token: SecretStr | None = None
    # Where callers reach the API (https://air.example.org, or behind a proxy's path prefix): the
    # base of the next-page links. Unset, the links are the path and query alone, resolved against
    # the request: never built from the caller's Host header, which the caller chooses.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


class StackSettings(_Section):
    """Ports of the local stack that `airtrail stack up` runs.

    Not the services' usual ports (1883, 8086), so that the stack runs beside a
    system Mosquitto or InfluxDB that a Debian package may have started.
    """

    mqtt_port: int = 11883
    influx_port: int = 18086
    influx_rpc_port: int = 18088
    # The address kits reach this computer at (its address on the workshop
    # Wi-Fi, e.g. 192.168.1.10). Unset: the broker listens on 127.0.0.1 only,
    # for the collector. Set: a second listener on kit_address:kit_port, for
    # kits, with the same accounts (authentication is always on).
    kit_address: str | None = None
    kit_port: int = Field(default=18883, ge=1, le=65535)
    # TLS on the kit listener, with a CA and server certificate that `stack up`
    # makes in the stack folder. Off only on a trusted hotspot: the kits'
    # passwords then travel in clear.
    kit_tls: bool = True

    @field_validator("kit_address")
    @classmethod
    def _kits_can_reach_it(cls, address: str | None) -> str | None:
        if address is None:
            return None
        address = address.strip()
        if is_loopback(address):
            raise ValueError(f"{address} is this computer's loopback, which a kit on Wi-Fi cannot reach; "
                             "use the address of this computer on the kits' network (`ip -brief addr` lists them)")
        if address in ("0.0.0.0", "::") or not address.replace(".", "").replace("-", "").replace(":", "").isalnum():
            raise ValueError(f"{address!r} is not one address: give the IP address (or host name) kits connect to")
        return address

    @model_validator(mode="after")
    def _kit_port_is_its_own(self) -> "StackSettings":
        if self.kit_address is not None and self.kit_port in (self.mqtt_port, self.influx_port, self.influx_rpc_port):
            raise ValueError(f"stack.kit_port {self.kit_port} is already used by another service of the stack; choose another")
        return self


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses that only this computer reaches."""
    if host.lower().rstrip(".") in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AIRTRAIL_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    mqtt: MqttSettings = MqttSettings()
    influx: InfluxSettings = InfluxSettings()
    collector: CollectorSettings = CollectorSettings()
    api: ApiSettings = ApiSettings()
    stack: StackSettings = StackSettings()

    @model_validator(mode="after")
    def _follow_local_stack(self) -> "Settings":
        if self.mqtt.client_id is None:
            self.mqtt.client_id = self.mqtt.username or COLLECTOR_USER
        # Unless pointed elsewhere, the collector talks to the local stack.
        if "port" not in self.mqtt.model_fields_set:
            self.mqtt.port = self.stack.mqtt_port
        if "url" not in self.influx.model_fields_set:
            self.influx.url = f"http://127.0.0.1:{self.stack.influx_port}"
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = config_file_path(_explicit_config.get())
        return (
            init_settings,
            env_settings,
            _TomlFile(settings_cls, toml_file=toml_file),
        )

    # Files the collector, the stack and the device registry share.
    @property
    def spool_path(self) -> Path:
        return self.data_dir / "collector" / "spool.sqlite"

    @property
    def device_states_path(self) -> Path:
        return self.data_dir / "collector" / "device-states.json"

    @property
    def quarantine_path(self) -> Path:
        return self.data_dir / "collector" / "quarantine.sqlite"

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "devices.json"

    @property
    def stack_dir(self) -> Path:
        return self.data_dir / "stack"


class _TomlFile(TomlConfigSettingsSource):
    """airtrail.toml, with a syntax error reported as the file and line to fix."""

    def _read_file(self, file_path: Path) -> dict[str, Any]:  # type: ignore[override]
        try:
            with open(file_path, "rb") as handle:
                return tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            # tomllib's message ends "(at line 3, column 7)": keep it, name the file.
            raise ConfigError(f"{file_path} is not valid TOML: {exc}; fix that line") from None
        except OSError as exc:
            raise ConfigError(f"cannot read the config file {file_path}: {exc.strerror}") from None


def _where(loc: tuple[Any, ...], toml_file: Path) -> str:
    """Which source gave the setting at ``loc``: an environment variable, the file, or a flag."""
    variable = "AIRTRAIL_" + "__".join(str(part) for part in loc).upper()
    if any(name.upper() == variable for name in os.environ):
        return f"environment variable {variable}"
    try:
        with open(toml_file, "rb") as handle:
            node: Any = tomllib.load(handle)
        for part in loc:
            node = node[part]
        return str(toml_file)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return "a command-line flag"


def _valid_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        model = field.annotation if field is not None else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
    return sorted(model.model_fields)


def describe_invalid(exc: ValidationError, toml_file: Path) -> str:
    """One sentence per problem: the dotted key, where it came from, and what to change."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        key = ".".join(str(part) for part in loc) or "settings"
        where = _where(loc, toml_file) if loc else "the settings"
        if err["type"] == "extra_forbidden":
            valid = _valid_keys(loc)
            section = ".".join(str(part) for part in loc[:-1])
            known = f"; the keys{' of [' + section + ']' if section else ''} are {', '.join(valid)}" if valid else ""
            problems.append(f"unknown setting {key} (from {where}){known}")
        else:
            given = f" (got {err['input']!r})" if not isinstance(err.get("input"), dict) and "input" in err else ""
            problems.append(f"{key} from {where}: {err['msg'][0].lower() + err['msg'][1:]}{given}")
    return "; ".join(problems)


# The --config of the Settings being built: pydantic-settings asks for its
# sources in a classmethod, so it cannot come as an argument. A ContextVar keeps
# loads in different threads apart.
_explicit_config: ContextVar[Path | None] = ContextVar("airtrail_config_file", default=None)


def config_file_path(explicit: Path | None = None) -> Path:
    """The airtrail.toml to read: --config, else $AIRTRAIL_CONFIG, else ./airtrail.toml (if it is there).

    A file the user named (flag or variable) must exist: a typo there would
    otherwise run airtrail on defaults without a word.
    """
    named, source = (explicit, "--config") if explicit is not None else (os.environ.get("AIRTRAIL_CONFIG") or None, "AIRTRAIL_CONFIG")
    if named is None:
        return Path("airtrail.toml")
    path = Path(named).expanduser()
    if path.is_dir():
        raise ConfigError(f"config file {path} (from {source}) is a folder: name the airtrail.toml file inside it")
    if not path.exists():  # /dev/null exists: it means "no file"
        raise ConfigError(f"config file {path} (from {source}) does not exist; create it or fix the path")
    return path


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from file and environment, with CLI flags (``overrides``) on top.

    ``config_file`` (the CLI's --config) replaces ./airtrail.toml and
    $AIRTRAIL_CONFIG; see ``config_file_path``.

    Overrides use dotted names for nested values: ``{"mqtt.port": 1884}``.
    ``None`` values are ignored so unset CLI options do not mask the file.
    """
    nested: dict[str, Any] = {}
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = nested
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    token = _explicit_config.set(config_file)
    try:
        return Settings(**nested)
    except ValidationError as exc:
        raise ConfigError("invalid configuration: " + describe_invalid(exc, config_file_path(config_file))) from None
    finally:
        _explicit_config.reset(token)


# The front door's global flags (--config, --data-dir) for the command being
# run. Set afresh by airtrail.cli at every invocation (tests run many in one
# process); every package's commands read settings through cli_settings, which
# layers their own flags on top.
_global_flags: ContextVar[dict[str, Any]] = ContextVar("airtrail_global_flags", default={})


def use_global_flags(config_file: Path | None = None, data_dir: Path | None = None) -> None:
    """Record this invocation's --config and --data-dir; a named config file is checked now."""
    flags: dict[str, Any] = {}
    if config_file is not None:
        flags["config_file"] = config_file_path(config_file)
    if data_dir is not None:
        flags["data_dir"] = str(data_dir)
    _global_flags.set(flags)


def global_flags_argv() -> list[str]:
    """This invocation's global flags as arguments, for a child `airtrail` process."""
    flags = _global_flags.get()
    argv = ["--config", str(flags["config_file"])] if "config_file" in flags else []
    return argv + (["--data-dir", flags["data_dir"]] if "data_dir" in flags else [])


def cli_settings(**overrides: Any) -> Settings:
    """Settings for a command: its own flags (dotted ``overrides``) over the global flags."""
    return load_settings(**{**_global_flags.get(), **overrides})
