"""/devices survives a collector restart: what offline kits last said, and when they were last seen."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from collector.api.app import create_app
from collector.device_state import DeviceStates
from collector.service import Collector
from tests.support.stack import Publisher, count_points, message, publish_all, reading, wait_for


def _devices(collector: Collector) -> dict[str, dict]:
    return {d["device_id"]: d for d in TestClient(create_app(collector)).get("/devices").json()}


def test_a_collector_restart_leaves_devices_unchanged_for_offline_kits(stack, collector_settings):
    kit = "state-" + uuid.uuid4().hex[:6]
    status_topic = f"airtrail/v1/{kit}/status"
    with Collector(collector_settings) as collector:
        assert collector.wait_subscribed(30)
        publish_all(stack, kit, [message(kit, [reading(seq) for seq in range(5)], fw="0.3.1")])
        publisher = Publisher(stack, kit)
        # Retained, as a kit publishes them; then its last will.
        publisher.client.publish(status_topic, b'{"v":1,"dev":"%s","online":true,"fw":"0.3.1","mode":"walk","batt_v":3.87,'
                                 b'"sensors":{"pms5003":"ok","gps":"nofix"}}' % kit.encode(), qos=1, retain=True).wait_for_publish(10)
        publisher.client.publish(status_topic, b'{"v":1,"dev":"%s","online":false}' % kit.encode(), qos=1, retain=True).wait_for_publish(10)
        publisher.close()
        wait_for(lambda: count_points(collector_settings, kit) == 5 and getattr(collector.states.get(kit), "status", {}).get("online") is False,
                 what="the readings and the offline status")
        before = _devices(collector)[kit]
    assert before["online"] is False and before["battery_v"] == 3.87 and before["mode"] == "walk"

    with Collector(collector_settings) as restarted:
        assert restarted.wait_subscribed(30)
        # The broker redelivers the retained last will on subscribing: no news, not a sign of life.
        messages = restarted.telemetry.messages.labels(kind="status")
        wait_for(lambda: restarted.telemetry.value(messages) >= 1, what="the retained status")
        restarted.wait_idle(30)
        after = _devices(restarted)[kit]
    assert before.pop("readings_since_start") == 5 and after.pop("readings_since_start") == 0  # by its name: since this start
    assert after == before


def test_a_damaged_state_file_is_set_aside_not_fatal(tmp_path):
    path = tmp_path / "device-states.json"
    path.write_text("{not json")
    states = DeviceStates(path)
    assert states.all() == []
    assert (tmp_path / "device-states.damaged").read_text() == "{not json"


def test_states_are_saved_only_when_they_changed(tmp_path):
    path = tmp_path / "device-states.json"
    states = DeviceStates(path)
    states.save()
    assert not path.exists()
    states.saw_status("kit-01", 1_800_000_000.0, {"v": 1, "dev": "kit-01", "online": True, "fw": "0.1.0"})
    states.save()
    assert DeviceStates(path).get("kit-01").firmware == "0.1.0"


def test_a_live_status_is_a_sign_of_life_even_unchanged_and_a_retained_one_is_news_but_not_life():
    states = DeviceStates()
    alive = {"v": 1, "dev": "kit-01", "online": True, "fw": "0.3.1", "mode": "walk"}
    states.saw_status("kit-01", 1_800_000_000.0, alive)
    states.saw_status("kit-01", 1_800_000_060.0, dict(alive))  # the kit says the same again a minute later
    assert states.get("kit-01").last_seen == 1_800_000_060.0
    # The broker hands over the retained status when the collector resubscribes: what the kit last
    # said (here, that it went away while the collector was not listening), not that it is there now.
    states.saw_status("kit-01", 1_800_000_600.0, {"v": 1, "dev": "kit-01", "online": False}, retained=True)
    state = states.get("kit-01")
    assert state.last_seen == 1_800_000_060.0 and state.status == {**alive, "online": False}
    # A collector that never heard the kit learns its state from the retained copy, and no time it was seen.
    fresh = DeviceStates()
    fresh.saw_status("kit-02", 1_800_000_600.0, {"v": 1, "dev": "kit-02", "online": True, "fw": "0.3.2"}, retained=True)
    assert fresh.get("kit-02").last_seen is None and fresh.get("kit-02").firmware == "0.3.2"
