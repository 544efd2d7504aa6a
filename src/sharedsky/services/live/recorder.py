"""The live service's events on their way to the record.

Alert transitions, deliveries and dropped tracks are queued in memory by whoever produces them
(the detection cycle, a stream handler) and appended to the store's event table in batches, by
a thread of their own when :meth:`EventRecorder.start` ran (so a slow database never delays
detection or delivery) or at once by :meth:`EventRecorder.flush` (tests and replays that drive
time by hand). A batch the store refuses is kept for the next flush (logged).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from sharedsky.errors import SharedskyError
from sharedsky.model.events import SYSTEM_ACTOR, EntityType, Event, Operation
from sharedsky.store import Store

__all__ = ["EventRecorder"]

log = logging.getLogger("sharedsky.live")


class EventRecorder:
    """Queue of live events and the thread that appends them (``store`` None: nothing kept)."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._pending: list[Event] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def add(
        self,
        t: float,
        operation: Operation,
        entity_type: EntityType,
        entity_id: str,
        payload: dict[str, Any],
    ) -> None:
        """Queue one event that sharedsky observed (the system actor) at epoch time ``t``."""
        if self.store is None:
            return
        event = Event(
            entity_type, entity_id, operation, SYSTEM_ACTOR, payload, datetime.fromtimestamp(t, UTC)
        )
        with self._lock:
            self._pending.append(event)

    def wake(self) -> None:
        """Have the thread flush now (or flush here when there is no thread)."""
        if self._thread is not None:
            self._wake.set()
        else:
            self.flush()

    def flush(self) -> int:
        """Append the queued events to the event table; returns how many."""
        if self.store is None:
            return 0
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return 0
        try:
            with self.store.write() as tx:
                tx.append_events(pending)
        except SharedskyError as exc:
            log.error("cannot append %d live events: %s (kept for retry)", len(pending), exc)
            with self._lock:
                self._pending[:0] = pending
            return 0
        return len(pending)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="live-record", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # keep recording; the failure is logged
                log.exception("recording live events failed")

    def stop(self) -> None:
        """Stop the thread and flush what is queued."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()
