"""Small reusable datapath blocks (pipelined multipliers, adders)."""

from mixforge.hw.primitives.pipelined_mul import PipelinedMul

__all__ = ["PipelinedMul"]
