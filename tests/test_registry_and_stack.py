"""The device registry, and the local stack's error messages."""

from __future__ import annotations

import socket

import pytest

from collector.devices import DeviceRegistry
from collector.errors import DeviceError, StackError
from collector.stack import Mosquitto
from collector.stack.process import find_binary


def test_devices_are_kept_with_private_permissions(tmp_path):
    registry = DeviceRegistry(tmp_path / "devices.json")
    device = registry.add("kit-01", note="Ana")
    reopened = DeviceRegistry(tmp_path / "devices.json")
    assert reopened.get("kit-01").password == device.password and reopened.get("kit-01").note == "Ana"
    assert (tmp_path / "devices.json").stat().st_mode & 0o777 == 0o600


def test_rotate_changes_the_password_and_remove_forgets_the_kit(tmp_path):
    registry = DeviceRegistry(tmp_path / "devices.json")
    old = registry.add("kit-01").password
    assert registry.rotate("kit-01").password != old
    registry.remove("kit-01")
    with pytest.raises(DeviceError, match="airtrail device add kit-01"):
        registry.get("kit-01")


@pytest.mark.parametrize("bad", ["Kit-01", "kit/01", "kit+", "#", "", "a" * 33])
def test_ids_that_cannot_be_topic_levels_or_user_names_are_refused(tmp_path, bad):
    with pytest.raises(DeviceError, match="not a valid device id"):
        DeviceRegistry(tmp_path / "devices.json").add(bad)


def test_the_collectors_account_name_is_refused_as_reserved_not_as_malformed(tmp_path):
    with pytest.raises(DeviceError, match="is reserved: ids starting with .airtrail-. are airtrail.s own broker accounts"):
        DeviceRegistry(tmp_path / "devices.json").add("airtrail-collector")


def test_looking_up_a_malformed_id_says_it_is_malformed_not_how_to_register_it(tmp_path):
    with pytest.raises(DeviceError, match="not a valid device id") as caught:
        DeviceRegistry(tmp_path / "devices.json").get("BAD ID")
    assert "device add" not in str(caught.value)


def test_a_duplicate_is_refused_with_the_way_out(tmp_path):
    registry = DeviceRegistry(tmp_path / "devices.json")
    registry.add("kit-01")
    with pytest.raises(DeviceError, match="rotate"):
        registry.add("kit-01")


def test_a_damaged_registry_is_reported_not_overwritten(tmp_path):
    path = tmp_path / "devices.json"
    path.write_text("{not json")
    with pytest.raises(DeviceError, match="damaged"):
        DeviceRegistry(path)
    assert path.read_text() == "{not json"


def test_a_missing_binary_names_the_package_to_install():
    with pytest.raises(StackError, match="sudo apt-get install nosuch-package"):
        find_binary("nosuch-binary", "nosuch-package")


def test_a_port_in_use_is_reported_clearly(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(StackError, match=f"port {port} on 127.0.0.1 is already in use"):
            Mosquitto(tmp_path, port).start()
