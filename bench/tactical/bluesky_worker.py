"""Time BlueSky 1.1.1's C++ state-based detector on states from an .npz file.

Runs inside the benchmark's own BlueSky venv (never the project's), started by ``run.py``::

    venv-bluesky/bin/python bluesky_worker.py STATES.npz RESULT.npz --repeats 3

``STATES.npz`` holds ``lat, lon`` (deg), ``alt_m``, ``gs_mps``, ``trk_deg``, ``vs_mps`` and the
scalars ``rpz_m``, ``hpz_m``, ``lookahead_s``. ``RESULT.npz`` gets the per-run wall times and the
ordered conflict pairs of the last run (``conf_i``, ``conf_j``, with ``tin``, ``tcpa``,
``dcpa_m``) and the ordered loss-of-separation pairs (``los_i``, ``los_j``).

The C++ entry point is ``cstatebased.detect(ownship, intruder, rpz, hpz, dtlookahead)``: it reads
the attributes ``lat, lon, trk, gs, alt, vs`` (float64 numpy arrays; degrees, m, m/s) of both
traffic objects and ``id`` (a list) of the ownship, and the per-aircraft arrays rpz [m], hpz [m]
and look-ahead [s]. It tests every ordered pair and returns the tuple ``(confpairs, lospairs,
inconf, tcpamax, qdr, dist, dcpa, tcpa, tinconf)``. BlueSky's own wrapper passes the same
traffic object as ownship and intruder, so a plain namespace with those arrays stands in for it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from types import SimpleNamespace

import numpy as np


def _import_detector():  # type: ignore[no-untyped-def]
    # Python geometry, never the compiled one (tactical.md, defect 1): set before geo loads.
    with contextlib.redirect_stdout(io.StringIO()):
        from bluesky import settings

        settings.set_variable_defaults(prefer_compiled=False)
        settings.prefer_compiled = False
        import bluesky.tools.geo as geo
        from bluesky.traffic.asas import cstatebased
    assert not settings.prefer_compiled, "compiled geometry must be off"
    assert geo.kwikdist.__module__.endswith("_geo"), geo.kwikdist.__module__
    return cstatebased


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("states")
    ap.add_argument("result")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    cstatebased = _import_detector()
    data = np.load(args.states)
    n = len(data["lat"])
    traf = SimpleNamespace(
        lat=np.ascontiguousarray(data["lat"], dtype=np.float64),
        lon=np.ascontiguousarray(data["lon"], dtype=np.float64),
        trk=np.ascontiguousarray(data["trk_deg"], dtype=np.float64),
        gs=np.ascontiguousarray(data["gs_mps"], dtype=np.float64),
        alt=np.ascontiguousarray(data["alt_m"], dtype=np.float64),
        vs=np.ascontiguousarray(data["vs_mps"], dtype=np.float64),
        id=list(range(n)),  # returned pairs are then plain indices
    )
    rpz = np.full(n, float(data["rpz_m"]))
    hpz = np.full(n, float(data["hpz_m"]))
    tlook = np.full(n, float(data["lookahead_s"]))

    times: list[float] = []
    out = None
    for _ in range(args.repeats):
        out = None  # free the previous result before timing the next run
        t0 = time.perf_counter()
        out = cstatebased.detect(traf, traf, rpz, hpz, tlook)
        times.append(time.perf_counter() - t0)
    assert out is not None
    confpairs, lospairs, _inconf, _tcpamax, _qdr, _dist, dcpa, tcpa, tin = out
    conf = np.array(confpairs, dtype=np.int64).reshape(-1, 2)
    los = np.array(lospairs, dtype=np.int64).reshape(-1, 2)
    np.savez(
        args.result,
        times=np.array(times),
        conf_i=conf[:, 0],
        conf_j=conf[:, 1],
        tin=np.array(tin, dtype=np.float64),
        tcpa=np.array(tcpa, dtype=np.float64),
        dcpa_m=np.array(dcpa, dtype=np.float64),
        los_i=los[:, 0],
        los_j=los[:, 1],
    )
    print(f"bluesky n={n} times={[f'{t:.4f}' for t in times]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
