"""The batch (vectorised) forms in models/pe.py against the scalar functions, bit for bit:
every <= 8-bit operand pair exhaustively, edge tables, and random accumulation sequences
(mixed signs, cancellations, specials, wrap-around and saturation)."""

from __future__ import annotations

import numpy as np
import pytest

from mixforge.errors import FormatError
from mixforge.models import pe as ref

FP16_EDGES = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0400, 0x8400, 0x3C00, 0xBC00,
              0x3BFF, 0x3C01, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE00, 0x5640]
SCALE_EDGES = [0x3C00, 0xBC00, 0x7BFF, 0x0001, 0x0000, 0x7C00, 0x7E00, 0x0400]


def _lasts(rng: np.random.Generator, lengths: list[int]) -> np.ndarray:
    return np.concatenate([np.arange(n) == n - 1 for n in lengths])


def _split(x: np.ndarray, last: np.ndarray) -> list[np.ndarray]:
    return np.split(np.asarray(x), np.flatnonzero(last)[:-1] + 1)


def _lengths(rng: np.random.Generator, count: int, g: int = 128) -> list[int]:
    return [int(rng.choice([1, 2, 3, g - 1, g, g + 1, 2 * g, int(rng.integers(1, 1025))]))
            for _ in range(count)]


# ----------------------------------------------------------------------------- exhaustive


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("out", ref.OUT_FORMATS)
def test_multiformat_every_lane_pair(mode: int, out: str) -> None:
    """Every operand pair of FP4 / posit(4,1) / posit(8,0) in lane 0 (lanes 1.. random)."""
    _, lanes, lw = ref.mac_lane_formats(ref.MODES[mode])
    rng = np.random.default_rng(mode)
    pairs = np.arange(1 << (2 * lw))
    a = (pairs & ((1 << lw) - 1)) | (rng.integers(0, 1 << 16, len(pairs)) & ~((1 << lw) - 1)
                                     & 0xFFFF)
    b = (pairs >> lw) | (rng.integers(0, 1 << 16, len(pairs)) & ~((1 << lw) - 1) & 0xFFFF)
    modes = np.full(len(a), mode)
    want = [ref.multiformat_mac(ref.MODES[mode], [int(x)], [int(y)], out=out)
            for x, y in zip(a, b, strict=True)]
    assert ref.multiformat_mac_batch(modes, a, b, out=out).tolist() == want
    want_sep = [ref.separate_macs_mac(ref.MODES[mode], [int(x)], [int(y)], out=out)
                for x, y in zip(a, b, strict=True)]
    assert ref.separate_macs_mac_batch(modes, a, b, out=out).tolist() == want_sep


@pytest.mark.parametrize("k,ternary,act,out", [(4, False, "int8", "float32"),
                                               (2, True, "int8", "float16"),
                                               (3, False, "int8", "float16"),
                                               (8, False, "int8", "float32")])
def test_shift_add_every_weight_activation_pair(k: int, ternary: bool, act: str,
                                                out: str) -> None:
    w, a = (x.ravel() for x in np.meshgrid(np.arange(1 << k), np.arange(256), indexing="ij"))
    rng = np.random.default_rng(k)
    s = np.where(np.arange(len(w)) % 2 == 0, 0x3C00, rng.integers(0, 0x7C00, len(w)))
    z = np.where(np.arange(len(w)) % 3 == 0, 0, rng.integers(0, 256, len(w)))
    got = ref.shift_add_pe_batch(w, a, s, z, k=k, act=act, group=128, out=out, ternary=ternary)
    want = [ref.shift_add_pe([x], [y], [u], [v], k=k, act=act, group=128, out=out,
                             ternary=ternary) for x, y, u, v in zip(w, a, s, z, strict=True)]
    assert got.tolist() == want


@pytest.mark.parametrize("out", ["float32", "float16"])
def test_dequant_first_every_weight_activation_pair(out: str) -> None:
    w, a = (x.ravel() for x in np.meshgrid(np.arange(16), np.arange(256), indexing="ij"))
    rng = np.random.default_rng(1)
    sm, z = rng.integers(0, 256, len(w)), rng.integers(0, 256, len(w))
    ts = rng.integers(0, 1 << 16, len(w))
    got = ref.dequant_first_pe_batch(w, a, sm, z, ts, k=4, out=out)
    want = [ref.dequant_first_pe([x], [y], [m], [v], [t], k=4, out=out)
            for x, y, m, v, t in zip(w, a, sm, z, ts, strict=True)]
    assert got.tolist() == want


@pytest.mark.parametrize("act", ["fp16", "int8"])
def test_fp16_edges_tables(act: str) -> None:
    """The fp16 edge tables of the testbenches: every weight x edge activation x edge scale."""
    w, a, s = (x.ravel() for x in np.meshgrid(np.arange(16), FP16_EDGES, SCALE_EDGES,
                                               indexing="ij"))
    z = np.where(np.arange(len(w)) % 3 == 0, 0x81, 0)
    for out in ("float32", "float16"):
        got = ref.shift_add_pe_batch(w, a, s, z, k=4, act=act, group=128, out=out)
        want = [ref.shift_add_pe([x], [y], [u], [v], k=4, act=act, group=128, out=out)
                for x, y, u, v in zip(w, a, s, z, strict=True)]
        assert got.tolist() == want
        got = ref.fp16_mac_pe_batch(w, a, s, z, k=4, out=out)
        want = [ref.fp16_mac_pe([x], [y], [u], [v], k=4, out=out)
                for x, y, u, v in zip(w, a, s, z, strict=True)]
        assert got.tolist() == want


def test_posit16_random_singles() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 1 << 16, (2, 4000))
    modes = np.full(len(a), 3)
    for out in ref.OUT_FORMATS:
        want = [ref.multiformat_mac("p16x1", [int(x)], [int(y)], out=out)
                for x, y in zip(a, b, strict=True)]
        assert ref.multiformat_mac_batch(modes, a, b, out=out).tolist() == want


# ----------------------------------------------------------------------------- sequences


@pytest.mark.parametrize("out", ref.OUT_FORMATS)
def test_multiformat_sequences(out: str) -> None:
    """Mixed modes within and between sequences, cancellations, NaR-free and NaR sequences."""
    rng = np.random.default_rng(11)
    lengths = _lengths(rng, 24)
    n = sum(lengths)
    last = _lasts(rng, lengths)
    modes = rng.integers(0, 4, n)
    single = np.repeat(rng.integers(0, 4, len(lengths)), lengths)
    modes = np.where(np.repeat(np.arange(len(lengths)) % 2 == 0, lengths), single, modes)
    a, b = rng.integers(0, 1 << 16, (2, n))
    b = np.where(np.repeat(np.arange(len(lengths)) % 3 == 1, lengths), (-a) & 0xFFFF, b)
    a = np.where((a == 0x8000) & (rng.random(n) < 0.9), 0, a)
    got = ref.multiformat_mac_batch(modes, a, b, last, out=out)
    got_sep = ref.separate_macs_mac_batch(modes, a, b, last, out=out)
    for j, (m, x, y) in enumerate(zip(_split(modes, last), _split(a, last), _split(b, last),
                                      strict=True)):
        names = [ref.MODES[int(q)] for q in m]
        assert int(got[j]) == ref.multiformat_mac(names, x.tolist(), y.tolist(), out=out), j
        assert int(got_sep[j]) == ref.separate_macs_mac(names, x.tolist(), y.tolist(),
                                                        out=out), j


def test_multiformat_quire_wraps_like_the_scalar_model() -> None:
    """Sequences of maxpos**2 products reach the quire's wrap-around (slow exact path)."""
    n = 50_000  # 40,000 * 2**56 >= 2**71: the 128-bit quire (LSB 2**-56) wraps
    a = np.full(n, 0x7FFF)
    modes = np.full(n, 3)
    last = np.zeros(n, bool)
    last[[9_999, n - 1]] = True
    for out in ref.OUT_FORMATS:
        got = ref.multiformat_mac_batch(modes, a, a, last, out=out).tolist()
        want = [ref.multiformat_mac("p16x1", [0x7FFF] * m, [0x7FFF] * m, out=out)
                for m in (10_000, 40_000)]
        assert got == want
    assert want[1] != ref.multiformat_mac("p16x1", [0x7FFF], [0x7FFF], out=out)


@pytest.mark.parametrize("k,act,group,out,ternary", [
    (4, "int8", 128, "float32", False), (4, "fp16", 128, "float32", False),
    (8, "fp16", 32, "float16", False), (2, "int8", 4, "float16", True),
    (3, "fp16", 4096, "float32", False)])
def test_shift_add_sequences(k: int, act: str, group: int, out: str, ternary: bool) -> None:
    rng = np.random.default_rng(k + group)
    lengths = _lengths(rng, 20, min(group, 512))
    n = sum(lengths)
    last = _lasts(rng, lengths)
    w = rng.integers(0, 1 << k, n)
    if act == "int8":
        a = rng.integers(0, 256, n)
    else:
        a = rng.integers(0, 1 << 16, n) & np.where(rng.random(n) < 0.998, 0xBFFF, 0xFFFF)
    big = np.repeat(np.arange(len(lengths)) % 4 == 3, lengths)
    s = np.where(big, rng.integers(0x7000, 0x7C00, n), rng.integers(0, 0x7C00, n))
    s |= rng.integers(0, 2, n) << 15
    z = np.where(rng.random(n) < 0.5, rng.integers(0, 256, n), 0)
    got = ref.shift_add_pe_batch(w, a, s, z, last, k=k, act=act, group=group, out=out,
                                 ternary=ternary)
    for j, (x, y, u, v) in enumerate(zip(*(_split(c, last) for c in (w, a, s, z)),
                                         strict=True)):
        assert int(got[j]) == ref.shift_add_pe(x, y, u, v, k=k, act=act, group=group,
                                               out=out, ternary=ternary), j


@pytest.mark.parametrize("out", ["float32", "float16"])
def test_baseline_sequences(out: str) -> None:
    rng = np.random.default_rng(5)
    lengths = _lengths(rng, 20)
    n = sum(lengths)
    last = _lasts(rng, lengths)
    w, z, sm = rng.integers(0, 256, (3, n))
    a8 = rng.integers(0, 256, n)
    ts = rng.integers(0, 0x7C00, n) | (rng.integers(0, 2, n) << 15)
    a16 = rng.integers(0, 1 << 16, n) & np.where(rng.random(n) < 0.995, 0xBFFF, 0xFFFF)
    s = rng.integers(0, 0x6000, n) | (rng.integers(0, 2, n) << 15)
    dq = ref.dequant_first_pe_batch(w, a8, sm, z, ts, last, k=8, out=out)
    fm = ref.fp16_mac_pe_batch(w, a16, s, z, last, k=8, out=out)
    cols = [_split(c, last) for c in (w, a8, sm, z, ts, a16, s)]
    for j, (x, y, m, v, t, y16, u) in enumerate(zip(*cols, strict=True)):
        assert int(dq[j]) == ref.dequant_first_pe(x, y, m, v, t, k=8, out=out), j
        assert int(fm[j]) == ref.fp16_mac_pe(x, y16, u, v, k=8, out=out), j


def test_dequant_first_accumulator_wraps() -> None:
    n = 200_000  # 127 * 127 * 2e5 > 2**31: the int32 accumulator wraps
    w, a = np.full(n, 7), np.full(n, 127)
    z, sm, ts = np.zeros(n, int), np.full(n, 18), np.full(n, 0x3C00)
    last = np.zeros(n, bool)
    last[-1] = True
    got = ref.dequant_first_pe_batch(w, a, sm, z, ts, last, k=4, out="float32")
    assert int(got[0]) == ref.dequant_first_pe(w, a, sm, z, ts, k=4, out="float32")


def test_batch_input_errors() -> None:
    with pytest.raises(FormatError, match="final item must end a sequence"):
        ref.multiformat_mac_batch([0, 0], [1, 2], [3, 4], [True, False], out="float32")
    with pytest.raises(FormatError, match="mode codes"):
        ref.multiformat_mac_batch([4], [1], [3], out="float32")
    with pytest.raises(FormatError, match="out must be one of"):
        ref.separate_macs_mac_batch([0], [1], [3], out="posit8_es0")
