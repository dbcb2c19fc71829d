"""`airtrail kit provision`'s options: every variant and part the firmware has,
checked with the firmware's own rules before anything is built or written.

The runs on a virtual board and a real broker are in tests/test_kit_network.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airkit import config as kit_config
from airkit_host import bundle as kit_bundle
from airkit_host.provision import KIT_CA_PATH, KitOptions, ProvisionError, build_config
from airtrail.cli import app
from collector.devices import DeviceRegistry
from collector.stack.tls import KitCertificates

ROOT = Path(__file__).resolve().parents[1]
DEVICE = "kit-11"
WIFI = [{"ssid": "venue", "password": "venue-pass"}]
runner = CliRunner()


def options(**kw) -> KitOptions:
    return KitOptions(**{"wifi": WIFI, "broker_host": "192.0.2.10", **kw})


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> Path:
    certs = KitCertificates(tmp_path_factory.mktemp("tls"))
    certs.ensure("192.0.2.10")
    return certs.ca


@pytest.fixture
def data_dir(tmp_path) -> Path:
    DeviceRegistry(tmp_path / "devices.json").add(DEVICE)
    return tmp_path


def provision(data_dir: Path, *args: str):
    return runner.invoke(app, ["--data-dir", str(data_dir), "kit", "provision", "--port", str(data_dir / "ttyUSB9"),
                               "--device", DEVICE, *args])


def said(result) -> str:
    """What the user reads: the output, and the Problem line the front door makes of the error."""
    return result.output + (str(result.exception) if result.exception else "")


def test_a_fixed_kit_has_no_gps_and_no_battery_unless_asked():
    fixed = build_config(DEVICE, "pw", options(variant="fixed")).config
    assert fixed["variant"] == "fixed"
    assert (fixed["sensors"]["gps"], fixed["sensors"]["battery"]) == (False, False)
    walk = build_config(DEVICE, "pw", options(variant="walk")).config
    assert (walk["sensors"]["gps"], walk["sensors"]["battery"]) == (True, True)


def test_every_option_lands_in_the_kits_config(ca):
    kit = build_config(DEVICE, "pw", options(
        variant="fixed", pm="sds011", co2=True, interval_s=10, sample_s=2, mode="walk",
        wifi=[{"ssid": "home", "password": "correct-horse"}, {"ssid": "phone", "password": "battery-staple"}],
        broker_port=18883, tls=True, ca_file=ca))  # fmt: skip
    conf = kit.config
    assert conf["sensors"] == {"pm": "sds011", "bme280": True, "gps": False, "scd4x": True, "battery": False}
    assert (conf["interval_s"], conf["sample_s"], conf["mode"]) == (10, 2, "walk")
    assert [n["ssid"] for n in conf["wifi"]] == ["home", "phone"]
    assert conf["mqtt"] == {"host": "192.0.2.10", "port": 18883, "tls": True, "ca_file": KIT_CA_PATH,
                            "username": DEVICE, "password": "pw"}
    assert kit.ca_pem == ca.read_bytes()
    assert kit_config.validate(conf)[1] == []


@pytest.mark.parametrize("pm", kit_config.PM_SENSORS)
def test_each_pm_sensor_the_firmware_knows_can_be_chosen(pm):
    assert build_config(DEVICE, "pw", options(pm=pm)).config["sensors"]["pm"] == pm


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "localhost", "::1"])
def test_a_loopback_broker_is_refused_because_the_kit_cannot_reach_it(host):
    with pytest.raises(ProvisionError, match="loopback: on the kit it would mean the kit itself"):
        build_config(DEVICE, "pw", options(broker_host=host))


def test_a_sample_time_longer_than_the_interval_is_refused_with_the_firmwares_words():
    with pytest.raises(ProvisionError, match=r"sample_s \(30\) is longer than interval_s \(10\)"):
        build_config(DEVICE, "pw", options(interval_s=10, sample_s=30))


def test_a_ca_needs_tls_and_must_be_a_pem_certificate(ca, tmp_path):
    with pytest.raises(ProvisionError, match="add --tls"):
        build_config(DEVICE, "pw", options(ca_file=ca))
    with pytest.raises(ProvisionError, match="No such file"):
        build_config(DEVICE, "pw", options(tls=True, ca_file=tmp_path / "missing.pem"))
    key = ca.with_name("ca.key")
    with pytest.raises(ProvisionError, match="holds no PEM certificate"):
        build_config(DEVICE, "pw", options(tls=True, ca_file=key))


def test_the_cli_refuses_a_loopback_broker_before_building_anything(data_dir, monkeypatch):
    built = []
    monkeypatch.setattr(kit_bundle, "build", lambda *a, **k: built.append(a))
    result = provision(data_dir, "--wifi", "venue:venue-pass", "--broker-host", "127.0.0.1")
    assert result.exit_code == 1
    assert "127.0.0.1 is this computer's loopback" in said(result) and "--kit-address" in said(result)
    assert built == []


def test_the_cli_without_a_broker_or_a_stack_says_how_to_get_one(data_dir, monkeypatch):
    monkeypatch.setattr(kit_bundle, "build", lambda *a, **k: pytest.fail("built before the config was checked"))
    result = provision(data_dir, "--wifi", "venue:venue-pass")
    assert result.exit_code == 1
    assert "mqtt.host is empty" in said(result) and "airtrail stack up --kit-address ADDRESS" in said(result)


def test_the_cli_takes_every_variant_and_part_flag(data_dir, monkeypatch):
    # Checked as far as the serial port, which is not there.
    monkeypatch.setattr(kit_bundle, "build", lambda *a, **k: pytest.fail("no --bundle given: built into the cache"))
    result = provision(data_dir, "--variant", "fixed", "--pm", "sds011", "--co2", "--no-gps", "--no-battery",
                       "--interval", "10", "--sample", "2", "--mode", "online", "--wifi", "a:aaaaaaaa", "--wifi", "b:",
                       "--broker-host", "192.0.2.10", "--broker-port", "18883", "--no-tls",
                       "--bundle", str(data_dir / "no-bundle"))  # fmt: skip
    assert result.exit_code == 1
    assert "holds no firmware bundle" in said(result)  # past every check of the options


def test_provision_creates_no_file_inside_the_source_tree(data_dir, monkeypatch):
    assert not kit_bundle.DEFAULT_OUT.resolve().is_relative_to(ROOT)  # the user cache
    # This test's own "user cache", so it does not replace the shared one.
    monkeypatch.setattr(kit_bundle, "DEFAULT_OUT", data_dir / "cache" / "bundle")

    def untracked() -> str:
        return subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all", "firmware"],
                              cwd=ROOT, capture_output=True, text=True, check=True).stdout

    before = untracked()
    refused = provision(data_dir, "--wifi", "venue:short")
    failed_late = provision(data_dir, "--wifi", "venue:venue-pass", "--broker-host", "192.0.2.10")  # builds, then no port
    assert refused.exit_code == 1 and failed_late.exit_code == 1
    assert "there is no serial port" in said(failed_late)
    assert untracked() == before
    assert (data_dir / "cache" / "bundle" / "manifest.json").exists()


def test_broker_defaults_come_from_the_running_stacks_kit_listener(data_dir, ca, monkeypatch):
    from airkit_host import cli as kit_cli
    from collector.stack import KitEndpoint

    endpoint = KitEndpoint("192.0.2.10", 18883, True, str(ca))
    monkeypatch.setattr(kit_cli.Stack, "kit_endpoint", lambda self: endpoint)
    seen = []

    def stop_after_seeing(device, password, options):
        seen.append(options)
        raise ProvisionError("stopped by the test before building")

    monkeypatch.setattr(kit_cli.kit_provision, "build_config", stop_after_seeing)
    assert "stopped by the test" in said(provision(data_dir, "--wifi", "venue:venue-pass"))
    [options] = seen
    assert (options.broker_host, options.broker_port, options.tls, options.ca_file) == ("192.0.2.10", 18883, True, ca)

    plain = provision(data_dir, "--wifi", "venue:venue-pass", "--no-tls")
    assert plain.exit_code == 1 and "is TLS, so --no-tls would not connect" in said(plain)
