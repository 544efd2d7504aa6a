"""The public surface of ``sharedsky.tactical`` is pinned: a change here is a change of contract."""

from __future__ import annotations

import sharedsky.tactical as tactical

EXPECTED = {
    "AlertLevel", "AlertThresholds", "AreaProximity", "Conflicts", "Conformance", "DataQuality",
    "DetectionParams", "LevelOccupancy", "Line", "LineCrossings", "MinimaRule", "MinimaTable",
    "ProtectedVolume", "ResolutionAdvice", "SeparationMinima", "TrackStates", "classify",
    "conformance", "detect_area_proximity", "detect_conflicts", "detect_line_crossings",
    "resolution_advice",
}  # fmt: skip


def test_public_names_are_pinned() -> None:
    assert set(tactical.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(tactical, name) is not None


def test_kernels_stay_private() -> None:
    assert not any(name.startswith("_") for name in tactical.__all__)
