"""Alert levels of predicted conflicts: thresholds are data (:class:`AlertThresholds`)."""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from sharedsky.tactical.params import AlertThresholds

__all__ = ["AlertLevel", "AlertThresholds", "classify_arrays"]


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
    """Level names (numpy str array) from per-pair ``t_in``, ``los`` and ``cannot_assess``.

    Comparisons are inclusive: ``t_in <= warning_s`` is a WARNING.
    """
    t_in = np.asarray(t_in, dtype=np.float64)
    out = np.full(t_in.shape[0], AlertLevel.NONE.value, dtype="<U13")
    with np.errstate(invalid="ignore"):
        out[t_in <= thresholds.caution_s] = AlertLevel.CAUTION.value
        out[(t_in <= thresholds.warning_s) | np.asarray(los, dtype=bool)] = AlertLevel.WARNING.value
    out[np.asarray(cannot_assess, dtype=bool)] = AlertLevel.CANNOT_ASSESS.value
    return out
