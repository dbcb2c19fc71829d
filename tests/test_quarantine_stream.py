"""Malformed messages in a live stream are quarantined; the valid ones around them are stored."""

from __future__ import annotations

import base64
import random

import pytest
from fastapi.testclient import TestClient
from hypothesis import Phase, given, settings
from pydantic import SecretStr

from collector.api.app import create_app
from tests.support.malformed import broken_messages, known_cases
from tests.support.stack import publish_all, count_points, message, reading, select_readings, wait_for

pytestmark = pytest.mark.slow


def _hypothesis_payloads(device: str, n: int) -> list[bytes]:
    collected: list[bytes] = []

    @settings(max_examples=n, database=None, phases=[Phase.generate], deadline=None)
    @given(broken_messages(device))
    def gather(payload: bytes) -> None:
        collected.append(payload)

    gather()
    return collected


def test_malformed_messages_mixed_into_a_valid_stream_are_each_quarantined(stack, collector, collector_settings):
    device = "mixed-01"
    bad = [p for _, p in known_cases(device)] + _hypothesis_payloads(device, 220)
    assert len(bad) >= 200
    valid = [message(device, [reading(seq)]) for seq in range(1000)]
    stream = [(True, p) for p in valid] + [(False, p) for p in bad]
    random.Random(7).shuffle(stream)

    publish_all(stack, device, [payload for _, payload in stream])

    def quarantined() -> int:
        return sum(1 for item in collector.quarantine.list(limit=10_000) if item["topic"] == pub_topic)

    pub_topic = f"airtrail/v1/{device}/readings"
    wait_for(lambda: quarantined() >= len(bad) and count_points(collector_settings) >= len(valid), what="all messages handled")
    assert collector.wait_idle()
    assert quarantined() == len(bad)
    assert [row[1] for row in select_readings(collector_settings, device)] == list(range(1000))
    assert collector.worker.is_alive()

    collector.settings.api.admin_token = SecretStr("t0ken")
    api = TestClient(create_app(collector))
    listing = api.get("/quarantine", params={"limit": 1000}, headers={"Authorization": "Bearer t0ken"}).json()
    mine = [item for item in listing["items"] if item["topic"] == pub_topic]
    assert len(mine) == len(bad)
    assert all(item["reason"] and item["detail"] for item in mine)
    assert {item["reason"] for item in mine} == {reason for reason, _ in known_cases(device)}
    assert {item["payload_base64"] for item in mine} == {base64.b64encode(p).decode() for p in bad}
