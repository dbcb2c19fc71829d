"""A refused publish costs nothing (issue 10, item 3), and nor does one nobody would store.

Virtual kits (the real airkit code on CPython) against the real Mosquitto,
collector and InfluxDB. The broker refuses a kit's messages (its ACL denies
the kit's topics, or the kit logs in with another kit's account); MQTT 5
says so in the PUBACK (0x87 Not authorized), so the kit keeps every reading
in flash, backs off, signals it, and once the account is fixed delivers them
all, exactly once. The same when no collector subscribes to the readings at
all: the broker takes them and drops them (PUBACK 0x10 No matching
subscribers), so the kit keeps them until a collector subscribes.
"""

from __future__ import annotations

import asyncio
import json
import uuid

from airkit import contract, status, uplink
from airkit.mqtt import NO_SUBSCRIBERS, NOT_AUTHORIZED
from airkit.queue import read_queue
from airkit_host.simulate import VirtualKit
from collector.service import Collector
from tests.support.stack import TestStack, Watcher, count_points, select_readings, wait_for

READINGS = 24


def new_device(stack, prefix: str) -> tuple[str, str]:
    device_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return device_id, stack.add_device(device_id)


def deny_in_the_acl(stack, device_id: str) -> None:
    """The broker's ACL as an operator might break it: the kit's account is
    there, but may not publish on its own topics any more."""
    acl = stack.stack.mosquitto.auth_dir / "acl"
    acl.write_text(acl.read_text() + f"\nuser {device_id}\ntopic deny {contract.TOPIC_ROOT}/{device_id}/#\n")
    assert stack.stack.mosquitto.reload()
    wait_for(lambda: True, timeout=0.3)  # Mosquitto re-reads the ACL after SIGHUP, asynchronously


def run_while(kit: VirtualKit, meanwhile):
    """The kit's report of READINGS readings, run while the coroutine ``meanwhile()`` does its part."""
    async def main():
        task = asyncio.create_task(meanwhile())
        report = await kit.run_async(readings=READINGS)
        await task
        return report

    return asyncio.run(main())


def all_arrived_once(settings, device_id: str, count: int) -> list[int]:
    """The seqs stored for the kit, once ``count`` arrived; each exactly once."""
    wait_for(lambda: count_points(settings, device_id) >= count, what=f"{count} readings of {device_id} in InfluxDB")
    seqs = sorted(row[1] for row in select_readings(settings, device_id))
    assert len(seqs) == count and len(set(seqs)) == count
    return seqs


def test_a_kit_the_acl_refuses_keeps_every_reading_and_delivers_them_once_after_the_fix(stack, collector, collector_settings):
    device_id, password = new_device(stack, "refused")
    statuses = Watcher(stack.mqtt_port, contract.status_topic(device_id), *stack.collector_account())
    deny_in_the_acl(stack, device_id)
    kit = VirtualKit(device_id, password, broker=("127.0.0.1", stack.mqtt_port), interval_s=10, speedup=100)
    k = kit.prepare()
    seen = {}

    async def refuse_then_fix() -> None:
        # While the ACL refuses: readings pile up in flash, none is sent.
        while k.stored < READINGS // 2 or k.uplink.refused < 3:
            await asyncio.sleep(0.05)
        seen.update(stored=k.stored, queued=k.queue.depth, sent=k.uplink.sent, refusing=k.uplink.refusing,
                    refused=k.uplink.refused, points=count_points(collector_settings, device_id))
        await asyncio.to_thread(stack.stack.sync_broker_auth)  # the ACL regenerated from the registry: fixed

    report = run_while(kit, refuse_then_fix)
    assert report.error is None, report.log
    assert seen["sent"] == 0 and seen["queued"] == seen["stored"] >= READINGS // 2
    assert seen["refusing"] == NOT_AUTHORIZED and seen["refused"] >= 3
    assert seen["points"] == 0  # nothing reached the collector while refused
    assert (report.stored, report.sent, report.queued, report.dropped) == (READINGS, READINGS, 0, 0)

    refusals = [line for line in report.log if "0x87 not authorized" in line]
    assert len(refusals) == k.uplink.refused >= 3  # each refusal is logged
    assert "Queued readings kept in flash" in refusals[0] and "ACL" in refusals[0]
    assert any("accepts the kit's messages again" in line for line in report.log)

    assert all_arrived_once(collector_settings, device_id, READINGS) == list(range(READINGS))
    # The first status that got through says how often the broker refused; the collector takes it.
    online = [json.loads(m.payload) for m in statuses.drain() if json.loads(m.payload)["online"]]
    statuses.close()
    assert online and online[0]["refused"] >= seen["refused"]
    assert collector.wait_idle()
    assert collector.quarantine.count() == 0
    kit.cleanup()


def test_a_kit_logged_in_with_another_kits_account_keeps_everything_until_it_is_reprovisioned(stack, collector, collector_settings, tmp_path):
    # The case: provisioned with device id X but the account (user
    # name and password) of kit Y. The broker takes the login, then refuses
    # every publish under X; under MQTT 3.1.1 it acknowledged them as stored.
    other, other_password = new_device(stack, "acct")
    device_id = f"mismatch-{uuid.uuid4().hex[:8]}"

    def wrong_account(cfg):
        return uplink.mqtt_client({**cfg, "mqtt": {**cfg["mqtt"], "username": other, "password": other_password}})

    kit = VirtualKit(device_id, "unused", broker=("127.0.0.1", stack.mqtt_port), interval_s=10, speedup=100,
                     data_dir=tmp_path, new_client=wrong_account)
    report = kit.run(readings=READINGS, drain_s=300)
    assert report.error is None, report.log
    assert (report.stored, report.sent, report.queued) == (READINGS, 0, READINGS)
    assert kit.kit.uplink.refusing == NOT_AUTHORIZED
    refusal = next(line for line in report.log if "0x87 not authorized" in line)
    assert repr(other) in refusal and repr(device_id) in refusal  # names the account and the kit
    assert "airtrail kit provision" in refusal
    payloads, _ = read_queue(str(tmp_path / "queue"))
    assert [json.loads(p)["seq"] for p in payloads] == list(range(READINGS))
    assert count_points(collector_settings, device_id) == 0

    # Fixed: the kit registered under its own id and re-provisioned; its flash is kept.
    password = stack.add_device(device_id)
    fixed = VirtualKit(device_id, password, broker=("127.0.0.1", stack.mqtt_port), interval_s=10, speedup=100, data_dir=tmp_path)
    report = fixed.run(readings=1)
    assert report.error is None, report.log
    assert (report.sent, report.queued) == (READINGS + 1, 0)
    # Every refused reading, then the new one (after a restart seq goes on from its next reserved block).
    assert all_arrived_once(collector_settings, device_id, READINGS + 1)[:READINGS] == list(range(READINGS))
    assert collector.quarantine.count() == 0


def test_the_led_glows_long_for_each_reading_while_the_broker_refuses(stack):
    device_id, _ = new_device(stack, "refled")
    kit = VirtualKit(device_id, "not-the-password", broker=("127.0.0.1", stack.mqtt_port), interval_s=10, speedup=100)
    k = kit.prepare()
    led = k.hw.led
    glows = []  # (refusing when lit, virtual ms lit)

    class WatchedLED:
        def value(self, v=None):
            if v is None:
                return led.value()
            if v == 1:
                glows.append([k.uplink.refusing, k.tb.ticks_ms()])
            elif glows and isinstance(glows[-1][1], int) and len(glows[-1]) == 2:
                glows[-1].append(k.tb.ticks_diff(k.tb.ticks_ms(), glows[-1][1]))
            return led.value(v)

    k.hw.led = WatchedLED()
    report = kit.run(readings=6, drain_s=0)
    assert report.error is None, report.log
    refused_login = next(line for line in report.log if "CONNACK 0x87" in line)
    assert "airtrail device list" in refused_login and "Queued readings kept in flash" in refused_login
    assert report.queued == 6
    # Once the login was refused, each stored reading lights the LED for
    # REFUSED (a virtual clock: a sleep never ends early), not HEARTBEAT.
    refused = [g for g in glows if g[0] == NOT_AUTHORIZED and len(g) == 3]
    assert refused and all(g[2] >= status.REFUSED[0][0] for g in refused)
    assert status.REFUSED[0][0] >= 10 * status.HEARTBEAT[0][0]
    kit.cleanup()


def test_a_kit_whose_broker_has_no_collector_keeps_its_readings_until_one_subscribes(tmp_path):
    # A broker of its own: on the shared one, earlier tests' collectors' sessions still subscribe.
    own = TestStack.start(tmp_path / "stack")
    collector = None
    try:
        device_id, password = new_device(own, "lonely")
        kit = VirtualKit(device_id, password, broker=("127.0.0.1", own.mqtt_port), interval_s=10, speedup=100)
        k = kit.prepare()
        settings = own.collector_settings(tmp_path / "collector")
        seen = {}

        async def then_start_a_collector() -> None:
            # Nobody subscribes: MQTT 5 says so (PUBACK 0x10), and the readings stay in flash.
            while k.stored < READINGS // 2 or k.uplink.refused < 2:
                assert k.uplink.sent == 0, "the kit counted readings as sent that nobody subscribed to"
                await asyncio.sleep(0.05)
            seen.update(sent=k.uplink.sent, queued=k.queue.depth, stored=k.stored, refusing=k.uplink.refusing)
            nonlocal collector
            collector = await asyncio.to_thread(lambda: Collector(settings).start())
            assert await asyncio.to_thread(collector.wait_subscribed)

        report = run_while(kit, then_start_a_collector)
        assert report.error is None, report.log
        assert seen["sent"] == 0 and seen["queued"] == seen["stored"] >= READINGS // 2
        assert seen["refusing"] == NO_SUBSCRIBERS
        dropped = [line for line in report.log if "0x10 no matching subscribers" in line]
        assert dropped and "No collector subscribes" in dropped[0] and "airtrail serve" in dropped[0]
        assert (report.stored, report.sent, report.queued, report.dropped) == (READINGS, READINGS, 0, 0)
        assert all_arrived_once(settings, device_id, READINGS) == list(range(READINGS))
        kit.cleanup()
    finally:
        if collector is not None:
            collector.stop()
        own.stop()
