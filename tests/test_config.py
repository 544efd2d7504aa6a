"""Settings: defaults, environment, overrides, and refusal of bad values naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharedsky.config import DEFAULT_DB_URL, DEFAULT_LANE_THREADS, Settings
from sharedsky.errors import InvalidInput


def test_defaults_are_local_and_ship_no_key() -> None:
    s = Settings()
    assert s.db_url == DEFAULT_DB_URL == "sqlite:///sharedsky.sqlite"
    assert (s.host, s.port) == ("127.0.0.1", 8082)
    assert s.public_key_pems == ()
    assert s.audiences == ("localhost", "127.0.0.1")
    assert s.allow_http_base_urls is False


def test_from_env_reads_the_sharedsky_variables() -> None:
    env = {
        "SHAREDSKY_DB": "postgresql+psycopg://u:p@db/x",
        "SHAREDSKY_PUBLIC_KEYS": "a.pem, b.pem",
        "SHAREDSKY_AUDIENCE": "dss.example.com,localhost",
        "SHAREDSKY_ALLOW_HTTP_BASE_URLS": "true",
        "UNRELATED": "x",
    }
    s = Settings.from_env(env)
    assert s.db_url == "postgresql+psycopg://u:p@db/x"
    assert s.public_key_pems == (Path("a.pem"), Path("b.pem"))
    assert s.audiences == ("dss.example.com", "localhost")
    assert s.allow_http_base_urls is True
    assert s.fast_lane is True  # the default


def test_fast_lane_can_be_turned_off_from_the_environment() -> None:
    assert Settings.from_env({"SHAREDSKY_FAST_LANE": "0"}).fast_lane is False
    assert Settings.from_env({"SHAREDSKY_FAST_LANE": "yes"}).fast_lane is True
    with pytest.raises(InvalidInput, match="SHAREDSKY_FAST_LANE"):
        Settings.from_env({"SHAREDSKY_FAST_LANE": "sometimes"})


def test_open_telemetry_is_off_unless_asked_for() -> None:
    assert Settings().open_telemetry is False
    assert Settings.from_env({"SHAREDSKY_OPEN_TELEMETRY": "1"}).open_telemetry is True
    with pytest.raises(InvalidInput, match="SHAREDSKY_OPEN_TELEMETRY"):
        Settings.from_env({"SHAREDSKY_OPEN_TELEMETRY": "maybe"})


def test_overrides_win_and_none_or_empty_means_not_given() -> None:
    env = {"SHAREDSKY_DB": "sqlite:///env.sqlite", "SHAREDSKY_AUDIENCE": "env-aud"}
    s = Settings.from_env(env, db_url=None, audiences=[], port=9000)
    assert s.db_url == "sqlite:///env.sqlite"
    assert s.audiences == ("env-aud",)
    assert s.port == 9000
    s = Settings.from_env(env, db_url="sqlite:///cli.sqlite", audiences=["cli-aud"])
    assert (s.db_url, s.audiences) == ("sqlite:///cli.sqlite", ("cli-aud",))


def test_empty_environment_gives_defaults() -> None:
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"port": 70000}, "port"),
        ({"port": "80"}, "port"),
        ({"audiences": ()}, "audiences"),
        ({"audiences": ("",)}, "audiences"),
        ({"max_body_bytes": 10}, "max_body_bytes"),
        ({"db_url": ""}, "db_url"),
        ({"token_leeway_s": -1}, "token_leeway_s"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Settings(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_bad_boolean_in_environment_is_refused() -> None:
    with pytest.raises(InvalidInput, match="SHAREDSKY_ALLOW_HTTP_BASE_URLS"):
        Settings.from_env({"SHAREDSKY_ALLOW_HTTP_BASE_URLS": "maybe"})


def test_unknown_override_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        Settings.from_env({}, colour="blue")


def test_lane_threads_come_from_the_environment_and_are_checked() -> None:
    assert Settings().lane_threads == DEFAULT_LANE_THREADS == 3
    assert Settings.from_env({"SHAREDSKY_LANE_THREADS": " 8 "}).lane_threads == 8
    with pytest.raises(InvalidInput, match="SHAREDSKY_LANE_THREADS"):
        Settings.from_env({"SHAREDSKY_LANE_THREADS": "many"})
    for bad in (0, 257, True, 2.5):
        with pytest.raises(InvalidInput, match="lane_threads"):
            Settings(lane_threads=bad)  # type: ignore[arg-type]
