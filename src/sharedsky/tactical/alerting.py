"""Alert levels of predicted conflicts: thresholds are data (:class:`AlertThresholds`)."""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from sharedsky.tactical.params import AlertThresholds

__all__ = ["AlertLevel", "AlertThresholds", "classify_arrays", "level_names"]


class AlertLevel(StrEnum):
    """Alert level of a pair: WARNING (lost, or predicted lost within ``warning_s``), CAUTION
    (predicted within ``caution_s``), NONE (predicted later in the look-ahead), CANNOT_ASSESS
    (a track of the pair is too old to assess)."""

    WARNING = "WARNING"
    CAUTION = "CAUTION"
    NONE = "NONE"
    CANNOT_ASSESS = "CANNOT_ASSESS"


def classify_arrays(
    t_in: np.ndarray, los: np.ndarray, cannot_assess: np.ndarray, thresholds: AlertThresholds
) -> np.ndarray:
    """Level names (object array of str) from per-pair ``t_in``, ``los`` and ``cannot_assess``.

    Comparisons are inclusive: ``t_in <= warning_s`` is a WARNING.
    """
    t_in = np.asarray(t_in, dtype=np.float64)
    code = np.full(t_in.shape[0], 2, dtype=np.int8)  # index into _NAMES
    with np.errstate(invalid="ignore"):
        code[t_in <= thresholds.caution_s] = 1
        code[(t_in <= thresholds.warning_s) | np.asarray(los, dtype=bool)] = 0
    code[np.asarray(cannot_assess, dtype=bool)] = 3
    return _NAMES[code]


_NAMES = np.array([level.value for level in AlertLevel], dtype=object)


def level_names(code: np.ndarray) -> np.ndarray:
    """Level names (object array of str) of integer level codes: 0 WARNING, 1 CAUTION, 2 NONE,
    3 CANNOT_ASSESS (the order of :class:`AlertLevel`)."""
    return _NAMES[code]
