"""Configuration enters in one place, with a clear precedence."""

from __future__ import annotations

import os

import pytest

from collector.errors import ConfigError
from collector.settings import Settings, load_settings


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """No AIRTRAIL_* variables and no airtrail.toml from whoever runs the tests."""
    for key in [k for k in os.environ if k.startswith("AIRTRAIL_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def config_file(clean_env, tmp_path, monkeypatch):
    path = tmp_path / "named.toml"
    path.write_text("")
    monkeypatch.setenv("AIRTRAIL_CONFIG", str(path))
    return path


def test_the_collector_follows_the_local_stack_ports_by_default(config_file):
    config_file.write_text("[stack]\nmqtt_port = 2883\ninflux_port = 9086\n")
    s = load_settings()
    assert s.mqtt.port == 2883 and s.influx.url == "http://127.0.0.1:9086"


def test_environment_beats_the_file_and_flags_beat_both(config_file, monkeypatch):
    config_file.write_text("[mqtt]\nport = 1000\nhost = 'file-host'\n")
    monkeypatch.setenv("AIRTRAIL_MQTT__PORT", "2000")
    assert load_settings().mqtt.port == 2000
    assert load_settings().mqtt.host == "file-host"
    assert load_settings(**{"mqtt.port": 3000}).mqtt.port == 3000


def test_unset_flags_do_not_mask_the_file(config_file):
    config_file.write_text("[mqtt]\nhost = 'broker.example'\n")
    assert load_settings(**{"mqtt.host": None}).mqtt.host == "broker.example"


def test_a_typo_in_the_file_is_an_error_that_names_it(config_file):
    config_file.write_text("[mqtt]\nprot = 1\n")
    with pytest.raises(ConfigError, match="prot"):
        load_settings()


def test_a_too_small_window_is_refused(config_file):
    with pytest.raises(ConfigError, match="receive_maximum"):
        load_settings(**{"mqtt.receive_maximum": 5})


def test_an_empty_credential_means_unset_not_an_empty_secret(config_file, monkeypatch):
    # The README's example file lists `token = ""`; copied as is, it must not
    # turn basic auth into "Authorization: Token " with nothing after it.
    config_file.write_text('[influx]\ntoken = ""\nusername = "writer"\nretention_policy = ""\n[api]\nadmin_token = ""\n')
    monkeypatch.setenv("AIRTRAIL_MQTT__SHARE_GROUP", "")
    s = load_settings()
    assert s.influx.token is None and s.influx.retention_policy is None and s.api.admin_token is None
    assert s.influx.username == "writer" and s.mqtt.share_group is None


def test_a_config_file_the_user_named_must_exist(clean_env, tmp_path, monkeypatch):
    # A typo in the path would otherwise run on defaults without a word.
    monkeypatch.setenv("AIRTRAIL_CONFIG", str(tmp_path / "airtrial.toml"))
    with pytest.raises(ConfigError, match="airtrial.toml.*AIRTRAIL_CONFIG"):
        load_settings()
    with pytest.raises(ConfigError, match="elsewhere.toml.*--config"):
        load_settings(config_file=tmp_path / "elsewhere.toml")


def test_without_a_named_file_airtrail_toml_is_read_from_here_if_there(clean_env, tmp_path):
    default = load_settings().mqtt.port
    (tmp_path / "airtrail.toml").write_text(f"[mqtt]\nport = {default + 1}\n")
    assert load_settings().mqtt.port == default + 1


def test_settings_built_directly_read_the_same_file_as_load_settings(config_file):
    config_file.write_text("[mqtt]\nhost = 'named-host'\n")
    assert Settings().mqtt.host == load_settings().mqtt.host == "named-host"
