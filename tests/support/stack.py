"""A private local stack for tests: real Mosquitto and InfluxDB on free ports.

Each test gets its own InfluxDB database, collector data folder and MQTT client
id, so tests share the (slow to start) servers but never each other's data.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from collector.influx.client import InfluxQL
from collector.settings import Settings, load_settings
from collector.stack import Stack, free_port

SCALE = os.environ.get("AIRTRAIL_TEST_SCALE", "short")


def scaled(short: int, full: int) -> int:
    return full if SCALE == "full" else short


@dataclass
class TestStack:
    __test__ = False  # a fixture's helper, not a test class (its name starts with Test)
    root: Path
    stack: Stack
    settings: Settings

    @classmethod
    def start(cls, root: Path) -> "TestStack":
        settings = load_settings(
            **{
                "data_dir": str(root),
                "stack.mqtt_port": free_port(),
                "stack.influx_port": free_port(),
                "stack.influx_rpc_port": free_port(),
            }
        )
        stack = Stack.from_settings(settings)
        stack.up()
        return cls(root, stack, settings)

    @property
    def mqtt_port(self) -> int:
        return self.settings.stack.mqtt_port

    @property
    def influx_url(self) -> str:
        return self.settings.influx.url

    def add_device(self, device_id: str) -> str:
        """Register a kit (or reuse it) and return its MQTT password."""
        registry = self.stack.registry
        device = registry.get(device_id) if device_id in registry else registry.add(device_id)
        self.stack.sync_broker_auth()  # waits for Mosquitto to re-read it
        return device.password

    def collector_account(self, name: str | None = None) -> tuple[str, str]:
        """A collector account (user name, password) of its own, made on first use.

        The broker binds each session to its account (use_username_as_clientid),
        so every collector, watcher or subscriber that must not take over
        another's session needs its own.
        """
        username = "airtrail-t-" + (name or uuid.uuid4().hex[:10])
        registry = self.stack.registry
        if username not in registry.collectors():
            registry.add_collector(username)
            self.stack.sync_broker_auth()  # waits for Mosquitto to re-read it
        return username, registry.account_password(username)

    def collector_settings(self, data_dir: Path, **overrides: Any) -> Settings:
        """Settings for a collector with its own database, data folder and account.

        ``mqtt.client_id`` in ``overrides`` names the account, so two settings
        with the same client id are the same session (a restarted collector).
        """
        username, password = self.collector_account(overrides.pop("mqtt.client_id", None))
        database = "t_" + uuid.uuid4().hex[:12]
        values = {
            "data_dir": str(data_dir),
            "stack.mqtt_port": self.settings.stack.mqtt_port,
            "stack.influx_port": self.settings.stack.influx_port,
            "stack.influx_rpc_port": self.settings.stack.influx_rpc_port,
            "influx.database": database,
            "mqtt.username": username,
            "mqtt.password": password,
            "mqtt.client_id": username,
            # Each test's collector has its own session; a short expiry stops
            # the shared broker queueing every later test's messages for it.
            "mqtt.session_expiry_s": 60,
            **overrides,
        }
        settings = load_settings(**values)
        InfluxQL(settings.influx).create_database()
        return settings

    def stop(self) -> None:
        self.stack.down()


def count_points(settings: Settings, device: str | None = None, measurement: str = "readings") -> int:
    where = f" WHERE \"device\" = '{device}'" if device else ""
    series = InfluxQL(settings.influx).query(f'SELECT count("seq") FROM "{measurement}"{where}')
    return int(series[0]["values"][0][1]) if series else 0


def select_readings(settings: Settings, device: str, fields: str = '"seq", "pm25"') -> list[list[Any]]:
    series = InfluxQL(settings.influx).query(f"SELECT {fields} FROM \"readings\" WHERE \"device\" = '{device}'")
    return series[0]["values"] if series else []


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def reading(seq: int, ts: int | None = None, **values: float) -> dict[str, Any]:
    base = {"ts": ts if ts is not None else int(time.time()) - 3600 + seq, "clk": "ntp", "seq": seq}
    base.update(values or {"pm25": 10.0 + seq % 17, "pm10": 15.0 + seq % 23, "temp": 18.5, "rh": 60.0})
    return base


def message(device: str, readings: Iterable[dict[str, Any]], fw: str = "test-1") -> bytes:
    return json.dumps({"v": 1, "dev": device, "fw": fw, "r": list(readings)}, separators=(",", ":")).encode()


class Publisher:
    """A kit's MQTT connection as a test drives it: QoS 1, waits for PUBACKs."""

    def __init__(self, stack: TestStack, device_id: str, password: str | None = None, client_id: str | None = None) -> None:
        self.device_id = device_id
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"pub-{device_id}-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv311, clean_session=False)
        self.client.username_pw_set(device_id, password or stack.add_device(device_id))
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(0.1, 2)
        self.connected = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: self.connected.set() if not rc.is_failure else None
        self.client.connect("127.0.0.1", stack.mqtt_port)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise AssertionError(f"publisher {device_id} could not connect")
        # paho keeps QoS 1 messages published while disconnected and sends them
        # after reconnecting, so completion is counted from PUBACKs (on_publish),
        # not from publish()'s immediate result.
        self.pending: set[int] = set()
        self.acked: set[int] = set()
        self._lock = threading.Lock()
        self.client.on_publish = self._on_publish

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            self.acked.add(mid)

    def publish(self, payload: bytes, topic: str | None = None, qos: int = 1) -> None:
        topic = topic or f"airtrail/v1/{self.device_id}/readings"
        # Not under self._lock: paho calls on_publish while holding its own
        # locks, so taking ours around publish() would invert the lock order.
        info = self.client.publish(topic, payload, qos=qos)
        with self._lock:
            self.pending.add(info.mid)

    def wait_all(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self.pending -= self.acked
                self.acked.clear()
                if not self.pending:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.device_id}: broker did not acknowledge {len(self.pending)} publishes")
            time.sleep(0.01)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def mqtt5_client(stack: TestStack, username: str | None = None, password: str | None = None) -> tuple[mqtt.Client, Any]:
    """A plain paho MQTT 5 client with its network loop running, and the
    reason code of the broker's CONNACK (None if none came in 5 s)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t-" + uuid.uuid4().hex[:8], protocol=mqtt.MQTTv5)
    if username:
        client.username_pw_set(username, password)
    result: dict[str, Any] = {}
    done = threading.Event()

    def on_connect(c, userdata, flags, rc, props) -> None:
        result["rc"] = rc
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", stack.mqtt_port)
    client.loop_start()
    done.wait(5)
    return client, result.get("rc")


def publish_all(stack: TestStack, device_id: str, payloads: Iterable[bytes], topic: str | None = None) -> None:
    """Publish ``payloads`` as kit ``device_id`` at QoS 1; return once the broker acknowledged every one."""
    pub = Publisher(stack, device_id)
    try:
        for payload in payloads:
            pub.publish(payload, topic)
        pub.wait_all()
    finally:
        pub.close()


class Watcher:
    """An MQTT subscriber that is ready only once the broker has answered its
    SUBSCRIBE (SUBACK), so nothing published afterwards can be missed.

    ``granted`` holds the SUBACK's reason codes, one per topic filter; unless
    ``require_granted`` is false, a refused filter fails the constructor.
    Received messages wait in ``messages`` (a queue), in arrival order.
    """

    def __init__(
        self,
        port: int,
        topics: str | Iterable[str],
        username: str | None = None,
        password: str | None = None,
        *,
        qos: int = 1,
        protocol: int = mqtt.MQTTv311,
        require_granted: bool = True,
        timeout: float = 10.0,
    ) -> None:
        filters = [topics] if isinstance(topics, str) else list(topics)
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.granted: list[Any] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watch-" + uuid.uuid4().hex[:8], protocol=protocol)
        if username:
            self.client.username_pw_set(username, password)
        answered = threading.Event()
        refused: list[Any] = []

        def on_connect(client, userdata, flags, reason_code, properties) -> None:
            if reason_code.is_failure:
                refused.append(reason_code)
                answered.set()
            else:
                client.subscribe([(topic, qos) for topic in filters])

        def on_subscribe(client, userdata, mid, reason_codes, properties) -> None:
            self.granted = list(reason_codes)
            answered.set()

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = lambda client, userdata, msg: self.messages.put(msg)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not answered.wait(timeout) or refused:
            self.close()
            raise AssertionError(f"watcher of {filters}: " + (f"connection refused ({refused[0]})" if refused else f"no SUBACK within {timeout:.0f} s"))
        if require_granted and (len(self.granted) != len(filters) or any(rc.is_failure for rc in self.granted)):
            self.close()
            raise AssertionError(f"watcher of {filters}: subscription refused: {[str(rc) for rc in self.granted]}")

    def next(self, timeout: float = 10.0) -> mqtt.MQTTMessage:
        """The next message; raises queue.Empty if none arrives within ``timeout``."""
        return self.messages.get(timeout=timeout)

    def drain(self) -> list[mqtt.MQTTMessage]:
        """Every message received so far and not yet taken."""
        taken = []
        while True:
            try:
                taken.append(self.messages.get_nowait())
            except queue.Empty:
                return taken

    def sync(self, timeout: float = 10.0) -> None:
        """A round trip to the broker on this connection: returns once the
        broker has answered a QoS 1 publish of ours. The broker writes to a
        connection in order, so every message it routed to this watcher before
        handling that publish is then in ``messages``. The publish goes to a
        topic no account may write and nobody reads: the broker drops it (with
        a plain PUBACK, or "Not authorized" under MQTT 5)."""
        info = self.client.publish("airtrail-test/sync/" + uuid.uuid4().hex[:8], b"", qos=1)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise AssertionError(f"the broker did not acknowledge a sync publish within {timeout:.0f} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> "Watcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def settings_env(settings: Settings) -> dict[str, str]:
    """The AIRTRAIL_* environment that reproduces ``settings`` in a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRTRAIL_")}
    env.update(
        {
            "AIRTRAIL_CONFIG": os.devnull,  # no airtrail.toml, whatever the working directory
            "AIRTRAIL_DATA_DIR": str(settings.data_dir),
            "AIRTRAIL_STACK__MQTT_PORT": str(settings.stack.mqtt_port),
            "AIRTRAIL_STACK__INFLUX_PORT": str(settings.stack.influx_port),
            "AIRTRAIL_STACK__INFLUX_RPC_PORT": str(settings.stack.influx_rpc_port),
            "AIRTRAIL_INFLUX__DATABASE": settings.influx.database,
            "AIRTRAIL_MQTT__USERNAME": settings.mqtt.username or "",
            "AIRTRAIL_MQTT__PASSWORD": settings.mqtt.password.get_secret_value() if settings.mqtt.password else "",
            "AIRTRAIL_MQTT__CLIENT_ID": settings.mqtt.client_id,
        }
    )
    if settings.mqtt.share_group:
        env["AIRTRAIL_MQTT__SHARE_GROUP"] = settings.mqtt.share_group
    return env


class CollectorProcess:
    """`airtrail collect` in its own process, so a test can SIGKILL it."""

    def __init__(self, settings: Settings) -> None:
        import subprocess
        import sys

        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
        self.log = open(Path(settings.data_dir) / "collect.log", "ab")
        self.settings = settings
        airtrail = Path(sys.executable).with_name("airtrail")
        self.process = subprocess.Popen([str(airtrail), "collect"], env=settings_env(settings), stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, stack: "TestStack", timeout: float = 30.0) -> None:
        """Wait until the process stores a probe reading: its session now exists on the broker."""
        probe = "probe-" + uuid.uuid4().hex[:6]
        pub = Publisher(stack, probe)
        deadline = time.monotonic() + timeout
        seq = 0
        # A probe published before the subscription exists is never queued, so
        # keep sending until one arrives.
        while count_points(self.settings, probe) == 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"the collector process did not store a probe within {timeout:.0f} s")
            pub.publish(message(probe, [reading(seq)]))
            seq += 1
            time.sleep(0.25)
        pub.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.log.close()


def start_plain_mosquitto(directory: Path, port: int, extra_conf: str = "", timeout: float = 10.0):
    """An anonymous Mosquitto on ``port`` (plus ``extra_conf`` lines), for tests
    of the kit's own MQTT client that need a broker without the stack's
    accounts (TLS, a broker that appears later). Returns the Popen; terminate it."""
    import getpass
    import subprocess

    from collector.stack import port_in_use
    from collector.stack.process import find_binary

    conf = directory / "mosquitto.conf"
    # As root, Mosquitto would switch to the 'mosquitto' user, which cannot read tmp files.
    log = directory / "mosquitto.log"  # a file, not a pipe nobody reads: a busy broker would block on it
    conf.write_text(f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous true\nlog_dest file {log}\n{extra_conf}")
    startup = directory / "mosquitto.stderr"  # config errors come before the log file opens
    with startup.open("wb") as err:
        proc = subprocess.Popen([find_binary("mosquitto", "mosquitto"), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + timeout
    while not port_in_use(port):
        if proc.poll() is not None:
            raise AssertionError(f"mosquitto exited: {startup.read_text()} {log.read_text() if log.exists() else ''}")
        if time.monotonic() > deadline:
            proc.terminate()
            raise AssertionError("mosquitto did not start listening")
        time.sleep(0.05)
    return proc
