"""Quantization recipes: which number format each tensor class uses (YAML, validated).

A recipe gives a :class:`TensorQuant` (format, group size, scale format) per weight class
(``attention``, ``mlp``, ``experts``, ``shared_experts``, ``router``, ``embedding``,
``lm_head``), the activation format, the KV-cache format (optionally a fraction of tokens at a
higher precision, MiKV-style), hot-expert formats (HOBBIT-style) and per-layer / per-expert
overrides. Group-wise and MX block formats count their scale bits: MXFP4 (FP4 elements, one
8-bit E8M0 scale per 32) is 4.25 bits per element. Shipped recipes are in ``recipes/*.yaml``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from mixforge.config import from_dict, load_yaml
from mixforge.errors import ConfigError, FormatError
from mixforge.models.formats import get_format

__all__ = ["TensorQuant", "KvQuant", "WeightRecipe", "Override", "Recipe", "load_recipe",
           "recipe_names", "RECIPE_DIR", "SCALE_E8M0"]

RECIPE_DIR = Path(__file__).resolve().parent / "recipes"
#: OCP MX shared scale: an 8-bit power of two (E8M0). It is stored as one byte, which is what
#: the simulator needs to know, so it is simulated as ``uint8``.
SCALE_E8M0 = "e8m0"


def _fmt(name: str, path: str) -> str:
    try:
        return get_format(name).name
    except FormatError as exc:
        raise ConfigError(str(exc), path=path) from None


@dataclass(frozen=True)
class TensorQuant:
    """Storage format of one tensor class.

    Parameters
    ----------
    format
        Element format (any ``NumberFormat`` name of models/).
    group_size
        Elements sharing one scale along the reduction dimension (0 = per-tensor / none).
    scale_format
        Format of each group's scale: a ``NumberFormat`` name or ``e8m0`` (MX, 8 bits).
    """

    format: str = "float16"
    group_size: int = 0
    scale_format: str = "float16"

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", _fmt(self.format, "format"))
        if self.scale_format != SCALE_E8M0:
            object.__setattr__(self, "scale_format", _fmt(self.scale_format, "scale_format"))
        if self.group_size < 0:
            raise ConfigError(f"must be >= 0, not {self.group_size}", path="group_size")

    @property
    def scale_bits(self) -> int:
        return 8 if self.scale_format == SCALE_E8M0 else get_format(self.scale_format).bits

    @property
    def sim_scale_format(self) -> str:
        """Scale format name the simulator understands (E8M0 is one byte: ``uint8``)."""
        return "uint8" if self.scale_format == SCALE_E8M0 else self.scale_format

    @property
    def bits_per_elem(self) -> float:
        """Element bits plus scale bits per element (MXFP4: 4 + 8/32 = 4.25)."""
        extra = self.scale_bits / self.group_size if self.group_size else 0.0
        return get_format(self.format).bits + extra

    def bytes_for(self, rows_k: int, cols: int) -> int:
        """Bytes of a ``rows_k x cols`` matrix grouped along ``rows_k`` (scales included)."""
        bits = rows_k * cols * get_format(self.format).bits
        if self.group_size:
            bits += math.ceil(rows_k / self.group_size) * cols * self.scale_bits
        return math.ceil(bits / 8)


_FP16 = TensorQuant()


@dataclass(frozen=True)
class KvQuant:
    """KV-cache storage: ``format``, and ``high_fraction`` of the tokens in ``high_format``
    (MiKV keeps the important tokens at high precision; 0 = all tokens in ``format``)."""

    format: str = "float16"
    high_format: str = "float16"
    high_fraction: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", _fmt(self.format, "format"))
        object.__setattr__(self, "high_format", _fmt(self.high_format, "high_format"))
        if not 0.0 <= self.high_fraction <= 1.0:
            raise ConfigError(f"must be in [0, 1], not {self.high_fraction}",
                              path="high_fraction")

    @property
    def bits_per_elem(self) -> float:
        lo, hi = get_format(self.format).bits, get_format(self.high_format).bits
        return hi * self.high_fraction + lo * (1 - self.high_fraction)


@dataclass(frozen=True)
class WeightRecipe:
    """Weight formats per tensor class; unset classes use ``default`` (``embedding``,
    ``lm_head`` and ``router`` use float16 unless set, as GPTQ/AWQ/MX checkpoints do)."""

    default: TensorQuant = _FP16
    attention: TensorQuant | None = None
    mlp: TensorQuant | None = None
    experts: TensorQuant | None = None
    shared_experts: TensorQuant | None = None
    router: TensorQuant | None = None
    embedding: TensorQuant | None = None
    lm_head: TensorQuant | None = None
    hot_experts: TensorQuant | None = None
    hot_fraction: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.hot_fraction <= 1.0:
            raise ConfigError(f"must be in [0, 1], not {self.hot_fraction}", path="hot_fraction")
        if self.hot_fraction and self.hot_experts is None:
            raise ConfigError("hot_fraction needs hot_experts (their format)", path="hot_experts")

    def get(self, cls: str) -> TensorQuant:
        """Format of tensor class ``cls``."""
        v = getattr(self, cls)
        if v is not None:
            return v
        return _FP16 if cls in ("router", "embedding", "lm_head") else self.default


@dataclass(frozen=True)
class Override:
    """Formats for some layers (``layers``, empty = all) and experts (``experts``, empty = all
    of the selected layers); unset classes keep the recipe's."""

    layers: tuple[int, ...] = ()
    experts: tuple[int, ...] = ()
    attention: TensorQuant | None = None
    mlp: TensorQuant | None = None
    experts_format: TensorQuant | None = None
    shared_experts: TensorQuant | None = None


@dataclass(frozen=True)
class Recipe:
    """A quantization recipe (see module docstring).

    ``dequantize``: when the device has no PE mode for an op's (weight, activation) formats,
    the weights are dequantized to the nearest native format first (its cost is simulated as a
    separate op); ``False`` makes such an op an error naming it.
    """

    name: str
    description: str = ""
    source: str = ""
    weights: WeightRecipe = field(default_factory=WeightRecipe)
    activations: str = "float16"
    kv_cache: KvQuant = field(default_factory=KvQuant)
    dequantize: bool = True
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "activations", _fmt(self.activations, "activations"))

    def weight(self, cls: str, layer: int | None = None, expert: int | None = None,
               hot: bool = False) -> TensorQuant:
        """Format of weight class ``cls`` in ``layer`` (and routed ``expert``), overrides
        applied last-wins; ``hot`` experts use ``weights.hot_experts``."""
        q = self.weights.get(cls)
        if cls == "experts" and hot and self.weights.hot_experts is not None:
            q = self.weights.hot_experts
        key = "experts_format" if cls == "experts" else cls
        for ov in self.overrides:
            if ov.layers and (layer is None or layer not in ov.layers):
                continue
            if cls == "experts" and ov.experts and (expert is None or expert not in ov.experts):
                continue
            v = getattr(ov, key, None)
            if v is not None:
                q = v
        return q


def recipe_names() -> list[str]:
    """Names of the shipped recipes."""
    return sorted(p.stem for p in RECIPE_DIR.glob("*.yaml"))


def load_recipe(name_or_path: str | Path) -> Recipe:
    """A shipped recipe by name, or a recipe YAML file by path."""
    p = Path(name_or_path)
    if not p.suffix:
        cand = RECIPE_DIR / f"{name_or_path}.yaml"
        if not cand.exists():
            raise ConfigError(f"unknown recipe {str(name_or_path)!r} (shipped: "
                              f"{', '.join(recipe_names())}; or give a YAML path)",
                              path="--quant")
        p = cand
    data = load_yaml(p)
    return from_dict(Recipe, data, file=str(p))
