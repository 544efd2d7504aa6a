"""``sharedsky detect`` and ``sharedsky scan``: hand-made conflicts with known numbers, the
real recording, output formats, options and bad input (one line, exit 1, no traceback)."""

from __future__ import annotations

import io
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sharedsky.analysis import current_separation, read_table, states_from_table
from sharedsky.cli import main
from sharedsky.units import EARTH_RADIUS_M, FT_TO_M, KT_TO_MPS, NM_TO_M

T0 = 1_633_608_000
HEADER = "timestamp,icao24,callsign,latitude,longitude,altitude,groundspeed,track,vertical_rate"


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ex:
        main(argv)
    out, err = capsys.readouterr()
    return int(ex.value.code or 0), out, err


def lon_of(nm: float) -> float:
    return math.degrees(nm * NM_TO_M / EARTH_RADIUS_M)


def head_on_csv(tmp_path: Path, *, apart_nm: float = 40.0, party: tuple[str, str] | None = None,
                offset_nm: float = 0.0, alt_b_ft: float = 30000.0) -> Path:  # fmt: skip
    """Two aircraft 40 NM apart on the equator flying at each other at 450 kt, FL300; a third
    far away. Closing speed 900 kt = 0.25 NM/s: t_in = (40 − 5)/0.25 = 140 s, t_cpa = 160 s,
    t_out = 180 s, d_cpa = 0 (or ``offset_nm`` when b is that far north)."""
    head = HEADER + (",party" if party else "")
    pa, pb = party or ("", "")
    tail_a = f",{pa}" if party else ""
    tail_b = f",{pb}" if party else ""
    lat_b = math.degrees(offset_nm * NM_TO_M / EARTH_RADIUS_M)
    rows = [
        f"{T0 - 5},aaa001,AAA1,0.0,{lon_of(-1.25):.9f},30000,450,90,0{tail_a}",  # older state
        f"{T0},aaa001,AAA1,0.0,0.0,30000,450,90,0{tail_a}",
        f"{T0},bbb002,BBB2,{lat_b:.9f},{lon_of(apart_nm):.9f},{alt_b_ft},450,270,0{tail_b}",
        f"{T0},ccc003,CCC3,10.0,10.0,30000,450,270,0{tail_a}",
    ]
    p = tmp_path / "states.csv"
    p.write_text(head + "\n" + "\n".join(rows) + "\n")
    return p


def test_detect_head_on_known_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["detect", str(head_on_csv(tmp_path))], capsys)
    assert code == 0, err
    df = pd.read_csv(io.StringIO(out))
    assert len(df) == 1
    row = df.iloc[0]
    assert (row["id_a"], row["id_b"]) == ("aaa001", "bbb002")
    assert row["level"] == "CAUTION"  # t_in 140 s: within 300 s, after 120 s
    assert row["t_in"] == pytest.approx(140.0, abs=0.05)
    assert row["t_cpa"] == pytest.approx(160.0, abs=0.05)
    assert row["t_out"] == pytest.approx(180.0, abs=0.05)
    assert row["d_cpa_m"] == pytest.approx(0.0, abs=1.0)
    assert row["dalt_cpa_ft"] == pytest.approx(0.0, abs=1e-6)
    assert not row["los"]
    assert "1 conflicts (0 losses of separation, 0 WARNING, 1 CAUTION)" in err
    assert "detection time" in err and "excluding I/O" in err
    assert "3 aircraft" in err


def test_detect_options_change_the_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    offset = head_on_csv(tmp_path, offset_nm=3.0)  # miss distance 3 NM
    _, out, _ = run_cli(["detect", str(offset)], capsys)
    row = pd.read_csv(io.StringIO(out)).iloc[0]
    assert row["d_cpa_nm"] == pytest.approx(3.0, abs=0.01)
    _, out, err = run_cli(["detect", str(offset), "--horizontal-nm", "2.5"], capsys)
    assert pd.read_csv(io.StringIO(out)).empty and "0 conflicts" in err
    # look-ahead shorter than t_in (140 s): nothing
    _, out, _ = run_cli(["detect", str(head_on_csv(tmp_path)), "--lookahead", "100"], capsys)
    assert pd.read_csv(io.StringIO(out)).empty
    # 500 ft apart: conflict; with a 400 ft minimum: none
    p = head_on_csv(tmp_path, alt_b_ft=30500.0)
    _, out, _ = run_cli(["detect", str(p)], capsys)
    assert pd.read_csv(io.StringIO(out))["dalt_cpa_ft"].tolist() == pytest.approx([500.0])
    _, out, _ = run_cli(["detect", str(p), "--vertical-ft", "400"], capsys)
    assert pd.read_csv(io.StringIO(out)).empty
    # level-occupancy tolerance: 900 ft apart as reported, both level near adjacent flight levels,
    # is taken as FL300 / FL310, exactly 1000 ft apart: no conflict, unless --raw-altitudes
    p = head_on_csv(tmp_path, alt_b_ft=30900.0)
    _, out, _ = run_cli(["detect", str(p)], capsys)
    assert pd.read_csv(io.StringIO(out)).empty
    _, out, _ = run_cli(["detect", str(p), "--raw-altitudes"], capsys)
    assert pd.read_csv(io.StringIO(out))["dalt_cpa_ft"].tolist() == pytest.approx([900.0])


def test_detect_party_rule_and_all_pairs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same = head_on_csv(tmp_path, party=("uss-1", "uss-1"))
    _, out, _ = run_cli(["detect", str(same)], capsys)
    assert pd.read_csv(io.StringIO(out)).empty  # same party: not checked by default
    _, out, _ = run_cli(["detect", str(same), "--all-pairs"], capsys)
    assert len(pd.read_csv(io.StringIO(out))) == 1
    # without a party column every aircraft is its own party; --default-party groups them
    plain = head_on_csv(tmp_path)
    _, out, _ = run_cli(["detect", str(plain), "--default-party", "ops"], capsys)
    assert pd.read_csv(io.StringIO(out)).empty


def test_detect_at_takes_latest_state_not_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = head_on_csv(tmp_path)
    # at T0 - 1 only a's older state exists: one aircraft, nothing to report
    code, out, err = run_cli(["detect", str(p), "--at", str(T0 - 1)], capsys)
    assert code == 0 and pd.read_csv(io.StringIO(out)).empty and "1 aircraft" in err
    # long after the last report every aircraft has left the picture
    code, _, err = run_cli(["detect", str(p), "--at", str(T0 + 3600)], capsys)
    assert code == 1 and "no aircraft reported within 60 s" in err and "Traceback" not in err
    iso = pd.Timestamp(T0, unit="s", tz="UTC").isoformat().replace("+00:00", "Z")
    _, out, _ = run_cli(["detect", str(p), "--at", iso], capsys)
    assert pd.read_csv(io.StringIO(out))["time"].tolist() == [iso]


@pytest.mark.parametrize("ext", ["csv", "parquet", "json"])
def test_detect_out_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str], ext: str) -> None:
    dest = tmp_path / f"conflicts.{ext}"
    code, out, err = run_cli(["detect", str(head_on_csv(tmp_path)), "--out", str(dest)], capsys)
    assert code == 0 and out == "" and f"wrote 1 rows to {dest}" in err
    back = read_table(dest)
    expected = {"id_a", "id_b", "level", "t_in", "t_out", "t_cpa", "d_cpa_m", "dalt_cpa_m", "los"}
    assert expected <= set(back.columns)
    assert back["t_in"].astype(float).tolist() == pytest.approx([140.0], abs=0.05)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda s: s.replace(",vertical_rate", ",vrate"), "columns: missing column vertical_rate"),
        (lambda s: s.replace("0.0,0.0,30000", "0.0,0.0,3O000"), "altitude: row 2: not a number"),
        (lambda s: s.replace(f"{T0},bbb002", "soon,bbb002"), "timestamp: row 3: not a time"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit, words: str
) -> None:
    p = head_on_csv(tmp_path)
    p.write_text(edit(p.read_text()))
    for command in ("detect", "scan"):
        code, _, err = run_cli([command, str(p)], capsys)
        assert code == 1
        assert words in err
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err


def test_bad_options_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = head_on_csv(tmp_path)
    for bad in ("noon", "nan"):
        code, _, err = run_cli(["detect", str(p), "--at", bad], capsys)
        assert code == 1 and "--at: not a time" in err
    code, _, err = run_cli(["detect", str(p), "--horizontal-nm", "0"], capsys)
    assert code == 1 and "--horizontal-nm" in err
    code, _, err = run_cli(["detect", str(p), "--out", str(tmp_path / "x.xlsx")], capsys)
    assert code == 1 and "unknown file type" in err
    code, _, err = run_cli(["detect", str(tmp_path / "missing.csv")], capsys)
    assert code == 1 and "no such file" in err


def test_console_script_reports_error_without_traceback(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("timestamp,icao24\n1,abc\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sharedsky.cli", "detect", str(p)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "missing columns latitude, longitude" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_scan_head_on_writes_one_episode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """States every second of the head-on pair: loss while 12.1 − 0.25 t < 5 NM, t = 29..68."""
    rows = [HEADER]
    v = 450 * KT_TO_MPS
    for k in range(101):
        xa = v * k
        xb = 12.1 * NM_TO_M - v * k
        for ident, x, trk in (("aaa001", xa, 90), ("bbb002", xb, 270)):
            lon = math.degrees(x / EARTH_RADIUS_M)
            rows.append(f"{T0 + k},{ident},,0.0,{lon:.9f},30000,450,{trk},0")
    p = tmp_path / "rec.csv"
    p.write_text("\n".join(rows) + "\n")
    dest = tmp_path / "episodes.parquet"
    code, _, err = run_cli(["scan", str(p), "--step", "1", "--out", str(dest)], capsys)
    assert code == 0, err
    eps = pd.read_parquet(dest)
    assert len(eps) == 1
    ep = eps.iloc[0]
    assert (ep["start"] - T0, ep["end"] - T0, ep["steps"]) == (29.0, 68.0, 40)
    assert ep["start_utc"] == pd.Timestamp(T0 + 29, unit="s", tz="UTC").strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert ep["t_closest"] - T0 == 48.0
    assert ep["d_closest_nm"] == pytest.approx(0.1, abs=0.001)
    assert "101 steps of 1 s" in err and "1 losses of separation" in err


@pytest.mark.slow
def test_scan_and_detect_on_real_recording(
    shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 4.5-minute excerpt of traffic_quickstart (12:03:30-12:08:00 UTC, written back in its
    own JSON format): the scan finds the losses of separation that a brute-force check of every
    pair at every step finds, and detect's LoS flags at one time equal the brute force."""
    raw = pd.read_json(
        shared_dir / "data" / "adsb" / "traffic_quickstart.json.gz", orient="records", dtype=False
    )
    raw = raw[(raw["timestamp"] >= 1_633_608_210_000) & (raw["timestamp"] < 1_633_608_480_000)]
    src = tmp_path / "excerpt.json.gz"
    raw.to_json(src, orient="records")
    dest = tmp_path / "episodes.csv"
    opts = ["--raw-altitudes", "--all-pairs"]
    code, _, err = run_cli(["scan", str(src), "--step", "10", "--out", str(dest), *opts], capsys)
    assert code == 0, err
    eps = pd.read_csv(dest, dtype={"id_a": str, "id_b": str})
    found = set(zip(eps["id_a"], eps["id_b"], strict=True))
    assert ("3949ea", "3965af") in found

    states = states_from_table(raw)
    ok = np.isfinite(states.alt_m) & np.isfinite(states.gs_mps) & np.isfinite(states.vs_mps)
    states = states.select(ok & np.isfinite(states.trk_deg))
    r, h = 5 * NM_TO_M, 1000 * FT_TO_M
    expected = set()
    margin = set()
    now = 1_633_608_210.0
    while now < 1_633_608_480.0:
        fresh = states.select((states.t <= now) & (states.t >= now - 30)).latest(now)
        n = len(fresh)
        a, b = np.triu_indices(n, 1)
        d, dz = current_separation(fresh, a, b, now)
        ids = fresh.track_id
        for k in np.flatnonzero((d < r + 10) & (dz < h + 0.5)):
            key = tuple(sorted((ids[a[k]], ids[b[k]])))
            margin.add(key)
            if d[k] < r - 10 and dz[k] < h - 0.5:
                expected.add(key)
        now += 10.0
    assert expected <= found <= margin

    at = "2021-10-07T12:05:00Z"
    code, out, err = run_cli(["detect", str(src), "--at", at, *opts], capsys)
    assert code == 0, err
    det = pd.read_csv(io.StringIO(out), dtype={"id_a": str, "id_b": str})
    los = set(zip(det.loc[det["los"], "id_a"], det.loc[det["los"], "id_b"], strict=True))
    now = pd.Timestamp(at).timestamp()
    fresh = states.select((states.t <= now) & (states.t >= now - 30)).latest(now)
    a, b = np.triu_indices(len(fresh), 1)
    d, dz = current_separation(fresh, a, b, now)
    ids = fresh.track_id
    sure = {
        tuple(sorted((ids[a[k]], ids[b[k]]))) for k in np.flatnonzero((d < r - 10) & (dz < h - 0.5))
    }
    maybe = {
        tuple(sorted((ids[a[k]], ids[b[k]]))) for k in np.flatnonzero((d < r + 10) & (dz < h + 0.5))
    }
    assert sure <= los <= maybe
    assert sure, "the chosen time has a loss of separation"
