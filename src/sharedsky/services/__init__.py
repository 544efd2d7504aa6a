"""Use cases of sharedsky, over the store and the algorithms."""

from __future__ import annotations

from sharedsky.services.strategic import StrategicService

__all__ = ["StrategicService"]
