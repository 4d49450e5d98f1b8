"""Request sets and synthetic arrivals: Poisson, Gamma (burstiness CV), lengths from a distribution.

A :class:`Requests` is a struct of arrays sorted by arrival time (the engine's input). Every
generator takes a ``numpy.random.Generator``; nothing touches the global RNG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from mixforge.errors import ConfigError

__all__ = ["Requests", "LengthDist", "parse_length_dist", "poisson_times", "gamma_times",
           "synthetic_requests"]


@dataclass(frozen=True, eq=False)
class Requests:
    """``n`` requests: arrival time (s), prompt tokens, output tokens (>= 1, the first token
    comes from the prefill). Sorted by arrival; ``ids`` are 0..n-1 in that order."""

    arrival_s: np.ndarray
    prompt: np.ndarray
    output: np.ndarray
    source: str = "synthetic"

    def __post_init__(self) -> None:
        a = np.asarray(self.arrival_s, dtype=np.float64)
        p = np.asarray(self.prompt, dtype=np.int64)
        o = np.asarray(self.output, dtype=np.int64)
        if not (a.shape == p.shape == o.shape) or a.ndim != 1:
            raise ConfigError("arrival_s, prompt and output must be 1-D arrays of one length",
                              path="requests")
        if a.size and (np.any(np.diff(a) < 0) or a[0] < 0 or not np.all(np.isfinite(a))):
            raise ConfigError("arrival times must be finite, >= 0 and sorted",
                              path="requests.arrival_s")
        if np.any(p < 1):
            raise ConfigError("prompt lengths must be >= 1", path="requests.prompt")
        if np.any(o < 1):
            raise ConfigError("output lengths must be >= 1", path="requests.output")
        object.__setattr__(self, "arrival_s", a)
        object.__setattr__(self, "prompt", p)
        object.__setattr__(self, "output", o)

    def __len__(self) -> int:
        return int(self.arrival_s.size)

    def head(self, n: int) -> Requests:
        """The first ``n`` requests."""
        return Requests(self.arrival_s[:n], self.prompt[:n], self.output[:n], self.source)


@dataclass(frozen=True)
class LengthDist:
    """A token-length distribution.

    ``fixed``: always ``a``. ``uniform``: integers in ``[a, b]``. ``lognormal``: median ``a``,
    log-space sigma ``b``, clipped to ``[1, cap]`` (``cap=0``: no cap) -- the usual shape of
    conversation prompt and answer lengths.
    """

    kind: Literal["fixed", "uniform", "lognormal"]
    a: float
    b: float = 0.0
    cap: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("fixed", "uniform", "lognormal"):
            raise ConfigError(f"unknown length distribution {self.kind!r} (fixed, uniform, "
                              "lognormal)", path="kind")
        if self.a < 1 or (self.kind == "uniform" and self.b < self.a) \
                or (self.kind == "lognormal" and self.b < 0) or self.cap < 0:
            raise ConfigError(f"bad parameters for {self.kind}: a={self.a}, b={self.b}, "
                              f"cap={self.cap}", path=self.kind)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` lengths (int64, >= 1)."""
        if self.kind == "fixed":
            x = np.full(n, round(self.a), dtype=np.int64)
        elif self.kind == "uniform":
            x = rng.integers(round(self.a), round(self.b) + 1, size=n, dtype=np.int64)
        else:
            x = np.rint(self.a * np.exp(self.b * rng.standard_normal(n))).astype(np.int64)
        x = np.maximum(x, 1)
        return np.minimum(x, self.cap) if self.cap else x

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"{self.a:g}"
        tail = f":{self.cap}" if self.cap else ""
        return f"{self.kind}:{self.a:g}:{self.b:g}{tail}"


def parse_length_dist(text: str, *, path: str = "length") -> LengthDist:
    """``"512"``, ``"uniform:256:4096"`` or ``"lognormal:MEDIAN:SIGMA[:CAP]"``."""
    parts = text.split(":")
    try:
        if len(parts) == 1:
            return LengthDist("fixed", float(int(parts[0])))
        nums = [float(x) for x in parts[1:]]
        if parts[0] == "uniform" and len(nums) == 2:
            return LengthDist("uniform", nums[0], nums[1])
        if parts[0] == "lognormal" and len(nums) in (2, 3):
            return LengthDist("lognormal", nums[0], nums[1], int(nums[2]) if len(nums) == 3
                              else 0)
    except ValueError:
        pass
    except ConfigError as exc:
        raise ConfigError(exc.detail, path=path) from None
    raise ConfigError(f"expected N, uniform:LO:HI or lognormal:MEDIAN:SIGMA[:CAP], not {text!r}",
                      path=path)


def poisson_times(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival times of a Poisson process of ``rate`` requests/s (first arrival after one gap)."""
    if not rate > 0:
        raise ConfigError(f"must be > 0, not {rate}", path="rate")
    return np.cumsum(rng.exponential(1.0 / rate, size=n))


def gamma_times(n: int, rate: float, cv: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival times with Gamma inter-arrival gaps: mean ``1/rate``, coefficient of variation
    ``cv`` (1 = Poisson, > 1 bursty, < 1 regular); shape ``1/cv**2``."""
    if not rate > 0:
        raise ConfigError(f"must be > 0, not {rate}", path="rate")
    if not cv > 0:
        raise ConfigError(f"must be > 0, not {cv}", path="cv")
    shape = 1.0 / (cv * cv)
    return np.cumsum(rng.gamma(shape, 1.0 / (rate * shape), size=n))


def synthetic_requests(n: int, rate: float, prompt: LengthDist, output: LengthDist,
                       rng: np.random.Generator, *, cv: float = 1.0) -> Requests:
    """``n`` requests at ``rate``/s (Poisson when ``cv == 1``, else Gamma), lengths drawn from
    ``prompt`` and ``output`` (in that order after the arrival gaps, for reproducibility)."""
    if n < 1:
        raise ConfigError(f"must be >= 1, not {n}", path="requests")
    times = poisson_times(n, rate, rng) if cv == 1.0 else gamma_times(n, rate, cv, rng)
    src = f"{'poisson' if cv == 1.0 else f'gamma(cv={cv:g})'} {rate:g}/s, prompt {prompt}, " \
          f"output {output}"
    return Requests(times, prompt.sample(n, rng), output.sample(n, rng), src)
