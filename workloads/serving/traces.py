"""Request traces: read (format detected by header) and write.

Formats (detected from the CSV header or the first JSON object's keys):

* Azure LLM inference trace CSV: ``TIMESTAMP,ContextTokens,GeneratedTokens`` (timestamps as
  ``YYYY-MM-DD HH:MM:SS.fffffff`` or seconds; times are made relative to the first request);
* Vidur CSV: ``arrived_at,num_prefill_tokens,num_decode_tokens`` (seconds);
* JSONL: one object per line with ``arrival_time_s, input_tokens, output_tokens``.

Bad input (missing columns, non-numeric or negative values, unsorted times) raises
``ConfigError`` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime
from pathlib import Path

import numpy as np

from mixforge.errors import ConfigError
from mixforge.workloads.serving.arrivals import Requests

__all__ = ["TRACE_FORMATS", "read_trace", "write_trace"]

#: format name -> (arrival column, prompt column, output column)
TRACE_FORMATS: dict[str, tuple[str, str, str]] = {
    "azure": ("TIMESTAMP", "ContextTokens", "GeneratedTokens"),
    "vidur": ("arrived_at", "num_prefill_tokens", "num_decode_tokens"),
    "jsonl": ("arrival_time_s", "input_tokens", "output_tokens"),
}


def _time(text: object, file: str, line: int, col: str) -> float:
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    if isinstance(text, str):
        s = text.strip()
        try:
            return float(s)
        except ValueError:
            pass
        try:  # Azure: 2023-11-16 18:15:46.6805900 (7 fraction digits: keep microseconds)
            head, _, frac = s.partition(".")
            base = datetime.fromisoformat(head)
            return base.timestamp() + (float("0." + frac) if frac else 0.0)
        except ValueError:
            pass
    raise ConfigError(f"line {line}, column {col}: not a time: {text!r}", file=file)


def _count(text: object, file: str, line: int, col: str, minimum: int) -> int:
    try:
        if isinstance(text, bool):
            raise ValueError
        v = float(text) if isinstance(text, int | float) else float(str(text).strip())
        if v != int(v):
            raise ValueError
        n = int(v)
    except (ValueError, OverflowError):
        raise ConfigError(f"line {line}, column {col}: not a whole number: {text!r}",
                          file=file) from None
    if n < minimum:
        what = "negative" if n < 0 else f"below {minimum}"
        raise ConfigError(f"line {line}, column {col}: {what} length {n}", file=file)
    return n


def _rows_csv(path: Path, file: str) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        fmt = next((k for k, cols in TRACE_FORMATS.items() if k != "jsonl"
                    and cols[0] in header), None)
        if fmt is None:
            raise ConfigError(f"line 1: unknown trace header {','.join(header)!r} (expected "
                              "Azure TIMESTAMP,ContextTokens,GeneratedTokens or Vidur "
                              "arrived_at,num_prefill_tokens,num_decode_tokens)", file=file)
        for col in TRACE_FORMATS[fmt]:
            if col not in header:
                raise ConfigError(f"line 1, column {col}: missing from the header", file=file)
        rows = [(reader.line_num, row) for row in reader]
    return fmt, rows


def _rows_jsonl(path: Path, file: str) -> list[tuple[int, dict[str, object]]]:
    rows: list[tuple[int, dict[str, object]]] = []
    with path.open() as fh:
        for i, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"line {i}, column {exc.colno}: invalid JSON: {exc.msg}",
                                  file=file) from None
            if not isinstance(obj, dict):
                raise ConfigError(f"line {i}: expected a JSON object", file=file)
            rows.append((i, obj))
    return rows


def read_trace(path: str | Path, *, limit: int | None = None) -> Requests:
    """Read a trace file (Azure CSV, Vidur CSV or JSONL, detected automatically).

    Arrival times become seconds from the first request. A zero output length is an error (the
    engine counts the prefill's token as the first output token); zero-length prompts too.
    ``limit`` keeps the first ``limit`` requests.
    """
    p = Path(path)
    file = str(path)
    if not p.is_file():
        raise ConfigError("no such file", file=file)
    with p.open() as fh:
        first = fh.readline().lstrip()
    if not first:
        raise ConfigError("empty trace", file=file)
    fmt: str
    rows: list[tuple[int, dict[str, object]]]
    if first.startswith("{"):
        fmt, rows = "jsonl", _rows_jsonl(p, file)
    else:
        fmt, csv_rows = _rows_csv(p, file)
        rows = [(n, dict(r)) for n, r in csv_rows]
    tcol, pcol, ocol = TRACE_FORMATS[fmt]
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        raise ConfigError("no requests in the trace", file=file)
    t = np.empty(len(rows))
    pr = np.empty(len(rows), dtype=np.int64)
    out = np.empty(len(rows), dtype=np.int64)
    for i, (line, row) in enumerate(rows):
        for col in (tcol, pcol, ocol):
            if row.get(col) in (None, ""):
                raise ConfigError(f"line {line}, column {col}: missing value", file=file)
        t[i] = _time(row[tcol], file, line, tcol)
        if i and t[i] < t[i - 1]:
            raise ConfigError(f"line {line}, column {tcol}: time {row[tcol]} is before the "
                              "previous request's (the trace must be sorted)", file=file)
        pr[i] = _count(row[pcol], file, line, pcol, 1)
        out[i] = _count(row[ocol], file, line, ocol, 1)
    return Requests(t - t[0], pr, out, f"{fmt} trace {p.name}")


def write_trace(reqs: Requests, path: str | Path, fmt: str = "jsonl") -> Path:
    """Write ``reqs`` as ``fmt`` (``jsonl``, ``vidur`` or ``azure`` with numeric seconds),
    atomically (temp file + ``os.replace``)."""
    if fmt not in TRACE_FORMATS:
        raise ConfigError(f"unknown trace format {fmt!r} (known: {', '.join(TRACE_FORMATS)})",
                          path="format")
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    tcol, pcol, ocol = TRACE_FORMATS[fmt]
    with tmp.open("w", newline="") as fh:
        if fmt != "jsonl":
            fh.write(f"{tcol},{pcol},{ocol}\n")
        for t, a, b in zip(reqs.arrival_s.tolist(), reqs.prompt.tolist(), reqs.output.tolist(),
                           strict=True):
            if fmt == "jsonl":
                fh.write(json.dumps({tcol: round(t, 6), pcol: a, ocol: b}) + "\n")
            else:
                fh.write(f"{t:.6f},{a},{b}\n")
    os.replace(tmp, p)
    return p
