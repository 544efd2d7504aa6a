"""The shared live configuration: minima, lead times, ages, borders, lines and hazard volumes.

One JSON document (a file given to the server with ``SHAREDSKY_LIVE_CONFIG``) that every party
shares; a GeoJSON ``FeatureCollection`` may be embedded (``"geojson"``) or referenced by a path
relative to the file. Everything is SI (metres, seconds, m/s) and WGS-84 degrees; the minima
also accept ``horizontal_nm`` / ``vertical_ft`` (converted here). Unknown keys are refused
(a typo must not silently fall back to a default).

::

    {
      "rate_hz": 1.0,              # detection cycles per second at least (default 1)
      "max_rate_hz": 5.0,          # at most, when new data arrives (default 5)
      "lookahead_s": 300,          # track pairs, area and line look-ahead
      "coast_after_s": 5,          # a track without update this long is "coasting"
      "drop_after_s": 60,          # ... and this long is dropped, with a notice
      "silence_after_s": 30,       # a party or feed silent this long -> SYSTEM alert
      "visibility_m": 50000,       # need-to-know distance for other parties' tracks
      "future_tolerance_s": 5,     # report times further ahead of server time are flagged
      "max_speed_mps": 1020.9,     # Mach 3 at sea level: faster reports are flagged
      "jump_tolerance_m": 5000,    # a position step beyond this + max_speed*dt is flagged
      "carry_forward_s": 10,       # a partial report keeps the last altitude/velocity this long
      "clear_after_s": 10,         # an alert no longer detected for longer is cleared
                                   # (hysteresis: no flapping at the edges of the minima)
      "dss_refresh_s": 5,          # how often plan and hazard volumes are re-read
      "conformance_tolerance_m": 0,
      "history_max": 50000,        # alert transitions kept in memory for GET (the event
                                   # table keeps them all)
      "alerts": {"caution_s": 300, "warning_s": 120},
      "quality": {"max_age_s": 30, "horizontal_growth_mps": 5, ...},   # DataQuality fields
      "minima": {
        "default": {"horizontal_nm": 5, "vertical_ft": 1000},
        "pairs": [{"parties": ["alpha", "bravo"], "horizontal_m": 10000,
                   "vertical_m": 600, "lookahead_s": 120}],
        "bands": [{"above_m": 12496.8, "horizontal_nm": 5, "vertical_ft": 2000}]
      },
      "volumes": [{"id": "range-7", "owner": "alpha", "polygon": [[lat, lon], ...],
                   "lower_m": 0, "upper_m": 9000, "start": "2026-...Z", "end": null},
                  {"id": "ship", "center": [lat, lon], "radius_m": 5000}],
      "lines": [{"id": "border", "kind": "border", "parties": ["alpha", "bravo"],
                 "points": [[lat, lon], ...]}],
      "geojson": {"type": "FeatureCollection", "features": [...]} | "areas.geojson",
      "parties": {"alpha": {"links": {"TRACK1": "<operational intent id>"},
                            "feeds": [{"type": "ais", "tcp": "10.0.0.5:10110"}]}}
    }

GeoJSON features: ``Polygon`` (outer ring used) and ``MultiPolygon`` become volumes,
``LineString`` / ``MultiLineString`` become lines; ``properties`` carry ``id``, ``owner``,
``kind``, ``parties``, ``lower_m``, ``upper_m``, ``start``, ``end``. GeoJSON coordinates are
``[lon, lat]`` as the format says; the rest of the file uses ``[lat, lon]``.

Semantics: a volume with an ``owner`` protects that party's airspace — other parties' tracks
predicted to enter raise alerts to both; without an owner it is a hazard for everyone (alerts go
to the party of the track). A line concerns the listed ``parties`` (their tracks raise alerts
and their need-to-know area includes it), or everyone when ``parties`` is absent. ``parties.<p>``
is that party's own configuration (track-to-plan links; ``feeds``: surveillance feeds the server
runs for it, see :class:`sharedsky.feeds.net.FeedSpec`), readable by that party only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from sharedsky.errors import InvalidInput
from sharedsky.feeds.net import FeedSpec
from sharedsky.tactical import (
    AlertThresholds,
    DataQuality,
    Line,
    MinimaRule,
    MinimaTable,
    ProtectedVolume,
    SeparationMinima,
)
from sharedsky.units import FT_TO_M, NM_TO_M

__all__ = ["ConfiguredLine", "ConfiguredVolume", "LiveConfig", "PartyConfig"]

MACH3_MPS = 3.0 * 340.29


@dataclass(frozen=True, eq=False)
class ConfiguredVolume:
    """A configured protected or hazard volume and who owns it (``None``: everyone's hazard)."""

    volume: ProtectedVolume
    owner: str | None = None
    kind: str = "volume"


@dataclass(frozen=True, eq=False)
class ConfiguredLine:
    """A configured border or agreed line and the parties it concerns (``None``: all)."""

    line: Line
    parties: tuple[str, ...] | None = None
    kind: str = "line"


@dataclass(frozen=True)
class PartyConfig:
    """One party's own configuration: ``links`` maps its track ids to its plan (OIR) ids;
    ``feeds`` are the surveillance feeds the server runs for the party."""

    links: Mapping[str, str] = field(default_factory=dict)
    feeds: tuple[FeedSpec, ...] = ()


def _num(
    d: Mapping[str, Any],
    key: str,
    default: float,
    where: str,
    *,
    positive: bool = False,
    allow_zero: bool = True,
) -> float:
    if key not in d or d[key] is None:
        return default
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise InvalidInput(f"must be a finite number, got {v!r}", f"{where}{key}")
    if (positive and v < 0) or (not allow_zero and v == 0):
        raise InvalidInput(
            f"must be {'positive' if not allow_zero else 'non-negative'}", f"{where}{key}"
        )
    return float(v)


def _time(v: Any, name: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        try:
            d = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInput(f"not an ISO-8601 time: {v!r}", name) from exc
        if d.tzinfo is None:
            raise InvalidInput(f"time {v!r} lacks a UTC offset", name)
        return d.timestamp()
    raise InvalidInput(f"not a time: {v!r}", name)


def _check_keys(d: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise InvalidInput(f"unknown key(s) {extra}; allowed: {sorted(allowed)}", where or "config")


def _minima(d: Any, where: str) -> SeparationMinima:
    if not isinstance(d, Mapping):
        raise InvalidInput("must be an object", where)
    _check_keys(
        d,
        {
            "horizontal_m",
            "horizontal_nm",
            "vertical_m",
            "vertical_ft",
            "lookahead_s",
            "parties",
            "above_m",
            "up_to_m",
        },
        where,
    )
    h = _num(d, "horizontal_m", math.nan, f"{where}.")
    if "horizontal_nm" in d:
        h = _num(d, "horizontal_nm", 0.0, f"{where}.") * NM_TO_M
    v = _num(d, "vertical_m", math.nan, f"{where}.")
    if "vertical_ft" in d:
        v = _num(d, "vertical_ft", 0.0, f"{where}.") * FT_TO_M
    if math.isnan(h):
        raise InvalidInput("needs horizontal_m or horizontal_nm", where)
    if math.isnan(v):
        raise InvalidInput("needs vertical_m or vertical_ft", where)
    la = d.get("lookahead_s")
    try:
        return SeparationMinima(h, v, None if la is None else float(la))
    except InvalidInput as exc:
        raise InvalidInput(exc.message, f"{where}.{exc.field}") from exc


def _minima_table(d: Any) -> MinimaTable:
    if d is None:
        return MinimaTable()
    if not isinstance(d, Mapping):
        raise InvalidInput("must be an object", "minima")
    _check_keys(d, {"default", "pairs", "bands"}, "minima")
    default = _minima(d["default"], "minima.default") if "default" in d else SeparationMinima()
    rules: list[MinimaRule] = []
    for k, p in enumerate(d.get("pairs") or []):
        where = f"minima.pairs[{k}]"
        parties = p.get("parties") if isinstance(p, Mapping) else None
        if (
            not isinstance(parties, list)
            or len(parties) != 2
            or not all(isinstance(x, str) and x for x in parties)
        ):
            raise InvalidInput("needs 'parties': two party names", where)
        rules.append(MinimaRule(_minima(p, where), parties=(parties[0], parties[1])))
    if "bands" in d:
        for k, b in enumerate(d.get("bands") or []):
            where = f"minima.bands[{k}]"
            m = _minima(b, where)
            lo = b.get("above_m")
            hi = b.get("up_to_m")
            rules.append(
                MinimaRule(
                    m,
                    above_m=None if lo is None else _num(b, "above_m", 0.0, f"{where}."),
                    up_to_m=None if hi is None else _num(b, "up_to_m", 0.0, f"{where}."),
                )
            )
    else:
        rules.extend(MinimaTable().rules)
    return MinimaTable(default=default, rules=tuple(rules))


def _parties_list(v: Any, where: str) -> tuple[str, ...] | None:
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise InvalidInput("must be a list of party names", where)
    return tuple(v)


def _owner(v: Any, where: str) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or not v:
        raise InvalidInput("must be a party name", where)
    return v


def _volume(d: Any, where: str) -> ConfiguredVolume:
    if not isinstance(d, Mapping):
        raise InvalidInput("must be an object", where)
    _check_keys(
        d,
        {
            "id",
            "owner",
            "kind",
            "polygon",
            "center",
            "radius_m",
            "lower_m",
            "upper_m",
            "start",
            "end",
        },
        where,
    )
    vid = d.get("id")
    if not isinstance(vid, str) or not vid:
        raise InvalidInput("needs a non-empty string 'id'", where)
    start = _time(d.get("start"), f"{where}.start")
    end = _time(d.get("end"), f"{where}.end")
    lower = _num(d, "lower_m", -math.inf, f"{where}.")
    upper = _num(d, "upper_m", math.inf, f"{where}.")
    try:
        vol = ProtectedVolume(
            id=vid,
            polygon=d.get("polygon"),
            center=tuple(d["center"]) if d.get("center") is not None else None,  # type: ignore[arg-type]
            radius_m=d.get("radius_m"),
            lower_m=lower,
            upper_m=upper,
            start=start,
            end=end,
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc), where) from exc
    except InvalidInput as exc:
        raise InvalidInput(exc.message, f"{where}.{exc.field or ''}".rstrip(".")) from exc
    return ConfiguredVolume(
        vol, _owner(d.get("owner"), f"{where}.owner"), str(d.get("kind") or "volume")
    )


def _line(d: Any, where: str) -> ConfiguredLine:
    if not isinstance(d, Mapping):
        raise InvalidInput("must be an object", where)
    _check_keys(d, {"id", "kind", "parties", "points"}, where)
    lid = d.get("id")
    if not isinstance(lid, str) or not lid:
        raise InvalidInput("needs a non-empty string 'id'", where)
    try:
        line = Line(lid, d.get("points") or [])
    except InvalidInput as exc:
        raise InvalidInput(exc.message, f"{where}.points") from exc
    return ConfiguredLine(
        line, _parties_list(d.get("parties"), f"{where}.parties"), str(d.get("kind") or "line")
    )


def _geojson(doc: Any, where: str) -> tuple[list[ConfiguredVolume], list[ConfiguredLine]]:
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
        raise InvalidInput("must be a GeoJSON FeatureCollection", where)
    vols: list[ConfiguredVolume] = []
    lines: list[ConfiguredLine] = []
    for k, feat in enumerate(doc.get("features") or []):
        w = f"{where}.features[{k}]"
        if not isinstance(feat, Mapping) or not isinstance(feat.get("geometry"), Mapping):
            raise InvalidInput("must be a Feature with a geometry", w)
        props = dict(feat.get("properties") or {})
        fid = props.pop("id", None) or feat.get("id") or f"feature-{k}"
        geom = feat["geometry"]
        gtype = geom.get("type")
        coords = geom.get("coordinates")

        def latlon(ring: Any, ww: str) -> list[list[float]]:
            try:
                return [[float(p[1]), float(p[0])] for p in ring]
            except (TypeError, ValueError, IndexError) as exc:
                raise InvalidInput(f"bad coordinates ({exc})", ww) from exc

        if gtype in ("Polygon", "MultiPolygon"):
            polys = [coords] if gtype == "Polygon" else list(coords or [])
            for j, poly in enumerate(polys):
                vid = str(fid) if len(polys) == 1 else f"{fid}#{j}"
                spec = {
                    "id": vid,
                    "polygon": latlon(poly[0] if poly else [], f"{w}.geometry"),
                    **{
                        k2: v
                        for k2, v in props.items()
                        if k2 in ("owner", "kind", "lower_m", "upper_m", "start", "end")
                    },
                }
                vols.append(_volume(spec, w))
        elif gtype in ("LineString", "MultiLineString"):
            parts = [coords] if gtype == "LineString" else list(coords or [])
            for j, part in enumerate(parts):
                lid = str(fid) if len(parts) == 1 else f"{fid}#{j}"
                spec = {
                    "id": lid,
                    "points": latlon(part, f"{w}.geometry"),
                    **{k2: v for k2, v in props.items() if k2 in ("kind", "parties")},
                }
                lines.append(_line(spec, w))
        else:
            raise InvalidInput(f"unsupported geometry type {gtype!r}", f"{w}.geometry")
    return vols, lines


@dataclass(frozen=True, eq=False)
class LiveConfig:
    """Parameters of the live service (see the module docstring for the file format)."""

    rate_hz: float = 1.0
    max_rate_hz: float = 5.0
    lookahead_s: float = 300.0
    coast_after_s: float = 5.0
    drop_after_s: float = 60.0
    silence_after_s: float = 30.0
    visibility_m: float = 50_000.0
    future_tolerance_s: float = 5.0
    max_speed_mps: float = MACH3_MPS
    jump_tolerance_m: float = 5_000.0
    carry_forward_s: float = 10.0
    clear_after_s: float = 10.0
    dss_refresh_s: float = 5.0
    conformance_tolerance_m: float = 0.0
    history_max: int = 50_000
    minima: MinimaTable = field(default_factory=MinimaTable)
    thresholds: AlertThresholds = field(default_factory=AlertThresholds)
    quality: DataQuality = field(default_factory=DataQuality)
    volumes: tuple[ConfiguredVolume, ...] = ()
    lines: tuple[ConfiguredLine, ...] = ()
    parties: Mapping[str, PartyConfig] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.rate_hz <= 100:
            raise InvalidInput("must lie in (0, 100]", "rate_hz")
        if not self.rate_hz <= self.max_rate_hz <= 100:
            raise InvalidInput("must lie in [rate_hz, 100]", "max_rate_hz")
        if self.drop_after_s < self.coast_after_s:
            raise InvalidInput("must not be below coast_after_s", "drop_after_s")
        ids = [v.volume.id for v in self.volumes]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise InvalidInput(f"duplicate volume id(s) {sorted(dup)}", "volumes")
        lids = [ln.line.id for ln in self.lines]
        dup = {i for i in lids if lids.count(i) > 1}
        if dup:
            raise InvalidInput(f"duplicate line id(s) {sorted(dup)}", "lines")

    @classmethod
    def from_dict(cls, doc: Any, base_dir: Path | None = None) -> LiveConfig:
        """Parse a configuration document (see the module docstring)."""
        if not isinstance(doc, Mapping):
            raise InvalidInput("must be a JSON object", "config")
        # key -> whether zero is allowed; defaults come from the dataclass fields (one place)
        scalars = {
            "rate_hz": False,
            "max_rate_hz": False,
            "lookahead_s": True,
            "coast_after_s": True,
            "drop_after_s": True,
            "silence_after_s": False,
            "visibility_m": True,
            "future_tolerance_s": True,
            "max_speed_mps": False,
            "jump_tolerance_m": True,
            "carry_forward_s": True,
            "clear_after_s": True,
            "dss_refresh_s": True,
            "conformance_tolerance_m": True,
            "history_max": False,
        }
        defaults = {f.name: f.default for f in fields(cls)}
        _check_keys(
            doc,
            set(scalars)
            | {"alerts", "quality", "minima", "volumes", "lines", "geojson", "parties"},
            "config",
        )
        values: dict[str, Any] = {
            k: _num(doc, k, float(defaults[k]), "", positive=True, allow_zero=zero)
            for k, zero in scalars.items()
        }
        values["history_max"] = int(values["history_max"])
        alerts = doc.get("alerts") or {}
        if not isinstance(alerts, Mapping):
            raise InvalidInput("must be an object", "alerts")
        _check_keys(alerts, {"caution_s", "warning_s"}, "alerts")
        try:
            values["thresholds"] = AlertThresholds(**alerts)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, f"alerts.{exc.field}") from exc
        quality = doc.get("quality") or {}
        if not isinstance(quality, Mapping):
            raise InvalidInput("must be an object", "quality")
        _check_keys(
            quality,
            {
                "max_age_s",
                "default_pos_accuracy_m",
                "default_vel_accuracy_mps",
                "horizontal_growth_mps",
                "vertical_growth_mps",
            },
            "quality",
        )
        try:
            values["quality"] = DataQuality(**quality)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, f"quality.{exc.field}") from exc
        except TypeError as exc:
            raise InvalidInput(str(exc), "quality") from exc
        values["minima"] = _minima_table(doc.get("minima"))
        vol_list = doc.get("volumes") or []
        line_list = doc.get("lines") or []
        if not isinstance(vol_list, list):
            raise InvalidInput("must be a list", "volumes")
        if not isinstance(line_list, list):
            raise InvalidInput("must be a list", "lines")
        vols = [_volume(v, f"volumes[{k}]") for k, v in enumerate(vol_list)]
        lines = [_line(v, f"lines[{k}]") for k, v in enumerate(line_list)]
        gj = doc.get("geojson")
        if gj is not None:
            if isinstance(gj, str):
                path = Path(gj) if base_dir is None else base_dir / gj
                try:
                    gj = json.loads(path.read_text())
                except OSError as exc:
                    raise InvalidInput(f"cannot read {gj!r} ({exc.strerror})", "geojson") from exc
                except ValueError as exc:
                    raise InvalidInput(f"{gj!r} is not JSON ({exc})", "geojson") from exc
            gv, gl = _geojson(gj, "geojson")
            vols += gv
            lines += gl
        values["volumes"] = tuple(vols)
        values["lines"] = tuple(lines)
        parties_doc = doc.get("parties") or {}
        if not isinstance(parties_doc, Mapping):
            raise InvalidInput("must be an object of party name -> settings", "parties")
        parties: dict[str, PartyConfig] = {}
        for name, pdoc in parties_doc.items():
            where = f"parties.{name}"
            if not isinstance(pdoc, Mapping):
                raise InvalidInput("must be an object", where)
            _check_keys(pdoc, {"links", "feeds"}, where)
            links = pdoc.get("links") or {}
            if not isinstance(links, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in links.items()
            ):
                raise InvalidInput("must map track ids to plan ids (strings)", f"{where}.links")
            feeds_doc = pdoc.get("feeds") or []
            if not isinstance(feeds_doc, list):
                raise InvalidInput("must be an array of feeds", f"{where}.feeds")
            feeds = tuple(
                FeedSpec.from_dict(f, f"{where}.feeds[{i}]", base_dir)
                for i, f in enumerate(feeds_doc)
            )
            parties[str(name)] = PartyConfig(links=dict(links), feeds=feeds)
        values["parties"] = parties
        values["source"] = dict(doc)
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> LiveConfig:
        """Read a JSON configuration file (or a bare GeoJSON FeatureCollection of areas)."""
        p = Path(path)
        try:
            doc = json.loads(p.read_text())
        except OSError as exc:
            raise InvalidInput(f"cannot read {p} ({exc.strerror})", "live_config") from exc
        except ValueError as exc:
            raise InvalidInput(f"{p} is not JSON ({exc})", "live_config") from exc
        if isinstance(doc, Mapping) and doc.get("type") == "FeatureCollection":
            doc = {"geojson": doc}
        return cls.from_dict(doc, base_dir=p.parent)

    def shared_view(self) -> dict[str, Any]:
        """What every party may read: everything except the per-party sections."""
        return {k: v for k, v in self.source.items() if k != "parties"}

    def party_view(self, party: str) -> dict[str, Any]:
        """One party's own section (empty when it has none)."""
        pc = self.parties.get(party)
        return {"links": dict(pc.links) if pc else {}}

    def lines_for(self, party: str) -> list[ConfiguredLine]:
        return [ln for ln in self.lines if ln.parties is None or party in ln.parties]
