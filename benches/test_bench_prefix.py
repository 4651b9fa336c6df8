"""Prefix benchmarks, in one run.

- ``prefix <PAYLOAD>``: ``prefix_blocks`` (fingerprints, chained SHA-256 per block, token estimates, Block
  objects) against ``make_key`` and ``orjson`` sorted + hashlib on the same dict. Target on MEDIUM:
  ``prefix_blocks`` ≤ 1.5× ``make_key``.
- ``prefix append``: ``PrefixChain.append`` of one turn to a chain of 500 turns (subject) against the same
  append at 5 turns. Target: ≤ 1.3× (appending costs the new blocks, not the history).

Run with a release build: ``maturin develop --release && python benches/report.py prefix``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

import orjson
import promptkey
import pytest
from payloads import LARGE, MEDIUM, SMALL

QUICK = os.environ.get("PROMPTKEY_BENCH_QUICK") == "1"
PAYLOADS: dict[str, dict[str, Any]] = {"SMALL": SMALL, "MEDIUM": MEDIUM, "LARGE": LARGE}
BATCH = {"SMALL": 200, "MEDIUM": 40, "LARGE": 8}
ROUNDS = {"SMALL": 100, "MEDIUM": 100, "LARGE": 40}

IMPLS: dict[str, tuple[str, Callable[[Any], object]]] = {
    "prefix_blocks": ("subject", promptkey.prefix_blocks),
    "make_key": ("competitor", promptkey.make_key),
    "orjson+hashlib": (
        "competitor",
        lambda d: hashlib.sha256(orjson.dumps(d, option=orjson.OPT_SORT_KEYS)).hexdigest(),
    ),
}


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("name", list(PAYLOADS))
def test_prefix_blocks(benchmark: Any, name: str, impl: str) -> None:
    role, fn = IMPLS[impl]
    payload, n = PAYLOADS[name], BATCH[name]
    benchmark.group = f"prefix {name}"
    benchmark.extra_info.update(suite="prefix", case=name, impl=impl, role=role, batch=n)

    def run() -> None:
        for _ in range(n):
            fn(payload)

    benchmark.pedantic(run, rounds=1 if QUICK else ROUNDS[name], iterations=1, warmup_rounds=0 if QUICK else 2)


def conversation(turns: int) -> dict[str, Any]:
    """MEDIUM's tools and system, then `turns` alternating user/assistant turns of about 1 KB each."""
    messages = [
        {"role": "user" if t % 2 == 0 else "assistant", "content": [{"type": "text", "text": f"turn {t} " * 120}]}
        for t in range(turns)
    ]
    return {**MEDIUM, "messages": messages, "cache_control": {"type": "ephemeral"}}


TURN = {"role": "user", "content": [{"type": "text", "text": "one more question " * 60}]}
APPENDS = 20  # turns appended per timed round to one fresh chain (it grows from N to N + 20 turns)


@pytest.mark.parametrize("turns", [5, 500])
def test_prefix_chain_append(benchmark: Any, turns: int) -> None:
    benchmark.group = "prefix append"
    role = "subject" if turns == 500 else "competitor"
    benchmark.extra_info.update(suite="prefix", case="append one turn", impl=f"{turns} turns", role=role, batch=APPENDS)
    request = conversation(turns)
    rounds = 2 if QUICK else 60
    # Every round appends to its own chain of `turns` turns, all built before the timing starts and kept
    # alive until it ends: building and freeing a large chain between rounds would have the allocator
    # return pages to the OS and fault them back in, timing malloc rather than the append.
    chains = iter([promptkey.PrefixChain(request) for _ in range(rounds + 1)])
    alive: list[promptkey.PrefixChain] = []

    def next_chain() -> tuple[tuple[promptkey.PrefixChain], dict[str, Any]]:
        alive.append(next(chains))
        return (alive[-1],), {}

    def run(chain: promptkey.PrefixChain) -> None:
        for _ in range(APPENDS):
            chain.append(TURN)

    benchmark.pedantic(run, setup=next_chain, rounds=rounds, iterations=1)
