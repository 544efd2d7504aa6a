"""Plain records of the strategic entities, and their rows.

Records are frozen dataclasses with UTC-aware datetimes; cell ids are signed 64-bit S2 ids
(level :data:`sharedsky.geo.CELL_LEVEL`). Times are stored as integer microseconds since the
Unix epoch (:func:`to_us`, :func:`from_us`). :func:`oir_columns` and :func:`oir_record` map an
intent to the columns of its row (:data:`sharedsky.store.tables.oirs`) and back, by name;
:func:`constraint_record` and :func:`subscription_record` read the rows of the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "AvailabilityRecord",
    "ConstraintRecord",
    "OirContext",
    "OirRecord",
    "SubscriptionRecord",
    "constraint_record",
    "from_us",
    "oir_columns",
    "oir_record",
    "subscription_record",
    "to_us",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

def to_us(value: datetime) -> int:
    """UTC-aware datetime -> integer microseconds since the Unix epoch."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    """Inverse of :func:`to_us`."""
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, slots=True)
class OirContext:
    """What :meth:`StrategicTx.oir_write_attempt` read without the area locks, as its
    statement's parameters and the fingerprint of its rows, for
    :meth:`StrategicTx.write_oir_guarded` to check."""

    params: dict[str, Any]
    expected: list[str] | None


@dataclass(frozen=True, slots=True)
class OirRecord:
    """A stored operational intent reference. ``cells`` is filled only when asked for."""

    id: str
    manager: str
    version: int
    state: str
    ovn: str
    uss_base_url: str
    subscription_id: str | None
    altitude_lower_m: float
    altitude_upper_m: float
    time_start: datetime
    time_end: datetime
    updated: datetime
    cells: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class ConstraintRecord:
    """A stored constraint reference. ``cells`` is filled only when asked for."""

    id: str
    manager: str
    version: int
    ovn: str
    uss_base_url: str
    altitude_lower_m: float
    altitude_upper_m: float
    time_start: datetime
    time_end: datetime
    updated: datetime
    cells: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """A stored subscription. ``cells`` is filled only when asked for."""

    id: str
    manager: str
    version: str
    notification_index: int
    uss_base_url: str
    notify_for_operational_intents: bool
    notify_for_constraints: bool
    implicit: bool
    altitude_lower_m: float | None
    altitude_upper_m: float | None
    time_start: datetime
    time_end: datetime
    updated: datetime
    cells: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class AvailabilityRecord:
    uss: str
    availability: str
    version: str
    updated: datetime


def oir_columns(record: OirRecord) -> dict[str, Any]:
    """The columns of an intent's row other than its id, by name."""
    return {
        "manager": record.manager,
        "version": record.version,
        "state": record.state,
        "ovn": record.ovn,
        "uss_base_url": record.uss_base_url,
        "subscription_id": record.subscription_id,
        "altitude_lower_m": record.altitude_lower_m,
        "altitude_upper_m": record.altitude_upper_m,
        "start_us": to_us(record.time_start),
        "end_us": to_us(record.time_end),
        "updated_us": to_us(record.updated),
    }


def oir_record(row: Mapping[str, Any], cells: frozenset[int] = frozenset()) -> OirRecord:
    """The intent of a row of ``operational_intents`` (its column values by name)."""
    return OirRecord(
        id=row["id"],
        manager=row["manager"],
        version=row["version"],
        state=row["state"],
        ovn=row["ovn"],
        uss_base_url=row["uss_base_url"],
        subscription_id=row["subscription_id"],
        altitude_lower_m=row["altitude_lower_m"],
        altitude_upper_m=row["altitude_upper_m"],
        time_start=from_us(row["start_us"]),
        time_end=from_us(row["end_us"]),
        updated=from_us(row["updated_us"]),
        cells=cells,
    )


def constraint_record(
    row: Mapping[str, Any], cells: frozenset[int] = frozenset()
) -> ConstraintRecord:
    """The constraint of a row of ``constraints`` (its column values by name)."""
    return ConstraintRecord(
        id=row["id"],
        manager=row["manager"],
        version=row["version"],
        ovn=row["ovn"],
        uss_base_url=row["uss_base_url"],
        altitude_lower_m=row["altitude_lower_m"],
        altitude_upper_m=row["altitude_upper_m"],
        time_start=from_us(row["start_us"]),
        time_end=from_us(row["end_us"]),
        updated=from_us(row["updated_us"]),
        cells=cells,
    )


def subscription_record(
    row: Mapping[str, Any], cells: frozenset[int] = frozenset()
) -> SubscriptionRecord:
    """The subscription of a row of ``subscriptions`` (its column values by name)."""
    return SubscriptionRecord(
        id=row["id"],
        manager=row["manager"],
        version=row["version"],
        notification_index=row["notification_index"],
        uss_base_url=row["uss_base_url"],
        notify_for_operational_intents=bool(row["notify_for_operational_intents"]),
        notify_for_constraints=bool(row["notify_for_constraints"]),
        implicit=bool(row["implicit"]),
        altitude_lower_m=row["altitude_lower_m"],
        altitude_upper_m=row["altitude_upper_m"],
        time_start=from_us(row["start_us"]),
        time_end=from_us(row["end_us"]),
        updated=from_us(row["updated_us"]),
        cells=cells,
    )
