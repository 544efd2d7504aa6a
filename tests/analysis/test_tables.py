"""Reading state tables: formats, time forms, units, the party rule and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sharedsky.analysis import read_states, read_table, states_from_table, write_table
from sharedsky.errors import InvalidInput
from sharedsky.units import FPM_TO_MPS, FT_TO_M, KT_TO_MPS

HEADER = "timestamp,icao24,callsign,latitude,longitude,altitude,groundspeed,track,vertical_rate"


def _csv(tmp_path: Path, body: str, header: str = HEADER, name: str = "s.csv") -> Path:
    p = tmp_path / name
    p.write_text(header + "\n" + body.strip() + "\n")
    return p


def test_units_and_time_forms(tmp_path: Path) -> None:
    p = _csv(
        tmp_path,
        """
2021-10-07T12:00:00Z,ABC123,AFR1,48.5,2.5,30000,450,90,-1000
2021-10-07 12:00:01,abc123,AFR1,48.5,2.6,30000,450,90,0
1633608002,def456,,48.0,2.0,10000,250,180,500
1633608003000,def456,,48.0,2.0,10000,250,180,500
""",
    )
    s = read_states(p)
    assert s.t.tolist() == [1633608000.0, 1633608001.0, 1633608002.0, 1633608003.0]
    assert s.track_id.tolist() == ["abc123", "abc123", "def456", "def456"]  # addresses lowered
    assert s.alt_m[0] == pytest.approx(30000 * FT_TO_M)
    assert s.gs_mps[0] == pytest.approx(450 * KT_TO_MPS)
    assert s.vs_mps[0] == pytest.approx(-1000 * FPM_TO_MPS)
    # party rule: without a party column every aircraft is its own party
    assert s.party.tolist() == ["abc123", "abc123", "def456", "def456"]
    assert read_states(p, default_party="ops").party.tolist() == ["ops"] * 4


def test_party_column_blanks_fall_back(tmp_path: Path) -> None:
    p = _csv(
        tmp_path,
        """
1633608000,aaa,,48.5,2.5,30000,450,90,0,uss-1
1633608000,bbb,,48.5,2.6,30000,450,90,0,
""",
        header=HEADER + ",party",
    )
    assert read_states(p).party.tolist() == ["uss-1", "bbb"]
    assert read_states(p, default_party="x").party.tolist() == ["uss-1", "x"]


def test_empty_cells_are_missing_not_errors(tmp_path: Path) -> None:
    p = _csv(tmp_path, "1633608000,aaa,,48.5,2.5,,450,90,0")
    s = read_states(p)
    assert np.isnan(s.alt_m[0])


@pytest.mark.parametrize(
    ("body", "header", "field", "words"),
    [
        ("1633608000,aaa,,48.5,2.5,30000,450,90", HEADER.rsplit(",", 1)[0], "columns",
         "vertical_rate"),
        ("1633608000,aaa,,48.5,2.5,30000,450,90,0\n1633608001,aaa,,48.5,2.5,FL300,450,90,0",
         HEADER, "altitude", "row 2"),
        ("1633608000,aaa,,98.5,2.5,30000,450,90,0", HEADER, "latitude", "row 1"),
        ("1633608000,aaa,,48.5,2.5,30000,-3,90,0", HEADER, "groundspeed", "row 1"),
        ("yesterday,aaa,,48.5,2.5,30000,450,90,0", HEADER, "timestamp", "row 1"),
        ("1633608000,,,48.5,2.5,30000,450,90,0", HEADER, "icao24", "row 1"),
    ],
)  # fmt: skip
def test_bad_input_names_column_and_row(
    tmp_path: Path, body: str, header: str, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        read_states(_csv(tmp_path, body, header=header))
    assert err.value.field == field
    assert words in err.value.message


def test_unknown_or_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown file type"):
        read_table(tmp_path / "states.xlsx")
    with pytest.raises(InvalidInput, match="no such file"):
        read_table(tmp_path / "nothere.csv")


@pytest.mark.parametrize("name", ["t.csv", "t.parquet", "t.json", "t.json.gz", "t.jsonl"])
def test_write_read_round_trip(tmp_path: Path, name: str) -> None:
    df = pd.DataFrame(
        {
            "timestamp": [1633608000000, 1633608001000],
            "icao24": ["aaa", "bbb"],
            "latitude": [48.5, 48.6],
            "longitude": [2.5, 2.6],
            "altitude": [30000.0, 31000.0],
            "groundspeed": [450.0, 440.0],
            "track": [90.0, 270.0],
            "vertical_rate": [0.0, -500.0],
        }
    )
    write_table(df, tmp_path / name)
    back = states_from_table(read_table(tmp_path / name))
    assert back.t.tolist() == [1633608000.0, 1633608001.0]
    assert back.track_id.tolist() == ["aaa", "bbb"]
    assert back.vs_mps[1] == pytest.approx(-500 * FPM_TO_MPS)


def test_public_surface_is_pinned() -> None:
    import sharedsky.analysis as analysis

    assert sorted(analysis.__all__) == sorted(
        [
            "DEFAULT_MERGE_GAP_S", "EPISODE_COLUMNS", "NUMERIC_COLUMNS", "REQUIRED_COLUMNS",
            "EpisodeMerger", "LossEpisode", "ScanResult", "complete_rows", "current_separation",
            "read_states", "read_table", "scan", "states_from_table", "write_table",
        ]
    )  # fmt: skip
    for name in analysis.__all__:
        assert getattr(analysis, name) is not None
