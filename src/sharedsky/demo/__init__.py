"""Packaged demo material: a real ADS-B excerpt of the Paris TMA and the rule that splits its
aircraft between three parties (see ``PROVENANCE.md`` beside this file for origin and licence).

:func:`excerpt_path` gives the recording (a traffic-style JSON file, gzip);
:func:`party_of_callsign` and :func:`split_by_party` apply the party rule :data:`PARTY_RULE`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pandas as pd

__all__ = [
    "EXCERPT_NAME",
    "PARTIES",
    "PARTY_RULE",
    "excerpt_path",
    "party_of_callsign",
    "split_by_party",
]

#: File name of the packaged recording.
EXCERPT_NAME = "paris_tma_20211007_1222.json.gz"

#: The demo's parties, in display order.
PARTIES: tuple[str, ...] = ("alpha", "bravo", "charlie")

#: Operator prefixes (ICAO designators at the start of the callsign) of each named party.
_PREFIXES: dict[str, tuple[str, ...]] = {
    "alpha": ("AFR",),
    "bravo": ("EJU", "EZY", "TVF"),
}

#: The split rule in words, as the demo's help and PROVENANCE.md state it.
PARTY_RULE = (
    "each aircraft belongs to one party by the operator prefix of its first callsign in the "
    "recording: alpha = AFR (Air France); bravo = EJU, EZY, TVF (easyJet Europe, easyJet UK, "
    "Transavia France); charlie = every other aircraft"
)


def excerpt_path() -> Path:
    """Path of the packaged recording (8 minutes, 37 aircraft, 2021-10-07 12:22-12:30 UTC)."""
    return Path(str(files(__name__).joinpath(EXCERPT_NAME)))


def party_of_callsign(callsign: object) -> str:
    """The demo party of an aircraft with this callsign (``charlie`` when none or unknown)."""
    text = str(callsign).strip().upper() if isinstance(callsign, str) else ""
    for party, prefixes in _PREFIXES.items():
        if text.startswith(prefixes):
            return party
    return "charlie"


def split_by_party(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Rows of a traffic-style table per demo party (every party present, possibly empty).

    The party of an aircraft (``icao24``) follows its first non-empty ``callsign`` in the table.
    """
    if "icao24" not in frame.columns:
        from sharedsky.errors import InvalidInput

        raise InvalidInput("missing column", "icao24")
    if "callsign" in frame.columns:
        cs = frame["callsign"].where(frame["callsign"].astype(str).str.strip().ne(""))
        first = cs.groupby(frame["icao24"], sort=False).first()
    else:
        first = pd.Series(dtype=object)
    party_of = {icao: party_of_callsign(first.get(icao)) for icao in frame["icao24"].unique()}
    party = frame["icao24"].map(party_of)
    return {p: frame[party == p].reset_index(drop=True) for p in PARTIES}
