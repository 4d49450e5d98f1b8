"""Write examples/traces/synthetic_conv.jsonl: a small synthetic conversation trace.

No third-party data: 200 requests, Poisson arrivals at 4 requests/s, prompt lengths lognormal
(median 1024 tokens, sigma 0.6, capped at 4096) and output lengths lognormal (median 256,
sigma 0.6, capped at 2048), seed 2026. Run ``python examples/traces/make_synthetic.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mixforge.workloads.serving.arrivals import LengthDist, synthetic_requests
from mixforge.workloads.serving.traces import write_trace


def main() -> None:
    rng = np.random.default_rng(2026)
    reqs = synthetic_requests(200, 4.0, LengthDist("lognormal", 1024, 0.6, 4096),
                              LengthDist("lognormal", 256, 0.6, 2048), rng)
    out = write_trace(reqs, Path(__file__).with_name("synthetic_conv.jsonl"), "jsonl")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
