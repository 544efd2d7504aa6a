"""Every command has help, and the README tells a new user that it exists."""

from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

from sharedsky.cli import _register, app
from tests.conftest import REPO_ROOT

_register()
COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_the_expected_commands_are_registered() -> None:
    assert {"serve", "detect", "scan", "replay", "watch", "demo", "feed"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help_and_is_in_the_readme(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and len(result.output.splitlines()) > 5
    assert f"sharedsky {name}" in (REPO_ROOT / "README.md").read_text()
