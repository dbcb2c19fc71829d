"""Ingest throughput of the collector against baselines measured in the same run.

Starts a private Mosquitto + InfluxDB (temporary folder, free ports), then for
each consumer publishes the same N readings, one per MQTT message at QoS 1,
from many simulated kits in separate publisher processes into that consumer's
persistent session while it is offline, and times how fast the consumer drains
the backlog. Draining a backlog measures the consumer, not the publishers.

    collector  airtrail's collector: validate, write to InfluxDB, ack after
               storage; counted in InfluxDB
    (a) broker a do-nothing paho subscriber, same library, MQTT 5, QoS 1
    (b) influx bulk line-protocol writes of the same points, 5,000 per request
    (c) naive  a tutorial collector: paho on_message doing one synchronous
               InfluxDB write per message
    lean       for reference, not a target: the do-nothing subscriber on
               airtrail's own client (collector/mqtt_client.py), i.e. the
               ceiling of the collector's receive and ack path

Targets: collector >= 0.5 x min(a, b) and >= 10 x (c).
The last line printed is one JSON object with the figures.

    python benchmarks/ingest.py [--readings N] [--devices D] [--naive-readings M]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.influx.client import InfluxQL  # noqa: E402
from collector.influx.lineproto import reading_line  # noqa: E402
from collector.mqtt_client import CollectorClient  # noqa: E402
from collector.service import Collector  # noqa: E402
from collector.settings import Settings, load_settings  # noqa: E402
from collector.stack import Stack, free_port  # noqa: E402

TOPIC = "airtrail/v1/{}/readings"
BASE_TS = int(time.time()) - 2 * 86400


def payload(device: str, seq: int) -> bytes:
    reading = {"ts": BASE_TS + seq, "clk": "ntp", "seq": seq, "pm1": 4.0 + seq % 5, "pm25": 9.5 + seq % 13,
               "pm10": 14.2 + seq % 17, "temp": 17.25, "rh": 61.5, "pressure": 1008.4}
    return json.dumps({"v": 1, "dev": device, "fw": "bench", "r": [reading]}, separators=(",", ":")).encode()


def _publisher(port: int, credentials: list[tuple[str, str]], per_device: int, done: "mp.Queue[int]") -> None:
    """One process: publish per_device readings for each of its kits, wait for every PUBACK."""
    clients = []
    for device, password in credentials:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{device}-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv311)
        c.username_pw_set(device, password)
        c.max_inflight_messages_set(500)
        c.max_queued_messages_set(0)
        c.connect("127.0.0.1", port)
        c.loop_start()
        clients.append((device, c))
    infos = []
    for seq in range(per_device):
        for device, c in clients:
            infos.append(c.publish(TOPIC.format(device), payload(device, seq), qos=1))
    for info in infos:
        info.wait_for_publish(120)
    for _, c in clients:
        c.disconnect()
        c.loop_stop()
    done.put(len(infos))


def publish_backlog(port: int, devices: list[tuple[str, str]], per_device: int, processes: int) -> float:
    done: mp.Queue[int] = mp.Queue()
    groups = [devices[i::processes] for i in range(processes)]
    started = time.perf_counter()
    procs = [mp.Process(target=_publisher, args=(port, g, per_device, done)) for g in groups if g]
    for p in procs:
        p.start()
    total = sum(done.get(timeout=600) for _ in procs)
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    print(f"  published {total:,} messages from {len(procs)} processes in {elapsed:.1f} s", flush=True)
    return elapsed


class Subscriber:
    """An MQTT 5 subscriber with a persistent session.

    Stock paho with ``handler(msg)`` per message, or, with ``lean=True``,
    airtrail's own client (the collector's receive and batched-ack path) with
    ``handler(client, None, None)`` per message.
    """

    def __init__(self, port: int, account: tuple[str, str], handler, lean: bool = False) -> None:
        username, password = account
        client_id = username  # the broker names every session after its account anyway
        if lean:
            mids: list[int] = []
            acking = threading.Lock()  # the network thread acks, the main thread flushes the rest

            def ack_pending() -> None:
                with acking:
                    self.client.ack_many(mids)
                    mids.clear()

            def on_publish_fast(topic: str, payload: bytes, mid: int, qos: int) -> None:
                with acking:
                    mids.append(mid)  # before it is counted: a flush after the count must see it
                handler(self.client, None, None)
                if len(mids) >= 256:
                    ack_pending()

            self.client = CollectorClient(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                                          manual_ack=True, on_publish_fast=on_publish_fast)
            self.flush = ack_pending
        else:
            self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
            self.flush = lambda: None
        self.client.username_pw_set(username, password)
        self.client.on_message = handler
        self.subscribed = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("airtrail/v1/+/readings", qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        self.port = port

    def connect(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.subscribed.clear()
        self.client.connect("127.0.0.1", self.port, clean_start=False, properties=props)
        self.client.loop_start()
        # Only a confirmed subscription queues the backlog for this session.
        if not self.subscribed.wait(10):
            raise SystemExit(f"benchmark subscriber could not subscribe on port {self.port}")

    def disconnect(self, end_session: bool = False) -> None:
        self.flush()
        props = None
        if end_session:  # so later backlogs are not queued for it too, slowing the next consumer
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
        self.client.disconnect(properties=props)
        self.client.loop_stop()


def drain_rate(stack: Stack, port: int, devices, per_device: int, processes: int, name: str, handle, lean: bool = False) -> float:
    """Messages/s at which a subscriber running ``handle(msg)`` per message drains a backlog."""
    n = len(devices) * per_device
    count = [0]
    finished = threading.Event()

    def on_message(client, userdata, msg) -> None:
        handle(msg)
        count[0] += 1
        if count[0] == n:
            finished.set()

    sub = Subscriber(port, account(stack, name), on_message, lean)
    sub.connect()  # creates the persistent session the backlog queues in
    sub.disconnect()
    publish_backlog(port, devices, per_device, processes)
    started = time.perf_counter()
    sub.connect()
    drained = finished.wait(900)
    elapsed = time.perf_counter() - started
    sub.disconnect(end_session=True)
    if not drained:
        raise SystemExit(f"{name} subscriber drained only {count[0]:,} of {n:,} messages in 900 s")
    return n / elapsed


def measure_broker_drain(stack: Stack, port: int, devices, per_device: int, processes: int, lean: bool = False) -> float:
    return drain_rate(stack, port, devices, per_device, processes, "lean" if lean else "null", lambda msg: None, lean)


def measure_naive(stack: Stack, settings: Settings, port: int, devices, per_device: int, processes: int) -> float:
    http = httpx.Client(base_url=settings.influx.url)
    failed: list[int] = []

    def write_one(msg) -> None:
        # As tutorials write it: parse, one synchronous write per message.
        doc = json.loads(msg.payload)
        r = doc["r"][0]
        values = {k: v for k, v in r.items() if k not in ("ts", "clk", "seq")}
        response = http.post("/write", params={"db": settings.influx.database, "precision": "u"},
                             content=reading_line(doc["dev"], r["ts"], r["seq"], r["clk"], values, []).encode())
        if response.status_code >= 300:
            failed.append(response.status_code)

    rate = drain_rate(stack, port, devices, per_device, processes, "naive", write_one)
    # A failing write is quicker than a stored one: it would flatter the baseline
    # and so inflate collector/naive.
    if len(failed) > len(devices) * per_device // 100:
        raise SystemExit(f"the naive baseline's writes failed {len(failed):,} times (HTTP {sorted(set(failed))}); its rate means nothing")
    return rate


def measure_influx_bulk(settings: Settings, devices, per_device: int) -> float:
    lines = []
    for seq in range(per_device):
        for device, _ in devices:
            doc = json.loads(payload(device, seq))
            r = doc["r"][0]
            values = {k: v for k, v in r.items() if k not in ("ts", "clk", "seq")}
            lines.append(reading_line(device, r["ts"], r["seq"], r["clk"], values, []))
    bodies = ["\n".join(lines[i : i + 5000]).encode() for i in range(0, len(lines), 5000)]
    http = httpx.Client(base_url=settings.influx.url, timeout=60)
    started = time.perf_counter()
    for body in bodies:
        response = http.post("/write", params={"db": settings.influx.database, "precision": "u"}, content=body)
        if response.status_code >= 500:  # InfluxDB 1.6 under load: retry, as any writer must
            response = http.post("/write", params={"db": settings.influx.database, "precision": "u"}, content=body)
        response.raise_for_status()
    return len(lines) / (time.perf_counter() - started)


def account(stack: Stack, role: str) -> tuple[str, str]:
    """A broker account of its own for one measured client: the broker binds each
    session to its account, so clients sharing one would share (and clear) a session."""
    username = f"airtrail-bench-{role}-{uuid.uuid4().hex[:6]}"
    password = stack.registry.add_collector(username)
    stack.sync_broker_auth()
    return username, password


def measure_collector(stack: Stack, base: Settings, data_dir: Path, port: int, devices, per_device: int, processes: int) -> float:
    n = len(devices) * per_device
    settings = load_settings(**{
        "data_dir": str(data_dir),
        "stack.mqtt_port": base.stack.mqtt_port, "stack.influx_port": base.stack.influx_port,
        "stack.influx_rpc_port": base.stack.influx_rpc_port,
        "influx.database": "bench_collector", **dict(zip(("mqtt.username", "mqtt.password"), account(stack, "collector"))),
    })
    InfluxQL(settings.influx).create_database()
    collector = Collector(settings).start()
    if not collector.wait_subscribed():  # the session the backlog will queue in
        raise SystemExit(f"the collector could not subscribe: {collector.source.last_error}")
    collector.stop()
    publish_backlog(port, devices, per_device, processes)
    collector = Collector(settings)
    started = time.perf_counter()
    collector.start()
    while collector.counts()["stored"] < n and time.perf_counter() - started < 900:
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    collector.stop()
    stored = InfluxQL(settings.influx).query('SELECT count("seq") FROM "readings"')[0]["values"][0][1]
    if stored != n:
        raise SystemExit(f"collector stored {stored} points, expected {n}")
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=60_000, help="readings per consumer (default sized for about a minute)")
    parser.add_argument("--devices", type=int, default=30)
    parser.add_argument("--naive-readings", type=int, default=6_000, help="the naive baseline is slow; it gets a smaller backlog (about 10 s)")
    parser.add_argument("--processes", type=int, default=2, help="publisher processes")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="airtrail-bench-") as tmp:
        root = Path(tmp)
        settings = load_settings(**{"data_dir": str(root), "stack.mqtt_port": free_port(), "stack.influx_port": free_port(),
                                    "stack.influx_rpc_port": free_port(), "influx.database": "bench"})
        stack = Stack.from_settings(settings)
        names = [f"bench-{i:03d}" for i in range(args.devices)]
        devices = [(name, stack.registry.add(name).password) for name in names]
        stack.up()
        port = settings.stack.mqtt_port
        per_device = max(1, args.readings // args.devices)
        n = per_device * args.devices
        try:
            print(f"airtrail ingest benchmark: {n:,} readings from {args.devices} kits, one reading per message, QoS 1", flush=True)
            print("(a) do-nothing paho subscriber draining the backlog...", flush=True)
            broker_rps = measure_broker_drain(stack, port, devices, per_device, args.processes)
            print(f"    {broker_rps:,.0f} messages/s", flush=True)
            print("    (for reference, not a target) the same subscriber on airtrail's lean client...", flush=True)
            lean_rps = measure_broker_drain(stack, port, devices, per_device, args.processes, lean=True)
            print(f"    {lean_rps:,.0f} messages/s", flush=True)
            print("(b) InfluxDB bulk line-protocol writes, 5,000 points per request...", flush=True)
            influx_rps = measure_influx_bulk(settings, devices, per_device)
            print(f"    {influx_rps:,.0f} points/s", flush=True)
            naive_per_device = max(1, args.naive_readings // args.devices)
            print("(c) naive collector, one synchronous write per message...", flush=True)
            naive_rps = measure_naive(stack, settings, port, devices, naive_per_device, args.processes)
            print(f"    {naive_rps:,.0f} readings/s", flush=True)
            print("airtrail collector (ack after storage), counted in InfluxDB...", flush=True)
            collector_rps = measure_collector(stack, settings, root / "collector", port, devices, per_device, args.processes)
            print(f"    {collector_rps:,.0f} readings/s", flush=True)
        finally:
            stack.down()

    floor = min(broker_rps, influx_rps)
    result = {
        "readings": n,
        "collector_rps": round(collector_rps),
        "broker_rps": round(broker_rps),
        "influx_rps": round(influx_rps),
        "naive_rps": round(naive_rps),
        "lean_broker_rps": round(lean_rps),
        "collector_vs_lean_broker": round(collector_rps / lean_rps, 3),
        "collector_vs_min_broker_influx": round(collector_rps / floor, 3),
        "collector_vs_naive": round(collector_rps / naive_rps, 1),
        "target_min_ratio": 0.5,
        "target_naive_ratio": 10,
        "meets_targets": collector_rps >= 0.5 * floor and collector_rps >= 10 * naive_rps,
    }
    print(f"collector / min(a, b) = {result['collector_vs_min_broker_influx']} (target >= 0.5); "
          f"collector / naive = {result['collector_vs_naive']} (target >= 10)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
