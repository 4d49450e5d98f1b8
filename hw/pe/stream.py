"""``StreamPE``: the stream ports, spec properties and stall rule every PE of the library shares.

A PE takes one ``i`` beat and emits ``o`` beats (``float32`` patterns are 32 bits, every other
output format 16). The whole pipeline advances together: ``adv = ~o.valid | o.ready``, and
``i.ready = adv`` - a held output stalls every stage.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StreamPE"]


class StreamPE(wiring.Component):
    """Base of the PE components: ``i``/``o`` streams, ``spec``, ``latency``, ``throughput``."""

    def __init__(self, spec: Any, layout: data.Layout, out: str) -> None:
        self._spec = spec
        super().__init__({"i": In(stream.Signature(layout)),
                          "o": Out(stream.Signature(32 if out == "float32" else 16))})

    @property
    def spec(self) -> Any:
        """The validated parameter object (``*Spec`` of :mod:`mixforge.hw.pe.specs`)."""
        return self._spec

    @property
    def latency(self) -> int:
        return int(self._spec.latency)

    @property
    def throughput(self) -> float:
        return float(self._spec.throughput)

    def _adv(self, m: Module) -> Signal:
        """The pipeline-advance signal (drives ``i.ready``)."""
        adv = Signal()
        m.d.comb += [adv.eq(~self.o.valid | self.o.ready), self.i.ready.eq(adv)]
        return adv
