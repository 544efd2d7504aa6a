"""The shared record: the append-only events of sharedsky, in a form independent of storage.

* :mod:`sharedsky.record.rows`: the canonical row form of an event (the column values of the
  store's ``events`` table, in one place) and back;
* :mod:`sharedsky.record.replay`: replaying recorded DSS writes to rebuild the intent state as of
  each event and to check the F3548 invariant (every Accepted or Activated write presented the
  current OVN of each live intent it intersects).

Pure: no storage library; the store builds its statements from :data:`EVENT_COLUMNS`.
"""

from __future__ import annotations

from sharedsky.record.replay import CheckedWrite, IntentReplay, IntentState, replay_intents
from sharedsky.record.rows import EVENT_COLUMNS, event_row, recorded_event

__all__ = [
    "EVENT_COLUMNS",
    "CheckedWrite",
    "IntentReplay",
    "IntentState",
    "event_row",
    "recorded_event",
    "replay_intents",
]
