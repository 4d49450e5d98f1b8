"""``mixforge zoo list|show`` and ``mixforge sim model``.

Only argparse wiring runs at import time; the handlers import the simulator.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "cmd_zoo_list", "cmd_zoo_show", "cmd_sim_model"]


def register(subparsers: dict[str, Any]) -> None:
    """Add ``zoo list``, ``zoo show`` and ``sim model``."""
    zl = subparsers["zoo"].add_parser("list", help="list the shipped models",
                                      description="List the shipped models with their layers "
                                                  "and total / active parameters.")
    zl.set_defaults(func=cmd_zoo_list)
    zs = subparsers["zoo"].add_parser(
        "show", help="describe one model (or any config.json)",
        description="Layers, parameters by tensor class, and weight bytes per shipped recipe.")
    zs.add_argument("model", metavar="NAME|PATH", help="zoo name or Hugging Face config.json")
    zs.set_defaults(func=cmd_zoo_show)

    p = subparsers["sim"].add_parser(
        "model", help="simulate one prefill or decode step of a model",
        description="Simulate one step of MODEL quantized with RECIPE on the device --hw: time, "
                    "tokens/s, energy per token, bound and share per op class, memory fit.")
    p.add_argument("--hw", required=True, metavar="YAML", help="hardware description")
    p.add_argument("--model", required=True, metavar="NAME|PATH",
                   help="zoo name (mixforge zoo list) or a config.json")
    p.add_argument("--quant", default="fp16", metavar="RECIPE|YAML",
                   help="quantization recipe name or YAML (default fp16)")
    p.add_argument("--phase", choices=("prefill", "decode"), default="decode")
    p.add_argument("--batch", type=int, default=1, help="sequences per step")
    p.add_argument("--kv", type=int, default=0, metavar="N",
                   help="decode: KV-cache length attended to (incl. the new token)")
    p.add_argument("--prompt", type=int, default=0, metavar="N", help="prefill: prompt length")
    p.add_argument("--routing", default="uniform", metavar="uniform|zipf:S|c1,c2,...",
                   help="MoE tokens per expert: uniform, Zipf with exponent S, or counts")
    p.add_argument("--dispatch", choices=("threshold", "best", "xpu", "pim"),
                   default="threshold", help="xPU / PIM dispatch policy")
    p.add_argument("--json", metavar="OUT", help="also write the result as JSON")
    p.set_defaults(func=cmd_sim_model)


def _params(x: int) -> str:
    return f"{x / 1e9:,.2f}B" if x >= 1e9 else f"{x / 1e6:,.1f}M"


def cmd_zoo_list(args: argparse.Namespace) -> int:
    from mixforge.workloads.params import count_params
    from mixforge.workloads.zoo import load_model, zoo_names

    print(f"{'model':<20}{'type':<13}{'layers':>7}{'experts':>10}{'total':>10}{'active':>10}")
    for name in zoo_names():
        m = load_model(name)
        pc = count_params(m)
        ex = f"{m.top_k}/{m.n_experts}" if m.is_moe else "-"
        print(f"{name:<20}{m.model_type:<13}{m.num_layers:>7}{ex:>10}{_params(pc.total):>10}"
              f"{_params(pc.active):>10}")
    return 0


def cmd_zoo_show(args: argparse.Namespace) -> int:
    from mixforge.workloads.footprint import weight_bytes
    from mixforge.workloads.params import count_params
    from mixforge.workloads.recipes import load_recipe, recipe_names
    from mixforge.workloads.zoo import load_model, published_params

    m = load_model(args.model)
    pc = count_params(m)
    moe_layers = [i for i in range(m.num_layers) if m.is_moe_layer(i)]
    attn = "MLA" if m.mla else ("MHA" if m.num_kv_heads == m.num_heads else
                                ("MQA" if m.num_kv_heads == 1 else "GQA"))
    print(f"{m.name} ({m.model_type}){': ' + m.source if m.source else ''}")
    heads = (f"{m.num_heads} heads, latent {m.kv_lora_rank} + rope {m.qk_rope_head_dim}, "
             f"q_lora {m.q_lora_rank}, qk {m.qk_nope_head_dim}+{m.qk_rope_head_dim}, "
             f"v {m.v_head_dim}" if m.mla else
             f"{m.num_heads}/{m.num_kv_heads} heads x {m.head_dim}")
    window = f", sliding window {m.sliding_window} on some layers" if m.sliding_window else ""
    print(f"  layers {m.num_layers} (MoE: {len(moe_layers)}), hidden {m.hidden_size}, "
          f"{attn} {heads}, vocab {m.vocab_size}, context {m.max_position_embeddings}"
          f"{window}")
    if m.is_moe:
        print(f"  experts {m.n_experts} (top-{m.top_k}) x {m.moe_intermediate_size}, shared "
              f"{m.n_shared_experts or (1 if m.shared_expert_intermediate_size else 0)}")
    pub = published_params(args.model)
    ref = f" (published {_params(int(pub['total']))})" if pub else ""
    aref = f" (published {_params(int(pub['active']))})" if pub else ""
    print(f"  parameters: total {pc.total:,}{ref}, active per token {pc.active:,}{aref} "
          "(embedding table included)")
    if pub:
        print(f"  published: {pub['source']}")
    for cls, n in pc.by_class.items():
        if n:
            print(f"    {cls:<16}{n:>18,}")
    print("  weight bytes per recipe:")
    for rn in recipe_names():
        print(f"    {rn:<20}{weight_bytes(m, load_recipe(rn)) / 1e9:>10,.2f} GB")
    return 0


def _routing(text: str) -> Any:
    from mixforge.errors import ConfigError
    from mixforge.workloads.routing import Routing

    if text == "uniform":
        return Routing()
    if text.startswith("zipf"):
        s = text.partition(":")[2] or "1.0"
        try:
            return Routing("zipf", s=float(s))
        except ValueError:
            raise ConfigError(f"zipf exponent must be a number, not {s!r}",
                              path="--routing") from None
    try:
        return Routing("counts", counts=tuple(int(x) for x in text.split(",")))
    except ValueError:
        raise ConfigError(f"expected uniform, zipf:S or comma-separated counts, not {text!r}",
                          path="--routing") from None


def cmd_sim_model(args: argparse.Namespace) -> int:
    import json
    import os
    from pathlib import Path

    from mixforge.sim.arch import load_arch
    from mixforge.sim.engine.simulator import Simulator
    from mixforge.workloads.graph import build_model_graph
    from mixforge.workloads.recipes import load_recipe
    from mixforge.workloads.report import render, simulate_model
    from mixforge.workloads.zoo import load_model

    arch = load_arch(args.hw)
    model = load_model(args.model)
    recipe = load_recipe(args.quant)
    graph = build_model_graph(model, recipe, phase=args.phase, batch=args.batch,
                              prompt=args.prompt, kv=args.kv, routing=_routing(args.routing),
                              arch=arch)
    rep = simulate_model(Simulator(arch, dispatch=args.dispatch), graph)
    print(render(rep))
    if args.json:
        out = Path(args.json)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(rep.as_dict(), indent=2) + "\n")
        os.replace(tmp, out)
        print(f"wrote {out}")
    return 0
