"""Simulator and planner benchmarks.

- ``simulator replay``: 10,000 multi-turn requests (250 interleaved conversations of 40 turns, a shared
  system prompt with a 1h breakpoint, top-level automatic caching on every request), replayed into a
  fresh `PromptCacheSimulator`. The subject submits requests prepared beforehand (the chains already
  built, as the emulator and trace replay hold them) one `submit` call at a time; the other columns
  show the same replay through `submit_many` (which also keeps the 10,000 usage dicts alive) and from
  the raw request dicts (blocks built on every call).
  requests/s = 1 / (time per call).
- ``plan MEDIUM``: `promptkey.plan` on benches/payloads.py MEDIUM, next to `prefix_blocks` of the same
  payload (the floor: plan reads the request once, then optimizes).

Run with a release build: `maturin develop --release && python benches/report.py simulator`.
"""

from __future__ import annotations

import os
from typing import Any

import promptkey
import pytest
from payloads import MEDIUM

QUICK = os.environ.get("PROMPTKEY_BENCH_QUICK") == "1"
CONVERSATIONS, TURNS = 250, 40
N = CONVERSATIONS * TURNS
SYSTEM = [
    {"type": "text", "text": "You are a careful assistant. " * 400, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
]


def _trace() -> list[tuple[float, dict[str, Any]]]:
    out = []
    for c in range(CONVERSATIONS):
        messages: list[dict[str, Any]] = []
        for t in range(TURNS):
            messages = [*messages, {"role": "user", "content": f"conversation {c} question {t}: " + "why? " * 30}]
            request = {
                "model": "claude-sonnet-4-5",
                "max_tokens": 256,
                "system": SYSTEM,
                "messages": messages,
                "cache_control": {"type": "ephemeral"},
            }
            out.append((c * 7.0 + t * 25.0, request))
            messages = [*messages, {"role": "assistant", "content": f"answer {t} " + "because. " * 40}]
    out.sort(key=lambda p: p[0])
    return out


TRACE = _trace()
PREPARED = [(t, promptkey.PromptCacheSimulator().prepare(r)) for t, r in TRACE]


def _rounds() -> dict[str, int]:
    return {"rounds": 1, "iterations": 1} if QUICK else {"rounds": 5, "iterations": 1}


def _info(benchmark: Any, impl: str, role: str) -> None:
    benchmark.group = "simulator replay 10,000 multi-turn requests"
    benchmark.extra_info.update(
        {"suite": "simulator", "case": "replay 10k requests", "impl": impl, "role": role, "batch": N}
    )


def test_replay_prepared_submit_many(benchmark: Any) -> None:
    _info(benchmark, "submit_many(prepared)", "competitor")

    def run() -> list[dict[str, Any]]:
        return promptkey.PromptCacheSimulator().submit_many(PREPARED)

    usages = benchmark.pedantic(run, **_rounds())
    # The replay does what it should: most tokens are read from the cache.
    read = sum(u["cache_read_input_tokens"] for u in usages)
    total = sum(u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"] for u in usages)
    benchmark.extra_info["requests_per_second"] = N / benchmark.stats.stats.median
    benchmark.extra_info["read_share"] = read / total


def test_replay_prepared_submit_loop(benchmark: Any) -> None:
    _info(benchmark, "submit(prepared) loop", "subject")

    def run() -> None:
        sim = promptkey.PromptCacheSimulator()
        for t, p in PREPARED:
            sim.submit(p, now=t)

    benchmark.pedantic(run, **_rounds())
    benchmark.extra_info["requests_per_second"] = N / benchmark.stats.stats.median


@pytest.mark.skipif(QUICK, reason="builds every chain per call: slow, and not the simulator's own speed")
def test_replay_raw_requests(benchmark: Any) -> None:
    _info(benchmark, "submit(dict) loop", "competitor")

    def run() -> None:
        sim = promptkey.PromptCacheSimulator()
        for t, r in TRACE:
            sim.submit(r, now=t)

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["requests_per_second"] = N / benchmark.stats.stats.median


def test_plan_medium(benchmark: Any) -> None:
    benchmark.group = "plan MEDIUM"
    benchmark.extra_info.update({"suite": "planner", "case": "plan MEDIUM", "impl": "plan", "role": "subject"})
    benchmark(promptkey.plan, MEDIUM)


def test_prefix_blocks_medium(benchmark: Any) -> None:
    benchmark.group = "plan MEDIUM"
    benchmark.extra_info.update(
        {"suite": "planner", "case": "plan MEDIUM", "impl": "prefix_blocks (floor)", "role": "floor"}
    )
    benchmark(promptkey._core.prefix_blocks, MEDIUM)
