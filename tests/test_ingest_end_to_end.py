"""Readings published by kits end up in InfluxDB exactly once, with their values."""

from __future__ import annotations

from tests.support.stack import Publisher, count_points, message, reading, select_readings, wait_for


def test_ten_devices_a_thousand_readings_each_are_stored_exactly_once(stack, collector, collector_settings):
    devices = [f"kit-{i:02d}" for i in range(10)]
    publishers = [Publisher(stack, d) for d in devices]
    for pub in publishers:
        seq = 0
        while seq < 1000:
            # Every fourth message is a backlog batch of 25 readings.
            size = 25 if seq % 100 == 0 else 1
            pub.publish(message(pub.device_id, [reading(s) for s in range(seq, seq + size)]))
            seq += size
    for pub in publishers:
        pub.wait_all()
        pub.close()

    wait_for(lambda: count_points(collector_settings) >= 10_000, what="10,000 points in InfluxDB")
    assert collector.wait_idle()
    assert count_points(collector_settings) == 10_000
    for device in devices:
        rows = select_readings(collector_settings, device)
        assert [row[1] for row in rows] == list(range(1000))
        assert [row[2] for row in rows] == [10.0 + s % 17 for s in range(1000)]


def test_a_redelivered_reading_is_stored_once_and_counted_as_duplicate(stack, collector, collector_settings):
    pub = Publisher(stack, "kit-dup")
    payload = message("kit-dup", [reading(s, ts=1_763_900_000 + s) for s in range(5)])
    pub.publish(payload)
    pub.wait_all()
    wait_for(lambda: count_points(collector_settings, "kit-dup") == 5, what="first copy")
    pub.publish(payload)
    pub.wait_all()
    wait_for(lambda: collector.counts()["duplicates"] == 5, what="duplicates counted")
    assert count_points(collector_settings, "kit-dup") == 5
    pub.close()
