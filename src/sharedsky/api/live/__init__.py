"""The live tactical service over HTTP and WebSocket (``/live/v1``).

``router`` holds the endpoints (:mod:`sharedsky.api.live.routes`); :func:`live_lifespan` builds
the :class:`~sharedsky.services.live.LiveService` on the application's store, reads the live
configuration file named by ``Settings.live_config``, and runs the detection loop while the
application runs. Test seams on ``app.state`` (set before the lifespan starts):
``live_clock`` (a callable returning epoch seconds) and ``live_loop`` (``False``: no background
loop; the test drives :meth:`LiveService.run_detection_cycle` itself).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.concurrency import run_in_threadpool

from sharedsky.api.live.routes import router
from sharedsky.config import Settings
from sharedsky.feeds.net import open_feed
from sharedsky.model.scopes import SCOPE_PICTURE_READ, SCOPE_TRACKS_WRITE
from sharedsky.services.live import LiveConfig, LiveService

__all__ = ["SCOPE_PICTURE_READ", "SCOPE_TRACKS_WRITE", "live_lifespan", "router"]


@asynccontextmanager
async def live_lifespan(app: Any, store: Any, settings: Settings) -> AsyncIterator[LiveService]:
    """Run the live service for ``app`` (see the module docstring)."""
    config = (
        LiveConfig.from_file(settings.live_config)
        if settings.live_config is not None
        else LiveConfig()
    )
    clock = getattr(app.state, "live_clock", None) or time.time
    service = LiveService(store, config, clock=clock)
    app.state.live = service
    if getattr(app.state, "live_loop", True):
        service.start()
    feeds = [
        (party, open_feed(spec, clock=clock))
        for party, pc in config.parties.items()
        for spec in pc.feeds
    ]
    for party, feed in feeds:  # configured surveillance feeds (parties.<p>.feeds)
        service.attach_feed(party, feed)
    try:
        yield service
    finally:
        for _, feed in feeds:
            feed.stop()
        await run_in_threadpool(service.stop)
