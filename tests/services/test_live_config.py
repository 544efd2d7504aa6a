"""The shared live configuration file: values, GeoJSON areas, and errors naming the field."""

from __future__ import annotations

import json
import re
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


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"rate_hz": float("nan")}, "rate_hz: must be a finite number, got nan"),
        ({"visibility_m": float("inf")}, "visibility_m: must be a finite number, got inf"),
        ({"lookahead_s": -1}, "lookahead_s: must be non-negative"),
        ({"silence_after_s": 0}, "silence_after_s: must be positive"),
        ({"history_max": 10**400}, "history_max: must be a finite number"),
        (
            {"minima": {"default": {"horizontal_m": float("inf"), "vertical_m": 300}}},
            "minima.default.horizontal_m: must be a finite number, got inf",
        ),
        (
            {"minima": {"default": {"horizontal_nm": 5, "vertical_m": 0}}},
            "minima.default.vertical_m: vertical_m: must be a finite positive",
        ),
        (
            {"minima": {"bands": [{"above_m": float("nan"), "horizontal_m": 1, "vertical_m": 1}]}},
            "minima.bands[0].above_m: must be a finite number, got nan",
        ),
        ({"alerts": {"caution_s": float("nan")}}, "alerts.caution_s: caution_s: must be a finite"),
        (
            {"quality": {"max_age_s": float("inf")}},
            "quality.max_age_s: max_age_s: must be a finite",
        ),
        (
            {"volumes": [{"id": "v", "center": [0, 0], "radius_m": 1, "lower_m": float("nan")}]},
            "volumes[0].lower_m: must be a finite number, got nan",
        ),
        (
            {"volumes": [{"id": "v", "center": [0, 0], "radius_m": float("inf")}]},
            "volumes[0].radius_m: radius_m: must be a positive number of metres",
        ),
    ],
)
def test_nan_and_infinite_numbers_are_refused_naming_the_path(doc: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        LiveConfig.from_dict(doc)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"rate_hz": True}, "rate_hz: must be a finite number, got True"),
        ({"max_rate_hz": "5"}, "max_rate_hz: must be a finite number, got '5'"),
        ({"alerts": {"warning_s": True}}, "alerts.warning_s: must be a finite number, got True"),
        ({"alerts": {"caution_s": "300"}}, "alerts.caution_s: must be a finite number, got '300'"),
        (
            {"quality": {"max_age_s": False}},
            "quality.max_age_s: must be a finite number, got False",
        ),
        ({"quality": {"max_age_s": None}}, "quality.max_age_s: must be a finite number, got None"),
        (
            {"minima": {"default": {"horizontal_m": True, "vertical_m": 1}}},
            "minima.default.horizontal_m: must be a finite number, got True",
        ),
        (
            {
                "minima": {
                    "pairs": [
                        {
                            "parties": ["a", "b"],
                            "horizontal_m": 1,
                            "vertical_m": 1,
                            "lookahead_s": "9",
                        }
                    ]
                }
            },
            "minima.pairs[0].lookahead_s: must be a finite number, got '9'",
        ),
        (
            {"volumes": [{"id": "v", "center": [0, 0], "radius_m": True}]},
            "volumes[0].radius_m: must be a finite number, got True",
        ),
        (
            {"volumes": [{"id": "v", "center": [0, 0], "radius_m": 1, "start": False}]},
            "volumes[0].start: not a time: False",
        ),
        (
            {"volumes": [{"id": "v", "center": [0, 0], "radius_m": 1, "end": "2026-01-01T00:00"}]},
            "volumes[0].end: time '2026-01-01T00:00' lacks a UTC offset",
        ),
    ],
)
def test_booleans_and_strings_are_not_numbers(doc: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        LiveConfig.from_dict(doc)


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"minima": {"bogus": 1}}, "minima"),
        (
            {"minima": {"default": {"horizontal_m": 1, "vertical_m": 1, "vertical": 2}}},
            "minima.default",
        ),
        (
            {
                "minima": {
                    "pairs": [{"parties": ["a", "b"], "horizontal_m": 1, "vertical_m": 1, "x": 0}]
                }
            },
            "minima.pairs[0]",
        ),
        (
            {"minima": {"bands": [{"above": 1, "horizontal_m": 1, "vertical_m": 1}]}},
            "minima.bands[0]",
        ),
        ({"alerts": {"caution": 10}}, "alerts"),
        ({"quality": {"max_age": 10}}, "quality"),
        ({"volumes": [{"id": "v", "center": [0, 0], "radius": 1}]}, "volumes[0]"),
        ({"lines": [{"id": "l", "points": [[0, 0], [1, 1]], "party": "a"}]}, "lines[0]"),
        ({"parties": {"a": {"link": {}}}}, "parties.a"),
        (
            {"parties": {"a": {"feeds": [{"type": "ais", "udp": ":1", "port": 3}]}}},
            "parties.a.feeds[0]",
        ),
    ],
)
def test_unknown_keys_are_refused_at_every_level(doc: dict, field: str) -> None:
    with pytest.raises(InvalidInput, match="unknown key") as err:
        LiveConfig.from_dict(doc)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: unknown key(s) [")


def test_unknown_keys_are_named_with_the_keys_allowed() -> None:
    with pytest.raises(InvalidInput) as err:
        LiveConfig.from_dict({"alerts": {"warning": 1, "caution": 2}})
    assert str(err.value) == (
        "alerts: unknown key(s) ['caution', 'warning']; allowed: ['caution_s', 'warning_s']"
    )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"rate_hz": 150}, "rate_hz: must lie in (0, 100]"),
        ({"drop_after_s": 4}, "drop_after_s: must not be below coast_after_s"),
        (
            {"volumes": [{"id": "v", "center": [0, 0], "radius_m": 1}] * 2},
            "volumes: duplicate volume id(s) ['v']",
        ),
        ({"parties": ["alpha"]}, "parties: must be an object of party name -> settings"),
        (
            {"parties": {"a": {"feeds": {"type": "ais"}}}},
            "parties.a.feeds: must be an array of feeds",
        ),
        (
            {"parties": {"a": {"feeds": [{"type": "ais", "tcp": "nohost"}]}}},
            "parties.a.feeds[0].tcp: expected 'host:port', got 'nohost'",
        ),
        (
            {"volumes": [{"id": "v", "center": [0, 0], "radius_m": 1, "owner": ""}]},
            "volumes[0].owner",
        ),
        (
            {"lines": [{"id": "l", "points": [[0, 0], [1, 1]], "parties": ["a", 1]}]},
            "lines[0].parties",
        ),
        (
            {"minima": {"pairs": [{"parties": ["a", ""], "horizontal_m": 1, "vertical_m": 1}]}},
            "pairs[0]",
        ),
        ({"minima": {"pairs": "ab"}}, "minima.pairs: must be a list"),
        ({"minima": {"default": None}}, "minima.default: must be an object"),
    ],
)
def test_other_rules_name_the_path(doc: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        LiveConfig.from_dict(doc)


def test_geojson_errors_name_the_feature(tmp_path: Path) -> None:
    square = {"type": "Polygon", "coordinates": [[[5, 45], [5.1, 45], [5.1, 45.1], [5, 45]]]}
    cases = [
        ({"properties": {"owner": 5}, "geometry": square}, "geojson.features[0].owner"),
        ({"properties": {"lower_m": "low"}, "geometry": square}, "geojson.features[0].lower_m"),
        ({"geometry": {"type": "Polygon", "coordinates": [[5]]}}, "geojson.features[0].geometry"),
        ({"geometry": {"type": "Point", "coordinates": [5, 45]}}, "geojson.features[0].geometry"),
        (
            {"geometry": {"type": "LineString", "coordinates": [[5, 45]]}},
            "geojson.features[0].points",
        ),
        ({"properties": {}}, "geojson.features[0]"),
    ]
    for feature, field in cases:
        doc = {"geojson": {"type": "FeatureCollection", "features": [feature]}}
        with pytest.raises(InvalidInput) as err:
            LiveConfig.from_dict(doc)
        assert err.value.field == field, feature
    (tmp_path / "bad.geojson").write_text("{")
    with pytest.raises(InvalidInput, match=re.escape("geojson: 'bad.geojson' is not JSON")):
        LiveConfig.from_dict({"geojson": "bad.geojson"}, base_dir=tmp_path)
    with pytest.raises(InvalidInput, match=re.escape("geojson: cannot read 'none.geojson'")):
        LiveConfig.from_dict({"geojson": "none.geojson"}, base_dir=tmp_path)


def test_geojson_names_features_and_their_parts() -> None:
    ring = [[5, 45, 120], [5.1, 45], [5.1, 45.1]]  # a position may carry an altitude
    doc = {
        "geojson": {
            "type": "FeatureCollection",
            "features": [
                {"geometry": {"type": "MultiPolygon", "coordinates": [[ring], [ring]]}, "id": "m"},
                {"geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {"kind": 0}},
            ],
        }
    }
    cfg = LiveConfig.from_dict(doc)
    assert [(v.volume.id, v.kind) for v in cfg.volumes] == [
        ("m#0", "volume"),
        ("m#1", "volume"),
        ("feature-1", "volume"),
    ]


def test_null_and_empty_values_mean_the_default() -> None:
    cfg = LiveConfig.from_dict(
        {
            "rate_hz": None,
            "alerts": {},
            "quality": None,
            "volumes": [],
            "lines": None,
            "parties": {},
        }
    )
    assert cfg.rate_hz == 1.0 and cfg.thresholds.caution_s == 300.0 and cfg.volumes == ()
    assert LiveConfig.from_dict({"minima": {}}).minima == LiveConfig().minima
    # bands given, even empty, replace the default band above FL410
    assert LiveConfig.from_dict({"minima": {"bands": []}}).minima.rules == ()


def test_values_are_kept_as_the_tactical_types_expect() -> None:
    cfg = LiveConfig.from_dict(
        {
            "history_max": 2.7,
            "alerts": {"caution_s": 200},
            "quality": {"max_age_s": 20},
            "minima": {"default": {"horizontal_m": 1000, "horizontal_nm": 1, "vertical_ft": 500}},
        }
    )
    assert cfg.history_max == 2 and isinstance(cfg.history_max, int)
    # a whole number stays one: "older than 20 s" in notices, as written
    assert type(cfg.thresholds.caution_s) is int and type(cfg.quality.max_age_s) is int
    assert cfg.minima.default.horizontal_m == pytest.approx(NM_TO_M)  # the NM key wins


def test_keyword_arguments_are_checked_as_the_document_is() -> None:
    assert LiveConfig(silence_after_s=600, drop_after_s=120).silence_after_s == 600
    with pytest.raises(InvalidInput, match=re.escape("rate_hz: must be positive")):
        LiveConfig(rate_hz=0)
    with pytest.raises(InvalidInput, match=re.escape("max_rate_hz: must lie in [rate_hz, 100]")):
        LiveConfig(rate_hz=10)


def test_keyword_arguments_take_no_null() -> None:
    with pytest.raises(InvalidInput, match=re.escape("rate_hz: must be a finite number, got None")):
        LiveConfig(rate_hz=None)  # type: ignore[arg-type]
