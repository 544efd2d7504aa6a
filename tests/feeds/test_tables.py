"""TableReplay: a recorded traffic-style table replayed as a feed of 1-s batches."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sharedsky.demo import excerpt_path
from sharedsky.errors import InvalidInput
from sharedsky.feeds import Feed, TrackBatch
from sharedsky.feeds.tables import ReplayProgress, TableReplay, read_table
from sharedsky.units import FPM_TO_MPS, FT_TO_M, KT_TO_MPS

T0 = 1_633_609_320.0  # 2021-10-07 12:22:00 UTC


def _frame(n_s: int = 4, ids: tuple[str, ...] = ("a1", "b2")) -> pd.DataFrame:
    """One row per aircraft and second, two aircraft, traffic units."""
    rows = []
    for k in range(n_s):
        for j, icao in enumerate(ids):
            rows.append(
                {
                    "timestamp": T0 + k + 0.25 * j,
                    "icao24": icao.upper(),
                    "callsign": f"TST{j}",
                    "latitude": 48.9 + 0.01 * k,
                    "longitude": 2.4 + 0.1 * j,
                    "altitude": 3000.0 + 100 * j,
                    "groundspeed": 200.0,
                    "track": 90.0,
                    "vertical_rate": -640.0,
                }
            )
    return pd.DataFrame(rows)


def _all(replay: TableReplay) -> list[TrackBatch]:
    return list(replay.batches())


def test_packaged_excerpt_replays_every_row_in_one_second_slices() -> None:
    raw = read_table(excerpt_path())
    replay = TableReplay(excerpt_path(), speed=math.inf, retime=False)
    assert isinstance(replay, Feed)
    batches = _all(replay)
    assert sum(len(b) for b in batches) == len(raw) == replay.rows_total
    assert not any(b.rejects for b in batches)
    starts = [float(np.floor(b.t.min() - replay.recording_start)) for b in batches]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for b in batches:  # every batch lies within one slice of 1 s of recording time
        assert b.t.max() - replay.recording_start < np.floor(b.t.min() - replay.recording_start) + 1
    # Units: the first report of one aircraft, traffic units in the file, SI in the batch.
    first = raw.sort_values("timestamp", kind="stable").iloc[0]
    b0 = batches[0]
    k = int(np.flatnonzero(b0.track_id == first["icao24"])[0])
    assert b0.t[k] == pytest.approx(first["timestamp"] / 1000.0)
    assert b0.lat[k] == pytest.approx(first["latitude"])
    assert b0.alt_m[k] == pytest.approx(first["altitude"] * FT_TO_M)
    assert b0.gs_mps[k] == pytest.approx(first["groundspeed"] * KT_TO_MPS)
    assert b0.vs_mps[k] == pytest.approx(first["vertical_rate"] * FPM_TO_MPS)
    h = replay.health()
    assert (h.messages, h.decoded, h.rejected, h.connected) == (len(raw), len(raw), 0, False)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json", ".json.gz", ".jsonl"])
def test_every_format_gives_the_same_batches(tmp_path: Path, suffix: str) -> None:
    df = _frame()
    path = tmp_path / f"rec{suffix}"
    if suffix == ".csv":
        df.to_csv(path, index=False)
    elif suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_json(path, orient="records", lines=suffix == ".jsonl")
    batches = _all(TableReplay(path, speed=math.inf, retime=False))
    assert [len(b) for b in batches] == [2, 2, 2, 2]
    assert list(batches[0].track_id) == ["a1", "b2"]  # lower-cased addresses
    assert batches[3].t.tolist() == [T0 + 3, T0 + 3.25]
    assert batches[1].alt_m.tolist() == pytest.approx([3000 * FT_TO_M, 3100 * FT_TO_M])


def test_bad_rows_become_rejects_naming_row_and_column(tmp_path: Path) -> None:
    df = _frame().astype(object)
    df.loc[1, "altitude"] = "high"  # data row 2
    df.loc[3, "icao24"] = ""  # row 4
    df.loc[4, "timestamp"] = "yesterday"  # row 5
    df.loc[6, "latitude"] = 123.0  # row 7
    df.loc[7, "groundspeed"] = -5  # row 8
    df.loc[5, "track"] = ""  # row 6: empty kinematic cell = unknown, kept
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    replay = TableReplay(path, speed=math.inf, retime=False)
    batches = _all(replay)
    rejects = {r.index_or_line: r for b in batches for r in b.rejects}
    assert sorted(rejects) == [2, 4, 5, 7, 8]
    assert rejects[2].reason.startswith("altitude: not a number") and "high" in rejects[2].raw
    assert rejects[4].reason.startswith("icao24")
    assert rejects[5].reason.startswith("timestamp: not a time")
    assert rejects[7].reason.startswith("latitude") and "123" in rejects[7].reason
    assert rejects[8].reason.startswith("groundspeed")
    # the replay went on: every good row is there, the empty track is NaN
    assert sum(len(b) for b in batches) == len(df) - 5
    kept = TrackBatch.concat(batches)
    assert np.isnan(kept.trk_deg).sum() == 1
    # each reject rides with the slice of the good row before it in the file
    where = {r.index_or_line: k for k, b in enumerate(batches) for r in b.rejects}
    assert where == {2: 0, 4: 1, 5: 1, 7: 2, 8: 2}
    h = replay.health()
    assert (h.decoded, h.rejected, h.messages) == (len(df) - 5, 5, len(df))


def test_whole_file_problems_raise_naming_the_field(tmp_path: Path) -> None:
    df = _frame().drop(columns=["latitude"])
    path = tmp_path / "nolat.csv"
    df.to_csv(path, index=False)
    with pytest.raises(InvalidInput, match="latitude"):
        TableReplay(path)
    with pytest.raises(InvalidInput, match="path"):
        TableReplay(tmp_path / "rec.xlsx")
    with pytest.raises(InvalidInput, match="speed"):
        TableReplay(_frame(), speed=0)


def test_optional_kinematic_columns_may_be_absent() -> None:
    df = _frame()[["timestamp", "icao24", "latitude", "longitude"]]
    (b, *_) = _all(TableReplay(df, speed=math.inf))
    assert len(b) == 2 and np.isnan(b.alt_m).all() and np.isnan(b.gs_mps).all()


def test_pacing_and_retiming_at_speed() -> None:
    seen: list[ReplayProgress] = []
    replay = TableReplay(_frame(n_s=4), speed=10.0, progress=seen.append)
    began = time.time()
    out: list[tuple[float, TrackBatch]] = []
    for batch in replay.batches():
        out.append((time.time(), batch))
    elapsed = time.time() - began
    assert 0.38 <= elapsed < 2.0  # 4 recording seconds at 10x
    for k, (released, batch) in enumerate(out):
        # states carry their replay time on the wall clock: never after their release
        assert batch.t.max() <= released + 1e-3
        assert released - began >= (k + 1) * 0.1 - 0.02
    t = np.concatenate([b.t for _, b in out])
    assert np.diff(t) == pytest.approx([0.025, 0.075] * 3 + [0.025], abs=1e-6)  # recorded gaps / 10
    assert [p.rows_done for p in seen] == [2, 4, 6, 8]
    assert seen[-1].rows_total == 8 and seen[-1].recording_time == T0 + 3.25


def test_start_skips_earlier_rows_and_anchor_keeps_replays_in_step() -> None:
    start = datetime.fromtimestamp(T0 + 2, UTC)
    anchor = time.time()
    a = TableReplay(_frame(n_s=4, ids=("a1",)), speed=50, start=start, anchor=anchor)
    b = TableReplay(_frame(n_s=4, ids=("b2",)), speed=50, start=T0 + 2, anchor=anchor)
    ta = np.concatenate([x.t for x in a.batches()])
    tb = np.concatenate([x.t for x in b.batches()])
    assert a.rows_total == 2 and a.rows_skipped == 2
    assert ta.tolist() == pytest.approx([anchor, anchor + 1 / 50])
    assert tb.tolist() == pytest.approx([anchor + 0.25 / 50, anchor + 1.25 / 50])


def test_stop_ends_the_replay_early() -> None:
    replay = TableReplay(_frame(n_s=60), speed=1.0)
    began = time.time()
    got = 0
    for _ in replay.batches():
        got += 1
        if got == 1:
            replay.stop()
    assert got == 1 and time.time() - began < 3.0
