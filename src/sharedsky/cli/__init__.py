"""The ``sharedsky`` command: a thin shell over the library and services.

Each command group lives in its own module and registers itself on :data:`app` through
:func:`_register`. Library errors become one red line and exit code 1 in :func:`main`, the only
place that maps exceptions to exit codes.
"""

from __future__ import annotations

import sys
from importlib import import_module

import typer
from rich.console import Console

from sharedsky.errors import SharedskyError

__all__ = ["app", "main"]

app = typer.Typer(
    name="sharedsky",
    help="Open, neutral airspace deconfliction: strategic (F3548 DSS), tactical, shared record.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # docstring paragraphs are reflowed, not broken mid-sentence
)

# Modules that define commands on ``app``; each is imported for its side effect of registering.
_COMMAND_MODULES: tuple[str, ...] = (
    "sharedsky.cli.serve",
    "sharedsky.cli.tactical",
    "sharedsky.cli.live",
    "sharedsky.cli.demo",
    "sharedsky.cli.feeds",
)


def _register() -> None:
    for name in _COMMAND_MODULES:
        import_module(name)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    _register()
    err = Console(stderr=True, soft_wrap=True)  # one error, one line, whatever the width
    try:
        app(args=argv, standalone_mode=True)
    except SharedskyError as exc:
        err.print(f"[red]error:[/red] {exc.message}", highlight=False)
        sys.exit(1)
