"""The track picture of one party: latest state per track, columnar, with plausibility flags.

Ingestion is vectorised: a batch is grouped by track id with ``pandas.factorize`` (hash based),
sorted by (track, time) with ``numpy.lexsort``, checked against the previous report of the same
track (the stored one for the first report of each track in the batch), and the last report of
each track is written into preallocated columns by fancy indexing. The only per-row Python work
is one dictionary lookup per distinct track id of the batch.

Rules:

* a report not newer than the stored state of its track is **stale** (kept out, counted);
* plausibility flags (bit mask, :data:`FLAG_NAMES`): ``speed`` (ground speed above the maximum,
  Mach 3 by default), ``jump`` (position step from the previous report beyond
  ``jump_tolerance_m + max_speed_mps·|dt|``), ``future`` (report time beyond server time +
  tolerance). A flagged report is stored (the picture shows it, with its flags) but not trusted:
  the live service leaves it out of conflict, area, line and conformance detection and raises one
  SYSTEM ``implausible`` alert for the track instead. The flag is recomputed on each report, so a
  track recovers when its reports are consistent again.
* the same aircraft reported by two parties is two tracks (tables are per party; never merged);
* **carry forward**: surveillance reports often come in pieces (ADS-B sends position, velocity
  and altitude in separate messages; recordings have rows with some of them missing). A report
  whose altitude, velocity fields or accuracies are missing keeps the track's last known value of
  that field if it is at most ``carry_forward_s`` older than the report (per field, with the
  field's own time kept), so a track is not "cannot assess" for every partial message; beyond
  that age the field stays missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sharedsky.geo.geodesy import haversine_m
from sharedsky.model.tracks import NUMERIC_FIELDS, TrackBatch

__all__ = [
    "CARRIED_FIELDS",
    "FLAG_FUTURE",
    "FLAG_JUMP",
    "FLAG_NAMES",
    "FLAG_SPEED",
    "PartyTracks",
    "Plausibility",
]

FLAG_SPEED = 1
FLAG_JUMP = 2
FLAG_FUTURE = 4
FLAG_NAMES = {FLAG_SPEED: "speed", FLAG_JUMP: "jump", FLAG_FUTURE: "future"}


def flag_names(mask: int) -> list[str]:
    return [name for bit, name in FLAG_NAMES.items() if mask & bit]


@dataclass(frozen=True)
class Plausibility:
    max_speed_mps: float
    jump_tolerance_m: float
    future_tolerance_s: float
    carry_forward_s: float = 0.0


#: Fields whose last known value a partial report may carry forward (see the module docstring).
CARRIED_FIELDS: tuple[str, ...] = tuple(f for f in NUMERIC_FIELDS if f not in ("t", "lat", "lon"))


_COLS = (*NUMERIC_FIELDS, "received")


class PartyTracks:
    """Latest state per track of one party (not thread-safe: the service holds the lock)."""

    def __init__(self, party: str, capacity: int = 1024) -> None:
        self.party = party
        self.slot: dict[str, int] = {}
        self.ids = np.empty(capacity, dtype=object)
        self.cols = {c: np.full(capacity, np.nan) for c in _COLS}
        # time of applicability of each carried field's current value
        self.value_t = {f: np.full(capacity, np.nan) for f in CARRIED_FIELDS}
        self.flags = np.zeros(capacity, dtype=np.int32)
        self.alive = np.zeros(capacity, dtype=bool)
        self.free: list[int] = []
        self.size = 0  # slots ever used (high-water mark)
        self.last_received: float | None = None

    def __len__(self) -> int:
        return len(self.slot)

    def _grow(self, need: int) -> None:
        cap = self.ids.shape[0]
        if need <= cap:
            return
        new = max(need, 2 * cap)
        ids = np.empty(new, dtype=object)
        ids[:cap] = self.ids
        self.ids = ids
        for table in (self.cols, self.value_t):
            for c, arr in table.items():
                a = np.full(new, np.nan)
                a[:cap] = arr
                table[c] = a
        f = np.zeros(new, dtype=np.int32)
        f[:cap] = self.flags
        self.flags = f
        al = np.zeros(new, dtype=bool)
        al[:cap] = self.alive
        self.alive = al

    def ingest(self, batch: TrackBatch, now: float, rules: Plausibility) -> tuple[int, int, int]:
        """Merge ``batch``; returns (applied reports, stale reports, flagged reports)."""
        m = len(batch)
        if m == 0:
            return 0, 0, 0
        self.last_received = now
        codes, uniq = pd.factorize(batch.track_id)
        order = np.lexsort((batch.t, codes))
        c = codes[order]
        t = batch.t[order]
        lat = batch.lat[order]
        lon = batch.lon[order]
        first = np.ones(m, dtype=bool)
        first[1:] = c[1:] != c[:-1]
        last = np.ones(m, dtype=bool)
        last[:-1] = c[1:] != c[:-1]
        slots_u = np.fromiter((self.slot.get(u, -1) for u in uniq), dtype=np.int64, count=len(uniq))
        slot_row = slots_u[c]
        # previous report of the same track: the row before in the batch, or the stored state
        prev_t = np.empty(m)
        prev_lat = np.empty(m)
        prev_lon = np.empty(m)
        prev_t[1:], prev_lat[1:], prev_lon[1:] = t[:-1], lat[:-1], lon[:-1]
        stored = first & (slot_row >= 0)
        fresh = first & (slot_row < 0)
        s = slot_row[stored]
        prev_t[stored] = self.cols["t"][s]
        prev_lat[stored] = self.cols["lat"][s]
        prev_lon[stored] = self.cols["lon"][s]
        prev_t[fresh] = np.nan
        # stale: not newer than the stored state (batch rows are sorted, so compare the newest)
        stored_t = np.where(slot_row >= 0, self.cols["t"][np.maximum(slot_row, 0)], -np.inf)
        stale = t <= stored_t
        gs = batch.gs_mps[order]
        flags = np.zeros(m, dtype=np.int32)
        with np.errstate(invalid="ignore"):
            flags[gs > rules.max_speed_mps] |= FLAG_SPEED
            flags[t > now + rules.future_tolerance_s] |= FLAG_FUTURE
            has_prev = ~np.isnan(prev_t)
            if has_prev.any():
                d = haversine_m(prev_lat, prev_lon, lat, lon)
                limit = rules.jump_tolerance_m + rules.max_speed_mps * np.abs(t - prev_t)
                flags[has_prev & (d > limit)] |= FLAG_JUMP
        apply = last & ~stale
        n_apply = int(apply.sum())
        if n_apply:
            rows = order[apply]
            u_apply = c[apply]
            dest = slots_u[u_apply].copy()
            existing = dest >= 0
            new = np.flatnonzero(~existing)
            if new.size:
                k = new.size
                reuse = min(k, len(self.free))
                taken = [self.free.pop() for _ in range(reuse)]
                fresh_slots = np.arange(self.size, self.size + k - reuse, dtype=np.int64)
                self._grow(self.size + k - reuse)
                self.size += k - reuse
                alloc = np.concatenate([np.asarray(taken, dtype=np.int64), fresh_slots])
                dest[new] = alloc
                new_ids = uniq[u_apply[new]]
                self.ids[alloc] = new_ids
                self.slot.update(zip(new_ids.tolist(), alloc.tolist(), strict=True))
            t_new = batch.t[rows]
            for f in NUMERIC_FIELDS:
                values = getattr(batch, f)[rows]
                if f in self.value_t:
                    missing = np.isnan(values)
                    value_t = np.where(missing, np.nan, t_new)
                    if rules.carry_forward_s > 0 and missing.any():
                        old_t = self.value_t[f][dest]
                        with np.errstate(invalid="ignore"):
                            keep = missing & existing & (t_new - old_t <= rules.carry_forward_s)
                        values = np.where(keep, self.cols[f][dest], values)
                        value_t = np.where(keep, old_t, value_t)
                    self.value_t[f][dest] = value_t
                self.cols[f][dest] = values
            self.cols["received"][dest] = now
            self.flags[dest] = flags[apply]
            self.alive[dest] = True
        return n_apply, int(stale.sum()), int(((flags != 0) & ~stale).sum())

    def drop_older(self, cutoff_t: float) -> list[tuple[str, float]]:
        """Remove tracks whose latest report is older than ``cutoff_t``; (id, t) of each."""
        n = self.size
        if n == 0:
            return []
        with np.errstate(invalid="ignore"):
            old = self.alive[:n] & (self.cols["t"][:n] < cutoff_t)
        idx = np.flatnonzero(old)
        out = []
        for k in idx.tolist():
            tid = self.ids[k]
            out.append((tid, float(self.cols["t"][k])))
            del self.slot[tid]
            self.free.append(k)
        self.alive[idx] = False
        return out

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the live rows: ``track_id``, the numeric columns, ``received``, ``flags``."""
        n = self.size
        idx = np.flatnonzero(self.alive[:n])
        out = {c: self.cols[c][idx] for c in _COLS}
        out["track_id"] = self.ids[idx]
        out["flags"] = self.flags[idx]
        return out
