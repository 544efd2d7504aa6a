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


def test_traffic_frame_times_units_and_container_policy() -> None:
    import pandas as pd

    from sharedsky.units import FT_TO_M, KT_TO_MPS

    t0 = 1_633_608_000.0
    df = pd.DataFrame(
        {
            "timestamp": [t0, (t0 + 1) * 1000.0, t0 + 2],  # milliseconds decided row by row
            "icao24": ["AbC", "AbC", "d"],
            "latitude": [48.0, 95.0, None],  # a container: out of range and empty are kept
            "longitude": [2.0, 2.0, 2.0],
            "altitude": [1000.0, 1000.0, 1000.0],
            "groundspeed": [100.0, -1.0, 100.0],
            "track": [0.0, 0.0, 0.0],
            "vertical_rate": [0.0, 0.0, 0.0],
            "party": ["p", None, "q"],
        }
    )
    s = TrackStates.from_traffic_frame(df)
    assert s.t.tolist() == [t0, t0 + 1, t0 + 2]
    assert s.track_id.tolist() == ["AbC", "AbC", "d"] and s.party.tolist() == ["p", "unknown", "q"]
    assert s.lat[1] == 95.0 and s.gs_mps[1] == -KT_TO_MPS and s.alt_m[0] == 1000.0 * FT_TO_M
    iso = ["2021-10-07T12:00:00Z", "2021-10-07T12:00:01", "2021-10-07T14:00:02+02:00"]
    text = df.assign(timestamp=iso)  # naive text is UTC
    assert TrackStates.from_traffic_frame(text).t.tolist() == [t0, t0 + 1, t0 + 2]
    with pytest.raises(InvalidInput) as err:
        TrackStates.from_traffic_frame(df.assign(altitude=["FL10", 1.0, 1.0]))
    assert err.value.field == "altitude"
    assert err.value.message == "altitude: row 1: not a number: 'FL10'"
    with pytest.raises(InvalidInput) as err:
        TrackStates.from_traffic_frame(df.assign(icao24=["a", None, "b"]))
    assert err.value.field == "icao24" and "row 2" in err.value.message
    with pytest.raises(InvalidInput, match="missing column track"):
        TrackStates.from_traffic_frame(df.drop(columns=["track"]))
