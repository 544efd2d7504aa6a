"""The public surface of ``sharedsky.client`` is pinned: a change to it is a decision."""

from __future__ import annotations

import inspect

import sharedsky.client
import sharedsky.testing


def test_client_exports_exactly_its_public_names() -> None:
    assert sharedsky.client.__all__ == [
        "AlertListener",
        "DssClient",
        "LiveClient",
        "OvnLookup",
        "PushResult",
        "PutOutcome",
        "ReplayTally",
        "ServerProcess",
        "ServerStartFailed",
        "ServerUnavailable",
        "TokenSource",
        "batch_to_json",
        "box_volume",
        "free_port",
        "mint_token",
        "push_replay",
        "rfc3339",
        "write_key_pair",
    ]
    for name in sharedsky.client.__all__:
        member = getattr(sharedsky.client, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert member.__module__.startswith("sharedsky.client."), name


def test_testing_re_exports_the_client_rather_than_a_copy() -> None:
    shared = ("DssClient", "PutOutcome", "ServerProcess", "box_volume", "free_port", "mint_token")
    for name in (*shared, "rfc3339"):
        assert getattr(sharedsky.testing, name) is getattr(sharedsky.client, name)
    assert "utm.strategic_coordination" in sharedsky.testing.ALL_SCOPES
