"""``mixforge sim serve``: serve a request stream on a device, print the summary, write files.

Only argparse wiring is imported at module import time; NumPy and the simulator load in the
handler.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "cmd_serve"]

DEFAULT_PROMPT = "lognormal:1024:0.6:4096"
DEFAULT_OUTPUT = "lognormal:256:0.6:2048"


def register(subparsers: dict[str, Any]) -> None:
    """Add ``serve`` under the ``mixforge sim`` command."""
    p = subparsers["sim"].add_parser(
        "serve", help="simulate serving a request stream (continuous batching, MoE, PIM)",
        description="Serve requests (Poisson/Gamma arrivals or a trace file) on the device "
                    "of --hw with continuous batching over a paged KV cache; every "
                    "iteration's cost comes from the model's op graph on the cycle-level "
                    "simulator. Prints throughput, TTFT/TBT/e2e percentiles, goodput, energy "
                    "per token, unit shares and KV occupancy.")
    g = p.add_argument_group("device and model")
    g.add_argument("--hw", required=True, metavar="YAML", help="hardware description")
    g.add_argument("--model", required=True, metavar="NAME|config.json",
                   help="zoo model name or a Hugging Face config.json")
    g.add_argument("--quant", default="fp16", metavar="RECIPE",
                   help="quantization recipe name or YAML (default fp16)")
    g.add_argument("--dispatch", default="duplex",
                   choices=("duplex", "threshold", "best", "xpu", "pim"),
                   help="per-op unit choice: duplex = Op/B threshold plus co-processing of "
                        "experts and attention on xPU and PIM (default); xpu = xPU only")
    g.add_argument("--kv-bucket", type=int, default=256, metavar="TOKENS",
                   help="simulate decode attention at KV-length multiples of TOKENS and "
                        "interpolate (0 = exact; default 256)")
    a = p.add_argument_group("requests")
    a.add_argument("--rate", type=float, default=None, help="arrivals per second (Poisson)")
    a.add_argument("--cv", type=float, default=1.0,
                   help="burstiness: coefficient of variation of Gamma inter-arrival gaps "
                        "(1 = Poisson)")
    a.add_argument("--requests", type=int, default=1000, help="number of requests")
    a.add_argument("--trace", metavar="FILE", default=None,
                   help="trace file (Azure CSV, Vidur CSV or JSONL; detected by header) "
                        "instead of --rate")
    a.add_argument("--prompt-len", default=DEFAULT_PROMPT, metavar="DIST",
                   help=f"N, uniform:LO:HI or lognormal:MEDIAN:SIGMA[:CAP] "
                        f"(default {DEFAULT_PROMPT})")
    a.add_argument("--output-len", default=DEFAULT_OUTPUT, metavar="DIST",
                   help=f"as --prompt-len (default {DEFAULT_OUTPUT})")
    a.add_argument("--seed", type=int, default=0, help="seed of arrivals, lengths, routing")
    s = p.add_argument_group("scheduler")
    s.add_argument("--max-batch", type=int, default=128, help="most running requests")
    s.add_argument("--max-batched-tokens", type=int, default=8192,
                   help="tokens per iteration (decodes + prefill)")
    s.add_argument("--prefill-chunk", type=int, default=0,
                   help="chunked prefill: prompt tokens per request per iteration (0 = off)")
    s.add_argument("--block-size", type=int, default=16, help="tokens per KV block")
    s.add_argument("--preemption", choices=("recompute", "swap"), default="recompute")
    s.add_argument("--kv-capacity-tokens", type=int, default=0,
                   help="override the KV capacity derived from device memory")
    m = p.add_argument_group("MoE")
    m.add_argument("--routing", default="uniform", metavar="uniform|zipf:S|trace:CSV",
                   help="expert popularity (trace CSV: layer,expert,count)")
    m.add_argument("--expert-parallel", default="serial", choices=("serial", "parallel"),
                   help="experts one after another on the device (serial; co-processed on xPU "
                        "and PIM with --dispatch duplex), or expert parallelism: each expert on "
                        "its own identical device, the slowest bounds the layer (all-to-all "
                        "not modelled)")
    m.add_argument("--hot-experts", type=int, default=0, metavar="N",
                   help="HOBBIT-like: N hot experts per layer in the recipe's hot format, the "
                        "rest in its cold format; switching an expert loads its weights")
    o = p.add_argument_group("output")
    o.add_argument("--slo-ttft", type=float, default=2.0, help="goodput SLO on TTFT (s)")
    o.add_argument("--slo-tbt", type=float, default=0.1, help="goodput SLO on TPOT (s)")
    o.add_argument("--json", metavar="OUT", help="write the summary as JSON")
    o.add_argument("--csv", metavar="OUT", help="write one row per request")
    o.add_argument("--trace-out", metavar="OUT",
                   help="write a Chrome-trace JSON timeline (open in Perfetto)")
    o.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_serve)


def _requests(args: argparse.Namespace) -> Any:
    import numpy as np

    from mixforge.errors import ConfigError
    from mixforge.workloads.serving.arrivals import parse_length_dist, synthetic_requests
    from mixforge.workloads.serving.traces import read_trace

    if args.trace:
        if args.rate is not None:
            raise ConfigError("give --rate or --trace, not both", path="--trace")
        return read_trace(args.trace, limit=args.requests)
    if args.rate is None:
        raise ConfigError("give an arrival rate (--rate) or a trace file (--trace)",
                          path="--rate")
    rng = np.random.default_rng([args.seed, 0])
    return synthetic_requests(args.requests, args.rate,
                              parse_length_dist(args.prompt_len, path="--prompt-len"),
                              parse_length_dist(args.output_len, path="--output-len"), rng,
                              cv=args.cv)


def cmd_serve(args: argparse.Namespace) -> int:
    """Handler of ``mixforge sim serve``; library errors propagate to ``cli.main`` (exit 2)."""
    import time

    from mixforge.workloads.serving.cost import SimCost
    from mixforge.workloads.serving.engine import ServeConfig, simulate
    from mixforge.workloads.serving.metrics import Slo, summarize, timeline
    from mixforge.workloads.serving.output import (
        render_table,
        write_chrome_trace,
        write_csv,
        write_json,
    )
    from mixforge.workloads.serving.routing import parse_routing

    reqs = _requests(args)
    cfg = ServeConfig(max_batch=args.max_batch, max_batched_tokens=args.max_batched_tokens,
                      prefill_chunk=args.prefill_chunk, block_size=args.block_size,
                      preemption=args.preemption, kv_capacity_tokens=args.kv_capacity_tokens)
    cost = SimCost.build(hw=args.hw, model=args.model, quant=args.quant,
                         dispatch=args.dispatch, kv_bucket=args.kv_bucket,
                         routing=parse_routing(args.routing), seed=args.seed,
                         expert_parallel=args.expert_parallel, hot_experts=args.hot_experts,
                         max_tokens=max(args.max_batched_tokens, args.max_batch),
                         max_seqs=args.max_batch)
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(reqs), unit="req", delay=1.0, leave=False,
                   desc="serving", dynamic_ncols=True)

    def progress(done: int, now: float) -> None:
        if bar is not None:
            bar.update(done - bar.n)
            bar.set_postfix_str(f"t={now:,.1f}s", refresh=False)

    t0 = time.perf_counter()
    run = simulate(reqs, cost, cfg, progress=progress)
    wall = time.perf_counter() - t0
    if bar is not None:
        bar.close()
    summary = summarize(run, Slo(ttft_s=args.slo_ttft, tbt_s=args.slo_tbt))
    summary["cost"] = cost.describe()
    summary["scheduler"] = {k: getattr(cfg, k) for k in cfg.__dataclass_fields__}
    summary["timeline"] = timeline(run)
    summary["setup"] = (f"{cost.describe()['model']} / {args.quant} on "
                        f"{cost.describe()['device']} (dispatch {args.dispatch})")
    # the files hold no wall-clock figure: the same seed gives bit-identical --json / --csv
    print(render_table(summary))
    print(f"wall      {wall:.1f} s to simulate")
    if args.json:
        print(f"wrote {write_json(summary, args.json)}")
    if args.csv:
        print(f"wrote {write_csv(run, args.csv)}")
    if args.trace_out:
        print(f"wrote {write_chrome_trace(run, args.trace_out)}")
    return 0
