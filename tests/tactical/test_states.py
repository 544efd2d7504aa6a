"""TrackStates: the latest state per track, and tracks that have left the picture."""

from __future__ import annotations

import pytest

from sharedsky.errors import InvalidInput
from sharedsky.tactical import TrackStates


def _states() -> TrackStates:
    # A reports at 0, 10, 20; B at 5 and 100; C only at 30
    rows = [("A", 0.0), ("A", 10.0), ("B", 5.0), ("A", 20.0), ("C", 30.0), ("B", 100.0)]
    return TrackStates.from_records(
        {
            "track_id": tid,
            "party": "p",
            "t": t,
            "lat": 50.0,
            "lon": 5.0 + t / 1000,
            "alt_m": 3000.0,
            "gs_mps": 200.0,
            "trk_deg": 90.0,
            "vs_mps": 0.0,
        }
        for tid, t in rows
    )


def test_latest_state_per_track_not_after_the_time() -> None:
    latest = _states().latest(25.0)
    assert list(latest.track_id) == ["A", "B"]
    assert list(latest.t) == [20.0, 5.0]
    assert list(_states().latest().t) == [20.0, 100.0, 30.0]


def test_tracks_older_than_max_age_have_left_the_picture() -> None:
    assert list(_states().latest(25.0, max_age_s=10.0).track_id) == ["A"]
    assert list(_states().latest(25.0, max_age_s=20.0).track_id) == ["A", "B"]
    # without a time, the newest time of the table is the reference
    assert list(_states().latest(max_age_s=70.0).track_id) == ["B", "C"]


def test_max_age_must_be_a_non_negative_number() -> None:
    with pytest.raises(InvalidInput, match="max_age_s"):
        _states().latest(25.0, max_age_s=-1.0)
    with pytest.raises(InvalidInput, match="max_age_s"):
        _states().latest(25.0, max_age_s=float("nan"))
