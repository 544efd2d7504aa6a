"""FastAPI's native OpenTelemetry instrumentation: off unless the settings turn it on.

Unconfigured, it records nothing but asks the OpenTelemetry API on every request whether a
provider has been set up, which costs more CPU than the rest of a small request's routing."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sharedsky.api import create_app
from sharedsky.config import Settings

pytestmark = pytest.mark.skipif(
    "telemetry" not in inspect.signature(FastAPI.__init__).parameters,
    reason="this FastAPI has no native telemetry",
)


def _provider_lookups(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> int:
    from opentelemetry import trace

    calls = 0
    original = trace.get_tracer_provider

    def counting() -> trace.TracerProvider:
        nonlocal calls
        calls += 1
        return original()

    monkeypatch.setattr(trace, "get_tracer_provider", counting)
    with TestClient(create_app(settings)) as client:
        calls = 0
        for _ in range(3):
            assert client.get("/healthy").status_code == 200
    return calls


def test_requests_do_not_probe_opentelemetry_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = Settings(db_url=f"sqlite:///{tmp_path}/t.sqlite")
    assert _provider_lookups(monkeypatch, settings) == 0


def test_open_telemetry_setting_turns_the_instrumentation_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = Settings(db_url=f"sqlite:///{tmp_path}/t.sqlite", open_telemetry=True)
    assert _provider_lookups(monkeypatch, settings) >= 3
