"""Each state has one owner that logs its transitions once and shows its error while it lasts."""

from __future__ import annotations

import logging
import time
import uuid

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from collector.api.app import create_app
from collector.health import Snapshot, State
from collector.service import Collector
from tests.support.stack import TestStack, wait_for

LOG = "tests.health"


def _state(**kwargs) -> State:
    return State("thing", went_down="is down", came_back="works", logger=logging.getLogger(LOG), **kwargs)


def _lines(caplog, level: int, logger: str = LOG) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == level]


def test_a_state_logs_each_transition_once_and_keeps_the_latest_cause(caplog):
    caplog.set_level(logging.INFO, LOG)
    state = _state(up=True)
    state.up()
    for cause in ("refused", "timed out", "refused again"):
        state.down(cause)
    snapshot = state.snapshot()
    assert (snapshot.up, snapshot.error) == (False, "refused again") and snapshot.since is not None
    state.up()
    state.up()
    assert _lines(caplog, logging.WARNING) == ["thing is down: refused"]
    assert len(_lines(caplog, logging.INFO)) == 1 and _lines(caplog, logging.INFO)[0].startswith("thing works again after ")
    assert state.snapshot() == Snapshot(True, None, None)


def test_the_first_report_of_a_state_not_assumed_up_is_a_transition(caplog):
    caplog.set_level(logging.INFO, LOG)
    failing, working = _state(), _state()
    failing.down("cannot connect")
    working.up(" (first time)")
    assert _lines(caplog, logging.WARNING) == ["thing is down: cannot connect"]
    assert _lines(caplog, logging.INFO) == ["thing works (first time)"]


def test_the_recovery_line_says_how_much_happened_meanwhile(caplog):
    caplog.set_level(logging.INFO, LOG)
    spooled = [100.0]
    state = _state(up=True, meanwhile=("readings spooled", lambda: spooled[0]))
    state.down("connection refused")
    spooled[0] += 1234
    state.up()
    assert _lines(caplog, logging.INFO)[0].endswith("s down; 1,234 readings spooled meanwhile")


def test_a_report_observed_before_the_last_change_is_ignored():
    state = _state(up=True)
    ping_sent = time.monotonic()
    state.down("write failed")  # noticed while the ping was on its way
    state.up(observed_at=ping_sent)
    assert state.snapshot().up is False and state.error == "write failed"


def test_a_cause_that_needs_a_person_is_logged_at_the_level_given(caplog):
    caplog.set_level(logging.INFO, LOG)
    _state(up=True).down("not authorized", level=logging.ERROR)
    assert _lines(caplog, logging.ERROR) == ["thing is down: not authorized"]


def test_an_unreachable_broker_at_start_is_a_warning_with_its_cause_and_shown_in_health(stack, tmp_path, caplog):
    caplog.set_level(logging.INFO, "airtrail")
    settings = stack.collector_settings(tmp_path / "c", **{"mqtt.port": 1})
    with Collector(settings) as collector:
        api = TestClient(create_app(collector))
        wait_for(lambda: _lines(caplog, logging.WARNING, "airtrail.mqtt"), timeout=30, what="a warning about the broker")
        [warning] = _lines(caplog, logging.WARNING, "airtrail.mqtt")
        assert "MQTT broker 127.0.0.1:1 not connected" in warning and "Connection refused" in warning
        broker = api.get("/health").json()["broker"]
        assert broker["connected"] is False and "Connection refused" in broker["error"] and broker["since"] > 0


def test_a_session_taken_over_by_a_client_with_the_same_id_is_an_error_naming_0x8e(tmp_path, caplog):
    # A broker of its own: Debian's Mosquitto 2.0.11 dies of a general protection fault (dmesg)
    # now and then when two clients take one session back and forth, and on the shared broker
    # it took every later test with it.
    own = TestStack.start(tmp_path / "stack")
    try:
        settings = own.collector_settings(tmp_path / "collector")
        with Collector(settings) as collector:
            assert collector.wait_subscribed()
            caplog.set_level(logging.INFO, "airtrail")
            mqtt_settings = settings.mqtt
            thief = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=mqtt_settings.client_id, protocol=mqtt.MQTTv5)
            thief.username_pw_set(mqtt_settings.username, mqtt_settings.password.get_secret_value())
            # As a second collector with the same settings connects: resuming the session, not wiping it.
            thief.connect("127.0.0.1", own.mqtt_port, clean_start=False)
            thief.loop_start()
            try:
                wait_for(lambda: _lines(caplog, logging.ERROR, "airtrail.mqtt"), timeout=30, what="an error about the session")
            finally:
                thief.disconnect()
                thief.loop_stop()
            error = _lines(caplog, logging.ERROR, "airtrail.mqtt")[0]
            assert "0x8E" in error and mqtt_settings.client_id in error and "add-collector" in error
            # The collector takes its session back, and the error is cleared.
            api = TestClient(create_app(collector))
            wait_for(lambda: api.get("/health").json()["broker"] == {"connected": True, "error": None, "since": None},
                     timeout=30, what="the collector to reconnect")
    finally:
        own.stop()


def test_a_refused_login_is_an_error_saying_what_to_check(stack, tmp_path, caplog):
    caplog.set_level(logging.INFO, "airtrail")
    settings = stack.collector_settings(tmp_path / "c", **{"mqtt.password": "wrong-" + uuid.uuid4().hex[:6]})
    with Collector(settings) as collector:
        wait_for(lambda: _lines(caplog, logging.ERROR, "airtrail.mqtt"), timeout=30, what="an error about the login")
        error = _lines(caplog, logging.ERROR, "airtrail.mqtt")[0]
        assert "refused the connection" in error and "mqtt.password" in error
        assert collector.health()["broker"]["error"] == collector.source.last_error != ""
