"""Code the response-cache tests run in child processes (importable under the `spawn` start method)."""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
import redis.cluster
from promptkey import RedisStore, ResponseCache


def counter_client(url: str, cluster: bool) -> Any:
    return redis.cluster.RedisCluster.from_url(url) if cluster else redis.Redis.from_url(url)


def counted_model(url: str, counter: str, delay: float, answer: Any, *, cluster: bool = False) -> Any:
    """A stand-in for the model: counts its calls in Redis (across processes), takes `delay`, answers."""

    def fn() -> Any:
        with counter_client(url, cluster) as r:
            r.incr(counter)
        time.sleep(delay)
        return answer

    return fn


def stampede_process(url: str, cluster: bool, ns: str, request: Any, threads: int, barrier: Any, out: Any) -> None:
    """One process of the 4 × 16 stampede: `threads` callers of one uncached key, after a common barrier."""
    cache = ResponseCache(RedisStore.from_url(url, cluster=cluster), namespace=ns, lock_ttl=5, store_timeout=2.0)
    fn = counted_model(url, f"{ns}:calls", 0.5, {"answer": 42, "usage": {"output_tokens": 3}}, cluster=cluster)
    statuses: list[str] = []
    values: list[Any] = []
    lock = threading.Lock()

    def call() -> None:
        res = cache.get_or_call(request, fn)
        with lock:
            statuses.append(res.status)
            values.append(res.value)

    barrier.wait()
    workers = [threading.Thread(target=call) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((statuses, values, cache.stats.calls))
    cache.close()
    cache.store.close()


def hold_forever(url: str, ns: str, request: Any, started: str) -> None:
    """Takes the lock for `request` and computes forever (the parent SIGKILLs this process)."""
    cache = ResponseCache(RedisStore.from_url(url), namespace=ns, lock_ttl=1)

    def fn() -> Any:
        with redis.Redis.from_url(url) as r:
            r.set(started, 1)
        while True:
            time.sleep(1)

    cache.get_or_call(request, fn)
