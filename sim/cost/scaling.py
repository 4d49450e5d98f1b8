"""Technology-node scaling of the per-action energy tables.

Every built-in table entry of :mod:`mixforge.sim.cost.tables` is a 45-nm figure from [H14];
:func:`node_factor` scales it to the device's node (``energy.node_nm``) by the entry's own kind,
because logic, small SRAMs and large SRAMs shrink very differently:

[J21]  N. P. Jouppi et al., "Ten Lessons From Three Generations Shaped Google's TPUv4i",
       ISCA 2021, Table 2: Horowitz's 45-nm operation energies re-measured at 7 nm (pJ):
       INT8 add 0.03 -> 0.007, INT32 add 0.1 -> 0.03, FP16 add 0.4 -> 0.16, FP32 add 0.9 ->
       0.38, INT8 mult 0.2 -> 0.07, INT32 mult 3.1 -> 1.48, FP16 mult 1.1 -> 0.34, FP32 mult
       3.7 -> 1.31; 64-bit SRAM read 8 KB 10 -> 7.5, 32 KB 20 -> 8.5, 1 MB 100 -> 14.
[N5]   TSMC N5 technology page: N5 gives "30% power reduction" at the same speed vs N7 (4N, the
       H100's node, is an N5-family process).

Method: a factor per entry kind, ``f(45) = 1`` and ``f(7)`` = the [J21] ratio; nodes between
are interpolated geometrically in the node (``f = f7 ** (ln(45/n) / ln(45/7))``); 5-nm-class
nodes apply [N5]'s 0.7 on top of 7 nm (geometric between 7 and 5); nodes below 5 nm use the
5-nm factor (later gains not modelled: conservative). Nodes above 45 nm are out of the data's
range (``ConfigError``). DRAM energies (per bit on the HBM interface, [DPX]) and activation
energies are DRAM-process figures and are not scaled; leakage per transistor ([PET], 130 nm) is
not scaled either. Values a YAML gives explicitly (``e_mac_pj``, DRAM energies, measured MACs)
are taken as they are, at the device's node.
"""

from __future__ import annotations

import math

from mixforge.errors import ConfigError

__all__ = ["J21_RATIO_7NM", "N5_VS_N7", "node_factor", "sram_points"]

#: [J21] 7-nm / 45-nm energy ratio of each entry kind.
J21_RATIO_7NM: dict[str, float] = {
    "int8_add": 0.007 / 0.03,
    "int32_add": 0.03 / 0.1,
    "fp16_add": 0.16 / 0.4,
    "fp32_add": 0.38 / 0.9,
    "int8_mul": 0.07 / 0.2,
    "int32_mul": 1.48 / 3.1,
    "fp16_mul": 0.34 / 1.1,
    "fp32_mul": 1.31 / 3.7,
    "sram_8k": 7.5 / 10.0,
    "sram_32k": 8.5 / 20.0,
    "sram_1m": 14.0 / 100.0,
}
#: [N5] power at the same speed, N5 vs N7.
N5_VS_N7 = 0.7


def node_factor(kind: str, node_nm: float) -> float:
    """Energy of an entry of ``kind`` at ``node_nm`` relative to its 45-nm [H14] value."""
    if kind not in J21_RATIO_7NM:
        raise ConfigError(f"no scaling data for {kind!r} (known: {', '.join(J21_RATIO_7NM)})")
    if not 0 < node_nm <= 45:
        raise ConfigError(f"must be in (0, 45] nm (the scaling data span 45 to 5 nm), not "
                          f"{node_nm!r}", path="energy.node_nm")
    r7 = J21_RATIO_7NM[kind]
    if node_nm >= 7:
        return float(r7 ** (math.log(45 / node_nm) / math.log(45 / 7)))
    n = max(node_nm, 5.0)
    return float(r7 * N5_VS_N7 ** (math.log(7 / n) / math.log(7 / 5)))


def sram_points(node_nm: float) -> tuple[tuple[int, float], ...]:
    """[H14]'s 64-bit SRAM read points (capacity bytes, pJ) scaled to ``node_nm``."""
    return ((8 * 1024, 10.0 * node_factor("sram_8k", node_nm)),
            (32 * 1024, 20.0 * node_factor("sram_32k", node_nm)),
            (1024 * 1024, 100.0 * node_factor("sram_1m", node_nm)))
