"""``sharedsky serve``: run the HTTP service (the F3548 DSS) with uvicorn."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sharedsky.cli import app
from sharedsky.config import DEFAULT_DB_URL, DEFAULT_HOST, DEFAULT_PORT, Settings

__all__ = ["serve"]


def _safe_url(url: str) -> str:
    """The URL with any password masked, for display."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


@app.command()
def serve(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help=f"Database URL (SQLAlchemy form). Default: $SHAREDSKY_DB, else {DEFAULT_DB_URL} "
            "(a file in the current directory). PostgreSQL: postgresql+psycopg://user:pw@host/db.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option("--host", help=f"Interface to listen on [default: {DEFAULT_HOST}]."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help=f"TCP port [default: {DEFAULT_PORT}].", min=0, max=65535),
    ] = None,
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--public-key",
            help="PEM file (RSA public key or certificate) that verifies RS256 access tokens; "
            "repeatable. Default: $SHAREDSKY_PUBLIC_KEYS (comma-separated). Without any key every "
            "DSS request is refused with 401.",
            show_default=False,
        ),
    ] = None,
    audience: Annotated[
        list[str] | None,
        typer.Option(
            "--audience",
            help="Accepted token audience (the host name clients call this server by); "
            "repeatable. Default: $SHAREDSKY_AUDIENCE (comma-separated), else localhost and "
            "127.0.0.1.",
            show_default=False,
        ),
    ] = None,
    allow_http_base_urls: Annotated[
        bool,
        typer.Option(
            "--allow-http-base-urls",
            help="Accept http:// USS base URLs (local testing only; otherwise https:// only).",
        ),
    ] = False,
    rate_limit: Annotated[
        float | None,
        typer.Option(
            "--rate-limit",
            help="Requests per second allowed to each client (token sub); more get 429. "
            "Default: $SHAREDSKY_RATE_LIMIT, else no limit.",
            show_default=False,
            min=0,
        ),
    ] = None,
    log_level: Annotated[
        str,
        typer.Option("--log-level", help="uvicorn log level: critical, error, warning, info."),
    ] = "info",
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request (slower).")
    ] = False,
) -> None:
    """Serve the ASTM F3548-21 DSS API (and /healthy, /aux/v1/version, /docs) until interrupted."""
    import uvicorn

    from sharedsky.api import create_app
    from sharedsky.store import open_store

    settings = Settings.from_env(
        db_url=db,
        host=host,
        port=port,
        public_key_pems=public_key,
        audiences=audience,
        allow_http_base_urls=True if allow_http_base_urls else None,
        rate_limit_per_s=rate_limit,
    )
    err = Console(stderr=True)
    application = create_app(settings)  # reads the public keys: a bad file fails here
    open_store(settings.db_url).close()  # a bad URL or unreachable database fails here
    err.print(
        f"sharedsky serving on http://{settings.host}:{settings.port} "
        f"(database {_safe_url(settings.db_url)}; {len(settings.public_key_pems)} public key(s); "
        f"audiences {', '.join(settings.audiences)})",
        highlight=False,
    )
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=access_log,
        proxy_headers=False,
        server_header=False,
    )
