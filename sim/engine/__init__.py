"""Event model at tile / DRAM-burst granularity, PIM units, dispatch, results and caching."""

from mixforge.sim.engine.blocked import simulate_blocked
from mixforge.sim.engine.bucket import KvBucket
from mixforge.sim.engine.dram import TransferTime, decode_bursts, stream_time, transfer_time
from mixforge.sim.engine.gemm import GemmTiming, simulate_gemm
from mixforge.sim.engine.interference import Interference, interference
from mixforge.sim.engine.results import LayerResult, OpResult
from mixforge.sim.engine.simulator import Simulator

__all__ = ["KvBucket", "Interference", "interference", "simulate_blocked", "Simulator",
           "OpResult", "LayerResult", "GemmTiming", "simulate_gemm", "TransferTime",
           "decode_bursts", "stream_time", "transfer_time"]
