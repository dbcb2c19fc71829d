"""The kit's MQTT 5 client against the bytes the spec prescribes.

tests/support/mqtt_replay.py plays the broker's side of each conversation
from a script of bytes (as umqtt's test does) and reports the exact bytes the
kit sent and what the client did. Each scenario is checked here on CPython,
and the whole set once more under real MicroPython (the WebAssembly port),
which must give the same results. Section numbers: MQTT Version 5.0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import mqtt_replay
from tests.support.micropython import requires_micropython, run_micropython

# 3.1: CONNECT, protocol name "MQTT", version 5, flags 0xEE (user name,
# password, will retain, will QoS 1, will, clean start), keep alive 60 s,
# properties length 0; payload: client id, will properties length 0, will
# topic "t/s", will payload "off", user name, password.
CONNECT = (
    "10" "2a" "00044d515454" "05" "ee" "003c" "00"
    "0006" + b"kit-01".hex() + "00" + "0003" + b"t/s".hex() + "0003" + b"off".hex()
    + "0006" + b"kit-01".hex() + "0002" + b"pw".hex()
)
# 3.3: PUBLISH QoS 1 to "a/b", packet id 1, properties length 0, "hello".
PUBLISH_HELLO = "32" "0d" "0003" + b"a/b".hex() + "0001" "00" + b"hello".hex()

OK = ["returned", False]  # connect(): accepted, no session present

# scenario: the fields of its result that must be exactly these.
EXPECTED = {
    "connect_accepted": {"connect_sent": CONNECT, "connect": OK, "connected": True},
    "connect_session_present": {"connect": ["returned", True], "connected": True},
    # 3.2.2.3.14 Server Keep Alive replaces the kit's; 3.2.2.3.6 Maximum
    # Packet Size: the kit sends nothing larger (and nothing at all here).
    "connack_properties": {"connect": OK, "keepalive": 20, "max_packet": 64, "sent": "", "connected": True},
    "connack_bad_user_name_or_password": {"sent": "", "connected": False},
    "connack_not_authorized_with_reason_string": {"connected": False},
    "connack_from_an_mqtt311_broker": {"connected": False},
    "connack_server_busy": {"connected": False},
    # 3.4.2.1: a PUBACK of Remaining Length 2 is reason 0x00 Success.
    "publish_qos1_success_in_short_form": {"sent": PUBLISH_HELLO, "action": ["returned", 1], "connected": True},
    "publish_qos1_no_matching_subscribers_is_success": {"action": ["returned", 1], "connected": True},
    # ... except for a message that must reach someone (readings): the broker dropped it.
    "publish_that_must_reach_someone_nobody_subscribes_to": {
        "sent": PUBLISH_HELLO, "connected": True,
        "action": ["PublishRefused", 0x10, "the broker dropped the message on a/b (PUBACK 0x10 no matching subscribers)"]},
    "publish_retained_status": {"sent": "33" "08" "0001" + b"s".hex() + "0001" "00" + b"on".hex(), "action": ["returned", 1]},
    "publish_refused_not_authorized": {"sent": PUBLISH_HELLO, "connected": True},
    "publish_refused_quota_with_reason_string": {"connected": True},
    "publish_refusal_of_another_packet_is_not_ours": {"action": ["returned", 1], "connected": True},
    "publish_in_parts_is_one_message": {"sent": "32" "11" "0003" + b"a/b".hex() + "0001" "00" + b'{"r":[1]}'.hex(), "action": ["returned", 1]},
    "publish_qos0_waits_for_nothing": {"sent": "30" "08" "0003" + b"a/b".hex() + "00" + b"hi".hex(), "action": ["returned", 0], "connected": True},
    "broker_disconnects_with_a_reason": {"sent": PUBLISH_HELLO, "connected": False},
    "broker_closes_without_a_puback": {"action": ["MQTTError", None, "the broker closed the connection"], "connected": False},
    # 3.14.2.1: DISCONNECT of Remaining Length 0 is 0x00 Normal disconnection.
    "clean_disconnect": {"sent": "e000", "action": ["returned", None], "connected": False},
    "ping": {"sent": "c000", "action": ["returned", None], "connected": True},
    "decode_properties": {"props": [[0x02, 3600], [0x0B, 300]]},
}


def run(name: str) -> dict:
    return json.loads(json.dumps(mqtt_replay.SCENARIOS[name]()))  # tuples -> lists, as from MicroPython


def test_every_scenario_has_expectations():
    assert set(EXPECTED) == set(mqtt_replay.SCENARIOS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_gives_the_exact_bytes_and_outcome(name):
    result = run(name)
    assert {key: result[key] for key in EXPECTED[name]} == EXPECTED[name]
    if "connect_sent" in result:
        assert result["connect_sent"] == CONNECT


def test_a_wrong_password_is_refused_with_the_reason_and_the_fix():
    kind, reason, message = run("connack_bad_user_name_or_password")["connect"]
    assert (kind, reason) == ("ConnectRefused", 0x86)
    assert "0x86 bad user name or password" in message and "airtrail kit provision" in message


def test_a_refused_login_carries_the_brokers_reason_string():
    kind, reason, message = run("connack_not_authorized_with_reason_string")["connect"]
    assert (kind, reason) == ("ConnectRefused", 0x87)
    assert "0x87 not authorized (nope)" in message and "airtrail device list" in message


def test_an_mqtt311_broker_is_named_as_the_problem():
    kind, reason, message = run("connack_from_an_mqtt311_broker")["connect"]
    assert (kind, reason) == ("ConnectRefused", 1)
    assert "MQTT 5" in message


def test_other_connack_refusals_say_the_reason():
    assert run("connack_server_busy")["connect"] == ["ConnectRefused", 0x89, "broker refused the connection (CONNACK 0x89 server busy)"]


def test_a_refused_publish_raises_publish_refused_and_keeps_the_connection():
    result = run("publish_refused_not_authorized")
    assert result["action"] == ["PublishRefused", 0x87, "the broker refused the message on a/b (PUBACK 0x87 not authorized)"]
    assert result["connected"]


def test_a_refused_publish_carries_the_brokers_reason_string():
    assert run("publish_refused_quota_with_reason_string")["action"] == [
        "PublishRefused", 0x97, "the broker refused the message on a/b (PUBACK 0x97 quota exceeded (quota))"]


def test_a_message_over_the_brokers_maximum_packet_size_is_refused_before_sending():
    assert run("connack_properties")["action"] == ["PublishRefused", 0x95, "a message of 72 bytes is over the broker's Maximum Packet Size of 64"]


def test_a_disconnect_from_the_broker_raises_with_its_reason_and_closes():
    result = run("broker_disconnects_with_a_reason")
    assert result["action"] == ["MQTTError", 0x8E, "the broker disconnected the kit (DISCONNECT 0x8e session taken over)"]
    assert not result["connected"]


@requires_micropython
def test_every_scenario_gives_the_same_result_under_micropython():
    source = (Path(mqtt_replay.__file__)).read_text()
    micropython = json.loads(run_micropython(source + "\nimport json\nprint(json.dumps(run_all()))\n"))
    assert micropython == {name: run(name) for name in mqtt_replay.SCENARIOS}
    for name, expected in EXPECTED.items():
        assert {key: micropython[name][key] for key in expected} == expected, name
