"""The one reader of OpenSky / traffic tables: columns, units, time rules, bad-row policy."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sharedsky.errors import InvalidInput
from sharedsky.model import TRAFFIC_COLUMNS, TrafficTable, read_traffic_table
from sharedsky.model.tracks import Reject
from sharedsky.model.traffic_table import ALL_COLUMNS, from_milliseconds, time_value
from sharedsky.units import FPM_TO_MPS, FT_TO_M, KT_TO_MPS

T0 = 1_633_608_000.0  # 2021-10-07 12:00:00 UTC


def _row(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "timestamp": T0,
        "icao24": "4CA1D3",
        "callsign": "EIN1",
        "latitude": 48.5,
        "longitude": 2.5,
        "altitude": 30000.0,
        "groundspeed": 450.0,
        "track": 90.0,
        "vertical_rate": -640.0,
    }
    row.update(over)
    return row


def _frame(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def test_columns_are_converted_to_si() -> None:
    table = read_traffic_table(_frame(_row(), _row(icao24=" abc123 ", timestamp=T0 + 1)))
    assert isinstance(table, TrafficTable) and len(table) == 2
    assert table.track_id.tolist() == ["4ca1d3", "abc123"]
    c = table.columns
    assert c["t"].tolist() == [T0, T0 + 1]
    assert c["lat"][0] == 48.5 and c["lon"][0] == 2.5
    assert c["alt_m"][0] == 30000.0 * FT_TO_M
    assert c["gs_mps"][0] == 450.0 * KT_TO_MPS
    assert c["trk_deg"][0] == 90.0
    assert c["vs_mps"][0] == -640.0 * FPM_TO_MPS
    assert all(a.dtype == np.float64 and a.flags.c_contiguous for a in c.values())
    assert table.rows.tolist() == [0, 1] and table.rejects == ()
    assert [col.field for col in TRAFFIC_COLUMNS.values()] == [
        "lat", "lon", "alt_m", "gs_mps", "trk_deg", "vs_mps"
    ]  # fmt: skip


def test_absent_kinematic_columns_are_unknown() -> None:
    df = _frame(_row()).drop(columns=["altitude", "groundspeed", "track", "vertical_rate"])
    c = read_traffic_table(df).columns
    assert all(np.isnan(c[f][0]) for f in ("alt_m", "gs_mps", "trk_deg", "vs_mps"))


@pytest.mark.parametrize(
    ("stamp", "seconds"),
    [
        (T0 * 1000.0, T0),  # epoch milliseconds, as traffic's JSON stores them
        (T0, T0),
        (1e11, 1e11),  # the rule is "above 1e11"
        ("2021-10-07T12:00:00Z", T0),
        ("2021-10-07T14:00:00+02:00", T0),
        ("2021-10-07T12:00:00", T0),  # naive text is UTC
        (str(T0 * 1000.0), T0),
    ],
)
def test_time_rules(stamp: object, seconds: float) -> None:
    df = _frame(_row(timestamp=stamp), _row(timestamp=str(T0)))
    assert read_traffic_table(df).columns["t"][0] == seconds


def test_milliseconds_are_decided_row_by_row() -> None:
    df = _frame(_row(timestamp=T0), _row(timestamp=(T0 + 1) * 1000.0))
    assert read_traffic_table(df).columns["t"].tolist() == [T0, T0 + 1]
    assert from_milliseconds([T0, T0 * 1000, -T0 * 1000, np.nan])[:3].tolist() == [T0, T0, -T0]


def test_datetime_columns_naive_is_utc_aware_is_converted() -> None:
    naive = pd.to_datetime([T0, T0 + 2], unit="s")
    aware = naive.tz_localize("UTC").tz_convert("Europe/Paris")
    for stamps in (naive, aware):
        df = _frame(_row(), _row()).assign(timestamp=stamps)
        assert read_traffic_table(df).columns["t"].tolist() == [T0, T0 + 2]


def test_pyarrow_tables_are_read() -> None:
    table = read_traffic_table(pa.Table.from_pandas(_frame(_row(), _row(icao24="b"))))
    assert table.track_id.tolist() == ["4ca1d3", "b"]


def _bad_frame() -> pd.DataFrame:
    return _frame(
        _row(),
        _row(altitude="FL300"),
        _row(icao24=None),
        _row(timestamp="yesterday"),
        _row(latitude=95.0, groundspeed=-1.0),
        _row(groundspeed=-1.0),
        _row(longitude=None),
        _row(icao24="x" * 65),
        _row(altitude=True),
        _row(altitude=None),  # an empty kinematic cell is unknown, not an error
    )


def test_collect_keeps_every_bad_row_with_its_number_raw_values_and_first_reason() -> None:
    table = read_traffic_table(_bad_frame(), on_invalid="collect")
    assert table.rows.tolist() == [0, 9]
    assert np.isnan(table.columns["alt_m"][1])
    got = {r.index_or_line: r.reason for r in table.rejects}
    assert got == {
        2: "altitude: not a number: 'FL300'",
        3: "icao24: missing aircraft address",
        4: "timestamp: not a time: 'yesterday'",
        5: "latitude: np.float64(95.0) outside [-90.0, 90.0]",  # its first failed check only
        6: "groundspeed: np.float64(-1.0) outside [0.0, None]",
        7: "longitude: missing",
        8: "icao24: longer than 64 characters",
        9: "altitude: not a number: 'True'",
    }
    assert all(isinstance(r, Reject) for r in table.rejects)
    raw = table.rejects[0].raw
    assert '"altitude":"FL300"' in raw and '"callsign":"EIN1"' in raw


def test_skip_drops_bad_rows_silently() -> None:
    table = read_traffic_table(_bad_frame(), on_invalid="skip")
    assert table.rows.tolist() == [0, 9] and table.rejects == ()


def test_raise_names_the_first_failed_check_and_its_first_row() -> None:
    with pytest.raises(InvalidInput) as err:
        read_traffic_table(_bad_frame())
    # checks go in order (id, time, then each column), so the id of row 3 comes first
    assert err.value.field == "icao24"
    assert err.value.message == "icao24: row 3: missing aircraft address"
    with pytest.raises(InvalidInput) as err:
        read_traffic_table(_frame(_row(), _row(latitude=-91.0)), first_row=0)
    assert err.value.field == "latitude"
    assert err.value.message == "latitude: row 1: out of range (from -90 to 90): np.float64(-91.0)"
    with pytest.raises(InvalidInput) as err:
        read_traffic_table(_frame(_row(), _row(timestamp=None)))
    assert (err.value.field, err.value.message) == ("timestamp", "timestamp: row 2: missing time")


def test_missing_columns_and_bad_policy_raise_whatever_the_policy() -> None:
    df = _frame(_row()).drop(columns=["latitude", "longitude"])
    with pytest.raises(InvalidInput, match="missing columns latitude, longitude") as err:
        read_traffic_table(df, on_invalid="collect")
    assert err.value.field == "columns"
    with pytest.raises(InvalidInput, match="missing column track "):
        read_traffic_table(_frame(_row()).drop(columns=["track"]), required=ALL_COLUMNS)
    with pytest.raises(InvalidInput) as err:
        read_traffic_table(_frame(_row()), on_invalid="warn")  # type: ignore[arg-type]
    assert err.value.field == "on_invalid"
    with pytest.raises(InvalidInput) as err:
        read_traffic_table([_row()])
    assert err.value.field == "frame"


def test_container_mode_accepts_any_number_and_keeps_ids() -> None:
    df = _frame(_row(icao24=" Ab "), _row(latitude=95.0, groundspeed=-3.0, timestamp=None))
    table = read_traffic_table(
        df,
        required=ALL_COLUMNS,
        required_values=("icao24",),
        normalise_ids=False,
        max_id_len=None,
        check_ranges=False,
    )
    assert table.track_id.tolist() == [" Ab ", "4CA1D3"]
    assert table.columns["lat"][1] == 95.0 and np.isnan(table.columns["t"][1])


def test_another_id_column() -> None:
    df = _frame(_row()).rename(columns={"icao24": "mmsi"}).assign(mmsi=["227006760"])
    assert read_traffic_table(df, id_column="mmsi").track_id.tolist() == ["227006760"]
    with pytest.raises(InvalidInput, match="missing column mmsi"):
        read_traffic_table(_frame(_row()), id_column="mmsi")


def test_time_value_naive_policy() -> None:
    assert time_value(T0 * 1000, "t") == T0
    assert time_value("2021-10-07T12:00:00Z", "t") == T0
    assert time_value(datetime(2021, 10, 7, 12, tzinfo=UTC), "t") == T0
    with pytest.raises(ValueError, match=r"^t: time '2021-10-07T12:00:00' has no UTC offset"):
        time_value("2021-10-07T12:00:00", "t")
    with pytest.raises(ValueError, match="naive datetime"):
        time_value(datetime(2021, 10, 7, 12), "t")  # noqa: DTZ001 (the case under test)
    assert time_value("2021-10-07T12:00:00", "t", naive="utc") == T0
    assert time_value(datetime(2021, 10, 7, 12), "t", naive="utc") == T0  # noqa: DTZ001
    for bad in (True, "soon", float("nan"), None):
        with pytest.raises(ValueError, match=r"^t: "):
            time_value(bad, "t")
