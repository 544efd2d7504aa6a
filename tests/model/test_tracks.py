"""Track batches: SI and traffic namings, bad records collected with index and reason."""

from __future__ import annotations

import numpy as np
import pytest

from sharedsky.errors import InvalidInput
from sharedsky.model.tracks import Reject, TrackBatch
from sharedsky.units import FPM_TO_MPS, FT_TO_M, KT_TO_MPS


def rec(tid: str = "A1", **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "track_id": tid,
        "t": 1.7e9,
        "lat": 45.0,
        "lon": 5.0,
        "alt_m": 1000.0,
        "gs_mps": 100.0,
        "trk_deg": 90.0,
        "vs_mps": 0.0,
    }
    base.update(kw)
    return base


def test_si_records() -> None:
    b = TrackBatch.from_records([rec("A1"), rec("A2", alt_m=None, pos_accuracy_m=30.0)])
    assert len(b) == 2 and b.rejects == ()
    assert b.track_id.tolist() == ["A1", "A2"]
    assert np.isnan(b.alt_m[1]) and b.pos_accuracy_m[1] == 30.0 and np.isnan(b.pos_accuracy_m[0])


def test_traffic_records_are_converted_to_si() -> None:
    b = TrackBatch.from_records(
        [
            {
                "icao24": "4ca123",
                "timestamp": "2026-11-25T12:00:00+00:00",
                "latitude": 45,
                "longitude": 5,
                "altitude": 10000,
                "groundspeed": 400,
                "track": 90,
                "vertical_rate": -1000,
            }
        ]
    )
    assert b.t[0] == 1_795_608_000.0
    assert b.alt_m[0] == pytest.approx(10000 * FT_TO_M)
    assert b.gs_mps[0] == pytest.approx(400 * KT_TO_MPS)
    assert b.vs_mps[0] == pytest.approx(-1000 * FPM_TO_MPS)


def test_epoch_milliseconds_are_recognised() -> None:
    assert TrackBatch.from_records([rec(t=1.7e12)]).t[0] == 1.7e9


def test_bad_records_are_collected_with_index_raw_and_reason() -> None:
    records = [
        rec("ok1"),
        "not an object",
        rec("bad_t", t="yesterday"),
        rec("naive", t="2026-11-25T12:00:00"),
        rec("bad_lat", lat=91.0),
        rec("bad_gs", gs_mps="fast"),
        {"t": 1.7e9, "lat": 1, "lon": 1},
        rec("bool", alt_m=True),
        rec("ok2"),
    ]
    b = TrackBatch.from_records(records)
    assert b.track_id.tolist() == ["ok1", "ok2"]
    got = {r.index_or_line: r.reason for r in b.rejects}
    assert sorted(got) == [1, 2, 3, 4, 5, 6, 7]
    assert got[1].startswith("record")
    assert got[2].startswith("t:") and got[3].startswith("t:") and "UTC" in got[3]
    assert got[4].startswith("lat:")
    assert got[5].startswith("gs_mps:")
    assert got[6].startswith("track_id:")
    assert got[7].startswith("alt_m:")
    assert b.rejects[0] == Reject(1, '"not an object"', "record: not an object")
    assert '"bad_lat"' in next(r.raw for r in b.rejects if r.index_or_line == 4)


def test_columns_and_their_errors() -> None:
    b = TrackBatch.from_columns(
        {"track_id": ["A", "B"], "t": [1.7e9, 1.7e9], "lat": [1, 95], "lon": [2, 2]}
    )
    assert b.track_id.tolist() == ["A"] and b.rejects[0].index_or_line == 1
    with pytest.raises(InvalidInput, match="lat"):
        TrackBatch.from_columns({"track_id": ["A"], "t": [1.7e9], "lon": [2]})
    with pytest.raises(InvalidInput, match="alt_m"):
        TrackBatch.from_columns(
            {"track_id": ["A"], "t": [1.7e9], "lat": [1], "lon": [2], "alt_m": ["high"]}
        )
    with pytest.raises(InvalidInput, match="states"):
        TrackBatch.from_records({"track_id": "A"})


def test_select_and_concat() -> None:
    b = TrackBatch.from_records([rec("A"), rec("B"), "x"])
    both = TrackBatch.concat([b, b.select(np.array([1]))])
    assert both.track_id.tolist() == ["A", "B", "B"] and len(both.rejects) == 2
    assert len(TrackBatch.empty()) == 0
