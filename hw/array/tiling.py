"""How a GEMM is cut into array folds and packed into the array's stream beats (pure Python).

The cocotb driver (``hw/verify/tb_array.py``) sends these beats; the monitor maps output rows
back with :attr:`Fold.out_rows`. Edge tiles are zero-padded (pattern 0 is zero in every cell
format); folds never straddle a quantization group, and each fold's outputs are added into the
sum of its group, so the result is the per-group sum of :func:`reference.group_psums`.

Payload bit layouts (``amaranth.lib.data`` packs fields LSB first, in declaration order):

* WS ``w``: C weights, element j at ``[j*wb, (j+1)*wb)``.
* WS ``a``: R activations (``[i*ab, ...)``), then ``last``.
* OS ``x``: the fields of :meth:`ArrayConfig.x_fields` in order (R activations, C weights,
  then for ``dequant`` C scales and C zero points, for ``dequant_first`` C zero points, C scale
  multipliers and C tensor scales; for ``fp16_mac`` C scales and C zero points; for
  ``multiformat`` the 2-bit mode), ``last``.
* ``o``: C outputs of ``out_bits`` each, ``last``, then (posit8 WS) C NaR flags.

Float-output arrays (``dequant``, ``dequant_first``) get the quantization parameters as
:class:`QuantParams`. A ``dequant`` tile streams all of K with ``last`` on its final beat; the
array cuts the groups itself, so each group is one :class:`Fold` and only the tile's final fold
has output rows. A ``dequant_first`` tile is one fold over all of K. A WS ``dequant`` GEMM is cut
into M-chunks of at most ``acc_depth`` rows (outermost), N-tiles, groups and K-folds within a
group (zero-padded to R rows); each fold's ``w`` beats carry its group's C scales / zero points
(``[C*wb, +16C)``, ``[C*(wb+16), +8C)``) and ``last`` (bit ``C*(wb+24)``) on the tile's final
K-fold, the only fold with output rows (float patterns, added nowhere). An ``fp16_mac`` tile is
one fold over all of K; a ``multiformat`` tile one fold over the ``ceil(K / L)`` words of its
GEMM's mode (:func:`pack_lane_words`).

WS arrays of the rounding-edge kinds (``dequant_first``, ``fp16_mac``, ``multiformat`` and its
baselines; :func:`_plan_ws_edge`): M-chunks of at most ``acc_depth`` rows (outermost),
N-tiles, K-folds of R K-indices (multiformat: R operand words); ``w`` beats are
:meth:`ArrayConfig.w_fields` (:func:`pack_w_fields`): the C weights, each K-index's own
per-column fields (its group's ``zero`` / ``sm`` or ``scale`` / ``zero``, the tensor scale;
multiformat: the 2-bit mode) and ``last`` on the tile's final K-fold, the only fold with output
rows. K-padding rows carry zero weights, fields and activations (exact zeros, no NaN).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from mixforge.hw.array.config import ArrayConfig

__all__ = ["Fold", "QuantParams", "plan_gemm", "pack", "pack_fields", "pack_w_fields",
           "unpack_output"]


@dataclass(frozen=True)
class QuantParams:
    """Per (group, column) quantization parameters of a float-output array's GEMM.

    ``zero`` (int8 patterns) and ``scale`` (float16, ``dequant``) or ``sm`` (uint8,
    ``dequant_first``) have shape (ceil(K / group), N); ``tscale`` (float16, ``dequant_first``)
    has shape (N,). ``group`` is the quantization group along K.
    """

    group: int
    zero: NDArray[np.integer]
    scale: NDArray[np.integer] | None = None
    sm: NDArray[np.integer] | None = None
    tscale: NDArray[np.integer] | None = None


@dataclass
class Fold:
    """One array tile: its input beats and where its output rows go.

    ``out_rows[r]`` is the M index of the r-th output row (None for padding rows), and outputs
    land in columns ``n0 .. n0 + C`` of group ``group``.
    """

    group: int
    n0: int
    w_beats: list[int] = field(default_factory=list)   # WS only
    x_beats: list[int] = field(default_factory=list)   # WS: a beats; OS: x beats
    out_rows: list[int | None] = field(default_factory=list)


def pack(values: NDArray[np.integer] | list[int], width: int) -> int:
    """Pack ``values`` (element 0 in the LSBs) into one integer of ``len * width`` bits."""
    word, mask = 0, (1 << width) - 1
    for i, v in enumerate(np.asarray(values).tolist()):
        word |= (int(v) & mask) << (i * width)
    return word


def _pad(block: NDArray[np.integer], shape: tuple[int, int]) -> NDArray[np.int64]:
    out = np.zeros(shape, np.int64)
    out[: block.shape[0], : block.shape[1]] = block
    return out


def _pack_beat(fields: list[tuple[str, int, int]], values: dict[str, NDArray[np.integer]],
               last: bool) -> int:
    """Pack one beat of ``fields`` ``(name, element bits, count)``, LSB first, from
    ``{field: element values}`` (missing fields are zero; ``last`` is the flag)."""
    word, off = 0, 0
    for name, bits, n in fields:
        if name == "last":
            word |= int(last) << off
        elif name in values:
            word |= pack(values[name], bits) << off
        off += bits * n
    return word


def pack_fields(cfg: ArrayConfig, values: dict[str, NDArray[np.integer]], last: bool) -> int:
    """Pack an OS ``x`` beat from ``{field: element values}`` (missing fields are zero)."""
    return _pack_beat(cfg.x_fields(), values, last)


def _plan_float_os(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
                   q: QuantParams) -> list[Fold]:
    m_dim, k_dim = a.shape
    n_dim = w.shape[1]
    r, c = cfg.rows, cfg.cols
    g = q.group
    folds: list[Fold] = []
    for m0 in range(0, m_dim, r):
        for n0 in range(0, n_dim, c):
            at = _pad(a[m0:m0 + r, :], (r, k_dim))
            wt = _pad(w[:, n0:n0 + c], (k_dim, c))
            per_group = {name: _pad(arr[:, n0:n0 + c], (arr.shape[0], c))
                         for name, arr in (("zero", q.zero), ("scale", q.scale), ("sm", q.sm))
                         if arr is not None}
            ts = (_pad(np.asarray(q.tscale)[None, n0:n0 + c], (1, c))[0]
                  if q.tscale is not None else None)
            tile: list[Fold] = []
            for kk in range(k_dim):
                gi = kk // g
                vals = {"a": at[:, kk], "b": wt[kk]}
                vals.update({name: arr[gi] for name, arr in per_group.items()})
                if ts is not None:
                    vals["tscale"] = ts
                if not tile or (cfg.dequant and kk % g == 0):
                    tile.append(Fold(group=0, n0=n0))
                tile[-1].x_beats.append(pack_fields(cfg, vals, kk == k_dim - 1))
            tile[-1].out_rows = [m0 + i if m0 + i < m_dim else None
                                 for i in range(r - 1, -1, -1)]
            folds += tile
    return folds


def pack_w_fields(cfg: ArrayConfig, values: dict[str, NDArray[np.integer]], last: bool) -> int:
    """Pack a WS ``w`` beat (:meth:`ArrayConfig.w_fields`) from ``{field: element values}``
    (missing fields are zero)."""
    return _pack_beat(cfg.w_fields(), values, last)


def _ws_fold(cfg: ArrayConfig, w_beats: list[int], at: NDArray[np.integer], *, group: int,
             n0: int, m0: int, outputs: bool) -> Fold:
    """A WS fold: its weight beats (row R-1 first), one activation beat per row of ``at``
    (``last`` on the final one) and, when the fold drains results (``outputs``), its output
    rows ``m0 ..``."""
    ab, mc = cfg.act_bits, len(at)
    f = Fold(group=group, n0=n0, w_beats=w_beats)
    f.x_beats = [pack(at[mi], ab) | (int(mi == mc - 1) << (cfg.rows * ab)) for mi in range(mc)]
    f.out_rows = list(range(m0, m0 + mc)) if outputs else []
    return f


def _plan_ws_edge(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
                  q: QuantParams | None, mode: str | None) -> list[Fold]:
    """WS rounding-edge kinds: for each M-chunk (<= ``acc_depth`` rows), N-tile and K-fold,
    one fold; its weight beats (row R-1 first) carry each K-index's per-column fields and
    ``last`` on the tile's final K-fold, the only fold with output rows."""
    consts: dict[str, NDArray[np.integer]] = {}
    per_k: dict[str, NDArray[np.integer]] = {}
    if mode is not None:  # 16-bit SIMD words along K, the mode on every weight beat
        from mixforge.models.pe import MODES

        a, w = pack_lane_words(a, mode, 1), pack_lane_words(w, mode, 0)
        consts["mode"] = np.array([MODES.index(mode)])
    elif q is not None:
        gidx = np.arange(np.shape(a)[1]) // q.group
        per_k = {name: np.asarray(arr)[gidx] for name, arr in
                 (("zero", q.zero), ("scale", q.scale), ("sm", q.sm)) if arr is not None}
    m_dim, k_dim = np.shape(a)
    n_dim = np.shape(w)[1]
    r, c, d = cfg.rows, cfg.cols, cfg.acc_depth
    folds: list[Fold] = []
    for m0 in range(0, m_dim, d):
        mc = min(d, m_dim - m0)
        for n0 in range(0, n_dim, c):
            if q is not None and q.tscale is not None:
                consts["tscale"] = _pad(np.asarray(q.tscale)[None, n0:n0 + c], (1, c))[0]
            for k0 in range(0, k_dim, r):
                k1 = min(k0 + r, k_dim)
                final = k1 == k_dim
                wt = _pad(w[k0:k1, n0:n0 + c], (r, c))
                ft = {name: _pad(arr[k0:k1, n0:n0 + c], (r, c)) for name, arr in per_k.items()}
                at = _pad(a[m0:m0 + mc, k0:k1], (mc, r))
                beats = [pack_w_fields(cfg, {"data": wt[i], **{nm: v[i] for nm, v in
                                                              ft.items()}, **consts}, final)
                         for i in range(r - 1, -1, -1)]
                folds.append(_ws_fold(cfg, beats, at, group=0, n0=n0, m0=m0, outputs=final))
    return folds


def _plan_ws_dequant(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
                     q: QuantParams) -> list[Fold]:
    """WS with MixPE edge dequant: for each M-chunk (<= ``acc_depth`` rows), N-tile, group and
    K-fold of the group, one fold; its weight beats carry the group's C scales / zero points
    and ``last`` on the tile's final K-fold, the only fold with output rows."""
    m_dim, k_dim = a.shape
    n_dim = w.shape[1]
    r, c, g, d = cfg.rows, cfg.cols, q.group, cfg.acc_depth
    wb = cfg.weight_bits
    scale, zero = np.asarray(q.scale), np.asarray(q.zero)
    folds: list[Fold] = []
    for m0 in range(0, m_dim, d):
        mc = min(d, m_dim - m0)
        for n0 in range(0, n_dim, c):
            for gi, gs in enumerate(range(0, k_dim, g)):
                ge = min(gs + g, k_dim)
                qw = (pack(_pad(scale[gi:gi + 1, n0:n0 + c], (1, c))[0], 16) << (c * wb)
                      | pack(_pad(zero[gi:gi + 1, n0:n0 + c], (1, c))[0], 8) << (c * (wb + 16)))
                for k0 in range(gs, ge, r):
                    k1 = min(k0 + r, ge)
                    final = k1 == k_dim
                    wt = _pad(w[k0:k1, n0:n0 + c], (r, c))
                    at = _pad(a[m0:m0 + mc, k0:k1], (mc, r))  # zero K-padding: sum(a) exact
                    tag = qw | (int(final) << (c * (wb + 24)))
                    folds.append(_ws_fold(cfg, [pack(wt[i], wb) | tag
                                                for i in range(r - 1, -1, -1)],
                                          at, group=0, n0=n0, m0=m0, outputs=final))
    return folds


def plan_gemm(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
              group_size: int | None = None, quant: QuantParams | None = None,
              mode: str | None = None) -> list[Fold]:
    """Folds of ``A (M x K) @ W (K x N)`` in execution order (beats already packed).

    ``quant`` is required for float-output arrays (and then ``group_size`` is ignored), except
    ``multiformat``, which needs the GEMM's ``mode`` (``models.pe.MODES``) instead: ``a`` / ``w``
    hold element patterns of the mode's lane format, packed L per word along K.
    """
    if cfg.mode_words:  # multiformat and its baselines (shared_quire, separate_macs)
        if mode is None:
            raise ValueError(f"{cfg.name} needs the GEMM's mode (mode=)")
        if cfg.ws_round:
            return _plan_ws_edge(cfg, a, w, None, mode)
        return _plan_multiformat(cfg, a, w, mode)
    if cfg.float_out:
        if quant is None:
            raise ValueError(f"{cfg.name} needs quantization parameters (quant=)")
        if cfg.ws_dequant:
            return _plan_ws_dequant(cfg, a, w, quant)
        if cfg.ws_round:
            return _plan_ws_edge(cfg, a, w, quant, None)
        return _plan_float_os(cfg, a, w, quant)
    m_dim, k_dim = a.shape
    n_dim = w.shape[1]
    r, c = cfg.rows, cfg.cols
    ab, wb = cfg.act_bits, cfg.weight_bits
    g = k_dim if group_size is None else group_size
    folds: list[Fold] = []
    if cfg.dataflow == "ws":
        for n0 in range(0, n_dim, c):
            for gi, gs in enumerate(range(0, k_dim, g)):
                ge = min(gs + g, k_dim)
                for k0 in range(gs, ge, r):
                    k1 = min(k0 + r, ge)
                    wt = _pad(w[k0:k1, n0:n0 + c], (r, c))
                    at = _pad(a[:, k0:k1], (m_dim, r))
                    # the first beat shifts down to the bottom row: send row R-1 first
                    folds.append(_ws_fold(cfg, [pack(wt[i], wb) for i in range(r - 1, -1, -1)],
                                          at, group=gi, n0=n0, m0=0, outputs=True))
        return folds
    for m0 in range(0, m_dim, r):
        for n0 in range(0, n_dim, c):
            for gi, gs in enumerate(range(0, k_dim, g)):
                ge = min(gs + g, k_dim)
                at = _pad(a[m0:m0 + r, gs:ge], (r, ge - gs))
                wt = _pad(w[gs:ge, n0:n0 + c], (ge - gs, c))
                f = Fold(group=gi, n0=n0)
                for kk in range(ge - gs):
                    f.x_beats.append(pack(at[:, kk], ab) | (pack(wt[kk], wb) << (r * ab))
                                     | (int(kk == ge - gs - 1) << (r * ab + c * wb)))
                f.out_rows = [m0 + i if m0 + i < m_dim else None for i in range(r - 1, -1, -1)]
                folds.append(f)
    return folds


def unpack_output(cfg: ArrayConfig, word: int) -> tuple[list[int], bool, list[bool]]:
    """``o`` payload -> (C output values, last, C NaR flags); values signed unless posit8 OS
    or float patterns."""
    c, ob = cfg.cols, cfg.out_bits
    signed = not (cfg.float_out or cfg.pe == "posit8" and cfg.dataflow == "os")
    vals = []
    for j in range(c):
        v = (word >> (j * ob)) & ((1 << ob) - 1)
        if signed and v >> (ob - 1):
            v -= 1 << ob
        vals.append(v)
    last = bool((word >> (c * ob)) & 1)
    nar = [bool((word >> (c * ob + 1 + j)) & 1) for j in range(c)] if cfg.has_nar else \
        [False] * c
    return vals, last, nar


# ---------------------------------------------------------------- multiformat (SIMD words)


def pack_lane_words(x: NDArray[np.integer], mode: str, axis: int) -> NDArray[np.int64]:
    """Element patterns of ``mode``'s lane format -> 16-bit operand words along ``axis`` (K):
    word ``q`` holds elements ``q*L .. q*L + L - 1`` in lanes 0 .. L-1 (lane j at bits
    ``[j*16/L, (j+1)*16/L)``), the last word zero-padded (pattern 0 is zero in every format)."""
    from mixforge.models.pe import mac_lane_formats

    _, lanes, lw = mac_lane_formats(mode)
    x = np.moveaxis(np.asarray(x).astype(np.int64) & ((1 << lw) - 1), axis, -1)
    k = x.shape[-1]
    kw = -(-k // lanes)
    pad = np.zeros(x.shape[:-1] + (kw * lanes,), np.int64)
    pad[..., :k] = x
    pad = pad.reshape(x.shape[:-1] + (kw, lanes))
    words = (pad << (np.arange(lanes) * lw)).sum(axis=-1)
    return np.moveaxis(words, -1, axis)


def _plan_multiformat(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
                      mode: str) -> list[Fold]:
    """OS multiformat: per output tile one fold over all ``ceil(K / L)`` words, the 2-bit mode
    (``models.pe.MODES`` index) on every beat."""
    from mixforge.models.pe import MODES

    aw, ww = pack_lane_words(a, mode, 1), pack_lane_words(w, mode, 0)
    m_dim, kw = aw.shape
    n_dim = ww.shape[1]
    r, c = cfg.rows, cfg.cols
    md = np.array([MODES.index(mode)])
    folds: list[Fold] = []
    for m0 in range(0, m_dim, r):
        for n0 in range(0, n_dim, c):
            at = _pad(aw[m0:m0 + r, :], (r, kw))
            wt = _pad(ww[:, n0:n0 + c], (kw, c))
            f = Fold(group=0, n0=n0)
            f.x_beats = [pack_fields(cfg, {"a": at[:, q], "b": wt[q], "mode": md}, q == kw - 1)
                         for q in range(kw)]
            f.out_rows = [m0 + i if m0 + i < m_dim else None for i in range(r - 1, -1, -1)]
            folds.append(f)
    return folds
