"""Tactical conflict engine: state-based conflict prediction between live tracks (no I/O).

Quick use::

    from sharedsky.tactical import TrackStates, DetectionParams, detect_conflicts

    states = TrackStates.from_traffic_frame(df).latest()
    conflicts = detect_conflicts(states, DetectionParams(all_pairs=True))
    conflicts.to_frame(states)

Everything inside is SI (m, s, m/s), WGS-84 degrees and epoch seconds (UTC); feet, knots and
ft/min are converted by :meth:`TrackStates.from_traffic_frame`. Geometry, semantics of every
degenerate case, the level-occupancy rule and the broad phase are documented in
:mod:`sharedsky.tactical.detect`.

The numba kernels (:mod:`sharedsky.tactical._kernels`) compile on first use and are cached on
disk (``cache=True``, numba's ``__pycache__`` beside the module or ``NUMBA_CACHE_DIR``): the
first detection in a fresh environment spends about 20 s compiling on a busy 2-core machine
(import plus first call about 2 s once cached); area proximity and resolution advice compile
their own kernels on first use. Kernels run on one thread; results do not depend on threads or
on the order of the input rows.

Cost: O(N + candidate pairs) time and memory. Scratch arrays are kept per thread between calls
(they only grow), so a live service's repeated cycles do not pay for fresh memory. Area
proximity and line crossings pair each shape only with the tracks in its latitude band (volumes
also within reach in longitude): O(N log N + shapes + candidate pairs).
"""

from sharedsky.tactical.advisories import ResolutionAdvice, resolution_advice
from sharedsky.tactical.alerting import AlertLevel
from sharedsky.tactical.areas import (
    AreaProximity,
    Conformance,
    Line,
    LineCrossings,
    ProtectedVolume,
    conformance,
    detect_area_proximity,
    detect_line_crossings,
)
from sharedsky.tactical.detect import Conflicts, DetectionParams, classify, detect_conflicts
from sharedsky.tactical.params import (
    AlertThresholds,
    DataQuality,
    LevelOccupancy,
    MinimaRule,
    MinimaTable,
    SeparationMinima,
)
from sharedsky.tactical.states import TrackStates

__all__ = [
    "AlertLevel",
    "AlertThresholds",
    "AreaProximity",
    "Conflicts",
    "Conformance",
    "DataQuality",
    "DetectionParams",
    "LevelOccupancy",
    "Line",
    "LineCrossings",
    "MinimaRule",
    "MinimaTable",
    "ProtectedVolume",
    "ResolutionAdvice",
    "SeparationMinima",
    "TrackStates",
    "classify",
    "conformance",
    "detect_area_proximity",
    "detect_conflicts",
    "detect_line_crossings",
    "resolution_advice",
]
