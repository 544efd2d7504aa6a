"""The shared live configuration file: values, GeoJSON areas, and errors naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sharedsky.errors import InvalidInput
from sharedsky.services.live import LiveConfig
from sharedsky.units import FT_TO_M, NM_TO_M


def test_defaults() -> None:
    cfg = LiveConfig()
    assert (cfg.rate_hz, cfg.max_rate_hz, cfg.lookahead_s) == (1.0, 5.0, 300.0)
    assert cfg.max_speed_mps == pytest.approx(1020.87)
    assert cfg.minima.default.horizontal_m == pytest.approx(5 * NM_TO_M)


def test_file_with_minima_lines_volumes_and_geojson(tmp_path: Path) -> None:
    (tmp_path / "areas.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"id": "zone", "owner": "bravo", "upper_m": 3000},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[5, 45], [5.1, 45], [5.1, 45.1], [5, 45]]],
                        },
                    },
                    {
                        "type": "Feature",
                        "properties": {"id": "border", "kind": "border", "parties": ["a", "b"]},
                        "geometry": {"type": "LineString", "coordinates": [[6, 44], [6, 46]]},
                    },
                ],
            }
        )
    )
    doc = {
        "rate_hz": 2,
        "minima": {
            "default": {"horizontal_nm": 3, "vertical_ft": 1000},
            "pairs": [
                {
                    "parties": ["a", "b"],
                    "horizontal_m": 10000,
                    "vertical_m": 600,
                    "lookahead_s": 120,
                }
            ],
        },
        "alerts": {"caution_s": 200, "warning_s": 60},
        "quality": {"max_age_s": 20},
        "volumes": [
            {"id": "ship", "center": [44, 7], "radius_m": 5000, "start": "2026-11-25T12:00:00Z"}
        ],
        "geojson": "areas.geojson",
        "parties": {"a": {"links": {"A1": "plan-1"}}},
    }
    path = tmp_path / "live.json"
    path.write_text(json.dumps(doc))
    cfg = LiveConfig.from_file(path)
    assert cfg.rate_hz == 2.0 and cfg.thresholds.warning_s == 60 and cfg.quality.max_age_s == 20
    assert cfg.minima.default.horizontal_m == pytest.approx(3 * NM_TO_M)
    assert cfg.minima.default.vertical_m == pytest.approx(1000 * FT_TO_M)
    rule = cfg.minima.rules[0]
    assert rule.parties == ("a", "b") and rule.minima.lookahead_s == 120
    assert [v.volume.id for v in cfg.volumes] == ["ship", "zone"]
    zone = cfg.volumes[1]
    assert zone.owner == "bravo" and zone.volume.upper_m == 3000
    assert zone.volume.polygon[1].tolist() == [45.0, 5.1]  # GeoJSON [lon, lat] turned round
    assert cfg.volumes[0].volume.start == 1_795_608_000.0
    (line,) = cfg.lines
    assert line.kind == "border" and line.parties == ("a", "b")
    assert cfg.party_view("a") == {"links": {"A1": "plan-1"}}
    assert cfg.party_view("b") == {"links": {}}
    assert "parties" not in cfg.shared_view() and cfg.shared_view()["rate_hz"] == 2


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"rate_hz": "fast"}, "rate_hz"),
        ({"lookahed_s": 10}, "config"),
        ({"rate_hz": 10, "max_rate_hz": 5}, "max_rate_hz"),
        ({"minima": {"default": {"horizontal_m": 1000}}}, "minima.default"),
        (
            {"minima": {"pairs": [{"parties": ["a"], "horizontal_m": 1, "vertical_m": 1}]}},
            "minima.pairs[0]",
        ),
        ({"alerts": {"caution_s": 10, "warning_s": 20}}, "alerts.warning_s"),
        ({"volumes": [{"id": "v", "polygon": [[0, 0], [1, 1]]}]}, "volumes[0].polygon"),
        (
            {"volumes": [{"id": "v", "center": [0, 0], "radius_m": 1, "start": "tomorrow"}]},
            "volumes[0].start",
        ),
        ({"lines": [{"id": "l", "points": [[0, 0]]}]}, "lines[0].points"),
        ({"lines": [{"points": [[0, 0], [1, 1]]}]}, "lines[0]"),
        ({"geojson": {"type": "Feature"}}, "geojson"),
        ({"parties": {"a": {"links": {"A1": 5}}}}, "parties.a.links"),
    ],
)
def test_bad_configuration_names_the_field(doc: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        LiveConfig.from_dict(doc)
    assert err.value.field == field


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="live_config"):
        LiveConfig.from_file(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InvalidInput, match="not JSON"):
        LiveConfig.from_file(tmp_path / "bad.json")
