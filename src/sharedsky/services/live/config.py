"""The shared live configuration: minima, lead times, ages, borders, lines and hazard volumes.

One JSON document (a file given to the server with ``SHAREDSKY_LIVE_CONFIG``) that every party
shares; a GeoJSON ``FeatureCollection`` may be embedded (``"geojson"``) or referenced by a path
relative to the file. Everything is SI (metres, seconds, m/s) and WGS-84 degrees; the minima
also accept ``horizontal_nm`` / ``vertical_ft`` (converted here; they win over the metre keys).
Unknown keys are refused at every level (a typo must not silently fall back to a default).
Numbers are JSON numbers (``true`` or ``"5"`` is not one); times are ISO-8601 with a UTC offset
(``Z`` allowed) or epoch seconds. ``null`` at the top level is the same as leaving the key out.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticUseDefault

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


@dataclass(frozen=True, eq=False)
class LiveConfig:
    """Parameters of the live service (see the module docstring for the file format). Keyword
    arguments are checked as the document is (:class:`InvalidInput` naming the field)."""

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
        try:
            _Settings.model_validate(self)
        except ValidationError as exc:
            raise _invalid_input(exc) from exc
        object.__setattr__(self, "history_max", int(self.history_max))  # the whole part
        for what, ids in (
            ("volume", [v.volume.id for v in self.volumes]),
            ("line", [ln.line.id for ln in self.lines]),
        ):
            dup = {i for i in ids if ids.count(i) > 1}
            if dup:
                raise InvalidInput(f"duplicate {what} id(s) {sorted(dup)}", f"{what}s")

    @classmethod
    def from_dict(cls, doc: Any, base_dir: Path | None = None) -> LiveConfig:
        """Parse a configuration document (see the module docstring)."""
        if not isinstance(doc, Mapping):
            raise InvalidInput("must be a JSON object", "config")
        try:
            document = _Document.model_validate(dict(doc), context={"base_dir": base_dir})
        except ValidationError as exc:
            raise _invalid_input(exc) from exc
        return document.config(source=dict(doc))

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


# --- Errors: raised inside validation, made InvalidInput in one place (_invalid_input) ---


class _Refused(ValueError):
    """A rule of the format broken; ``field`` is a path below the value (None: the value)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


_REASONS = {  # pydantic's error types in the format's words
    "float_type": "must be a finite number, got {input!r}",
    "finite_number": "must be a finite number, got {input!r}",
    "greater_than_equal": "must be non-negative",
    "greater_than": "must be positive",
    "model_type": "must be an object",
    "dict_type": "must be an object",
    "tuple_type": "must be a list",
}


def _invalid_input(exc: ValidationError) -> InvalidInput:
    """The first error, in document order, naming its place: ``loc`` ``("minima", "pairs", 0,
    "horizontal_m")`` is ``minima.pairs[0].horizontal_m``, the whole document ``config``."""
    error = exc.errors(include_url=False)[0]
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, _Refused):
        path = ".".join(p for p in (path, cause.field) if p)
        return InvalidInput(cause.message, path or "config")
    reason = _REASONS.get(error["type"], error["msg"])
    return InvalidInput(reason.format(input=error["input"]), path or "config")


def _domain(build: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A tactical type, which validates itself: its error's field goes below the value's place
    (the message, which starts with that field, is kept as it is)."""
    try:
        return build(*args, **kwargs)
    except InvalidInput as exc:
        raise _Refused(exc.message, exc.field) from exc


# --- Values of the format ---


def _json_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Refused(f"must be a finite number, got {value!r}")
    return value


_Finite = Annotated[float, Strict(), AllowInfNan(False)]  # a finite JSON number, as a float
_Number = Annotated[float, PlainValidator(_json_number)]  # as given; the tactical type checks it
_NonNegative = Annotated[_Finite, Field(ge=0)]
_Positive = Annotated[_Finite, Field(gt=0)]


def _epoch(value: Any) -> Any:
    """A time: epoch seconds as given, or ISO-8601 with a UTC offset."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if not isinstance(value, str):
        raise _Refused(f"not a time: {value!r}")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _Refused(f"not an ISO-8601 time: {value!r}") from exc
    if t.tzinfo is None:
        raise _Refused(f"time {value!r} lacks a UTC offset")
    return t.timestamp()


_Time = Annotated[float | None, BeforeValidator(_epoch)]


def _must(test: Callable[[Any], bool], message: str) -> BeforeValidator:
    """Refuse a value that fails ``test``, in the format's own words."""

    def check(value: Any) -> Any:
        if not test(value):
            raise _Refused(message)
        return value

    return BeforeValidator(check)


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _is_names(value: Any) -> bool:
    return isinstance(value, list) and all(map(_is_name, value))


def _empty_is_default(value: Any) -> Any:
    if not value:  # a section or list: null, false, 0, "", [] and {} leave the default
        raise PydanticUseDefault()
    return value


# Validators in ``Annotated`` run from the right: this one goes last, to run first.
_EMPTY_IS_DEFAULT = BeforeValidator(_empty_is_default)


def _via(model: type[BaseModel], build: Callable[[Any], Any]) -> BeforeValidator:
    """Validate a part of the document as ``model`` and keep ``build(part)``; pydantic puts
    the errors of that nested validation at the part's place."""
    return BeforeValidator(
        lambda value, info: build(model.model_validate(value, context=info.context))
    )


def _base_dir(info: ValidationInfo) -> Path | None:
    return (info.context or {}).get("base_dir")


# --- The parts of the document ---


class _Part(BaseModel):
    """A part of the document. Unknown keys are refused (``extra="forbid"``), checked first
    to name them all with the keys allowed."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                raise _Refused(f"unknown key(s) {unknown}; allowed: {sorted(cls.model_fields)}")
        return data


class _Minimum(_Part):
    """A separation minimum: ``minima.default``, and the base of pairs and bands."""

    horizontal_m: _Finite | None = None
    horizontal_nm: _Finite | None = None
    vertical_m: _Finite | None = None
    vertical_ft: _Finite | None = None
    lookahead_s: _Number | None = None
    parties: Any = None  # allowed in every minimum, read only where they apply
    above_m: Any = None
    up_to_m: Any = None

    def separation(self) -> SeparationMinima:
        given = self.model_fields_set
        h = (self.horizontal_nm or 0.0) * NM_TO_M if "horizontal_nm" in given else self.horizontal_m
        v = (self.vertical_ft or 0.0) * FT_TO_M if "vertical_ft" in given else self.vertical_m
        if h is None:
            raise _Refused("needs horizontal_m or horizontal_nm")
        if v is None:
            raise _Refused("needs vertical_m or vertical_ft")
        la = None if self.lookahead_s is None else float(self.lookahead_s)
        return _domain(SeparationMinima, h, v, la)


class _Pair(_Minimum):
    """The minimum of one pair of parties, at any altitude."""

    parties: tuple[str, str]

    @model_validator(mode="before")
    @classmethod
    def _two_parties(cls, data: Any) -> Any:  # checked before the keys
        parties = data.get("parties") if isinstance(data, dict) else None
        if not (_is_names(parties) and len(parties) == 2):
            raise _Refused("needs 'parties': two party names")
        return data

    def rule(self) -> MinimaRule:
        return MinimaRule(self.separation(), parties=self.parties)


class _Band(_Minimum):
    """The minimum when the higher aircraft of a pair is in ``(above_m, up_to_m]``."""

    above_m: _Finite | None = None
    up_to_m: _Finite | None = None

    def rule(self) -> MinimaRule:
        return MinimaRule(self.separation(), above_m=self.above_m, up_to_m=self.up_to_m)


class _Minima(_Part):
    """Pair rules first, then bands; without ``bands`` the default band above FL410 stays."""

    default: Annotated[SeparationMinima, _via(_Minimum, _Minimum.separation)] = Field(
        default_factory=SeparationMinima
    )
    pairs: Annotated[
        tuple[Annotated[MinimaRule, _via(_Pair, _Pair.rule)], ...], _EMPTY_IS_DEFAULT
    ] = ()
    bands: Annotated[
        tuple[Annotated[MinimaRule, _via(_Band, _Band.rule)], ...] | None,
        BeforeValidator(lambda value: value or ()),  # given, even empty: no default band
    ] = None

    def table(self) -> MinimaTable:
        bands = MinimaTable().rules if self.bands is None else self.bands
        return MinimaTable(default=self.default, rules=self.pairs + bands)


class _Alerts(_Part):
    caution_s: _Number = AlertThresholds.caution_s
    warning_s: _Number = AlertThresholds.warning_s

    def thresholds(self) -> AlertThresholds:
        return _domain(AlertThresholds, self.caution_s, self.warning_s)


class _Quality(_Part):
    max_age_s: _Number = DataQuality.max_age_s
    default_pos_accuracy_m: _Number = DataQuality.default_pos_accuracy_m
    default_vel_accuracy_mps: _Number = DataQuality.default_vel_accuracy_mps
    horizontal_growth_mps: _Number = DataQuality.horizontal_growth_mps
    vertical_growth_mps: _Number = DataQuality.vertical_growth_mps

    def data_quality(self) -> DataQuality:
        return _domain(DataQuality, **dict(self))


class _Entry(_Part):
    """A volume or a line: a non-empty string ``id`` and a free ``kind`` label."""

    id: str
    kind: Any = None

    @model_validator(mode="before")
    @classmethod
    def _has_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not _is_name(data.get("id")):
            raise _Refused("needs a non-empty string 'id'")
        return data


class _Volume(_Entry):
    owner: Annotated[
        str | None, _must(lambda v: v is None or _is_name(v), "must be a party name")
    ] = None
    polygon: Any = None  # the shapes are ProtectedVolume's to check
    center: tuple[Any, ...] | None = None
    radius_m: _Number | None = None
    lower_m: _Finite | None = None
    upper_m: _Finite | None = None
    start: _Time = None
    end: _Time = None

    def configured(self) -> ConfiguredVolume:
        volume = _domain(
            ProtectedVolume,
            id=self.id,
            polygon=self.polygon,
            center=self.center,
            radius_m=self.radius_m,
            lower_m=-math.inf if self.lower_m is None else self.lower_m,
            upper_m=math.inf if self.upper_m is None else self.upper_m,
            start=self.start,
            end=self.end,
        )
        return ConfiguredVolume(volume, self.owner, str(self.kind or "volume"))


class _Line(_Entry):
    parties: Annotated[
        tuple[str, ...] | None,
        _must(lambda v: v is None or _is_names(v), "must be a list of party names"),
    ] = None
    points: Any = None  # Line's to check

    def configured(self) -> ConfiguredLine:
        line = _domain(Line, self.id, self.points or [])
        return ConfiguredLine(line, self.parties, str(self.kind or "line"))


def _feed(doc: Any, info: ValidationInfo) -> FeedSpec:
    """A feed, validated by FeedSpec: given the empty path, it names fields below the feed."""
    try:
        return FeedSpec.from_dict(doc, "", _base_dir(info))
    except InvalidInput as exc:
        field = (exc.field or "").lstrip(".") or None
        raise _Refused(exc.message.removeprefix(f"{exc.field}: "), field) from exc


def _is_links(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(x, str) for kv in value.items() for x in kv)


class _Party(_Part):
    links: Annotated[
        dict[str, str],
        _must(_is_links, "must map track ids to plan ids (strings)"),
        _EMPTY_IS_DEFAULT,
    ] = Field(default_factory=dict)
    feeds: Annotated[
        tuple[Annotated[FeedSpec, BeforeValidator(_feed)], ...],
        _must(lambda v: isinstance(v, list), "must be an array of feeds"),
        _EMPTY_IS_DEFAULT,
    ] = ()

    def configured(self) -> PartyConfig:
        return PartyConfig(links=self.links, feeds=self.feeds)


# --- GeoJSON areas ---


@dataclass(frozen=True)
class _Areas:
    volumes: tuple[ConfiguredVolume, ...] = ()
    lines: tuple[ConfiguredLine, ...] = ()


_GEOMETRIES = {"Polygon", "MultiPolygon", "LineString", "MultiLineString"}
_VOLUME_PROPERTIES = ("owner", "kind", "lower_m", "upper_m", "start", "end")


def _latlon(coordinates: Any, polygon: bool) -> list[list[float]]:
    """A polygon's outer ring or a line string as ``[lat, lon]`` (GeoJSON: ``[lon, lat]``)."""
    try:
        positions = (coordinates[0] if coordinates else []) if polygon else coordinates
        return [[float(p[1]), float(p[0])] for p in positions]
    except (TypeError, ValueError, LookupError) as exc:
        raise _Refused(f"bad coordinates ({exc})", "geometry") from exc


class _Feature(BaseModel):
    """A GeoJSON Feature; the members not named here are not read."""

    model_config = ConfigDict(frozen=True)

    id: Any = None
    properties: Annotated[dict[str, Any], _EMPTY_IS_DEFAULT] = Field(default_factory=dict)
    geometry: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _has_geometry(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("geometry"), dict):
            raise _Refused("must be a Feature with a geometry")
        return data

    def areas(self) -> _Areas:
        props = dict(self.properties)
        fid = props.pop("id", None) or self.id
        gtype, coordinates = self.geometry.get("type"), self.geometry.get("coordinates")
        if not isinstance(gtype, str) or gtype not in _GEOMETRIES:
            raise _Refused(f"unsupported geometry type {gtype!r}", "geometry")
        polygon = gtype.endswith("Polygon")
        entry, key, keep = (
            (_Volume, "polygon", _VOLUME_PROPERTIES)
            if polygon
            else (_Line, "points", ("kind", "parties"))
        )
        try:
            parts = list(coordinates or []) if gtype.startswith("Multi") else [coordinates]
        except TypeError as exc:
            raise _Refused(f"bad coordinates ({exc})", "geometry") from exc
        built = tuple(
            entry.model_validate(
                {
                    "id": str(fid) if len(parts) == 1 else f"{fid}#{j}",
                    key: _latlon(part, polygon),
                    **{k: v for k, v in props.items() if k in keep},
                }
            ).configured()
            for j, part in enumerate(parts)
        )
        return _Areas(volumes=built) if polygon else _Areas(lines=built)


def _named(features: Any) -> Any:
    """A feature without an id is ``feature-<k>``, after its place in the collection."""
    if not isinstance(features, list):
        return features
    return [
        {**f, "id": f.get("id") or f"feature-{k}"} if isinstance(f, dict) else f
        for k, f in enumerate(features)
    ]


class _FeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection, embedded or by a path relative to the configuration file."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    features: Annotated[
        tuple[Annotated[_Areas, _via(_Feature, _Feature.areas)], ...],
        BeforeValidator(_named),
        _EMPTY_IS_DEFAULT,
    ] = ()

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, str):
            base_dir = _base_dir(info)
            path = Path(data) if base_dir is None else base_dir / data
            try:
                data = json.loads(path.read_text())
            except OSError as exc:
                raise _Refused(f"cannot read {data!r} ({exc.strerror})") from exc
            except ValueError as exc:
                raise _Refused(f"{data!r} is not JSON ({exc})") from exc
        if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
            raise _Refused("must be a GeoJSON FeatureCollection")
        return data

    def areas(self) -> _Areas:
        return _Areas(
            tuple(v for f in self.features for v in f.volumes),
            tuple(ln for f in self.features for ln in f.lines),
        )


# --- The document ---


class _Settings(_Part):
    """The scalar settings and their bounds, for the document and every LiveConfig; in the
    document, ``null`` is the default."""

    model_config = ConfigDict(from_attributes=True)

    rate_hz: _Positive = LiveConfig.rate_hz
    max_rate_hz: _Positive = LiveConfig.max_rate_hz
    lookahead_s: _NonNegative = LiveConfig.lookahead_s
    coast_after_s: _NonNegative = LiveConfig.coast_after_s
    drop_after_s: _NonNegative = LiveConfig.drop_after_s
    silence_after_s: _Positive = LiveConfig.silence_after_s
    visibility_m: _NonNegative = LiveConfig.visibility_m
    future_tolerance_s: _NonNegative = LiveConfig.future_tolerance_s
    max_speed_mps: _Positive = LiveConfig.max_speed_mps
    jump_tolerance_m: _NonNegative = LiveConfig.jump_tolerance_m
    carry_forward_s: _NonNegative = LiveConfig.carry_forward_s
    clear_after_s: _NonNegative = LiveConfig.clear_after_s
    dss_refresh_s: _NonNegative = LiveConfig.dss_refresh_s
    conformance_tolerance_m: _NonNegative = LiveConfig.conformance_tolerance_m
    history_max: _Positive = LiveConfig.history_max

    @field_validator("*", mode="before")
    @classmethod
    def _null_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.context is not None:  # in a document, not in a LiveConfig
            raise PydanticUseDefault()
        return value

    @model_validator(mode="after")
    def _rates(self) -> _Settings:
        if not self.rate_hz <= 100:
            raise _Refused("must lie in (0, 100]", "rate_hz")
        if not self.rate_hz <= self.max_rate_hz <= 100:
            raise _Refused("must lie in [rate_hz, 100]", "max_rate_hz")
        if self.drop_after_s < self.coast_after_s:
            raise _Refused("must not be below coast_after_s", "drop_after_s")
        return self


class _Document(_Settings):
    """The whole document, its sections already as the tactical types."""

    alerts: Annotated[AlertThresholds, _via(_Alerts, _Alerts.thresholds), _EMPTY_IS_DEFAULT] = (
        Field(default_factory=AlertThresholds)
    )
    quality: Annotated[DataQuality, _via(_Quality, _Quality.data_quality), _EMPTY_IS_DEFAULT] = (
        Field(default_factory=DataQuality)
    )
    minima: Annotated[MinimaTable, _via(_Minima, _Minima.table)] = Field(
        default_factory=MinimaTable
    )
    volumes: Annotated[
        tuple[Annotated[ConfiguredVolume, _via(_Volume, _Volume.configured)], ...],
        _EMPTY_IS_DEFAULT,
    ] = ()
    lines: Annotated[
        tuple[Annotated[ConfiguredLine, _via(_Line, _Line.configured)], ...],
        _EMPTY_IS_DEFAULT,
    ] = ()
    geojson: Annotated[_Areas, _via(_FeatureCollection, _FeatureCollection.areas)] = _Areas()
    parties: Annotated[
        dict[str, Annotated[PartyConfig, _via(_Party, _Party.configured)]],
        _must(lambda v: isinstance(v, dict), "must be an object of party name -> settings"),
        _EMPTY_IS_DEFAULT,
    ] = Field(default_factory=dict)

    def config(self, source: dict[str, Any]) -> LiveConfig:
        return LiveConfig(
            **{name: getattr(self, name) for name in _Settings.model_fields},
            minima=self.minima,
            thresholds=self.alerts,
            quality=self.quality,
            volumes=self.volumes + self.geojson.volumes,
            lines=self.lines + self.geojson.lines,
            parties=self.parties,
            source=source,
        )
