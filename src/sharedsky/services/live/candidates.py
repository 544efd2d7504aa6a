"""Alert candidates of one detection cycle, built from the engine's results.

Each builder is a function of arrays and configuration values, with no state: it takes the
cycle's :class:`~sharedsky.tactical.TrackStates` (trusted tracks only), what the engine found
and the time ``now``, and returns :class:`Candidate` objects keyed by what they are about (the
alert book turns candidates into raised / updated / cleared alerts). Keys:

* ``conflict|<party>/<track>|<party>/<track>`` (the two sorted), kind ``conflict`` or
  ``cannot_assess`` (a track older than ``quality.max_age_s``);
* ``area|<party>/<track>|<kind>:<volume>`` (kind ``volume``, ``plan`` or ``hazard``);
* ``line|<party>/<track>|<line>``; ``conformance|<party>/<track>|<plan>``;
* ``implausible|<party>/<track>``, ``incomplete|<party>/<track>`` (SYSTEM, to the track's party);
* ``party_silent|…`` and ``feed_silent|…`` come from :mod:`sharedsky.services.live.inputs`.

Levels follow the engine's threshold rule (:func:`sharedsky.tactical.alerting.classify_arrays`):
WARNING when lost, inside, or within ``warning_s``; CAUTION within ``caution_s``; ADVISORY later
in the look-ahead.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sharedsky.geo.geodesy import destination
from sharedsky.model.alerts import AlertInput, AlertKind, LiveLevel
from sharedsky.services.live.config import ConfiguredLine
from sharedsky.services.live.tracks import flag_names
from sharedsky.services.live.views import finite_or_none
from sharedsky.tactical import (
    AlertThresholds,
    Conflicts,
    ProtectedVolume,
    TrackStates,
    classify,
    conformance,
    detect_area_proximity,
    detect_line_crossings,
)
from sharedsky.tactical.alerting import classify_arrays
from sharedsky.units import epoch_to_iso

__all__ = [
    "AreaSource",
    "Candidate",
    "TrackColumns",
    "area_candidates",
    "conflict_candidates",
    "conformance_candidates",
    "implausible_candidate",
    "incomplete_candidate",
    "line_candidates",
    "live_levels",
]


@dataclass
class Candidate:
    """An alert as detected in one cycle: what the book compares with the active alert of the
    same ``key``."""

    key: str
    kind: AlertKind
    level: LiveLevel
    parties: tuple[str, ...]
    inputs: tuple[AlertInput, ...]
    geometry: dict[str, Any]
    message: str


@dataclass(frozen=True, eq=False)
class AreaSource:
    """A volume that tracks are checked against, with where it comes from: a configured volume
    (``kind`` "volume"), a plan or a hazard volume of the DSS; ``owner`` is the party whose
    airspace it is (None: a hazard for everyone)."""

    volume: ProtectedVolume
    owner: str | None
    kind: str
    entity_id: str


_LEVEL_OF = {"WARNING": LiveLevel.WARNING, "CAUTION": LiveLevel.CAUTION}
_KINEMATIC = ("alt_m", "gs_mps", "trk_deg", "vs_mps")
_INPUT_FIELDS = ("track_id", "party", "t", "lat", "lon", *_KINEMATIC)


def live_levels(names: np.ndarray) -> list[LiveLevel]:
    """The live level of each engine level name (WARNING, CAUTION, else ADVISORY)."""
    return [_LEVEL_OF.get(name, LiveLevel.ADVISORY) for name in names.tolist()]


def _time_levels(
    t: np.ndarray, inside: np.ndarray, thresholds: AlertThresholds
) -> list[LiveLevel]:
    """Levels of predicted entries or crossings ``t`` seconds ahead (``inside``: already in)."""
    names = classify_arrays(t, inside, np.zeros(t.shape[0], dtype=bool), thresholds)
    return live_levels(names)


class TrackColumns:
    """The columns of one cycle's states as Python lists (NaN as None), built on first use and
    then kept: numpy scalar access per alert row would dominate a cycle with thousands of
    alerts, and a cycle without alerts needs no lists at all."""

    def __init__(self, states: TrackStates) -> None:
        self.states = states

    @functools.cached_property
    def _cols(self) -> dict[str, list[Any]]:
        cols = {f: getattr(self.states, f).tolist() for f in _INPUT_FIELDS}
        for f in _KINEMATIC:
            cols[f] = [v if v == v else None for v in cols[f]]
        return cols

    @functools.cached_property
    def track_id(self) -> list[str]:
        return [str(v) for v in self._cols["track_id"]]

    @functools.cached_property
    def party(self) -> list[str]:
        return [str(v) for v in self._cols["party"]]

    def track_input(self, k: int, now: float) -> AlertInput:
        """Row ``k`` as an alert input (its data age at ``now``)."""
        c = self._cols
        t = c["t"][k]
        return AlertInput(
            kind="track",
            id=self.track_id[k],
            party=self.party[k],
            t=t,
            data_age_s=round(now - t, 3),
            lat=c["lat"][k],
            lon=c["lon"][k],
            alt_m=c["alt_m"][k],
            gs_mps=c["gs_mps"][k],
            trk_deg=c["trk_deg"][k],
            vs_mps=c["vs_mps"][k],
        )


def implausible_candidate(cols: TrackColumns, k: int, flags: int, now: float) -> Candidate:
    """SYSTEM: a track whose report failed plausibility (not trusted, left out of detection)."""
    party, tid = cols.party[k], cols.track_id[k]
    names = flag_names(flags)
    return Candidate(
        f"implausible|{party}/{tid}",
        AlertKind.IMPLAUSIBLE,
        LiveLevel.SYSTEM,
        (party,),
        (cols.track_input(k, now),),
        {"flags": names},
        f"cannot assess track {tid} of {party}: implausible data ({', '.join(names)}); "
        "excluded from conflict detection",
    )


def incomplete_candidate(cols: TrackColumns, k: int, now: float) -> Candidate:
    """SYSTEM: a track lacking a kinematic field the engine needs."""
    party, tid = cols.party[k], cols.track_id[k]
    states = cols.states
    missing = [f for f in _KINEMATIC if not math.isfinite(float(getattr(states, f)[k]))]
    return Candidate(
        f"incomplete|{party}/{tid}",
        AlertKind.CANNOT_ASSESS,
        LiveLevel.SYSTEM,
        (party,),
        (cols.track_input(k, now),),
        {"missing": missing},
        f"cannot assess track {tid} of {party}: missing {', '.join(missing) or 'data'}",
    )


def _cpa_positions(states: TrackStates, c: Conflicts, now: float) -> list[list[float]]:
    """Both tracks' positions at each pair's CPA time, extrapolated along their great circles:
    rows ``0..m-1`` for the ``a`` tracks, ``m..2m-1`` for the ``b`` tracks (NaN where unknown)."""
    a_idx, b_idx = c.pairs
    rows = np.concatenate([a_idx, b_idx])
    tc = np.concatenate([c.t_cpa, c.t_cpa])
    dt = (now - states.t[rows]) + np.nan_to_num(tc)
    with np.errstate(invalid="ignore"):
        clat, clon = destination(
            states.lat[rows],
            states.lon[rows],
            np.nan_to_num(states.trk_deg[rows]),
            np.nan_to_num(states.gs_mps[rows]) * dt,
        )
        calt = states.alt_m[rows] + np.nan_to_num(states.vs_mps[rows]) * dt
    cpa = np.column_stack([clat, clon, calt])
    return np.where(np.isfinite(cpa), cpa, np.nan).tolist()


def conflict_candidates(
    cols: TrackColumns,
    c: Conflicts,
    thresholds: AlertThresholds,
    max_age_s: float,
    now: float,
) -> list[Candidate]:
    """Predicted losses of separation between tracks of different parties.

    Two tracks with the SAME track id (the same ICAO address seen by two parties) are taken as
    one aircraft seen twice: no candidate between them.
    """
    m = len(c)
    if m == 0:
        return []
    states = cols.states
    levels = live_levels(classify(c, thresholds))
    cpa = _cpa_positions(states, c, now)
    ids, pty = cols.track_id, cols.party
    ai, bi = c.pairs[0].tolist(), c.pairs[1].tolist()
    t_in, t_out, t_cpa = c.t_in.tolist(), c.t_out.tolist(), c.t_cpa.tolist()
    d_cpa, dalt, los = c.d_cpa_m.tolist(), c.dalt_cpa_m.tolist(), c.los.tolist()
    hor, ver, look = c.horizontal_m.tolist(), c.vertical_m.tolist(), c.lookahead_s.tolist()
    cannot = c.cannot_assess.tolist()
    old_age = f"a track is older than {max_age_s} s"
    out = []
    for r in range(m):
        a, b = ai[r], bi[r]
        if ids[a] == ids[b]:
            continue
        ia, ib = f"{pty[a]}/{ids[a]}", f"{pty[b]}/{ids[b]}"
        if ia <= ib:
            first, second, ra, rb = a, b, r, r + m
        else:
            first, second, ra, rb = b, a, r + m, r
            ia, ib = ib, ia
        key = f"conflict|{ia}|{ib}"
        parties = (pty[a], pty[b]) if pty[a] < pty[b] else (pty[b], pty[a])
        inputs = (cols.track_input(first, now), cols.track_input(second, now))
        if cannot[r]:
            out.append(
                Candidate(
                    key,
                    AlertKind.CANNOT_ASSESS,
                    LiveLevel.SYSTEM,
                    parties,
                    inputs,
                    {"reason": old_age},
                    f"cannot assess {ia} / {ib}: data too old",
                )
            )
            continue
        geom = {
            "t_in_s": round(t_in[r], 2),
            "t_out_s": round(t_out[r], 2),
            "t_cpa_s": round(t_cpa[r], 2),
            "cpa_at": epoch_to_iso(now + t_cpa[r]),
            "d_cpa_m": round(d_cpa[r], 1),
            "dalt_cpa_m": round(dalt[r], 1),
            "los": bool(los[r]),
            "minima": {
                "horizontal_m": round(hor[r], 1),
                "vertical_m": round(ver[r], 1),
                "lookahead_s": look[r],
            },
            "cpa_positions": [
                [None if v != v else v for v in cpa[ra]],
                [None if v != v else v for v in cpa[rb]],
            ],
        }
        what = "separation lost" if geom["los"] else f"conflict in {geom['t_in_s']:.0f} s"
        out.append(
            Candidate(
                key,
                AlertKind.CONFLICT,
                levels[r],
                parties,
                inputs,
                geom,
                f"{what}: {ia} and {ib}, closest {geom['d_cpa_m']:.0f} m / "
                f"{geom['dalt_cpa_m']:.0f} m in {geom['t_cpa_s']:.0f} s",
            )
        )
    return out


def volume_geometry(vol: ProtectedVolume) -> dict[str, Any]:
    """A volume as an alert shows it: altitude band, time window, circle or polygon."""
    out: dict[str, Any] = {
        "lower_m": finite_or_none(vol.lower_m),
        "upper_m": finite_or_none(vol.upper_m),
        "start": epoch_to_iso(vol.start),
        "end": epoch_to_iso(vol.end),
    }
    if vol.center is not None:
        out["center"] = [float(vol.center[0]), float(vol.center[1])]
        out["radius_m"] = float(vol.radius_m or 0.0)
    else:
        out["polygon"] = np.asarray(vol.polygon).round(6).tolist()
    return out


def area_candidates(
    cols: TrackColumns,
    sources: Sequence[AreaSource],
    lookahead_s: float,
    thresholds: AlertThresholds,
    now: float,
) -> list[Candidate]:
    """Tracks inside or predicted to enter a volume within the look-ahead. A party's own
    volumes are not areas for its own tracks (that is conformance)."""
    if not sources:
        return []
    states = cols.states
    ap = detect_area_proximity(
        states, [s.volume for s in sources], lookahead_s=lookahead_s, now=now
    )
    levels = _time_levels(ap.t_entry, ap.inside, thresholds)
    out = []
    for r in range(len(ap)):
        k, v = int(ap.pairs[0, r]), int(ap.pairs[1, r])
        src = sources[v]
        party = cols.party[k]
        if src.owner == party:
            continue
        tid = cols.track_id[k]
        inside = bool(ap.inside[r])
        t_entry = float(ap.t_entry[r])
        geom = {
            "inside": inside,
            "t_entry_s": round(t_entry, 2),
            "t_exit_s": round(float(ap.t_exit[r]), 2),
            "entry_at": epoch_to_iso(now + t_entry),
            "volume": volume_geometry(src.volume),
        }
        out.append(
            Candidate(
                f"area|{party}/{tid}|{src.kind}:{src.entity_id}",
                AlertKind.AREA,
                levels[r],
                tuple(sorted({party} | ({src.owner} if src.owner else set()))),
                (
                    cols.track_input(k, now),
                    AlertInput(kind=src.kind, id=src.entity_id, party=src.owner),
                ),
                geom,
                f"track {tid} of {party} "
                + ("inside" if inside else f"entering in {t_entry:.0f} s")
                + f" {src.kind} {src.entity_id}"
                + (f" of {src.owner}" if src.owner else ""),
            )
        )
    return out


def line_candidates(
    cols: TrackColumns,
    lines: Sequence[ConfiguredLine],
    lookahead_s: float,
    thresholds: AlertThresholds,
    now: float,
) -> list[Candidate]:
    """Tracks predicted to cross a configured border or line that concerns their party."""
    if not lines:
        return []
    lc = detect_line_crossings(
        cols.states, [cl.line for cl in lines], lookahead_s=lookahead_s, now=now
    )
    levels = _time_levels(lc.t_cross, np.zeros(len(lc), dtype=bool), thresholds)
    out = []
    for r in range(len(lc)):
        k, li = int(lc.pairs[0, r]), int(lc.pairs[1, r])
        cl = lines[li]
        party = cols.party[k]
        if cl.parties is not None and party not in cl.parties:
            continue
        tid = cols.track_id[k]
        t_cross = float(lc.t_cross[r])
        geom = {
            "t_cross_s": round(t_cross, 2),
            "cross_at": epoch_to_iso(now + t_cross),
            "segment": int(lc.segment[r]),
            "points": np.asarray(cl.line.points).round(6).tolist(),
        }
        out.append(
            Candidate(
                f"line|{party}/{tid}|{cl.line.id}",
                AlertKind.LINE,
                levels[r],
                tuple(sorted({party} | set(cl.parties or ()))),
                (cols.track_input(k, now), AlertInput(kind=cl.kind, id=cl.line.id, party=None)),
                geom,
                f"track {tid} of {party} crossing {cl.kind} {cl.line.id} in {t_cross:.0f} s",
            )
        )
    return out


def conformance_candidates(
    cols: TrackColumns,
    links: Mapping[tuple[str, str], str],
    plans: Mapping[str, tuple[str, Sequence[ProtectedVolume]]],
    tolerance_m: float,
    now: float,
) -> list[Candidate]:
    """CAUTION for each track linked to a plan of its own party that is outside that plan's
    volumes, or whose plan has no volume active now (gone from the DSS, or another party's).

    ``links``: (party, track id) -> plan id; ``plans``: plan id -> (manager, volumes).
    """
    if not links:
        return []
    pairs = list(zip(cols.party, cols.track_id, strict=True))
    linked = [k for k, pt in enumerate(pairs) if pt in links]
    if not linked:
        return []
    # track ids are unique per party only: key the conformance check by party and id
    sub = cols.states.select(np.asarray(linked))
    keys = np.array([f"{pairs[k][0]}\x1f{pairs[k][1]}" for k in linked], dtype=object)
    sub = dataclasses.replace(sub, track_id=keys)
    volumes: dict[str, Sequence[ProtectedVolume]] = {}
    for key, k in zip(keys.tolist(), linked, strict=True):
        owner, vols = plans.get(links[pairs[k]], (None, ()))
        # only the party's own plan counts; no volume means "outside" (never conforming)
        volumes[key] = vols if owner == pairs[k][0] else ()
    res = conformance(sub, volumes, tolerance_m=tolerance_m)
    out = []
    for j, k in enumerate(linked):
        if res.conforming[j]:
            continue
        party, tid = pairs[k]
        pid = links[pairs[k]]
        no_volume = bool(res.volume[j] < 0)
        h_excess, v_excess = res.horizontal_excess_m[j], res.vertical_excess_m[j]
        geom = {
            "plan_id": pid,
            "horizontal_excess_m": None if no_volume else finite_or_none(h_excess),
            "vertical_excess_m": None if no_volume else finite_or_none(v_excess),
            "no_active_plan_volume": no_volume,
        }
        out.append(
            Candidate(
                f"conformance|{party}/{tid}|{pid}",
                AlertKind.CONFORMANCE,
                LiveLevel.CAUTION,
                (party,),
                (cols.track_input(k, now), AlertInput(kind="plan", id=pid, party=party)),
                geom,
                f"track {tid} of {party} outside its plan {pid}",
            )
        )
    return out

