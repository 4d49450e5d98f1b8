"""Timing spec of the systolic PE array (``mixforge.hw.array``): the cycle model sim/ uses.

The formulas here are the contract between the RTL array and the simulator: the cocotb tests
measure the generated array in Verilator and compare with :meth:`ArraySpec.gemm_cycles`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mixforge.errors import ConfigError

__all__ = ["ArraySpec", "Dataflow"]

Dataflow = Literal["ws", "os"]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class ArraySpec:
    """An R x C systolic array.

    Parameters
    ----------
    rows, cols
        Array size. WS maps K onto rows and N onto columns (weights stay); OS maps M onto rows and
        N onto columns (outputs stay).
    dataflow
        ``"ws"`` (weight-stationary) or ``"os"`` (output-stationary).
    double_buffer
        WS: a second weight register per PE lets the next fold's weights load while the current
        fold computes. Off, the schedule is SCALE-Sim's.
    pe_latency
        Extra pipeline cycles of one PE's multiply-accumulate beyond one (0 = single-cycle MAC).
    """

    rows: int
    cols: int
    dataflow: Dataflow = "ws"
    double_buffer: bool = False
    pe_latency: int = 0

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ConfigError(f"must be a positive integer, not {v!r}", path=name)
        if self.dataflow not in ("ws", "os"):
            raise ConfigError(f"must be 'ws' or 'os', not {self.dataflow!r}", path="dataflow")
        if self.pe_latency < 0:
            raise ConfigError(f"must be >= 0, not {self.pe_latency}", path="pe_latency")

    def folds(self, m: int, k: int, n: int) -> int:
        """Number of array tiles (folds) a GEMM M x K x N needs."""
        if self.dataflow == "ws":
            return _ceil_div(k, self.rows) * _ceil_div(n, self.cols)
        return _ceil_div(m, self.rows) * _ceil_div(n, self.cols)

    def fold_cycles(self, m: int, k: int, n: int) -> int:
        """Cycles of one fold when folds run back to back (SCALE-Sim's ``2R + C + T - 2``).

        ``T`` is the streamed dimension: M for WS, K for OS.
        """
        stream = m if self.dataflow == "ws" else k
        return 2 * self.rows + self.cols + stream - 2 + self.pe_latency

    def gemm_cycles(self, m: int, k: int, n: int) -> int:
        """Cycles from the first input to the last output of a GEMM M x K x N.

        Without double buffering this is SCALE-Sim's compute-cycle count
        ``folds * (2R + C + T - 2) - 1``.
        """
        for name, v in (("M", m), ("K", k), ("N", n)):
            if v <= 0:
                raise ConfigError(f"must be positive, not {v}", path=name)
        return self.folds(m, k, n) * self.fold_cycles(m, k, n) - 1
