"""Worst-case-magnitude stimuli for the PE harness: the largest operands a PE accepts, held for
the longest accumulation the check runs, with one sign throughout and with alternating signs.

Random and exhaustive vectors rarely fill an accumulator: the group adders of a shift-and-add
PE are sized for ``group`` products of the largest magnitude, the baselines' accumulators for
long INT8 x INT8 or FP16 x FP16 sums, the quire for long posit16 sums. These sequences drive
exactly that case, so a datapath one bit too narrow overflows and differs from the reference
model (which defines the result, wrap-around and saturation included). Each function returns
operand columns, ``last`` flags and one description per output, for ``tb_pe_vectors._suite``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mixforge.models import pe as ref

__all__ = ["WORST_PRODUCTS", "shift_add_worst", "baseline_worst", "multiformat_worst",
           "array_worst_operands"]

#: Products per worst-case accumulation (at least; a shift-and-add PE runs whole groups, at
#: least two): as long as the longest random sequence of the other suites.
WORST_PRODUCTS = 1024

_I64 = np.int64
FP16_MAX, FP16_MIN = 0x7BFF, 0xFBFF  # +-65504
#: Largest-magnitude codes of one lane per multi-format mode (+max, -max): FP4 E2M1 +-6,
#: posit(4,1) / posit(8,0) / posit(16,1) +-maxpos.
MAC_EXTREMES = {"fp4x4": (0x7, 0xF), "p4x4": (0x7, 0x9), "p8x2": (0x7F, 0x81),
                "p16x1": (0x7FFF, 0x8001)}

Columns = dict[str, np.ndarray]


def _join(seqs: list[tuple[Columns, str]]) -> tuple[Columns, np.ndarray, list[str]]:
    names = list(seqs[0][0])
    cols = {x: np.concatenate([np.asarray(c[x], _I64) for c, _ in seqs]) for x in names}
    last = np.concatenate([np.arange(len(c[names[0]])) == len(c[names[0]]) - 1
                           for c, _ in seqs])
    return cols, last, [d for _, d in seqs]


def _weight_extremes(k: int, ternary: bool) -> tuple[int, int]:
    """Codes of the most negative and the most positive weight."""
    vals = ref.decode_weight(np.arange(1 << k), k=k, ternary=ternary)
    return int(np.argmin(vals)), int(np.argmax(vals))


def shift_add_worst(p: dict[str, Any]) -> tuple[Columns, np.ndarray, list[str]]:
    """ShiftAddPE: whole groups of largest-magnitude products (activation -128 or -65504, the
    most negative / positive weight), the extreme zero point that adds to the group sum and the
    largest FP16 scale. Sequences: every product positive; every product negative; groups
    alternating in sign with scales alternating too (every dequantised group adds in the same
    direction: the accumulator's largest growth); products alternating element by element."""
    k, g, t = p["k"], p["group"], p["ternary"]
    groups = max(2, -(-WORST_PRODUCTS // g))
    n = groups * g
    wneg, wpos = _weight_extremes(k, t)
    a_code = 0x80 if p["act"] == "int8" else FP16_MIN  # -128 / -65504: products w * a
    j = np.arange(n)
    odd_group = (j // g) % 2 == 1
    seqs: list[tuple[Columns, str]] = []
    for name, w, z, s in (
            ("all positive", np.full(n, wneg), 0x7F, FP16_MAX),  # (-w_max) * (-|a|) > 0
            ("all negative", np.full(n, wpos), 0x80, FP16_MAX),
            ("groups alternating, scales too", np.where(odd_group, wpos, wneg),
             np.where(odd_group, 0x80, 0x7F), np.where(odd_group, FP16_MIN, FP16_MAX)),
            ("elements alternating", np.where(j % 2 == 1, wpos, wneg), 0x7F, FP16_MAX)):
        seqs.append(({"w": np.asarray(w), "a": np.full(n, a_code), "s": np.broadcast_to(s, n),
                      "z": np.broadcast_to(z, n)},
                     f"worst case {name} ({groups} groups of {g}, a={a_code:#x})"))
    return _join(seqs)


def baseline_worst(p: dict[str, Any]) -> tuple[Columns, np.ndarray, list[str]]:
    """Dequantize-first baselines: the dequantised weight at its extremes (INT8 baseline: the
    saturating ``(w - z) * sm`` at +127 / -128; FP16 MAC: ``s * (w - z)`` near the FP16 range)
    times activation -128 / -65504, for :data:`WORST_PRODUCTS` products, one sign throughout and
    alternating."""
    k, n = p["k"], WORST_PRODUCTS
    top = (1 << k) - 1
    j = np.arange(n)
    seqs: list[tuple[Columns, str]] = []
    if p["kind"] == "mul_dequant_first":
        for name, w, z in (("all positive", np.zeros(n), 0x7F),  # (0 - 127) * 255 -> -128
                           ("all negative", np.full(n, top), 0x80),  # (top + 128) * 255 -> 127
                           ("alternating", np.where(j % 2 == 1, top, 0),
                            np.where(j % 2 == 1, 0x80, 0x7F))):
            seqs.append(({"w": w, "a": np.full(n, 0x80), "sm": np.full(n, 0xFF),
                          "z": np.broadcast_to(z, n), "ts": np.full(n, FP16_MAX)},
                         f"worst case {name} ({n} products, a=-128, sm=255)"))
    else:
        for name, w, z in (("one sign", np.full(n, top), 0x80),
                           ("other sign", np.zeros(n), 0x7F),
                           ("alternating", np.where(j % 2 == 1, top, 0),
                            np.where(j % 2 == 1, 0x80, 0x7F))):
            seqs.append(({"w": w, "a": np.full(n, FP16_MIN), "s": np.full(n, 0x5BFF),
                          "z": np.broadcast_to(z, n)},
                         f"worst case {name} ({n} products, a=-65504, s=255.9)"))
    return _join(seqs)


def multiformat_worst(p: dict[str, Any]) -> tuple[Columns, np.ndarray, list[str]]:
    """Multi-format MACs: every lane at its format's largest magnitude, :data:`WORST_PRODUCTS`
    products per accumulation, one mode per accumulation; all products positive, then signs
    alternating in runs of 64 (the quire climbs and falls back)."""
    n = WORST_PRODUCTS
    run_neg = (np.arange(n) // 64) % 2 == 1
    seqs: list[tuple[Columns, str]] = []
    for mode, mname in enumerate(ref.MODES):
        _, lanes, lw = ref.mac_lane_formats(mname)
        pos, neg = (sum(c << (i * lw) for i in range(lanes)) for c in MAC_EXTREMES[mname])
        for name, b in (("all positive", np.full(n, pos)),
                        ("alternating runs", np.where(run_neg, neg, pos))):
            seqs.append(({"a": np.full(n, pos), "b": b, "m": np.full(n, mode)},
                         f"worst case {mname} {name} ({n} products of +-maxpos)"))
    return _join(seqs)


def array_worst_operands(cfg: Any, mode: str | None, m: int, k: int, n: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Activation (m, k) and weight (k, n) patterns of a worst-case GEMM for an array
    (``mixforge.hw.array.ArrayConfig``; ``mode``: a multi-format array's run-time mode).

    Every activation is the format's most negative value (INT: ``-2**(a_bits-1)``, FP16:
    -65504, posit / FP4: -maxpos); weights per output column ``j``: ``j % 3 == 0`` the most
    negative weight (every product at its largest, positive), ``1`` the most positive (every
    product negative), ``2`` the two alternating along K. With ``k`` = the config's ``max_k``,
    the column sums are the largest the array's accumulators are sized for.
    """
    if mode is not None:
        pos, neg = MAC_EXTREMES[mode]
        a_neg, w_neg, w_pos = neg, neg, pos
    elif cfg.pe == "posit8":
        a_neg, w_neg, w_pos = 0x81, 0x81, 0x7F
    else:
        w_neg, w_pos = 1 << (cfg.w_bits - 1), (1 << (cfg.w_bits - 1)) - 1
        fp16_act = cfg.pe == "fp16_mac" or cfg.act == "fp16"
        a_neg = FP16_MIN if fp16_act else 1 << (cfg.a_bits - 1)
    a = np.full((m, k), a_neg, _I64)
    col = np.arange(n) % 3
    alt = np.where(np.arange(k)[:, None] % 2 == 1, w_pos, w_neg)
    w = np.where(col == 0, w_neg, np.where(col == 1, w_pos, alt)).astype(_I64)
    return a, w
