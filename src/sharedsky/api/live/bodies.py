"""Decoding of track pushes: JSON (rows or columns), Arrow IPC stream and Parquet bodies.

JSON bodies (``application/json``), parsed with orjson:

* ``{"states": [{...}, ...], "naming": "si" | "traffic"}`` — one object per state;
* ``{"columns": {"track_id": [...], "t": [...], ...}, "naming": ...}`` — one array per field
  (the fastest JSON form);
* a bare array ``[{...}, ...]`` — as ``states``.

Field names and units are those of :mod:`sharedsky.model.tracks`: SI names (``track_id, t, lat,
lon, alt_m, gs_mps, trk_deg, vs_mps``) or traffic names (``icao24, timestamp, latitude,
longitude, altitude`` [ft], ``groundspeed`` [kt], ``track``, ``vertical_rate`` [ft/min]);
``naming`` is detected from the first record (``latitude`` present: traffic) when absent.

Arrow (``application/vnd.apache.arrow.stream``) and Parquet (``application/x-parquet`` or
``application/vnd.apache.parquet``) bodies hold one table with the same column names;
timestamp columns are converted to epoch seconds.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import orjson

from sharedsky.errors import InvalidInput
from sharedsky.model.tracks import TrackBatch

__all__ = ["ARROW_TYPES", "PARQUET_TYPES", "decode_json", "decode_tracks"]

ARROW_TYPES = ("application/vnd.apache.arrow.stream", "application/vnd.apache.arrow.file")
PARQUET_TYPES = ("application/x-parquet", "application/vnd.apache.parquet", "application/parquet")


def decode_json(doc: Any) -> TrackBatch:
    """A parsed JSON push -> batch (bad records become rejects; a bad shape raises)."""
    if isinstance(doc, list):
        return TrackBatch.from_records(doc)
    if not isinstance(doc, dict):
        raise InvalidInput("must be an object with 'states' or 'columns', or an array", "body")
    naming = doc.get("naming")
    if naming is not None and naming not in ("si", "traffic"):
        raise InvalidInput(f"unknown naming {naming!r}; use 'si' or 'traffic'", "naming")
    extra = set(doc) - {"states", "columns", "naming"}
    if extra:
        raise InvalidInput(f"unknown key(s) {sorted(extra)}", "body")
    if ("states" in doc) == ("columns" in doc):
        raise InvalidInput("give exactly one of 'states' or 'columns'", "body")
    if "states" in doc:
        return TrackBatch.from_records(doc["states"], naming)
    cols = doc["columns"]
    if not isinstance(cols, dict) or not all(isinstance(v, list) for v in cols.values()):
        raise InvalidInput("must be an object of column name -> array", "columns")
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise InvalidInput(f"columns have different lengths {sorted(lengths)}", "columns")
    return TrackBatch.from_columns(cols, naming)


def _table_to_batch(table: Any) -> TrackBatch:
    import pyarrow as pa

    cols: dict[str, Any] = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            ns = col.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64())
            cols[name] = ns.to_numpy(zero_copy_only=False).astype(np.float64) / 1e9
            if col.null_count:
                cols[name][np.asarray(col.is_null())] = np.nan
        elif (
            pa.types.is_string(col.type)
            or pa.types.is_large_string(col.type)
            or (pa.types.is_dictionary(col.type))
        ):
            cols[name] = np.asarray(col.to_pylist(), dtype=object)
        elif pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            cols[name] = col.to_numpy(zero_copy_only=False).astype(np.float64)
            if col.null_count:
                cols[name][np.asarray(col.is_null())] = np.nan
        else:
            cols[name] = np.asarray(col.to_pylist(), dtype=object)
    return TrackBatch.from_columns(cols)


def decode_tracks(body: bytes, content_type: str | None) -> TrackBatch:
    """Decode a push body by its content type (JSON when absent)."""
    ctype = (content_type or "application/json").split(";")[0].strip().lower()
    if ctype in ARROW_TYPES or ctype in PARQUET_TYPES:
        import pyarrow as pa
        import pyarrow.ipc as ipc
        import pyarrow.parquet as pq

        try:
            if ctype in PARQUET_TYPES:
                table = pq.read_table(io.BytesIO(body))
            elif ctype.endswith("file"):
                table = ipc.open_file(pa.BufferReader(body)).read_all()
            else:
                table = ipc.open_stream(pa.BufferReader(body)).read_all()
        except (pa.ArrowException, OSError, ValueError) as exc:
            kind = "Parquet file" if ctype in PARQUET_TYPES else "Arrow IPC data"
            raise InvalidInput(f"not a readable {kind} ({exc})", "body") from exc
        return _table_to_batch(table)
    if ctype not in ("application/json", "text/json") and not ctype.endswith("+json"):
        raise InvalidInput(
            f"unsupported content type {ctype!r} (use application/json, "
            f"{ARROW_TYPES[0]} or {PARQUET_TYPES[0]})",
            "content-type",
        )
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON ({exc})", "body") from exc
    return decode_json(doc)
