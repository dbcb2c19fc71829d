"""Kits on a real network (issue 10, build items 1 and 2).

Acceptance:
- each variant x PM sensor (walk/pms5003, walk/sds011, fixed/pms5003,
  fixed/sds011 with an SCD4x), provisioned with `kit provision`'s config
  building, publishes readings that a real collector stores through the real
  Mosquitto, with no sensor_fault from a wrong configuration. These kits
  reach the broker on loopback: ``broker=`` stands for the network route, the
  config (and so which simulated sensors exist) is the provisioned one;
- a kit provisioned by `airtrail kit provision` (on the virtual board) from a
  stack started with `--kit-address`, connecting to that address over TLS
  with the provisioned CA, is accepted; with another CA it is refused and says
  the certificate did not verify. The kit address is not loopback: the stack
  runs in one network namespace, the kit in another, joined by a veth pair
  (tests/support/netns.py). The kit is the firmware on CPython (a VirtualKit),
  so its TLS is CPython's ssl with the same CA file; the virtual board
  (MicroPython's WebAssembly port) has no sockets.
"""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airkit_host import bundle as kit_bundle
from airkit_host.link import KitLink
from airkit_host.provision import KIT_CA_PATH, KitOptions, build_config
from airkit_host.simulate import VirtualKit
from airkit_host.virtual_board import VirtualBoard, available
from airtrail.cli import app
from collector.stack.services import Mosquitto
from collector.stack.tls import KitCertificates
from tests.support import netns
from tests.support.stack import count_points, select_readings, wait_for

AIRTRAIL = str(Path(sys.executable).with_name("airtrail"))
WIFI = [{"ssid": "venue", "password": "venue-pass"}]
needs_netns = pytest.mark.skipif(netns.unavailable() is not None, reason=str(netns.unavailable()))
needs_board = pytest.mark.skipif(available() is not None, reason=str(available()))
runner = CliRunner()


# -- every variant, through the real broker and collector ------------------------------

VARIANTS = [
    ("walk", "pms5003", False),
    ("walk", "sds011", False),
    ("fixed", "pms5003", False),
    ("fixed", "sds011", True),
]


@pytest.mark.parametrize(("variant", "pm", "co2"), VARIANTS, ids=[f"{v}-{p}{'-scd4x' if c else ''}" for v, p, c in VARIANTS])
def test_a_kit_provisioned_for_each_variant_publishes_readings_the_collector_stores(
        stack, collector, collector_settings, tmp_path, variant, pm, co2):
    device = f"{variant}-{pm}-{uuid.uuid4().hex[:6]}"
    password = stack.add_device(device)
    kit = build_config(device, password, KitOptions(variant=variant, pm=pm, co2=co2, interval_s=10, sample_s=2,
                                                    wifi=WIFI, broker_host="192.0.2.10", broker_port=18883))
    virtual = VirtualKit(device, password, broker=("127.0.0.1", stack.mqtt_port), speedup=200, provisioned=kit, data_dir=tmp_path)
    report = virtual.run(readings=8)
    assert report.error is None, report.log
    assert (report.stored, report.sent) == (8, 8)
    health = virtual.kit.health()
    assert not {"error", "missing"} & set(health.values()), health

    wait_for(lambda: count_points(collector_settings, device) >= 8, what="8 readings in InfluxDB")
    rows = select_readings(collector_settings, device, '"seq", "pm25", "pm1", "lat", "batt_v", "co2", "flags"')
    assert len(rows) == 8
    _, seqs, pm25, pm1, lat, batt_v, co2_ppm, flags = zip(*rows)
    assert not [f for f in flags if f and "sensor_fault" in f]
    # The first interval may end inside the fan's spin-up; that is the sensor, not the config.
    assert any(v is not None for v in pm25)
    assert any(v is not None for v in pm1) == (pm == "pms5003")  # the SDS011 measures PM2.5 and PM10 only
    assert any(v is not None for v in lat) == (variant == "walk")  # a fixed kit has no GPS...
    assert any(v is not None for v in batt_v) == (variant == "walk")  # ...and no battery
    assert all(v is not None for v in co2_ppm) if co2 else all(v is None for v in co2_ppm)


# -- the stack's kit address, over TLS, across a network ---------------------------------

KIT_SCRIPT = """
import json, sys
from pathlib import Path
from airkit_host.provision import KitConfig
from airkit_host.simulate import VirtualKit

conf = json.loads(Path(sys.argv[1]).read_text())
kit = VirtualKit(conf["device_id"], conf["mqtt"]["password"], speedup=200, data_dir=Path(sys.argv[3]),
                 provisioned=KitConfig(conf, Path(sys.argv[2]).read_bytes()))
report = kit.run(readings=3, drain_s=60)
print(json.dumps({"stored": report.stored, "sent": report.sent, "error": report.error, "log": report.log}))
"""


@pytest.fixture(scope="module")
def network_stack(tmp_path_factory):
    """`airtrail stack up --kit-address` in a namespace of its own; (network, data dir, `stack up` output)."""
    data = tmp_path_factory.mktemp("network-stack")
    with netns.Network() as net:
        up = net.run_broker([AIRTRAIL, "--data-dir", str(data), "stack", "up", "--kit-address", net.broker_address])
        assert up.returncode == 0, up.stdout + up.stderr
        try:
            yield net, data, up.stdout
        finally:
            net.run_broker([AIRTRAIL, "--data-dir", str(data), "stack", "down"])


@pytest.fixture(scope="module")
def provisioned(network_stack, tmp_path_factory):
    """A kit registered and provisioned with the guide's commands, taking the broker from the stack:
    (device id, config.json and CA as written on the virtual board)."""
    net, data, _ = network_stack
    device = "kit-net-01"
    added = runner.invoke(app, ["--data-dir", str(data), "device", "add", device])
    assert added.exit_code == 0, added.output
    bundle = tmp_path_factory.mktemp("bundle") / "bundle"
    kit_bundle.build(bundle)
    with VirtualBoard() as board:
        result = runner.invoke(app, ["--data-dir", str(data), "kit", "provision", "--port", board.port, "--device", device,
                                     "--wifi", "venue:venue-pass", "--bundle", str(bundle), "--no-restart"])
        assert result.exit_code == 0, (result.output, result.exception)
        with KitLink(board.port) as link:
            conf = json.loads(link.read("/config.json"))
            ca = link.read(KIT_CA_PATH)
    return device, conf, ca


def run_kit(net, tmp_path: Path, conf: dict, ca: bytes) -> dict:
    (tmp_path / "config.json").write_text(json.dumps(conf))
    (tmp_path / "ca.pem").write_bytes(ca)
    ran = net.run_kit([sys.executable, "-c", KIT_SCRIPT, str(tmp_path / "config.json"), str(tmp_path / "ca.pem"),
                       str(tmp_path / "flash")])
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout.strip().splitlines()[-1])


@needs_netns
def test_stack_up_and_status_say_where_kits_connect_and_the_ca_to_give_them(network_stack):
    net, data, up_output = network_stack
    ca = data / "stack" / "mosquitto" / "tls" / "ca.pem"
    status = net.run_broker([AIRTRAIL, "--data-dir", str(data), "stack", "status"])
    assert status.returncode == 0, status.stdout + status.stderr
    for output in (up_output, status.stdout):
        flat = " ".join(output.split())
        assert f"mqtts://{net.broker_address}:18883" in flat
        assert f"CA {ca}" in flat.replace(" ", "") or str(ca) in output.replace("\n", "")


@needs_netns
@needs_board
def test_provision_takes_the_stacks_kit_address_port_and_ca(network_stack, provisioned):
    net, data, _ = network_stack
    device, conf, ca = provisioned
    assert conf["mqtt"]["host"] == net.broker_address
    assert (conf["mqtt"]["port"], conf["mqtt"]["tls"], conf["mqtt"]["ca_file"]) == (18883, True, KIT_CA_PATH)
    assert ca == (data / "stack" / "mosquitto" / "tls" / "ca.pem").read_bytes()


@needs_netns
@needs_board
def test_a_kit_with_the_provisioned_ca_is_accepted_at_the_kit_address_over_tls(network_stack, provisioned, tmp_path):
    net, data, _ = network_stack
    device, conf, ca = provisioned
    report = run_kit(net, tmp_path, conf, ca)
    assert report["error"] is None, report["log"]
    assert (report["stored"], report["sent"]) == (3, 3), report["log"]
    assert any(f"connected to broker {net.broker_address}:18883" in line for line in report["log"])
    log = (data / "stack" / "mosquitto" / "mosquitto.log").read_text()
    assert f"New client connected from {net.kit_address}" in log and f"u'{device}'" in log


@needs_netns
@needs_board
def test_the_same_kit_with_another_ca_is_refused_and_says_the_certificate_did_not_verify(network_stack, provisioned, tmp_path):
    net, _, _ = network_stack
    device, conf, ca = provisioned
    impostor = KitCertificates(tmp_path / "other-ca")
    impostor.ensure(net.broker_address)
    assert impostor.ca.read_bytes() != ca
    report = run_kit(net, tmp_path, conf, impostor.ca.read_bytes())
    assert report["sent"] == 0
    assert any("certificate verify failed" in line for line in report["log"]), report["log"]


@needs_netns
def test_a_plain_kit_listener_warns_that_passwords_travel_in_clear(tmp_path):
    with netns.Network() as net:
        argv = [AIRTRAIL, "--data-dir", str(tmp_path), "stack"]
        up = net.run_broker([*argv, "up", "--kit-address", net.broker_address, "--no-kit-tls"])
        try:
            assert up.returncode == 0, up.stdout + up.stderr
            flat = " ".join(up.stdout.split())
            assert f"mqtt://{net.broker_address}:18883" in flat and "no TLS" in flat
            assert "MQTT password travels in clear" in flat and "trusted workshop hotspot" in flat
        finally:
            net.run_broker([*argv, "down"])
    assert not (tmp_path / "stack" / "mosquitto" / "tls").exists()


# -- without a network ------------------------------------------------------------------


def test_the_broker_config_has_a_loopback_listener_and_a_kit_listener_with_tls(tmp_path):
    broker = Mosquitto(tmp_path, 11883, "192.0.2.10", 18883)
    broker.auth_dir.mkdir(parents=True)
    conf = Path(broker.write_config()[1]).read_text()
    assert "listener 11883 127.0.0.1" in conf and "listener 18883 192.0.2.10" in conf
    assert "allow_anonymous false" in conf and "per_listener_settings false" in conf
    assert f"certfile {broker.certificates.cert}" in conf and f"keyfile {broker.certificates.key}" in conf


def test_the_server_certificate_names_the_kit_address_as_ip_and_dns(tmp_path):
    import subprocess

    certs = KitCertificates(tmp_path)
    assert certs.ensure("192.0.2.10") is True
    assert certs.ensure("192.0.2.10") is False  # kept: kits provisioned earlier keep trusting it
    text = subprocess.run([shutil.which("openssl"), "x509", "-in", str(certs.cert), "-noout", "-ext", "subjectAltName"],
                          capture_output=True, text=True, check=True).stdout
    assert "IP Address:192.0.2.10" in text and "DNS:192.0.2.10" in text
    ca_before = certs.ca.read_bytes()
    assert certs.ensure("192.0.2.11") is True  # a new address: a new server certificate, the same CA
    assert certs.ca.read_bytes() == ca_before


@pytest.mark.parametrize(("address", "says"), [
    ("127.0.0.1", "loopback, which a kit on Wi-Fi cannot reach"),
    ("localhost", "loopback, which a kit on Wi-Fi cannot reach"),
    ("0.0.0.0", "is not one address"),
    ("192.0.2.77", "192.0.2.77 is not an address of this computer"),
])
def test_stack_up_refuses_a_kit_address_kits_cannot_use(tmp_path, address, says):
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "stack", "up", "--kit-address", address])
    assert result.exit_code == 1
    assert says in result.output + str(result.exception)
    assert not (tmp_path / "stack" / "mosquitto" / "mosquitto.pid").exists()
