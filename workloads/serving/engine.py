"""Iteration-level continuous batching (Orca / vLLM style) over a paged KV cache.

Each iteration: arrivals join the FCFS queue; every running request whose prompt is done
decodes one token; the token budget left (``max_batched_tokens`` minus the decodes) goes to
prefill -- whole prompts, or chunks of at most ``prefill_chunk`` tokens (chunked prefill).
A request is admitted when the batch has room and the KV cache has blocks for its context
(``block_size`` tokens per block, a 1% watermark kept free for decode growth). When a decode
step needs a block and none is free, the latest-admitted running request is preempted:
``recompute`` drops its KV (its prompt + generated tokens are prefilled again later) and
``swap`` moves its KV to host memory over ``host_bw_bytes_per_s`` (and back on resume; the
transfer time is added to the iteration, not overlapped). A request whose prompt + output can
never fit the KV cache is rejected at arrival (a result, not a crash).

The prefill that completes a request's context emits its first token (TTFT); each decode step
emits one (TBT = time since the request's previous token). Every request generates exactly its
``output`` tokens. No randomness: same inputs -> identical results.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mixforge.errors import ConfigError
from mixforge.workloads.serving.arrivals import Requests
from mixforge.workloads.serving.interface import CostModel

__all__ = ["ServeConfig", "ServeRun", "simulate", "WAITING", "RUNNING", "DONE", "REJECTED"]

WAITING, RUNNING, DONE, REJECTED, SWAPPED = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class ServeConfig:
    """Scheduler policy.

    Parameters
    ----------
    max_batch
        Most requests running at once (vLLM ``max_num_seqs``).
    max_batched_tokens
        Tokens per iteration (decodes + prefill); a whole prompt longer than this is still
        taken alone when chunking is off (vLLM ``max_num_batched_tokens``).
    prefill_chunk
        0: whole prompts; N: chunked prefill, at most N prompt tokens per request per iteration.
    block_size
        Tokens per KV block (vLLM default 16).
    preemption
        ``recompute`` or ``swap``.
    host_bw_bytes_per_s
        Device <-> host link for swapping (default 64 GB/s: PCIe 5.0 x16, one direction).
    kv_capacity_tokens
        Overrides the cost model's KV capacity (0: use the memory plan).
    watermark
        Share of KV blocks kept free at admission (vLLM ``watermark`` = 0.01).
    """

    max_batch: int = 256
    max_batched_tokens: int = 8192
    prefill_chunk: int = 0
    block_size: int = 16
    preemption: Literal["recompute", "swap"] = "recompute"
    host_bw_bytes_per_s: float = 64e9
    kv_capacity_tokens: int = 0
    watermark: float = 0.01

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_batched_tokens", "block_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"must be a positive integer, not {v!r}", path=name)
        if self.prefill_chunk < 0 or self.kv_capacity_tokens < 0:
            raise ConfigError("must be >= 0", path="prefill_chunk" if self.prefill_chunk < 0
                              else "kv_capacity_tokens")
        if self.preemption not in ("recompute", "swap"):
            raise ConfigError(f"unknown policy {self.preemption!r} (recompute, swap)",
                              path="preemption")
        if not self.host_bw_bytes_per_s > 0:
            raise ConfigError("must be > 0", path="host_bw_bytes_per_s")
        if not 0 <= self.watermark < 1:
            raise ConfigError("must be in [0, 1)", path="watermark")


@dataclass(frozen=True, eq=False)
class ServeRun:
    """Raw results of :func:`simulate` (metrics are derived in :mod:`.metrics`).

    Per request (index = request id): ``status``, ``first_token_s``, ``finish_s``,
    ``first_scheduled_s``, ``generated``, ``preemptions``. ``tbt_s``: every inter-token gap of
    every request (``sum(output - 1)`` of the served requests). Per iteration: ``it_start_s``,
    ``it_seconds``, ``it_decode`` (decode steps), ``it_prefill`` (prefill tokens), ``it_kv_tokens``
    (KV tokens held after it), ``it_in_system`` (requests arrived and not finished at its start),
    ``it_energy_j``, ``it_unit_busy_s``, ``it_unit_flops``, ``it_unit_bytes``,
    ``it_unit_energy_j``; ``expert_tokens``
    (iterations x experts, or ``None``).
    """

    requests: Requests
    config: ServeConfig
    kv_capacity_tokens: int
    status: np.ndarray
    first_scheduled_s: np.ndarray
    first_token_s: np.ndarray
    finish_s: np.ndarray
    generated: np.ndarray
    preemptions: np.ndarray
    tbt_s: np.ndarray
    it_start_s: np.ndarray
    it_seconds: np.ndarray
    it_decode: np.ndarray
    it_prefill: np.ndarray
    it_kv_tokens: np.ndarray
    it_in_system: np.ndarray
    it_energy_j: np.ndarray
    it_unit_busy_s: np.ndarray
    it_unit_flops: np.ndarray
    it_unit_bytes: np.ndarray
    it_unit_energy_j: np.ndarray
    expert_tokens: np.ndarray | None
    swap_bytes: int
    units: tuple[str, ...]
    energy_components: tuple[str, ...]


def simulate(reqs: Requests, cost: CostModel, config: ServeConfig = ServeConfig(), *,
             progress: Callable[[int, float], None] | None = None) -> ServeRun:
    """Serve ``reqs`` on ``cost``'s device; ``progress(finished, now_s)`` is called now and then.

    Raises ``ConfigError`` when the KV cache cannot hold even one block.
    """
    n = len(reqs)
    bs = config.block_size
    cap_tokens = config.kv_capacity_tokens or cost.memory.kv_capacity_tokens
    total_blocks = cap_tokens // bs
    if total_blocks < 1:
        mem = cost.memory
        short = max(0, -mem.kv_bytes) / 2**30
        raise ConfigError(f"no room for a KV cache: device {mem.device_bytes / 2**30:.1f} GiB, "
                          f"weights {mem.weight_bytes / 2**30:.1f} GiB, activations "
                          f"{mem.activation_bytes / 2**30:.1f} GiB ({short:.1f} GiB missing; "
                          "try a smaller recipe)", path="memory")
    watermark = int(config.watermark * total_blocks)
    kv_per_tok = cost.memory.kv_bytes_per_token
    arr, prompt, out = reqs.arrival_s, reqs.prompt, reqs.output
    arr_l = arr.tolist()
    never = ((prompt + out + bs - 1) // bs > total_blocks).tolist()

    status = np.full(n, WAITING, dtype=np.int8)
    ctx = np.zeros(n, dtype=np.int64)        # tokens whose KV is on the device
    target = prompt.copy()                   # context to prefill before the next token
    gen = np.zeros(n, dtype=np.int64)
    last_tok = np.zeros(n)
    first_sched = np.full(n, np.nan)
    first_tok = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    preempt = np.zeros(n, dtype=np.int64)
    gaps = np.empty(int(np.sum(out - 1)))
    gpos = 0
    swap_bytes = 0

    it_rows: list[tuple[float, float, int, int, int, int]] = []
    it_energy: list[np.ndarray] = []
    it_busy: list[np.ndarray] = []
    it_flops: list[np.ndarray] = []
    it_bytes: list[np.ndarray] = []
    it_uenergy: list[np.ndarray] = []
    it_experts: list[np.ndarray] = []

    waiting: deque[int] = deque()
    running: list[int] = []          # admission order (the last one is preempted first)
    prefilling: set[int] = set()     # running requests whose context is not complete
    d = np.zeros(0, dtype=np.int64)  # decoding requests (rebuilt when the set changes)
    d_out = d
    d_dirty = False
    free = total_blocks
    kv_total = 0                     # KV tokens held by running requests
    now = 0.0
    nxt = 0
    finished = 0
    in_system = 0
    chunk = config.prefill_chunk
    empty_i = np.zeros(0, dtype=np.int64)

    def held(r: int) -> int:
        return -(-max(int(ctx[r]), int(target[r])) // bs)

    while True:
        while nxt < n and arr_l[nxt] <= now:
            if never[nxt]:
                status[nxt] = REJECTED
                finished += 1
            else:
                waiting.append(nxt)
                in_system += 1
            nxt += 1
        if not running and not waiting:
            if nxt >= n:
                break
            now = max(now, arr_l[nxt])
            continue
        extra_s = 0.0
        if d_dirty:
            d = np.array([r for r in running if r not in prefilling], dtype=np.int64)
            d_out = out[d]
            d_dirty = False

        # decode steps: a request whose context fills its last block needs a new block
        dk = ctx[d]
        n_short = int(np.count_nonzero(dk % bs == 0))
        if n_short <= free:
            free -= n_short
        else:  # preempt the latest admitted until every remaining decode has its block
            for r in d.tolist():
                if r not in running:
                    continue
                needs = ctx[r] % bs == 0
                while needs and free == 0:
                    victim = running.pop()
                    free += held(victim)
                    kv_total -= int(ctx[victim])
                    preempt[victim] += 1
                    prefilling.discard(victim)
                    if config.preemption == "swap":
                        moved = int(ctx[victim] * kv_per_tok)
                        swap_bytes += moved
                        extra_s += moved / config.host_bw_bytes_per_s
                        status[victim] = SWAPPED
                    else:
                        ctx[victim] = 0
                        target[victim] = prompt[victim] + gen[victim]
                        status[victim] = WAITING
                    waiting.appendleft(victim)
                    if victim == r:
                        break
                if needs and r in running:
                    free -= 1
            keep = set(running)
            d = np.array([r for r in d.tolist() if r in keep], dtype=np.int64)
            d_out = out[d]
            dk = ctx[d]

        # prefill: unfinished prompts first, then admissions (FCFS), within the token budget
        budget = config.max_batched_tokens - d.size
        pf_ids: list[int] = []
        pf_len: list[int] = []
        if prefilling:
            for r in running:
                if budget <= 0:
                    break
                if r in prefilling:
                    left = int(target[r] - ctx[r])
                    c = min(left, budget, chunk) if chunk else left
                    if not chunk and c > budget and pf_ids:
                        continue
                    pf_ids.append(r)
                    pf_len.append(c)
                    budget -= c
        while waiting and len(running) < config.max_batch \
                and (budget > 0 or (not chunk and not pf_ids)):
            r = waiting[0]
            swapped = status[r] == SWAPPED
            nb = held(r)
            if nb > free - (watermark if running else 0):
                break
            left = int(target[r] - ctx[r])
            if left > 0 and not chunk and left > budget and pf_ids:
                break
            waiting.popleft()
            free -= nb
            status[r] = RUNNING
            running.append(r)
            if np.isnan(first_sched[r]):
                first_sched[r] = now
            if swapped:
                moved = int(ctx[r] * kv_per_tok)
                swap_bytes += moved
                extra_s += moved / config.host_bw_bytes_per_s
                kv_total += int(ctx[r])
                if left > 0:
                    prefilling.add(r)
                else:
                    d_dirty = True  # decodes from the next iteration on
                continue
            prefilling.add(r)
            c = min(left, budget, chunk) if chunk else left
            pf_ids.append(r)
            pf_len.append(c)
            budget -= c

        if not pf_ids and not d.size:
            if extra_s:  # only swap-ins happened
                now += extra_s
                continue
            if nxt < n:
                now = max(now, arr_l[nxt])
                continue
            raise ConfigError("scheduler stalled: waiting requests cannot be admitted",
                              path="kv_capacity_tokens")
        if pf_ids:
            p_ids = np.array(pf_ids, dtype=np.int64)
            p_len = np.array(pf_len, dtype=np.int64)
            res = cost.iteration(ctx[p_ids], p_len, dk + 1)
        else:
            p_ids = p_len = empty_i
            res = cost.iteration(empty_i, empty_i, dk + 1)
        secs = res.seconds + extra_s
        t_end = now + secs

        # decodes: one token each
        n_pf_tok = sum(pf_len)
        kv_total += d.size + n_pf_tok
        n_fin = 0
        if d.size:
            ctx[d] = dk + 1
            k = d.size
            gaps[gpos:gpos + k] = t_end - last_tok[d]
            gpos += k
            last_tok[d] = t_end
            g = gen[d] + 1
            gen[d] = g
            fin_mask = g >= d_out
            if fin_mask.any():
                fin = d[fin_mask]
                finish[fin] = t_end
                status[fin] = DONE
                nf = fin.tolist()
                fin_tok = int(ctx[fin].sum())
                free += sum(-(-t // bs) for t in ctx[fin].tolist())
                kv_total -= fin_tok
                fs = set(nf)
                running = [r for r in running if r not in fs]
                n_fin += len(nf)
                d_dirty = True
        # prefills: a completed context emits one token (the first, or the next after a
        # recompute)
        for r, c in zip(pf_ids, pf_len, strict=True):
            ctx[r] += c
            if ctx[r] < target[r]:
                continue
            prefilling.discard(r)
            if gen[r] == 0:
                first_tok[r] = t_end
            else:
                gaps[gpos] = t_end - last_tok[r]
                gpos += 1
            gen[r] += 1
            last_tok[r] = t_end
            if gen[r] >= out[r]:
                finish[r] = t_end
                status[r] = DONE
                free += held(r)
                kv_total -= int(ctx[r])
                running.remove(r)
                n_fin += 1
            d_dirty = True
        finished += n_fin
        it_rows.append((now, secs, int(d.size), n_pf_tok, kv_total, in_system))
        in_system -= n_fin
        it_energy.append(res.energy_j)
        it_busy.append(res.unit_busy_s)
        it_flops.append(res.unit_flops)
        it_bytes.append(res.unit_bytes)
        it_uenergy.append(res.unit_energy_j)
        if res.expert_tokens is not None:
            it_experts.append(res.expert_tokens)
        now = t_end
        if progress is not None and len(it_rows) % 256 == 0:
            progress(finished, now)
    if progress is not None:
        progress(finished, now)

    rows = np.array(it_rows, dtype=np.float64).reshape(-1, 6)
    nu = len(cost.units)
    return ServeRun(
        requests=reqs, config=config, kv_capacity_tokens=total_blocks * bs, status=status,
        first_scheduled_s=first_sched, first_token_s=first_tok, finish_s=finish, generated=gen,
        preemptions=preempt, tbt_s=gaps[:gpos], it_start_s=rows[:, 0], it_seconds=rows[:, 1],
        it_decode=rows[:, 2].astype(np.int64), it_prefill=rows[:, 3].astype(np.int64),
        it_kv_tokens=rows[:, 4].astype(np.int64), it_in_system=rows[:, 5].astype(np.int64),
        it_energy_j=np.array(it_energy).reshape(-1, len(cost.energy_components)),
        it_unit_busy_s=np.array(it_busy).reshape(-1, nu),
        it_unit_flops=np.array(it_flops).reshape(-1, nu),
        it_unit_bytes=np.array(it_bytes).reshape(-1, nu),
        it_unit_energy_j=np.array(it_uenergy).reshape(-1, nu),
        expert_tokens=np.array(it_experts) if it_experts else None, swap_bytes=swap_bytes,
        units=tuple(cost.units), energy_components=tuple(cost.energy_components))
