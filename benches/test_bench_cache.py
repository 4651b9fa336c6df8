"""Response-cache benchmarks, against a redis-server this file starts on a loopback port.

- `cache hit redis`: a `get_or_call` hit (keying the SMALL request, GET, envelope decode, stats) against the
  floor of any Redis cache: a raw redis-py `GET` of the same stored bytes + `json.loads`.
- `cache hit redis asyncio`: the same with `aget_or_call` on an `AsyncRedisStore` against `redis.asyncio`.
- `cache hit memory`: a `MemoryStore` hit against a dict lookup + `json.loads` of the bare answer; the
  subject's hits per second go in `extra_info`.
- `cache stampede 64`: 64 callers (4 store objects, as 4 processes would have, × 16 threads) ask for one
  uncached key whose model call takes 200 ms; records model calls and the p50/p99 latency of the waiters,
  measured from the moment the value landed (printed, and kept in `extra_info`); the competitor is the
  usual get-or-set without a lock (LiteLLM, GPTCache, LangChain), whose model calls are recorded too.

Run with a release build: `maturin develop --release && python benches/report.py cache`.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
from payloads import SMALL
from promptkey import AsyncRedisStore, MemoryStore, RedisStore, ResponseCache, make_key
from promptkey.cache._keying import store_key

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from redis_servers import RedisServer, have_redis

QUICK = os.environ.get("PROMPTKEY_BENCH_QUICK") == "1"
BATCH = 50
# A typical Messages API answer (≈1 KB as JSON).
ANSWER = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": " ".join(["The cached answer is stable and deterministic."] * 16)}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 412, "output_tokens": 128, "cache_read_input_tokens": 0},
}


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    if not have_redis():
        pytest.skip("redis-server not on PATH")
    s = RedisServer()
    yield s
    s.close()


def _info(benchmark: Any, group: str, impl: str, role: str, **extra: Any) -> None:
    benchmark.group = group
    benchmark.extra_info.update(suite="cache", case=group, impl=impl, role=role, batch=BATCH, **extra)


def _rounds() -> dict[str, int]:
    return {"rounds": 3 if QUICK else 200, "iterations": 1, "warmup_rounds": 1}


def test_hit_redis_promptkey(benchmark: Any, server: RedisServer) -> None:
    store = RedisStore.from_url(server.url)
    cache = ResponseCache(store, namespace="bench", allow_sampling=True)
    cache.get_or_call(SMALL, lambda: ANSWER)

    def run() -> None:
        for _ in range(BATCH):
            cache.get_or_call(SMALL, lambda: ANSWER)

    _info(benchmark, "cache hit redis", "promptkey", "subject")
    benchmark.pedantic(run, **_rounds())
    assert cache.stats.hits >= BATCH and cache.stats.misses == 1
    cache.close()
    store.close()


def test_hit_redis_raw_get(benchmark: Any, server: RedisServer) -> None:
    r = redis.Redis.from_url(server.url)
    skey = store_key(make_key(SMALL, namespace="bench"))
    assert r.get(skey) is not None  # stored by the subject above, the same bytes

    def run() -> None:
        for _ in range(BATCH):
            json.loads(r.get(skey))  # type: ignore[arg-type]

    _info(benchmark, "cache hit redis", "redis-py GET + json.loads", "competitor")
    benchmark.pedantic(run, **_rounds())
    r.close()


def test_hit_memory_promptkey(benchmark: Any) -> None:
    cache = ResponseCache(MemoryStore(), allow_sampling=True)
    cache.get_or_call(SMALL, lambda: ANSWER)

    def run() -> None:
        for _ in range(BATCH):
            cache.get_or_call(SMALL, lambda: ANSWER)

    _info(benchmark, "cache hit memory", "promptkey", "subject")
    benchmark.pedantic(run, **_rounds())
    per_call = benchmark.stats.stats.median / BATCH
    benchmark.extra_info["hits_per_second"] = round(1 / per_call)
    print(f"\nMemoryStore hits/s: {1 / per_call:,.0f}")


def test_hit_memory_dict_json(benchmark: Any) -> None:
    table = {make_key(SMALL): json.dumps(ANSWER).encode()}
    key = make_key(SMALL)

    def run() -> None:
        for _ in range(BATCH):
            json.loads(table[key])

    _info(benchmark, "cache hit memory", "dict + json.loads", "competitor")
    benchmark.pedantic(run, **_rounds())


def _stampede(server: RedisServer, ns: str) -> dict[str, Any]:
    stores = [RedisStore.from_url(server.url) for _ in range(4)]
    caches = [ResponseCache(s, namespace=ns, lock_ttl=10, store_timeout=2.0) for s in stores]
    calls = 0
    landed: list[float] = []
    lock = threading.Lock()

    def model() -> Any:
        nonlocal calls
        with lock:
            calls += 1
        time.sleep(0.2)
        landed.append(time.monotonic())
        return ANSWER

    barrier = threading.Barrier(64)
    done: list[tuple[str, float]] = []

    def call(cache: ResponseCache) -> None:
        barrier.wait()
        res = cache.get_or_call(SMALL, model)
        t = time.monotonic()
        with lock:
            done.append((res.status, t))

    threads = [threading.Thread(target=call, args=(caches[i % 4],)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c, s in zip(caches, stores, strict=True):
        c.close()
        s.close()
    # Waiter latency: from the model's answer landing to the waiter having it (the write's round trip,
    # the wake-up, the re-read and the decode).
    lat = sorted((t - landed[0]) * 1000 for status, t in done if status in ("wait", "coalesced"))
    waits = sorted((t - landed[0]) * 1000 for status, t in done if status == "wait")
    return {
        "model_calls": calls,
        "callers": len(done),
        "waiter_p50_ms": round(statistics.median(lat), 2),
        "waiter_p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
        "cross_process_wait_p50_ms": round(statistics.median(waits), 2) if waits else None,
    }


def _naive_stampede(server: RedisServer, ns: str) -> int:
    """The usual get-or-set over redis-py (what LiteLLM, GPTCache and LangChain do): no lock, no single flight."""
    r = redis.Redis.from_url(server.url)
    key = store_key(make_key(SMALL, namespace=ns))
    calls = 0
    lock = threading.Lock()
    barrier = threading.Barrier(64)

    def call() -> None:
        nonlocal calls
        barrier.wait()
        data = r.get(key)
        if data is None:
            with lock:
                calls += 1
            time.sleep(0.2)
            r.set(key, json.dumps(ANSWER), ex=60)
        else:
            json.loads(data)

    threads = [threading.Thread(target=call) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r.close()
    return calls


def test_stampede_64_naive_get_or_set(benchmark: Any, server: RedisServer) -> None:
    runs: list[int] = []
    _info(benchmark, "cache stampede 64", "naive GET / SET", "competitor")
    benchmark.extra_info["batch"] = 1
    benchmark.pedantic(lambda: runs.append(_naive_stampede(server, f"naive{len(runs)}")), rounds=1 if QUICK else 5)
    benchmark.extra_info["model_calls"] = max(runs)
    print(f"\nnaive get-or-set, 64 callers: model calls per run {runs}")


def test_stampede_64(benchmark: Any, server: RedisServer) -> None:
    runs: list[dict[str, Any]] = []

    def run() -> None:
        runs.append(_stampede(server, f"stampede{len(runs)}"))

    _info(benchmark, "cache stampede 64", "promptkey", "subject")
    benchmark.extra_info["batch"] = 1
    benchmark.pedantic(run, rounds=1 if QUICK else 5, iterations=1)
    worst = max(runs, key=lambda r: r["waiter_p99_ms"])
    benchmark.extra_info.update(
        model_calls=max(r["model_calls"] for r in runs),
        waiter_p50_ms=statistics.median(r["waiter_p50_ms"] for r in runs),
        waiter_p99_ms=worst["waiter_p99_ms"],
        cross_process_wait_p50_ms=statistics.median(r["cross_process_wait_p50_ms"] or 0 for r in runs),
    )
    print(f"\nstampede of 64: {runs}")
    assert all(r["model_calls"] == 1 for r in runs)


def _paired(subject: Any, competitor: Any, rounds: int) -> tuple[float, float, float]:
    """Median of per-round time ratios, with the two sides timed back to back in every round (alternating
    which goes first), so machine load that drifts between rounds cancels out. Returns (ratio, subject µs,
    competitor µs) per call, the latter two as medians."""
    ratios, subs, comps = [], [], []
    for i in range(rounds):
        order = (subject, competitor) if i % 2 == 0 else (competitor, subject)
        times = {}
        for fn in order:
            t0 = time.perf_counter()
            fn()
            times[fn] = time.perf_counter() - t0
        ratios.append(times[subject] / times[competitor])
        subs.append(times[subject] / BATCH * 1e6)
        comps.append(times[competitor] / BATCH * 1e6)
    return statistics.median(ratios), statistics.median(subs), statistics.median(comps)


def test_hit_redis_paired_ratio(benchmark: Any, server: RedisServer) -> None:
    store = RedisStore.from_url(server.url)
    cache = ResponseCache(store, namespace="bench", allow_sampling=True)
    cache.get_or_call(SMALL, lambda: ANSWER)
    r = redis.Redis.from_url(server.url)
    skey = store_key(make_key(SMALL, namespace="bench"))

    def subject() -> None:
        for _ in range(BATCH):
            cache.get_or_call(SMALL, lambda: ANSWER)

    def competitor() -> None:
        for _ in range(BATCH):
            json.loads(r.get(skey))  # type: ignore[arg-type]

    rounds = 5 if QUICK else 400
    ratio, sub_us, comp_us = _paired(subject, competitor, rounds)
    _info(benchmark, "cache hit redis (paired)", "promptkey", "subject")
    benchmark.extra_info.update(paired_ratio=round(ratio, 3), subject_us=round(sub_us, 1), raw_us=round(comp_us, 1))
    benchmark.pedantic(subject, rounds=3 if QUICK else 20, iterations=1)
    print(
        f"\nhit path vs raw GET + json.loads (paired, {rounds} rounds): {ratio:.3f}x ({sub_us:.1f} vs {comp_us:.1f} µs)"
    )
    r.close()
    cache.close()
    store.close()


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_hit_redis_asyncio_promptkey(benchmark: Any, server: RedisServer, loop: asyncio.AbstractEventLoop) -> None:
    store = AsyncRedisStore.from_url(server.url)
    cache = ResponseCache(store, namespace="bench-async", allow_sampling=True)

    async def afn() -> Any:
        return ANSWER

    async def batch() -> None:
        for _ in range(BATCH):
            await cache.aget_or_call(SMALL, afn)

    loop.run_until_complete(cache.aget_or_call(SMALL, afn))
    _info(benchmark, "cache hit redis asyncio", "promptkey", "subject")
    benchmark.pedantic(lambda: loop.run_until_complete(batch()), **_rounds())
    assert cache.stats.misses == 1
    loop.run_until_complete(cache.aclose())
    loop.run_until_complete(store.aclose())


def test_hit_redis_asyncio_raw_get(benchmark: Any, server: RedisServer, loop: asyncio.AbstractEventLoop) -> None:
    r = redis.asyncio.Redis.from_url(server.url)
    skey = store_key(make_key(SMALL, namespace="bench-async"))

    async def batch() -> None:
        for _ in range(BATCH):
            json.loads(await r.get(skey))  # type: ignore[arg-type]

    assert loop.run_until_complete(r.get(skey)) is not None
    _info(benchmark, "cache hit redis asyncio", "redis-py GET + json.loads", "competitor")
    benchmark.pedantic(lambda: loop.run_until_complete(batch()), **_rounds())
    loop.run_until_complete(r.aclose())
