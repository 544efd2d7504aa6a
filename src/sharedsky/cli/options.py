"""Options shared by the commands that talk to a running server (``replay``, ``watch``,
``demo``, ``feed``): where it is, who the party is and its credentials, the push transport."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["KeyFile", "Party", "Server", "TokenFile", "Via"]

Server = Annotated[
    str,
    typer.Option("--server", help="Base URL of the sharedsky server, e.g. http://127.0.0.1:8082."),
]
Party = Annotated[
    str | None,
    typer.Option("--party", help="Party the tracks belong to (required with --key)."),
]
TokenFile = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help="File holding a bearer token (its 'sub' is the party; scopes "
        "sharedsky.tracks.write and/or sharedsky.picture.read).",
        show_default=False,
    ),
]
KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="RSA private key (PEM) to sign a one-hour token for --party; the server must trust "
        "the matching public key (sharedsky serve --public-key).",
        show_default=False,
    ),
]
Via = Annotated[
    str, typer.Option("--via", help="Push transport: http (POST per batch) or ws (one WebSocket).")
]
