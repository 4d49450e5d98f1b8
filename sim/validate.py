"""Validation of the simulator against published measurements on real hardware.

A measurement file (``examples/validation/measurements.yaml``, ``schema_version: 1``) lists what
was measured on a real part, on which device file it is simulated, the measured value, its
source, and the relative tolerance the prediction must meet. :func:`validate` simulates each
entry and reports ``error = predicted / measured - 1``; ``mixforge sim validate`` prints the
table and exits 1 when any ``|error|`` exceeds its tolerance.

Ops an entry can describe (:class:`OpSpec`): one GEMM (``gemm``), a pure DRAM read stream
(``stream``), and whole-model steps of the dense decoder transformers in :data:`MODELS`
(``decode``: one token for ``batch`` sequences at KV length ``context``; ``prefill``: the prompt
of ``context`` tokens; ``serve``: prefill plus ``output_len - 1`` decode steps, static batching).
Model steps are summed by hand here from the layer's ops (the workloads layer will replace it).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mixforge.config import from_dict, load_yaml
from mixforge.errors import ConfigError
from mixforge.models.formats import get_format
from mixforge.sim.arch.device import ArchConfig, load_arch
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping.ops import Attention, Gemm, Op, Vector

__all__ = ["TransformerSpec", "MODELS", "OpSpec", "Measurement", "MeasurementSet",
           "ValidationRow", "ValidationReport", "load_measurements", "validate",
           "DEFAULT_DATA"]

OpKind = Literal["gemm", "stream", "decode", "prefill", "serve"]
Metric = Literal["tflops", "bandwidth_gbs", "tokens_per_s", "ms", "speedup"]

#: The measurement file shipped with the repository.
DEFAULT_DATA = Path(__file__).resolve().parents[1] / "examples" / "validation" / \
    "measurements.yaml"


@dataclass(frozen=True)
class TransformerSpec:
    """A dense decoder-only transformer in Hugging Face ``config.json`` terms."""

    hidden_size: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    num_hidden_layers: int
    vocab_size: int
    source: str

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


#: Models the measurement file may name (values from the models' config.json).
MODELS: dict[str, TransformerSpec] = {
    "llama2_7b": TransformerSpec(
        4096, 32, 32, 11008, 32, 32000,
        "https://huggingface.co/meta-llama/Llama-2-7b-hf/blob/main/config.json"),
    "llama3_8b": TransformerSpec(
        4096, 32, 8, 14336, 32, 128256,
        "https://huggingface.co/meta-llama/Meta-Llama-3-8B/blob/main/config.json "
        "(Llama-3.1-8B has the same shapes)"),
}


@dataclass(frozen=True)
class OpSpec:
    """What ran on the hardware (see the module docstring for ``kind``).

    ``m, k, n, batch``: GEMM shape (``batch`` independent GEMMs with their own weights) or, for
    model kinds, ``batch`` sequences. ``bytes``: size of a ``stream``. ``w, a, kv``: weight,
    activation and KV-cache formats, ``o`` the GEMM output format (``kv`` and ``o`` default to
    ``a``); ``group_size``: weight
    quantization group along K. ``model``: a key of :data:`MODELS`; ``context``: KV length
    (decode) or prompt length (prefill, serve); ``output_len``: generated tokens (serve).
    """

    kind: OpKind
    m: int = 0
    k: int = 0
    n: int = 0
    batch: int = 1
    bytes: int = 0
    w: str = "float16"
    a: str = "float16"
    o: str = ""
    kv: str = ""
    group_size: int = 0
    model: str = ""
    context: int = 0
    output_len: int = 0

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ConfigError(f"must be >= 1, not {self.batch}", path="batch")
        if self.kind == "gemm" and min(self.m, self.k, self.n) < 1:
            raise ConfigError("a gemm needs positive m, k and n", path="m")
        if self.kind == "stream" and self.bytes < 1:
            raise ConfigError("a stream needs a positive size in bytes", path="bytes")
        if self.kind in ("decode", "prefill", "serve"):
            if self.model not in MODELS:
                raise ConfigError(f"unknown model {self.model!r} (known: "
                                  f"{', '.join(MODELS)})", path="model")
            if self.context < 1:
                raise ConfigError("must be >= 1", path="context")
        if self.kind == "serve" and self.output_len < 1:
            raise ConfigError("a serve entry needs output_len >= 1", path="output_len")


@dataclass(frozen=True)
class Measurement:
    """One published measurement and the tolerance its prediction must meet.

    ``device`` is a hardware YAML (relative to the measurement file); ``metric`` says what
    ``measured`` is (``tflops``: 2*MACs/time; ``bandwidth_gbs``: compulsory DRAM bytes/time;
    ``tokens_per_s``; ``ms``: duration; ``speedup``: time of ``baseline`` / time of ``op``).
    ``tolerance`` is the largest accepted ``|predicted / measured - 1|`` (at most 0.25).
    ``source`` names the publication (table, README, URL); ``what`` says exactly what was
    measured on which part; ``note`` records caveats (clock, power cap, software).
    ``gate: false`` keeps an entry in the table but out of the pass/fail verdict and the mean;
    it needs ``note`` to say why (e.g. the published kernel, not the hardware, bounds it).
    """

    id: str
    device: str
    op: OpSpec
    metric: Metric
    measured: float
    unit: str
    tolerance: float
    source: str
    what: str
    baseline: OpSpec | None = None
    note: str = ""
    gate: bool = True

    def __post_init__(self) -> None:
        if not self.gate and not self.note.strip():
            raise ConfigError("an entry with gate: false must say why in note", path="note")
        if not self.measured > 0:
            raise ConfigError(f"must be positive, not {self.measured}", path="measured")
        if not 0 < self.tolerance <= 0.25:
            raise ConfigError(f"must be in (0, 0.25], not {self.tolerance}", path="tolerance")
        if (self.metric == "speedup") != (self.baseline is not None):
            raise ConfigError("a speedup needs a baseline op, and only a speedup has one",
                              path="baseline")
        if not self.source.strip() or not self.what.strip():
            raise ConfigError("every measurement needs its source and what was measured",
                              path="source")


@dataclass(frozen=True)
class MeasurementSet:
    """The measurement file: ``measurements`` (ids unique)."""

    measurements: tuple[Measurement, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for i, m in enumerate(self.measurements):
            if m.id in seen:
                raise ConfigError(f"duplicate id {m.id!r}", path=f"measurements.{i}.id")
            seen.add(m.id)


@dataclass(frozen=True)
class ValidationRow:
    """Predicted vs measured for one entry; ``error = predicted / measured - 1``."""

    measurement: Measurement
    predicted: float
    seconds: float
    bound: str

    @property
    def error(self) -> float:
        return self.predicted / self.measurement.measured - 1

    @property
    def within(self) -> bool:
        """``|error|`` within the stored tolerance."""
        return abs(self.error) <= self.measurement.tolerance

    @property
    def ok(self) -> bool:
        """Within tolerance, or not gated."""
        return self.within or not self.measurement.gate


@dataclass(frozen=True)
class ValidationReport:
    """All rows, the mean absolute error and whether every row is within its tolerance."""

    rows: tuple[ValidationRow, ...]
    data_file: str = ""
    devices: dict[str, str] = field(default_factory=dict)

    @property
    def gated(self) -> tuple[ValidationRow, ...]:
        return tuple(r for r in self.rows if r.measurement.gate)

    @property
    def mae(self) -> float:
        """Mean absolute error over the gated rows."""
        rows = self.gated
        return sum(abs(r.error) for r in rows) / len(rows) if rows else 0.0

    @property
    def max_abs_error(self) -> float:
        """Largest absolute error over the gated rows."""
        return max((abs(r.error) for r in self.gated), default=0.0)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def as_dict(self) -> dict[str, object]:
        return {"data_file": self.data_file, "mae": self.mae,
                "max_abs_error": self.max_abs_error, "ok": self.ok,
                "rows": [{"id": r.measurement.id, "device": r.measurement.device,
                          "metric": r.measurement.metric, "unit": r.measurement.unit,
                          "measured": r.measurement.measured, "predicted": r.predicted,
                          "error": r.error, "tolerance": r.measurement.tolerance,
                          "within": r.within, "gate": r.measurement.gate,
                          "simulated_seconds": r.seconds, "bound": r.bound,
                          "source": r.measurement.source, "note": r.measurement.note}
                         for r in self.rows]}


def load_measurements(path: str | Path) -> MeasurementSet:
    """Read a measurement file; ``ConfigError`` names the file and dotted field on bad input."""
    return from_dict(MeasurementSet, load_yaml(path), file=str(path))


# ----------------------------------------------------------------------------- model steps
def _layer_ops(spec: TransformerSpec, op: OpSpec, tokens: int, q_len: int,
               kv_len: int) -> Iterator[Op]:
    """One decoder layer for ``op.batch`` sequences of ``q_len`` new tokens (``tokens`` rows)."""
    h, hd, a = spec.hidden_size, spec.head_dim, op.a
    qkv_n = (spec.num_attention_heads + 2 * spec.num_key_value_heads) * hd

    def lin(k: int, n: int, name: str) -> Gemm:
        return Gemm(m=tokens, k=k, n=n, w=op.w, a=a, group_size=op.group_size, name=name)

    yield Vector("rmsnorm", elems=tokens * h, fmt=a, name="attn_norm")
    yield lin(h, qkv_n, "qkv")
    yield Attention(batch=op.batch, q_len=q_len, kv_len=kv_len, heads=spec.num_attention_heads,
                    kv_heads=spec.num_key_value_heads, head_dim=hd, a=a, kv=op.kv or a)
    yield lin(spec.num_attention_heads * hd, h, "o_proj")
    yield Vector("add", elems=tokens * h, fmt=a, inputs=2, name="residual")
    yield Vector("rmsnorm", elems=tokens * h, fmt=a, name="mlp_norm")
    yield lin(h, 2 * spec.intermediate_size, "gate_up")
    yield Vector("swiglu", elems=tokens * spec.intermediate_size, fmt=a, inputs=2,
                 name="swiglu")
    yield lin(spec.intermediate_size, h, "down")
    yield Vector("add", elems=tokens * h, fmt=a, inputs=2, name="residual")


def _step_seconds(sim: Simulator, op: OpSpec, q_len: int, kv_len: int) -> tuple[float, str]:
    """Seconds of one forward step (all layers + final norm + LM head on the last tokens)."""
    spec = MODELS[op.model]
    tokens = op.batch * q_len
    layer = [sim.run_op(o) for o in _layer_ops(spec, op, tokens, q_len, kv_len)]
    head = [sim.run_op(Vector("rmsnorm", elems=op.batch * spec.hidden_size, fmt=op.a)),
            sim.run_op(Gemm(m=op.batch, k=spec.hidden_size, n=spec.vocab_size, w=op.w, a=op.a,
                            group_size=op.group_size, name="lm_head"))]
    secs = spec.num_hidden_layers * sum(r.seconds for r in layer) + sum(r.seconds
                                                                        for r in head)
    by_bound: dict[str, float] = {}
    for r in layer:
        by_bound[r.bound] = by_bound.get(r.bound, 0.0) + r.seconds
    return secs, max(by_bound, key=lambda b: by_bound[b])  # where most of a layer's time goes


def _prefill_seconds(sim: Simulator, op: OpSpec) -> tuple[float, str]:
    # causal attention: each query sees on average half the prompt, so a full-attention op over
    # ceil(S/2) keys has the same MACs (the KV read is halved too: first order)
    return _step_seconds(sim, op, op.context, max(1, math.ceil(op.context / 2)))


def _seconds(sim: Simulator, op: OpSpec) -> tuple[float, str]:
    """Simulated seconds of ``op`` and its bound."""
    if op.kind == "gemm":
        r = sim.run_op(Gemm(m=op.m, k=op.k, n=op.n, batch=op.batch, w=op.w, a=op.a,
                            o=op.o or None, group_size=op.group_size,
                            shared_b=op.batch == 1))
        return r.seconds, r.bound
    if op.kind == "stream":
        elems = op.bytes * 8 // get_format(op.a).bits
        r = sim.run_op(Vector("copy", elems=elems, fmt=op.a, inputs=1, outputs=0))
        return r.seconds, r.bound
    if op.kind == "decode":
        return _step_seconds(sim, op, 1, op.context)
    if op.kind == "prefill":
        return _prefill_seconds(sim, op)
    # serve (static batching, as TensorRT-LLM's gptSessionBenchmark): the prefill yields the first
    # token, then output_len - 1 decode steps; attention is linear in the KV length, so the
    # steps sum to (output_len - 1) steps at the mean KV length
    pre, _ = _prefill_seconds(sim, op)
    steps = op.output_len - 1
    if steps == 0:
        return pre, "compute"
    mean_kv = op.context + math.ceil(steps / 2)
    step, bound = _step_seconds(sim, op, 1, mean_kv)
    return pre + steps * step, bound


def _flops(op: OpSpec) -> float:
    return 2.0 * op.m * op.k * op.n * op.batch


def _gemm_bytes(op: OpSpec) -> float:
    w, a, o = (get_format(f).bits for f in (op.w, op.a, op.o or op.a))
    return (op.k * op.n * w + op.m * op.k * a + op.m * op.n * o) * op.batch / 8


def _predict(sim: Simulator, m: Measurement, sim_base: Simulator | None) -> ValidationRow:
    secs, bound = _seconds(sim, m.op)
    op = m.op
    if m.metric == "speedup":
        assert m.baseline is not None and sim_base is not None
        base, _ = _seconds(sim_base, m.baseline)
        value = base / secs
    elif m.metric == "tflops":
        if op.kind != "gemm":
            raise ConfigError("tflops needs a gemm op", path=f"{m.id}.metric")
        value = _flops(op) / secs / 1e12
    elif m.metric == "bandwidth_gbs":
        if op.kind not in ("gemm", "stream"):
            raise ConfigError("bandwidth_gbs needs a gemm or stream op", path=f"{m.id}.metric")
        value = (op.bytes if op.kind == "stream" else _gemm_bytes(op)) / secs / 1e9
    elif m.metric == "tokens_per_s":
        if op.kind not in ("decode", "serve"):
            raise ConfigError("tokens_per_s needs a decode or serve op", path=f"{m.id}.metric")
        tokens = op.batch * (op.output_len if op.kind == "serve" else 1)
        value = tokens / secs
    else:
        value = secs * 1e3
    return ValidationRow(measurement=m, predicted=value, seconds=secs, bound=bound)


def validate(data: str | Path = DEFAULT_DATA) -> ValidationReport:
    """Simulate every measurement of ``data`` on its device file and compare."""
    path = Path(data)
    mset = load_measurements(path)
    sims: dict[str, Simulator] = {}
    names: dict[str, str] = {}

    def sim_for(device: str, idx: int) -> Simulator:
        where = (path.parent / device).resolve()
        key = str(where)
        if key not in sims:
            if not where.is_file():
                raise ConfigError(f"no such device file: {where}", file=str(path),
                                  path=f"measurements.{idx}.device")
            arch: ArchConfig = load_arch(where)
            sims[key] = Simulator(arch)
            names[device] = arch.name
        return sims[key]

    rows = []
    for i, m in enumerate(mset.measurements):
        s = sim_for(m.device, i)
        rows.append(_predict(s, m, s if m.baseline is not None else None))
    return ValidationReport(rows=tuple(rows), data_file=str(path), devices=names)

