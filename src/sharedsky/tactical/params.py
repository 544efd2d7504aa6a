"""Parameters of detection as values: separation minima, level occupancy, data quality, alerts.

All in SI (metres, seconds, m/s). Feet, knots and flight levels appear only in the helpers that
say so (``from_ft`` / ``standard``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from sharedsky.errors import InvalidInput
from sharedsky.units import FPM_TO_MPS, FT_TO_M, NM_TO_M

__all__ = [
    "AlertThresholds",
    "DataQuality",
    "LevelOccupancy",
    "MinimaRule",
    "MinimaTable",
    "SeparationMinima",
]


def _positive(value: float, name: str, allow_zero: bool = False) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise InvalidInput(f"must be a finite {'non-negative' if allow_zero else 'positive'}", name)
    return v


@dataclass(frozen=True)
class SeparationMinima:
    """A protected zone: horizontal radius and vertical half-height (a cylinder), and optionally
    the look-ahead for the pairs it applies to (None: the detection's ``lookahead_s``)."""

    horizontal_m: float = 5.0 * NM_TO_M
    vertical_m: float = 1000.0 * FT_TO_M
    lookahead_s: float | None = None

    def __post_init__(self) -> None:
        _positive(self.horizontal_m, "horizontal_m")
        _positive(self.vertical_m, "vertical_m")
        if self.lookahead_s is not None:
            _positive(self.lookahead_s, "lookahead_s", allow_zero=True)

    @classmethod
    def from_nm_ft(
        cls, horizontal_nm: float, vertical_ft: float, lookahead_s: float | None = None
    ) -> SeparationMinima:
        return cls(horizontal_nm * NM_TO_M, vertical_ft * FT_TO_M, lookahead_s)


@dataclass(frozen=True)
class MinimaRule:
    """Minima for pairs matching ``parties`` (an unordered pair of party names; None: any pair)
    whose HIGHER current altitude lies in ``(above_m, up_to_m]`` (None: unbounded)."""

    minima: SeparationMinima
    parties: tuple[str, str] | None = None
    above_m: float | None = None
    up_to_m: float | None = None

    def __post_init__(self) -> None:
        if self.parties is not None and len(self.parties) != 2:
            raise InvalidInput("must be a pair of party names", "parties")


def _default_rules() -> tuple[MinimaRule, ...]:
    return (
        MinimaRule(SeparationMinima(5.0 * NM_TO_M, 2000.0 * FT_TO_M), above_m=41_000.0 * FT_TO_M),
    )


@dataclass(frozen=True)
class MinimaTable:
    """Minima per pair of parties and per altitude band: the FIRST matching rule applies, else
    ``default``. The default table is 5 NM / 1000 ft, and 5 NM / 2000 ft when the higher aircraft
    of the pair is above FL410 (ICAO Doc 4444 surveillance minimum; RVSM)."""

    default: SeparationMinima = field(default_factory=SeparationMinima)
    rules: tuple[MinimaRule, ...] = field(default_factory=_default_rules)

    @classmethod
    def uniform(cls, minima: SeparationMinima) -> MinimaTable:
        """One minimum for every pair, at every altitude."""
        return cls(default=minima, rules=())

    @classmethod
    def build(
        cls,
        default: SeparationMinima | None = None,
        per_party_pair: dict[tuple[str, str], SeparationMinima] | None = None,
        bands: Sequence[tuple[float | None, float | None, SeparationMinima]] | None = None,
    ) -> MinimaTable:
        """Party-pair rules first (any altitude), then altitude bands ``(above_m, up_to_m,
        minima)``; ``bands=None`` keeps the default 2000 ft above FL410 band."""
        rules: list[MinimaRule] = []
        for parties, m in (per_party_pair or {}).items():
            rules.append(MinimaRule(m, parties=(str(parties[0]), str(parties[1]))))
        if bands is None:
            rules.extend(_default_rules())
        else:
            rules.extend(MinimaRule(m, above_m=lo, up_to_m=hi) for lo, hi, m in bands)
        return cls(default=default or SeparationMinima(), rules=tuple(rules))


@dataclass(frozen=True)
class LevelOccupancy:
    """Level-occupancy tolerance for quantised, noisy altitudes.

    A track whose ``|vs|`` is at most ``max_vs_mps`` and whose altitude is within
    ``tolerance_m`` of a multiple of ``level_step_m`` is taken to be LEVEL AT that level for the
    vertical test: its altitude is snapped to the level and its vertical rate set to 0. Two such
    tracks at adjacent levels are then exactly one step apart, and the strict inequality
    ``|Δalt| < H`` gives no conflict. Defaults: 1000 ft levels, ±200 ft (the Mode C / RVSM
    altimetry tolerance), |vs| ≤ 300 ft/min. ``enabled=False`` uses raw altitudes.
    """

    enabled: bool = True
    level_step_m: float = 1000.0 * FT_TO_M
    tolerance_m: float = 200.0 * FT_TO_M
    max_vs_mps: float = 300.0 * FPM_TO_MPS

    def __post_init__(self) -> None:
        _positive(self.level_step_m, "level_step_m")
        _positive(self.tolerance_m, "tolerance_m", allow_zero=True)
        _positive(self.max_vs_mps, "max_vs_mps", allow_zero=True)
        if self.tolerance_m >= self.level_step_m / 2:
            raise InvalidInput("must be below half the level step", "tolerance_m")


@dataclass(frozen=True)
class DataQuality:
    """How data age and stated accuracy widen the protected zone.

    Each track gets a horizontal margin ``pos_accuracy_m + (vel_accuracy_mps +
    horizontal_growth_mps) * age`` and a vertical margin ``vertical_growth_mps * age``, where
    ``age = |now - t|``; unknown (NaN) accuracies count as the defaults below. A pair's radius is
    ``R + margin_a + margin_b`` and its half-height ``H + vmargin_a + vmargin_b``; margins are
    constant over the look-ahead. Tracks older than ``max_age_s`` are not assessed: each of their
    pairs that the broad phase cannot rule out is reported with ``cannot_assess`` instead.
    """

    max_age_s: float = 30.0
    default_pos_accuracy_m: float = 0.0
    default_vel_accuracy_mps: float = 0.0
    horizontal_growth_mps: float = 5.0
    vertical_growth_mps: float = 0.0

    def __post_init__(self) -> None:
        _positive(self.max_age_s, "max_age_s", allow_zero=True)
        for name in (
            "default_pos_accuracy_m",
            "default_vel_accuracy_mps",
            "horizontal_growth_mps",
            "vertical_growth_mps",
        ):
            _positive(getattr(self, name), name, allow_zero=True)


@dataclass(frozen=True)
class AlertThresholds:
    """Alert lead times: WARNING when separation is lost or predicted lost within ``warning_s``,
    CAUTION within ``caution_s``; conflicts later in the look-ahead are level NONE."""

    caution_s: float = 300.0
    warning_s: float = 120.0

    def __post_init__(self) -> None:
        _positive(self.caution_s, "caution_s", allow_zero=True)
        _positive(self.warning_s, "warning_s", allow_zero=True)
        if self.warning_s > self.caution_s:
            raise InvalidInput("must not exceed caution_s", "warning_s")
