"""A pipelined signed multiplier with a valid bit: the design that proves the tool chain."""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mixforge.errors import ConfigError

__all__ = ["PipelinedMul"]


class PipelinedMul(wiring.Component):
    """``p = a * b`` for signed ``a`` (``a_width`` bits) and ``b`` (``b_width`` bits).

    Parameters
    ----------
    a_width, b_width
        Operand widths, 2..32 bits each (two's complement).
    stages
        Register stages between the operands and ``p`` (>= 1). The product of the operands
        presented with ``valid_in`` high in cycle t appears on ``p`` with ``valid_out`` high in
        cycle t + ``stages``; one result per cycle (``throughput == 1``). No back-pressure.
    """

    def __init__(self, *, a_width: int = 8, b_width: int = 8, stages: int = 2):
        for name, v in (("a_width", a_width), ("b_width", b_width)):
            if not isinstance(v, int) or not 2 <= v <= 32:
                raise ConfigError(f"must be an integer in 2..32, not {v!r}", path=name)
        if not isinstance(stages, int) or stages < 1:
            raise ConfigError(f"must be an integer >= 1, not {stages!r}", path="stages")
        self._a_width, self._b_width, self._stages = a_width, b_width, stages
        super().__init__({
            "a": In(signed(a_width)),
            "b": In(signed(b_width)),
            "valid_in": In(1),
            "p": Out(signed(a_width + b_width)),
            "valid_out": Out(1),
        })

    @property
    def latency(self) -> int:
        return self._stages

    @property
    def throughput(self) -> float:
        return 1.0

    @property
    def params(self) -> dict[str, int]:
        return {"a_width": self._a_width, "b_width": self._b_width, "stages": self._stages}

    def elaborate(self, platform: object) -> Module:
        m = Module()
        width = self._a_width + self._b_width
        prod = Signal(signed(width))
        m.d.comb += prod.eq(self.a * self.b)
        data, valid = prod, self.valid_in
        for i in range(self._stages):
            d = Signal(signed(width), name=f"p_s{i}")
            v = Signal(name=f"v_s{i}")
            m.d.sync += [d.eq(data), v.eq(valid)]
            data, valid = d, v
        m.d.comb += [self.p.eq(data), self.valid_out.eq(valid)]
        return m
