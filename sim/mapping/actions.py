"""Action counts of one op on one unit: what the energy tables are multiplied with."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ActionCounts"]


@dataclass(frozen=True)
class ActionCounts:
    """Countable hardware actions.

    Parameters
    ----------
    macs
        ``((w_format, a_format, count), ...)``: multiply-accumulates per PE mode.
    vector_ops
        Vector-unit operations (softmax, norms, activations, top-k, dequantization).
    sram_weight_bits, sram_input_bits, sram_output_bits
        Bits read + written in each buffer.
    sram_l2_bits
        Bits read from the shared L2 (operand tiles served on chip instead of by DRAM).
    dram_bits
        Bits moved over the xPU's HBM pins (reads + writes).
    pim_dram_bits, bank_pim_dram_bits
        Bits read by logic-PIM / bank-PIM units inside the memory.
    row_activations
        DRAM row activations.
    """

    macs: tuple[tuple[str, str, int], ...] = ()
    vector_ops: int = 0
    sram_weight_bits: int = 0
    sram_input_bits: int = 0
    sram_output_bits: int = 0
    sram_l2_bits: int = 0
    dram_bits: int = 0
    pim_dram_bits: int = 0
    bank_pim_dram_bits: int = 0
    row_activations: int = 0

    @property
    def total_macs(self) -> int:
        return sum(c for _, _, c in self.macs)

    def __add__(self, other: ActionCounts) -> ActionCounts:
        merged: dict[tuple[str, str], int] = {}
        for w, a, c in (*self.macs, *other.macs):
            merged[(w, a)] = merged.get((w, a), 0) + c
        return ActionCounts(
            macs=tuple((w, a, c) for (w, a), c in merged.items()),
            vector_ops=self.vector_ops + other.vector_ops,
            sram_weight_bits=self.sram_weight_bits + other.sram_weight_bits,
            sram_input_bits=self.sram_input_bits + other.sram_input_bits,
            sram_output_bits=self.sram_output_bits + other.sram_output_bits,
            sram_l2_bits=self.sram_l2_bits + other.sram_l2_bits,
            dram_bits=self.dram_bits + other.dram_bits,
            pim_dram_bits=self.pim_dram_bits + other.pim_dram_bits,
            bank_pim_dram_bits=self.bank_pim_dram_bits + other.bank_pim_dram_bits,
            row_activations=self.row_activations + other.row_activations,
        )
