"""The alert book: each cycle's candidates become raised, updated and cleared alerts.

An alert is *raised* when its key (kind + inputs) is first detected, *updated* when its level
changes or its geometry changes materially (:func:`material_change`), and *cleared* when not
detected for longer than ``clear_after_s`` (hysteresis: no flapping at the edges of the minima).
The alert's ``id`` stays the same from raised to cleared, ``seq`` counts its transitions; the
parties of an update are those of the candidate and of the alert before it (nobody who was told
of an alert stops hearing of it). The book keeps the last ``history_max`` transitions in memory
(the record keeps them all). Thread-safe.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from sharedsky.errors import NotFound
from sharedsky.model.alerts import Alert, AlertStatus
from sharedsky.services.live.candidates import Candidate

__all__ = ["AlertBook", "material_change"]

_FLAGS = ("los", "inside", "flags", "missing", "no_active_plan_volume", "reason")
_RELATIVE_TIMES = ("t_cpa_s", "t_in_s", "t_entry_s", "t_cross_s")


def material_change(old: Alert, cand: Candidate, now: float) -> bool:
    """Does ``cand`` differ enough from the alert's last transition to be an update? Its level,
    a flag (lost, inside, implausible flags, missing fields, no plan volume, reason), the CPA
    distance by more than max(200 m, 10 %), or a predicted time (CPA, loss, entry, crossing) by
    more than 5 s — compared as absolute times, so a steady approach changes nothing."""
    if old.level != cand.level:
        return True
    g0, g1 = old.geometry, cand.geometry
    if any(g0.get(flag) != g1.get(flag) for flag in _FLAGS):
        return True
    d0, d1 = g0.get("d_cpa_m"), g1.get("d_cpa_m")
    if d0 is not None and d1 is not None and abs(d1 - d0) > max(200.0, 0.1 * abs(d0)):
        return True
    for rel in _RELATIVE_TIMES:
        a0, a1 = g0.get(rel), g1.get(rel)
        if a0 is not None and a1 is not None and abs((old.detected_t + a0) - (now + a1)) > 5.0:
            return True
    return False


@dataclass
class _Active:
    alert: Alert
    last_seen: float


class AlertBook:
    """The active alerts by key and the recent transitions (see the module docstring)."""

    def __init__(self, clear_after_s: float, history_max: int) -> None:
        self.clear_after_s = clear_after_s
        self._lock = threading.Lock()
        self._active: dict[str, _Active] = {}
        self._history: deque[Alert] = deque(maxlen=history_max)

    def __len__(self) -> int:
        """The number of active alerts."""
        return len(self._active)

    def update(self, candidates: Mapping[str, Candidate], now: float) -> list[Alert]:
        """Apply one cycle's candidates (by key) at ``now``; returns the transitions, raised
        and updated first (in candidate order), then cleared."""
        out: list[Alert] = []
        with self._lock:
            for key, cand in candidates.items():
                cur = self._active.get(key)
                if cur is None:
                    alert = _raised(key, cand, now)
                    self._active[key] = _Active(alert, now)
                    out.append(alert)
                    continue
                cur.last_seen = now
                if material_change(cur.alert, cand, now) or set(cand.parties) != set(
                    cur.alert.parties
                ):
                    cur.alert = _updated(cur.alert, cand, now)
                    out.append(cur.alert)
            for key in [k for k in self._active if k not in candidates]:
                cur = self._active[key]
                if now - cur.last_seen < self.clear_after_s:
                    continue
                del self._active[key]
                out.append(_cleared(cur.alert, now))
            self._history.extend(out)
        return out

    def active(self, party: str) -> list[Alert]:
        """The current state of each active alert involving ``party``, oldest raised first."""
        with self._lock:
            items = [a.alert for a in self._active.values() if party in a.alert.parties]
        items.sort(key=lambda a: (a.raised_t, a.id))
        return items

    def history(self, party: str) -> list[Alert]:
        """The transitions in memory involving ``party``, oldest first."""
        with self._lock:
            return [a for a in self._history if party in a.parties]

    def transitions(self, party: str, alert_id: str) -> list[Alert]:
        """Every transition in memory of one alert; :class:`NotFound` unless it involves
        ``party`` (another party's alert is not shown to exist)."""
        with self._lock:
            items = [a for a in self._history if a.id == alert_id]
        if not items or party not in items[0].parties:
            raise NotFound(f"no alert {alert_id}")
        return items


def _raised(key: str, cand: Candidate, now: float) -> Alert:
    return Alert(
        id=str(uuid.uuid4()),
        key=key,
        kind=cand.kind,
        level=cand.level,
        status=AlertStatus.RAISED,
        seq=1,
        parties=cand.parties,
        inputs=cand.inputs,
        geometry=cand.geometry,
        detected_t=now,
        raised_t=now,
        message=cand.message,
    )


def _updated(old: Alert, cand: Candidate, now: float) -> Alert:
    return dataclasses.replace(
        old,
        kind=cand.kind,
        level=cand.level,
        status=AlertStatus.UPDATED,
        seq=old.seq + 1,
        parties=tuple(sorted(set(cand.parties) | set(old.parties))),
        inputs=cand.inputs,
        geometry=cand.geometry,
        detected_t=now,
        message=cand.message,
    )


def _cleared(old: Alert, now: float) -> Alert:
    return dataclasses.replace(
        old,
        status=AlertStatus.CLEARED,
        seq=old.seq + 1,
        detected_t=now,
        message=f"cleared: {old.message}",
    )
