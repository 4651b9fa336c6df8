"""Keying benchmarks: `make_key` against the usual ways to hash a request, in one run.

Each group is one payload (SMALL/MEDIUM/LARGE from payloads.py, INTL from keys_payloads.py) with the same
dict reused for every call, or with a fresh dict per call (built by `json.loads` outside the timed part, as a
request arriving off the network would be). Every timed call keys a batch of dicts, so the timer's own
overhead is spread out; report.py divides by `extra_info["batch"]`.

Run with a release build: `maturin develop --release && python benches/report.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

import orjson
import promptkey
import pytest
import rfc8785
from keys_payloads import INTL
from payloads import LARGE, MEDIUM, SMALL
from promptkey import _core

PAYLOADS: dict[str, dict[str, Any]] = {"SMALL": SMALL, "MEDIUM": MEDIUM, "LARGE": LARGE, "INTL": INTL}
# Calls per timed round: batches only where a call is short enough for the timer's own overhead
# (~0.1 µs) to matter. Longer payloads are keyed one per round, as requests arrive: a batch of large fresh
# dicts would also free them all at once, which makes malloc return its pages to the kernel and every
# implementation fault them back in on the next round.
BATCH = {"SMALL": 200, "MEDIUM": 2, "LARGE": 1, "INTL": 1}
# Rounds per payload (many: the minimum is reported); report.py --quick sets PROMPTKEY_BENCH_QUICK=1 for
# a smoke run of two rounds each.
BENCH_ROUNDS = {"SMALL": 200, "MEDIUM": 300, "LARGE": 200, "INTL": 300}
if os.environ.get("PROMPTKEY_BENCH_QUICK"):
    BENCH_ROUNDS = {k: 2 for k in BENCH_ROUNDS}


def _floor_bytes(payload: dict[str, Any]) -> bytes:
    return _core._key_material_json(payload)


IMPLS: dict[str, tuple[str, Callable[[Any], object]]] = {
    "promptkey": ("subject", promptkey.make_key),
    "orjson+hashlib": (
        "competitor",
        lambda d: hashlib.sha256(orjson.dumps(d, option=orjson.OPT_SORT_KEYS)).hexdigest(),
    ),
    "rfc8785+hashlib": ("competitor", lambda d: hashlib.sha256(rfc8785.dumps(d)).hexdigest()),
    "json.dumps+hashlib": (
        "competitor",
        lambda d: hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest(),
    ),
    # The floor: SHA-256 of the final canonical bytes, nothing else (bytes computed outside the timing).
    "sha256 floor": ("floor", lambda b: hashlib.sha256(b).hexdigest()),
}


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("fresh", [False, True], ids=["reused", "fresh"])
@pytest.mark.parametrize("name", list(PAYLOADS))
def test_keys(benchmark: Any, name: str, fresh: bool, impl: str) -> None:
    role, fn = IMPLS[impl]
    payload = PAYLOADS[name]
    n = BATCH[name]
    if impl == "sha256 floor" and fresh:
        pytest.skip("the floor hashes bytes; a fresh dict changes nothing")
    if impl == "rfc8785+hashlib" and fresh and name in ("LARGE", "INTL"):
        pytest.skip("slow and not a target; the reused row shows the ratio")
    benchmark.group = f"keys {name} {'fresh' if fresh else 'reused'}"
    benchmark.extra_info.update(suite="keys", case=benchmark.group[5:], impl=impl, role=role, batch=n)
    text = json.dumps(payload)

    def batch() -> list[Any]:
        if impl == "sha256 floor":
            return [_floor_bytes(payload)] * n
        if fresh:
            return [json.loads(text) for _ in range(n)]
        return [payload] * n

    def run(items: list[Any]) -> None:
        for item in items:
            fn(item)

    benchmark.pedantic(run, setup=lambda: ((batch(),), {}), rounds=BENCH_ROUNDS[name], iterations=1)
