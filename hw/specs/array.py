"""Timing spec of the systolic PE array (``mixforge.hw.array``): the cycle model sim/ uses.

The formulas here are the contract between the RTL array and the simulator: the cocotb tests
measure the generated array in Verilator and compare every fold's timing and every GEMM's total
with :meth:`ArraySpec.schedule` and :meth:`ArraySpec.gemm_cycles`.

Cycle convention: cycle 0 is the cycle in which the first input beat (WS: first weight row; OS:
first operand beat) is accepted; an output counts in the cycle in which it is valid on the output
port. ``gemm_cycles`` is the index of the cycle holding the last output (so a GEMM whose only
output appears in the cycle of its only input takes 0 cycles). This is SCALE-Sim's count.

Schedules (inputs always available, output always accepted):

* WS, one weight bank (``double_buffer=False``): load R weight rows (R cycles), stream the fold's
  M activation rows, and reload only after the fold's last output left the array. Fold period
  ``2R + C + M - 2``; ``gemm_cycles = folds * (2R + C + M - 2) - 1``: SCALE-Sim's WS count
  (v2 ``systolic_compute_ws.py``), which our RTL follows exactly.
* WS, two banks: the loader fills the idle bank while the other computes; a bank is refilled once
  the fold that used it produced its last output. With ``L_f`` the first load cycle, ``S_f`` the
  first activation cycle and ``E_f = S_f + M - 1`` the last one of fold ``f``::

      L_0 = 0, L_1 = R, L_f = max(L_{f-1} + R, E_{f-2} + R + C - 1 + P)   (f >= 2)
      S_f = max(L_f + R, E_{f-1} + 1),  last output of fold f = E_f + R + C - 2 + P

  (``P = pe_latency``; the single-bank case is the same recurrence with ``E_{f-1}``.)

  In steady state the fold period is ``max(M, R, (M + 2R + C - 2 + P) / 2)`` (alternating
  floor/ceil when odd); large M hides the load completely (period M).
* OS (our RTL, drain overlapped): every PE accumulates into ``acc`` and, with the fold's final
  beat, copies the result into a shadow output register and restarts; the shadow registers of a
  column drain down it (R rows, one per cycle) while the next fold already computes. A column
  can take a new fold's results only after the previous ones left, so consecutive final beats
  are at least R cycles apart: the array accepts a fold's beats at once but holds its final beat
  back until then. With ``E_f`` the cycle of fold ``f``'s final beat and ``T_f`` its length::

      S_0 = 0, E_0 = T_0 - 1;  E_f = E_{f-1} + max(T_f, R),
      S_f = E_{f-1} + 1 (T_f > 1; a one-beat fold's only beat is its final one: S_f = E_f)
      last output of fold f = E_f + 2R + C - 2 + P

  Fold period (occupancy) ``max(T, R)``; ``gemm_cycles = E_last + 2R + C - 2 + P``.

  SCALE-Sim's OS model (v2, ``scalesim/compute/systolic_compute_os.py``: per fold T operand
  rows plus ``C - 1`` idle rows, skewed over ``R - 1`` more) finishes a fold before the next
  one's operands enter: period ``R + C + T - 2``, ``folds * (R + C + T - 2) - 1`` in all. It
  writes a fold's R output rows from the cycle after its last operand row, as if every row were
  complete then; in the RTL the last operand reaches row i only i cycles later and the rows
  then leave through the bottom edge, so a lone fold ends R cycles after SCALE-Sim's
  (``fold_latency``). Back to back, the RTL overlaps that drain, the fill and the flush with the
  next fold: its period ``max(T, R)`` never exceeds SCALE-Sim's ``R + C + T - 2``, and with a
  few folds the whole GEMM is shorter: e.g. 32 x 32, 64 x 64 x 64 (4 folds of T = 64) takes
  349 cycles here and 503 in SCALE-Sim (631 in our earlier RTL, which drained through the
  accumulators and only then took the next fold: period ``2R + C + T - 2``).

A quantization group (``group_size``, along K) ends a fold early: WS folds never straddle a group
boundary, so K-folds per group are ``ceil(g / R)``; OS runs one fold per group (T = group length).

Edge units (``dequant_latency = D``): arrays whose columns end in pipelined units (MixPE's
once-per-group dequantization, or the dequantize-first baseline's tensor-scale readout) deliver
every result ``D`` cycles after its row leaves the array. The units accept one row per cycle
(OS: R rows per fold period ``max(T, R) >= R``; each fold's scales wait in a small FIFO until
its rows arrive), so they never hold the array up: every fold's ``last_output`` and
``gemm_cycles`` grow by ``D``, fold periods (occupancy) are unchanged. (With MixPE
dequantization only a tile's final group reaches ``o``; the earlier groups' ``last_output``
is the cycle their last row is accumulated at the edge, ``D`` after it left the array.)

WS with MixPE dequantization at the bottom edge (``acc_depth`` set): the edge accumulates each
row's K-fold sums in memories indexed by the row, one row per cycle, so it never stalls the
array either: the schedule above with streams cut into M-chunks (``fold_streams``) and
``D = 6`` (memory read 1, dequant 2, accumulate 1, rounding 2). Only a tile's final K-fold
reaches ``o``. The WS arrays of the rounding-edge kinds (``dequant_first``, ``fp16_mac``,
``multiformat``: exact accumulator memories per row, one rounding on the tile's final K-fold,
``hw/array/ws_round_edge.py``) follow the same schedule with ``D = 3`` (memory read + add 1,
rounding 2) and one fold per (M-chunk, N-tile, K-fold) (K-folds of R indices; multiformat: of
R operand words, K = ``ceil(K / L)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from mixforge.errors import ConfigError

__all__ = ["ArraySpec", "Dataflow", "FoldTiming"]

Dataflow = Literal["ws", "os"]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _check_pos(name: str, v: object) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise ConfigError(f"must be a positive integer, not {v!r}", path=name)
    return v


@dataclass(frozen=True)
class FoldTiming:
    """Timing of one fold (array tile), in cycles from the GEMM's first input.

    ``load_start`` is the first weight-load cycle (WS) or equals ``stream_start`` (OS);
    ``stream_start`` the first streamed beat; ``last_output`` the cycle of its last output.
    """

    load_start: int
    stream_start: int
    stream_len: int
    last_output: int


@dataclass(frozen=True)
class ArraySpec:
    """An R x C systolic array.

    Parameters
    ----------
    rows, cols
        Array size. WS maps K onto rows and N onto columns (weights stay, M streams); OS maps M
        onto rows and N onto columns (outputs stay, K streams).
    dataflow
        ``"ws"`` (weight-stationary) or ``"os"`` (output-stationary).
    double_buffer
        WS only: a second weight bank per PE lets the next fold's weights load while the current
        fold computes. Off, the schedule is SCALE-Sim's.
    pe_latency
        Extra pipeline cycles of a PE's multiply-accumulate beyond one. Modelled, not generated:
        it delays every fold's last output (and, WS, the next reload) by this many
        cycles. :class:`mixforge.hw.array.PEArray` generates single-cycle cells
        (``pe_latency == 0``), so only that case is measured in Verilator.
    dequant_latency
        Pipeline stages of the column edge units after the array (see the module docstring);
        0 for arrays that return their integer sums directly.
    acc_depth
        WS only (MixPE edge dequantization, ``hw/array/ws_edge.py``, and the rounding edge,
        ``hw/array/ws_round_edge.py``): depth of the per-row
        accumulator memories at the bottom edge. M is cut into chunks of at most
        ``acc_depth`` rows, outermost: every (M-chunk, N-tile, K-fold) is one fold streaming
        the chunk's rows. ``None``: the whole M streams per fold.
    """

    rows: int
    cols: int
    dataflow: Dataflow = "ws"
    double_buffer: bool = False
    pe_latency: int = 0
    dequant_latency: int = 0
    acc_depth: int | None = None

    def __post_init__(self) -> None:
        _check_pos("rows", self.rows)
        _check_pos("cols", self.cols)
        if self.dataflow not in ("ws", "os"):
            raise ConfigError(f"must be 'ws' or 'os', not {self.dataflow!r}", path="dataflow")
        if not isinstance(self.double_buffer, bool):
            raise ConfigError(f"must be a boolean, not {self.double_buffer!r}",
                              path="double_buffer")
        if self.double_buffer and self.dataflow != "ws":
            raise ConfigError(f"needs the 'ws' dataflow, not {self.dataflow!r}",
                              path="double_buffer")
        lat = self.pe_latency
        if not isinstance(lat, int) or isinstance(lat, bool) or lat < 0:
            raise ConfigError(f"must be an integer >= 0, not {lat!r}", path="pe_latency")
        d = self.dequant_latency
        if not isinstance(d, int) or isinstance(d, bool) or d < 0:
            raise ConfigError(f"must be an integer >= 0, not {d!r}", path="dequant_latency")
        if self.acc_depth is not None:
            _check_pos("acc_depth", self.acc_depth)
            if self.dataflow != "ws":
                raise ConfigError(f"needs the 'ws' dataflow, not {self.dataflow!r}",
                                  path="acc_depth")

    # ---- tiling ---------------------------------------------------------------------------
    def _k_chunks(self, k: int, group_size: int | None) -> list[int]:
        """Lengths of the K ranges that never straddle a group boundary."""
        if group_size is None:
            return [k]
        g = _check_pos("group_size", group_size)
        return [min(g, k - s) for s in range(0, k, g)]

    def fold_streams(self, m: int, k: int, n: int, group_size: int | None = None) -> list[int]:
        """Streamed length T of every fold, in execution order (WS: M each; OS: K or group)."""
        for name, v in (("M", m), ("K", k), ("N", n)):
            _check_pos(name, v)
        chunks = self._k_chunks(k, group_size)
        n_tiles = _ceil_div(n, self.cols)
        if self.dataflow == "ws":
            k_folds = sum(_ceil_div(c, self.rows) for c in chunks)
            if self.acc_depth is None:
                return [m] * (k_folds * n_tiles)
            d = self.acc_depth  # M-chunks outermost, each streamed once per (N-tile, K-fold)
            return [min(d, m - s) for s in range(0, m, d) for _ in range(k_folds * n_tiles)]
        return chunks * (_ceil_div(m, self.rows) * n_tiles)

    def folds(self, m: int, k: int, n: int, group_size: int | None = None) -> int:
        """Number of array tiles (folds) a GEMM M x K x N needs."""
        return len(self.fold_streams(m, k, n, group_size))

    # ---- per-fold timing ------------------------------------------------------------------
    def fold_cycles(self, m: int, k: int, n: int) -> int:
        """Cycles one fold occupies when folds run back to back without double buffering.

        WS: SCALE-Sim's ``2R + C + M - 2 + P``. OS: ``max(K, R)`` (our RTL's drain overlap;
        SCALE-Sim's OS period is ``R + C + K - 2``, see the module docstring).
        """
        if self.dataflow == "os":
            return max(k, self.rows)
        return 2 * self.rows + self.cols + m - 2 + self.pe_latency

    def fold_latency(self, t: int) -> int:
        """Cycles from a lone fold's first input to its last output (``T`` = streamed length)."""
        _check_pos("T", t)
        return 2 * self.rows + self.cols + t - 3 + self.pe_latency + self.dequant_latency

    def steady_period(self, m: int) -> float:
        """Mean cycles per fold in steady state for WS stream length ``m`` (or OS ``K``)."""
        r, c, lat = self.rows, self.cols, self.pe_latency
        if self.dataflow == "os":  # drain overlapped with the next fold
            return float(max(m, r))
        if not self.double_buffer:
            return float(2 * r + c + m - 2 + lat)
        return float(max(m, r, (m + 2 * r + c - 2 + lat) / 2))

    def schedule(self, m: int, k: int, n: int,
                 group_size: int | None = None) -> list[FoldTiming]:
        """Timing of every fold of a GEMM M x K x N (see the module docstring)."""
        return self._schedule(self.fold_streams(m, k, n, group_size))

    def _schedule(self, streams: list[int]) -> list[FoldTiming]:
        r, c, lat = self.rows, self.cols, self.pe_latency
        out: list[FoldTiming] = []
        if self.dataflow == "os":
            tail = 2 * r + c - 2 + lat + self.dequant_latency  # final beat -> last output
            end = -1  # final-beat cycle of the previous fold
            for f, s in enumerate(streams):
                new_end = s - 1 if f == 0 else end + max(s, r)
                start = end + 1 if s > 1 else new_end  # a one-beat fold: its final beat waits
                end = new_end
                out.append(FoldTiming(start, start, s, end + tail))
            return out
        banks = 2 if self.double_buffer else 1
        ends: list[int] = []
        load = stream_start = 0
        for f, s in enumerate(streams):
            load = 0 if f == 0 else out[-1].load_start + r
            if f >= banks:
                load = max(load, ends[f - banks] + r + c - 1 + lat)
            stream_start = load + r if f == 0 else max(load + r, ends[-1] + 1)
            ends.append(stream_start + s - 1)
            out.append(FoldTiming(load, stream_start, s,
                                  ends[-1] + r + c - 2 + lat + self.dequant_latency))
        return out

    # ---- whole GEMM -----------------------------------------------------------------------
    def gemm_cycles(self, m: int, k: int, n: int, group_size: int | None = None) -> int:
        """Cycles from the first input to the last output of a GEMM M x K x N.

        WS without double buffering: SCALE-Sim's compute-cycle count
        ``folds * (2R + C + M - 2) - 1`` (``+ dequant_latency``). OS: our RTL's drain overlap,
        ``T_0 - 1 + sum_{f >= 1} max(T_f, R) + 2R + C - 2 + P + D`` (module docstring).
        Double-buffered WS follows the recurrence (extrapolated once periodic, so large fold
        counts stay cheap).
        """
        streams = self.fold_streams(m, k, n, group_size)
        f = len(streams)
        if self.dataflow == "os":
            r = self.rows
            return (streams[0] - 1 + sum(max(s, r) for s in streams[1:]) + 2 * r + self.cols
                    - 2 + self.pe_latency + self.dequant_latency)
        if not self.double_buffer:
            return sum(self.fold_cycles(s, s, n) for s in streams) - 1 + self.dequant_latency
        if streams[-1] != streams[0]:  # a shorter final M-chunk (acc_depth)
            return self._ws_db_last_output(streams)
        # Double-buffered WS with a constant stream length: the max-plus recurrence is periodic
        # with period 2 after at most a few folds; extrapolate from a short prefix.
        head = 12
        if f <= head + 2:
            return self._schedule(streams)[-1].last_output
        sched = self._schedule(streams[: head + 2])
        two_fold = sched[head + 1].last_output - sched[head - 1].last_output
        rest = f - (head + 2)
        base = sched[head + 1].last_output + (rest // 2) * two_fold
        if rest % 2:
            base += sched[head].last_output - sched[head - 1].last_output
        return base

    def _ws_db_last_output(self, streams: list[int]) -> int:
        """Last output of double-buffered WS folds whose stream lengths come in runs (M-chunks).

        Steps the recurrence of :meth:`_schedule` fold by fold on the state (load start, E_f,
        E_{f-1}); inside a long run of equal lengths, once two consecutive two-fold differences
        of the state agree, the max-plus recurrence (shift invariant) repeats them: the remaining
        whole periods are skipped arithmetically. Equals ``_schedule(streams)[-1].last_output``.
        """
        r, c, lat = self.rows, self.cols, self.pe_latency
        load, e1, e2 = 0, r + streams[0] - 1, None  # the first fold
        hist: list[tuple[int, int, int]] = []
        i, n = 1, len(streams)
        run_end = [n] * n  # index after the run of equal lengths that holds fold i
        for f in range(n - 2, -1, -1):
            run_end[f] = run_end[f + 1] if streams[f + 1] == streams[f] else f + 1
        while i < n:
            s = streams[i]
            if s != streams[i - 1]:
                hist = []
            nl = load + r if e2 is None else max(load + r, e2 + r + c - 1 + lat)
            load, e1, e2 = nl, max(nl + r, e1 + 1) + s - 1, e1
            run_left = run_end[i] - i - 1
            i += 1
            hist.append((load, e1, e2))
            if len(hist) >= 4 and run_left >= 2:
                d1 = [x - y for x, y in zip(hist[-1], hist[-3], strict=True)]
                d2 = [x - y for x, y in zip(hist[-2], hist[-4], strict=True)]
                if d1 == d2:
                    j = run_left // 2
                    load, e1, e2 = (v + j * d for v, d in zip((load, e1, e2), d1, strict=True))
                    i += 2 * j
                    hist = []
        return e1 + r + c - 2 + lat + self.dequant_latency

    def ideal_cycles(self, m: int, k: int, n: int) -> int:
        """``ceil(M*K*N / (R*C))``: every PE busy every cycle."""
        return math.ceil(m * k * n / (self.rows * self.cols))
