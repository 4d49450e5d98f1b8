"""Pure-Python specs of every generator (no Amaranth import).

sim/ imports these, never the Amaranth components, so the simulator runs without the RTL stack and
the simulator and the RTL can never disagree about what a design is or how long it takes.
"""

from mixforge.hw.specs.array import ArraySpec, Dataflow, FoldTiming
from mixforge.hw.specs.pim import PimSpec
from mixforge.hw.specs.vocab import CELL_FAMILY, PE_LIBRARY, CellKind, PeFamily

__all__ = ["ArraySpec", "Dataflow", "FoldTiming", "PimSpec", "CellKind", "PeFamily",
           "CELL_FAMILY", "PE_LIBRARY"]
