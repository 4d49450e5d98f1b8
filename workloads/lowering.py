"""Formats an op can run in on a device: which native PE mode replaces an unsupported one, and
the conversion ops (fused weight dequantization, or unfused conversion) that it costs."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from mixforge.errors import ConfigError
from mixforge.models.formats import get_format
from mixforge.sim.mapping.ops import Gemm, MoeGate, Op, Vector
from mixforge.workloads.recipes import TensorQuant

if TYPE_CHECKING:
    from mixforge.sim.arch.device import ArchConfig

__all__ = ["exact_in", "is_fused", "FormatLowering"]

#: Name suffixes of the ops of a fused dequantization (weight read + dequant, scale read): they
#: belong to the GEMM's op class, unlike unfused conversions (op class ``dequant``).
_FUSED = (".weights", ".weight_scales")


def is_fused(op: Op) -> bool:
    """Whether ``op`` is part of a fused weight dequantization (see ``_FUSED``)."""
    return isinstance(op, Vector) and op.name.endswith(_FUSED)


def exact_in(src: str, dst: str) -> bool:
    """Whether every finite value of format ``src`` is exactly a value of ``dst``."""
    s, d = get_format(src), get_format(dst)
    if s.name == d.name:
        return True
    if d.kind == "int":
        return s.kind == "int" and d.signed and d.bits >= s.bits + (0 if s.signed else 1)
    if d.kind != "float":
        return False
    d_emax = d.emax
    if s.kind == "int":
        return d.man_bits + 1 >= s.bits - (1 if s.signed else 0) and 2 ** d_emax >= 2 ** s.bits
    if s.kind == "float":
        return d.exp_bits >= s.exp_bits and d.man_bits >= s.man_bits
    # posit(n, es): |exponent| <= (n - 2) * 2**es, at most n - 3 - es fraction bits
    reach = (s.bits - 2) * 2 ** s.es
    return d.man_bits >= s.bits - 3 - s.es and d_emax >= reach and d.emin <= -reach



class FormatLowering:
    """Lowers weight GEMMs and routers to ops the device's xPU can execute.

    Parameters
    ----------
    arch
        The device (``None``: formats are not checked, every op is emitted as is).
    act
        Activation format of the recipe.
    dequantize
        Convert unsupported formats (``True``) or raise ``ConfigError`` naming the op.
    """

    def __init__(self, arch: ArchConfig | None, act: str, dequantize: bool) -> None:
        self.act = act
        self.dequantize = dequantize
        self.native = {(md.w, md.a) for md in arch.xpu.pe.modes} if arch is not None else None

    def _target(self, w: str, a: str) -> tuple[str, str] | None:
        """A native (w', a') to run an unsupported (w, a) on, cheapest conversion first: the
        same activations with the narrowest weight format that holds every ``w`` value exactly
        (dequantize the weights); the same weights with other activations (cast the
        activations); float16 / bfloat16; the device's first mode. ``None`` when native."""
        assert self.native is not None
        if (w, a) in self.native:
            return None
        wide = sorted((get_format(nw).bits, nw) for nw, na in self.native
                      if na == a and exact_in(w, nw))
        if wide:
            return wide[0][1], a
        same_w = sorted((get_format(na).bits, na) for nw, na in self.native if nw == w)
        if same_w:
            return w, same_w[-1][1]
        for pair in (("float16", "float16"), ("bfloat16", "bfloat16")):
            if pair in self.native:
                return pair
        return sorted(self.native)[0]

    def _convert(self, name: str, cls: str, w: str, a: str, tw: str, ta: str, w_elems: int,
                 a_elems: int) -> tuple[list[Op], str]:
        """Ops that make (w, a) operands executable as (tw, ta), and the note saying so."""
        if not self.dequantize:
            raise ConfigError(f"{name}: the device has no PE mode for w={w} a={a} "
                              "(set dequantize: true in the recipe, or use another device)",
                              path="kv_cache.format" if cls == "kv_cache" else f"weights.{cls}")
        ops: list[Op] = []
        if tw != w:
            # unfused dequantization: read the stored operand (+ scales), write it in tw, and
            # the GEMM reads it back (a fused kernel would save the write and the re-read)
            ops += [Vector("dequant", elems=w_elems, fmt=w, inputs=1, outputs=0,
                           name=f"{name}.dequant"),
                    Vector("copy", elems=w_elems, fmt=tw, inputs=0, outputs=1,
                           name=f"{name}.dequant_store")]
        if ta != a:
            ops.append(Vector("dequant", elems=a_elems, fmt=a, name=f"{name}.act_cast"))
        lossy = [f"{x}->{y}" for x, y in ((w, tw), (a, ta)) if x != y and not exact_in(x, y)]
        how = f"unfused conversion, lossy: {', '.join(lossy)}" if lossy else "unfused conversion"
        return ops, f"{name}: w={w} a={a} not native, run as w={tw} a={ta} ({how})"

    def linear(self, cls: str, name: str, m: int, k: int, n: int, q: TensorQuant,
               batch: int = 1) -> tuple[list[Op], str]:
        """A weight GEMM ``[m, k] x [k, n]`` (``batch`` copies with their own weights), with
        the conversion ops it needs on this device."""
        w, a = q.format, self.act
        tgt = self._target(w, a) if self.native is not None else None
        if tgt is None:
            return [Gemm(m=m, k=k, n=n, batch=batch, w=w, a=a, group_size=q.group_size,
                         scale_fmt=q.sim_scale_format, shared_b=batch == 1, name=name)], ""
        tw, ta = tgt
        scales: list[Op] = []
        if q.group_size and tw != w:  # the stored scales are read by the dequantization
            scales = [Vector("copy", elems=math.ceil(k / q.group_size) * n * batch,
                             fmt=q.sim_scale_format, inputs=1, outputs=0,
                             name=f"{name}.scales")]
        if tw != w and ta == a and (ta, tw) in (self.native or set()) and self.dequantize:
            # fused dequantization (MARLIN / QServe style): the stored weights are read once
            # and dequantized on chip, then stream through the array from on-chip buffers as
            # the A operand of the transposed GEMM  O^T[n, m] = W^T[n, k] @ X^T[k, m]
            lossy = "" if exact_in(w, tw) else ", lossy"
            scales = [replace(sc, name=f"{name}{_FUSED[1]}") for sc in scales]
            return [Vector("dequant", elems=k * n * batch, fmt=w, inputs=1, outputs=0,
                           name=f"{name}{_FUSED[0]}"), *scales,
                    Gemm(m=n, k=k, n=m, batch=batch, w=ta, a=tw, o=ta, a_in_dram=False,
                         shared_b=batch == 1, name=name)], \
                f"{name}: w={w} a={a} not native: weights dequantized to {tw} on chip " \
                f"(fused; the dequantization is not overlapped with the MACs{lossy})"
        ops, note = self._convert(name, cls, w, a, tw, ta, k * n * batch, m * k * batch)
        keep_groups = tw == w  # still the stored format: its scales are still read
        ops[:0] = scales
        ops.append(Gemm(m=m, k=k, n=n, batch=batch, w=tw, a=ta, shared_b=batch == 1,
                        group_size=q.group_size if keep_groups else 0,
                        scale_fmt=q.sim_scale_format, name=name))
        return ops, note

    def router(self, name: str, q: TensorQuant, t: int, hidden: int, experts: int,
               top_k: int) -> tuple[list[Op], str]:
        """The MoE router (``MoeGate``) with the conversion ops it needs on this device."""
        w, a = q.format, self.act
        tgt = self._target(w, a) if self.native is not None else None
        ops: list[Op] = []
        note = ""
        if tgt is not None:
            w, ta = tgt[0], tgt[1]
            ops, note = self._convert(name, "router", q.format, a, w, ta,
                                      hidden * experts, t * hidden)
            a = ta
        ops.append(MoeGate(tokens=t, hidden=hidden, experts=experts, top_k=top_k, a=a, w=w,
                           name=name))
        return ops, note
