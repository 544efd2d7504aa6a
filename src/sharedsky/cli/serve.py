"""``sharedsky serve``: run the HTTP service (the F3548 DSS) with uvicorn."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sharedsky.cli import app
from sharedsky.config import DEFAULT_DB_URL, DEFAULT_HOST, DEFAULT_PORT, Settings

__all__ = ["serve"]


def _settings_env(settings: Settings) -> dict[str, str]:
    """The ``SHAREDSKY_*`` variables from which ``Settings.from_env`` rebuilds ``settings``."""
    env = {
        "SHAREDSKY_DB": settings.db_url,
        "SHAREDSKY_PUBLIC_KEYS": ",".join(str(Path(p).resolve()) for p in settings.public_key_pems),
        "SHAREDSKY_AUDIENCE": ",".join(settings.audiences),
        "SHAREDSKY_ALLOW_HTTP_BASE_URLS": "1" if settings.allow_http_base_urls else "0",
        "SHAREDSKY_RATE_LIMIT": ""
        if settings.rate_limit_per_s is None
        else str(settings.rate_limit_per_s),
    }
    if settings.live_config is not None:
        env["SHAREDSKY_LIVE_CONFIG"] = str(Path(settings.live_config).resolve())
    return env


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
    live_config: Annotated[
        Path | None,
        typer.Option(
            "--live-config",
            help="JSON configuration of the live tactical service (minima, look-ahead, volumes, "
            "lines, parties and their surveillance feeds). Default: $SHAREDSKY_LIVE_CONFIG, "
            "else built-in defaults.",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        str,
        typer.Option("--log-level", help="uvicorn log level: critical, error, warning, info."),
    ] = "info",
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request (slower).")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help="Server processes sharing the port (uvicorn workers), each with its own "
            "connections and threads; use about one per core left to the service. Writes keep "
            "their guarantees across processes (as across servers). The rate limit counts per "
            "process.",
            min=1,
        ),
    ] = 1,
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
        live_config=live_config,
    )
    if settings.live_config is not None:
        from sharedsky.services.live import LiveConfig

        LiveConfig.from_file(settings.live_config)  # a bad file fails here, naming the field
    err = Console(stderr=True)
    application = create_app(settings)  # reads the public keys: a bad file fails here
    open_store(settings.db_url).close()  # a bad URL or unreachable database fails here
    err.print(
        f"sharedsky serving on http://{settings.host}:{settings.port} "
        f"(database {_safe_url(settings.db_url)}; {len(settings.public_key_pems)} public key(s); "
        f"audiences {', '.join(settings.audiences)})",
        highlight=False,
    )
    if workers > 1:
        # Each worker builds its app from the environment (uvicorn imports a factory).
        os.environ.update(_settings_env(settings))
        uvicorn.run(
            "sharedsky.api.app:create_app_from_env",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_level=log_level,
            access_log=access_log,
            proxy_headers=False,
            server_header=False,
        )
        return
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=access_log,
        proxy_headers=False,
        server_header=False,
    )
