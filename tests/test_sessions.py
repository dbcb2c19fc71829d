"""A collector's session belongs to its account: no other account can take it.

The broker keeps a collector's backlog in its persistent session while the
collector is down. Mosquitto does not tie client ids to accounts by itself, so
a kit's credentials with the collector's client id and a clean start used to
erase that session, and with it readings the broker had acknowledged to kits.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

from collector.service import Collector
from collector.stack import free_port
from tests.support.stack import count_points, message, publish_all, reading, settings_env, wait_for


def _connect_clean(stack, username: str, password: str, client_id: str) -> None:
    """Connect with a clean start and no session expiry: what wipes a session, if the broker lets it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    connected: list[object] = []
    client.on_connect = lambda c, u, flags, rc, props: connected.append(rc)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    client.connect("127.0.0.1", stack.mqtt_port, keepalive=10, clean_start=True, properties=props)
    client.loop_start()
    wait_for(lambda: connected, timeout=10, what="the CONNACK")
    client.disconnect()
    client.loop_stop()


def test_a_kits_credentials_with_the_collectors_client_id_leave_its_backlog_intact(stack, collector_settings):
    device = "sess-" + uuid.uuid4().hex[:6]
    password = stack.add_device(device)
    with Collector(collector_settings) as collector:  # creates the persistent session, then goes away
        assert collector.wait_subscribed(30)
    publish_all(stack, device, [message(device, [reading(seq)]) for seq in range(200)])  # queued for the collector

    _connect_clean(stack, device, password, client_id=collector_settings.mqtt.client_id)

    with Collector(collector_settings):
        wait_for(lambda: count_points(collector_settings, device) >= 200, timeout=60, what="the queued backlog")
    assert count_points(collector_settings, device) == 200


def test_each_collector_replica_has_its_own_account_and_so_its_own_session(stack, tmp_path):
    a = stack.collector_settings(tmp_path / "a")
    b = stack.collector_settings(tmp_path / "b")
    assert a.mqtt.username != b.mqtt.username
    assert a.mqtt.client_id == a.mqtt.username  # the broker uses the user name as the client id anyway


def test_a_second_serve_on_a_busy_port_is_a_problem_and_leaves_the_running_collector_alone(stack, collector_settings, tmp_path):
    airtrail = str(Path(sys.executable).with_name("airtrail"))
    env = settings_env(collector_settings)
    port = str(free_port())
    log_path = tmp_path / "first.log"
    with open(log_path, "wb") as log:
        first = subprocess.Popen([airtrail, "serve", "--port", port], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()["broker"]["connected"] is True
            except (httpx.HTTPError, ValueError, KeyError):
                return False

        wait_for(healthy, timeout=60, what="the first serve")
        before = log_path.read_text()
        second = subprocess.run([airtrail, "serve", "--port", port], env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert second.stderr.startswith("Problem: ") and port in second.stderr and "Traceback" not in second.stderr
        time.sleep(2)  # a takeover would show within a reconnect
        after = log_path.read_text()[len(before):]
        assert "not connected" not in after and "taken over" not in after and "lost the connection" not in after, after
        assert healthy()
    finally:
        first.terminate()
        first.wait(30)
