"""The HTTP interface of sharedsky: :func:`create_app` builds the FastAPI application.

Only this package imports FastAPI; errors become HTTP responses in :mod:`sharedsky.api.errors`.
"""

from __future__ import annotations

from sharedsky.api.app import create_app

__all__ = ["create_app"]
