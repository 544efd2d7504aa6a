"""Constraints: query, get, create or update, and delete."""

from __future__ import annotations

from sharedsky.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from sharedsky.geo import (
    MAX_CONSTRAINT_AREA_KM2,
    cover_volumes,
)
from sharedsky.model.events import Operation
from sharedsky.model.strategic import (
    Caller,
    ConstraintReference,
    PutConstraint,
    SubscriberToNotify,
    Volume4D,
)
from sharedsky.services.strategic._base import (
    ServiceBase,
    _event,
    _lock_and_get,
    _new_ovn,
    _text,
)
from sharedsky.store import (
    ConstraintRecord,
    StrategicTx,
)


class ConstraintUseCases(ServiceBase):
    """Constraint references: query, get, put (create or update) and delete."""

    def query_constraints(self, area: Volume4D, caller: Caller) -> list[ConstraintReference]:
        now = self._now()
        cells, lo, hi, start, end = self._area(area, now)
        with self._store.read() as tx:
            return self._constraint_views(
                tx, tx.find_constraints(cells, lo, hi, start, end), caller
            )

    def get_constraint(self, entity_id: str, caller: Caller) -> ConstraintReference:
        with self._store.read() as tx:
            rec = tx.get_constraint(entity_id)
            if rec is None:
                raise NotFound(f"constraint {entity_id} not found")
            return self._constraint_views(tx, [rec], caller)[0]

    def put_constraint(
        self, entity_id: str, ovn: str | None, params: PutConstraint, caller: Caller
    ) -> tuple[ConstraintReference, list[SubscriberToNotify]]:
        """Create (``ovn`` None) or update a constraint (manager only, current OVN)."""
        now = self._now()
        _text(entity_id, "entityid")
        uss_base_url = _text(params.uss_base_url, "uss_base_url")
        cells, lo, hi, start, end = cover_volumes(
            params.extents, "extents", max_area_km2=MAX_CONSTRAINT_AREA_KM2, not_before=now
        )
        assert lo is not None and hi is not None and start is not None and end is not None

        def work(tx: StrategicTx) -> tuple[ConstraintReference, list[SubscriberToNotify]]:
            old = _lock_and_get(tx, tx.get_constraint, entity_id, cells, create=ovn is None)
            if ovn is None:
                if old is not None:
                    raise Conflict(f"constraint {entity_id} already exists")
            else:
                if old is None:
                    raise InvalidInput(f"constraint {entity_id} does not exist", "entityid")
                if old.manager != caller.manager:
                    raise PermissionDenied(f"constraint {entity_id} is managed by another USS")
                if old.ovn != ovn:
                    raise Conflict(f"OVN {ovn} is not the current OVN of {entity_id}")
            rec = ConstraintRecord(
                id=entity_id,
                manager=caller.manager,
                version=1 if old is None else old.version + 1,
                ovn=_new_ovn(),
                uss_base_url=uss_base_url,
                altitude_lower_m=lo,
                altitude_upper_m=hi,
                time_start=start,
                time_end=end,
                updated=now,
                cells=cells,
            )
            tx.save_constraint(rec, old)
            _event(tx, now, caller, Operation.CREATE if old is None else Operation.UPDATE, rec)
            notify_cells = cells | (old.cells if old else frozenset())
            n_start = min(start, old.time_start) if old else start
            n_end = max(end, old.time_end) if old else end
            subscribers = self._subscribers(
                tx, notify_cells, n_start, n_end, now, for_constraints=True
            )
            return self._constraint_views(tx, [rec], caller)[0], subscribers

        return self._write(work)

    def delete_constraint(
        self, entity_id: str, ovn: str, caller: Caller
    ) -> tuple[ConstraintReference, list[SubscriberToNotify]]:
        now = self._now()

        def work(tx: StrategicTx) -> tuple[ConstraintReference, list[SubscriberToNotify]]:
            old = _lock_and_get(tx, tx.get_constraint, entity_id, frozenset())
            if old is None:
                raise NotFound(f"constraint {entity_id} not found")
            if old.manager != caller.manager:
                raise PermissionDenied(f"constraint {entity_id} is managed by another USS")
            if old.ovn != ovn:
                raise Conflict(f"OVN {ovn} is not the current OVN of {entity_id}")
            view = self._constraint_views(tx, [old], caller)[0]
            tx.delete_constraint(entity_id)
            _event(tx, now, caller, Operation.DELETE, old)
            subscribers = self._subscribers(
                tx, old.cells, old.time_start, old.time_end, now, for_constraints=True
            )
            return view, subscribers

        return self._write(work)
