"""Operators the simulator maps: frozen, hashable (they are the result-cache keys).

Formats are stored as canonical ``NumberFormat`` names, so ``Gemm(w="fp4")`` and
``Gemm(w="float4_e2m1fn")`` are the same cache key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from mixforge.errors import ConfigError
from mixforge.sim.arch.pe import check_format

__all__ = ["Gemm", "Vector", "Attention", "MoeGate", "Op", "gemv", "VECTOR_OPS_PER_ELEM"]


def _check_positive(obj: object, *names: str) -> None:
    for name in names:
        v = getattr(obj, name)
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ConfigError(f"must be a positive integer, not {v!r}", path=name)


def _canon(obj: object, *names: str) -> None:
    for name in names:
        object.__setattr__(obj, name, check_format(getattr(obj, name), name).name)


@dataclass(frozen=True)
class Gemm:
    """``batch`` independent GEMMs ``O[M,N] = A[M,K] @ B[K,N]``.

    Parameters
    ----------
    m, k, n, batch
        Shape; with ``shared_b`` the batch shares one B (weights), which is the same as one GEMM
        of ``batch * m`` rows; otherwise every batch element has its own B (attention, experts).
    w, a, o
        Formats of B (weights / KV cache: stationary operand), A (streamed activations) and O
        (``o=None``: same as ``a``).
    group_size, scale_fmt
        Group-wise quantization of B along K (GPTQ/AWQ; 0 = none): one scale of ``scale_fmt``
        per group and column, read with the weights, and dequantization work per group.
    a_in_dram, o_to_dram
        False when A comes from / O stays in on-chip buffers (fused attention).
    """

    m: int
    k: int
    n: int
    batch: int = 1
    w: str = "int8"
    a: str = "int8"
    o: str | None = None
    group_size: int = 0
    scale_fmt: str = "float16"
    shared_b: bool = True
    a_in_dram: bool = True
    o_to_dram: bool = True
    name: str = "gemm"

    def __post_init__(self) -> None:
        _check_positive(self, "m", "k", "n", "batch")
        if self.o is None:
            object.__setattr__(self, "o", self.a)
        _canon(self, "w", "a", "o", "scale_fmt")
        if self.group_size < 0:
            raise ConfigError(f"must be >= 0, not {self.group_size}", path="group_size")
        if self.shared_b and self.batch > 1:  # one GEMM of batch*M rows: one cache key
            object.__setattr__(self, "m", self.m * self.batch)
            object.__setattr__(self, "batch", 1)

    @property
    def macs(self) -> int:
        return self.batch * self.m * self.k * self.n

    @property
    def groups_k(self) -> int:
        return math.ceil(self.k / self.group_size) if self.group_size else 0


def gemv(k: int, n: int, *, w: str = "int8", a: str = "int8", batch: int = 1,
         group_size: int = 0, name: str = "gemv") -> Gemm:
    """A matrix-vector product (decode-time linear layer): ``Gemm(m=batch, k, n)``."""
    return Gemm(m=batch, k=k, n=n, w=w, a=a, group_size=group_size, name=name)


#: Vector-unit operations per element, per kind (one op = one FP32-class add/mul/compare).
#: softmax: max, subtract, exp (4-op polynomial), sum, divide; norms: square, sum, scale, mul.
VECTOR_OPS_PER_ELEM: dict[str, int] = {
    "add": 1, "mul": 1, "relu": 1, "silu": 5, "gelu": 8, "swiglu": 6, "rmsnorm": 4,
    "layernorm": 6, "softmax": 8, "topk": 2, "copy": 0, "combine": 2, "dequant": 2,
}
VectorKind = Literal["add", "mul", "relu", "silu", "gelu", "swiglu", "rmsnorm", "layernorm",
                     "softmax", "topk", "copy", "combine", "dequant"]


@dataclass(frozen=True)
class Vector:
    """An elementwise / normalisation op over ``elems`` output elements.

    Parameters
    ----------
    kind
        Operation; its cost per element is :data:`VECTOR_OPS_PER_ELEM`.
    inputs, outputs
        Tensors of ``elems`` elements read and written (DRAM traffic when ``in_dram``).
    """

    kind: VectorKind
    elems: int
    fmt: str = "float16"
    inputs: int = 1
    outputs: int = 1
    in_dram: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        _check_positive(self, "elems")
        if self.inputs < 0 or self.outputs < 0:
            raise ConfigError("inputs and outputs must be >= 0", path="inputs")
        if self.kind not in VECTOR_OPS_PER_ELEM:
            raise ConfigError(f"unknown vector op {self.kind!r}", path="kind")
        _canon(self, "fmt")
        if not self.name:
            object.__setattr__(self, "name", self.kind)

    @property
    def ops(self) -> int:
        return self.elems * VECTOR_OPS_PER_ELEM[self.kind]


@dataclass(frozen=True)
class Attention:
    """Scaled-dot-product attention with grouped-query heads over a KV cache.

    ``heads`` query heads share ``kv_heads`` K/V heads (GQA group = heads / kv_heads). Lowered to
    QK^T (per batch and KV head: M = q_len * group, K = head_dim, N = kv_len), softmax, and PV;
    ``fused`` keeps scores on chip (FlashAttention), otherwise they go through DRAM.
    """

    batch: int
    q_len: int
    kv_len: int
    heads: int
    kv_heads: int
    head_dim: int
    a: str = "float16"
    kv: str = "float16"
    fused: bool = True
    name: str = "attention"

    def __post_init__(self) -> None:
        _check_positive(self, "batch", "q_len", "kv_len", "heads", "kv_heads", "head_dim")
        if self.heads % self.kv_heads:
            raise ConfigError(f"heads ({self.heads}) must be a multiple of kv_heads "
                              f"({self.kv_heads})", path="kv_heads")
        _canon(self, "a", "kv")

    def lower(self) -> tuple[Gemm | Vector, ...]:
        group = self.heads // self.kv_heads
        b = self.batch * self.kv_heads
        rows = self.q_len * group
        qk = Gemm(m=rows, k=self.head_dim, n=self.kv_len, batch=b, w=self.kv, a=self.a,
                  shared_b=False, o_to_dram=not self.fused, name=f"{self.name}.qk")
        sm = Vector("softmax", elems=b * rows * self.kv_len, fmt=self.a,
                    in_dram=not self.fused, name=f"{self.name}.softmax")
        pv = Gemm(m=rows, k=self.kv_len, n=self.head_dim, batch=b, w=self.kv, a=self.a,
                  shared_b=False, a_in_dram=not self.fused, name=f"{self.name}.pv")
        return (qk, sm, pv)


@dataclass(frozen=True)
class MoeGate:
    """MoE router: gate GEMM, top-k selection, and token dispatch + combine data movement."""

    tokens: int
    hidden: int
    experts: int
    top_k: int
    a: str = "float16"
    w: str = "float16"
    name: str = "moe_gate"

    def __post_init__(self) -> None:
        _check_positive(self, "tokens", "hidden", "experts", "top_k")
        if self.top_k > self.experts:
            raise ConfigError(f"must be <= experts ({self.experts}), not {self.top_k}",
                              path="top_k")
        _canon(self, "a", "w")

    def lower(self) -> tuple[Gemm | Vector, ...]:
        t = self.tokens
        gate = Gemm(m=t, k=self.hidden, n=self.experts, w=self.w, a=self.a,
                    name=f"{self.name}.gate")
        # top-k by k passes of compare-select over the logits (2 ops per element per pass)
        topk = Vector("topk", elems=t * self.experts * self.top_k, fmt=self.a, inputs=0,
                      outputs=0, name=f"{self.name}.topk")
        moved = t * self.top_k * self.hidden
        dispatch = Vector("copy", elems=moved, fmt=self.a, name=f"{self.name}.dispatch")
        combine = Vector("combine", elems=t * self.hidden, fmt=self.a, inputs=self.top_k,
                         name=f"{self.name}.combine")
        return (gate, topk, dispatch, combine)


Op = Gemm | Vector | Attention | MoeGate
