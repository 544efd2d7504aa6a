"""USS availability (get and set) and reports."""

from __future__ import annotations

import uuid
from typing import Any

from sharedsky.errors import (
    Conflict,
    InvalidInput,
)
from sharedsky.model.events import EntityType, Event, Operation
from sharedsky.model.strategic import (
    Caller,
    UssAvailability,
    UssAvailabilityState,
)
from sharedsky.services.strategic._base import (
    ServiceBase,
    _new_version,
    _text,
)
from sharedsky.store import (
    AvailabilityRecord,
    StrategicTx,
)


class UssAvailabilityUseCases(ServiceBase):
    """USS availability (get and set) and reports."""

    def get_uss_availability(self, uss_id: str, caller: Caller) -> UssAvailability:
        _text(uss_id, "uss_id")
        with self._store.read() as tx:
            rec = tx.get_availability(uss_id)
        if rec is None:
            return UssAvailability(uss_id, UssAvailabilityState.UNKNOWN, "")
        return UssAvailability(uss_id, UssAvailabilityState(rec.availability), rec.version)

    def set_uss_availability(
        self, uss_id: str, old_version: str, availability: UssAvailabilityState, caller: Caller
    ) -> UssAvailability:
        """Set a USS's availability; ``old_version`` must be the current version (``""`` if
        never set)."""
        now = self._now()
        _text(uss_id, "uss_id")
        try:
            state = UssAvailabilityState(availability)
        except ValueError as exc:
            raise InvalidInput(f"unknown availability {availability!r}", "availability") from exc
        if not isinstance(old_version, str):
            raise InvalidInput("must be a string", "old_version")

        def work(tx: StrategicTx) -> UssAvailability:
            old = tx.get_availability(uss_id, for_update=True)
            current = old.version if old else ""
            if old_version != current:
                raise Conflict(f"old_version {old_version!r} is not the current version")
            rec = AvailabilityRecord(uss_id, state.value, _new_version(current), now)
            tx.save_availability(rec, old)
            tx.append_event(
                Event(
                    EntityType.USS_AVAILABILITY,
                    uss_id,
                    Operation.SET,
                    caller.manager,
                    {"availability": state.value, "version": rec.version},
                    now,
                )
            )
            return UssAvailability(uss_id, state, rec.version)

        return self._write(work)

    # -- reports ---------------------------------------------------------------------------

    def make_report(self, report: dict[str, Any], caller: Caller) -> str:
        """Store a report as given and return its new ``report_id``."""
        if not isinstance(report, dict):
            raise InvalidInput("must be an object", "report")
        now = self._now()
        report_id = str(uuid.uuid4())

        def work(tx: StrategicTx) -> str:
            tx.add_report(report_id, caller.manager, now, report)
            tx.append_event(
                Event(EntityType.REPORT, report_id, Operation.CREATE, caller.manager, {}, now)
            )
            return report_id

        return self._write(work)
