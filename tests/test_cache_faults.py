"""The response cache under faults: dead lock holders, long calls, foreign locks, Redis stopped or frozen."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cache_workers import hold_forever
from promptkey import AsyncRedisStore, RedisStore, ResponseCache, make_key
from promptkey.cache import CircuitBreaker
from promptkey.cache._keying import store_key
from redis_servers import RedisServer

# A hang is a bug: fail the test instead of stalling the suite (pytest-timeout, in requirements-dev.txt).
pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]

REQ = {"model": "claude-haiku-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "ping"}]}


@pytest.fixture
def made() -> Iterator[list[ResponseCache]]:
    caches: list[ResponseCache] = []
    yield caches
    for cache in caches:
        cache.close()
        cache.store.close()


def on(made: list[ResponseCache], server: RedisServer, ns: str, *, breaker: Any = None, **opts: Any) -> ResponseCache:
    cache = ResponseCache(RedisStore.from_url(server.url, breaker=breaker), namespace=ns, **opts)
    made.append(cache)
    return cache


def lock_of(ns: str, request: Any = REQ) -> str:
    return store_key(make_key(request, namespace=ns)) + ":lock"


@pytest.mark.slow
def test_a_sigkilled_lock_holder_is_replaced_after_lock_ttl(
    redis_server: RedisServer, ns: str, made: list[ResponseCache]
) -> None:
    r = redis_server.raw
    started = f"{ns}:started"
    ctx = multiprocessing.get_context("spawn")
    holder = ctx.Process(target=hold_forever, args=(redis_server.url, ns, REQ, started))
    holder.start()
    deadline = time.monotonic() + 30
    while not r.exists(started):  # test-side wait for the child to be inside fn
        assert time.monotonic() < deadline and holder.is_alive()
        time.sleep(0.02)
    assert r.exists(lock_of(ns))
    holder.kill()  # SIGKILL: no release, no more extensions
    holder.join(10)
    killed = time.monotonic()
    calls: list[int] = []

    def recompute() -> str:
        calls.append(1)
        return "recomputed"

    cache = on(made, redis_server, ns, lock_ttl=1, wait_timeout=30)
    res = cache.get_or_call(REQ, recompute)
    assert (res.status, res.value, len(calls)) == ("miss", "recomputed", 1)
    # It waited for the dead holder's lock to expire (≤ lock_ttl), not for wait_timeout.
    assert time.monotonic() - killed < 5 and cache.stats.wait_timeouts == 0
    assert cache.get_or_call(REQ, lambda: "again").status == "hit"


def test_a_call_longer_than_lock_ttl_keeps_its_lock(
    redis_server: RedisServer, ns: str, made: list[ResponseCache]
) -> None:
    first, second = on(made, redis_server, ns, lock_ttl=0.5), on(made, redis_server, ns, lock_ttl=0.5)
    calls: list[str] = []

    def slow() -> str:
        calls.append("slow")
        time.sleep(1.6)  # more than three lock lifetimes
        return "slow answer"

    def second_call() -> str:
        calls.append("second")
        return "second answer"

    t = threading.Thread(target=first.get_or_call, args=(REQ, slow))
    t.start()
    time.sleep(0.1)
    res = second.get_or_call(REQ, second_call)
    t.join()
    assert calls == ["slow"] and (res.status, res.value) == ("wait", "slow answer")
    assert not redis_server.raw.exists(lock_of(ns))  # released by the write, not left to expire


def test_a_lock_owned_by_another_token_is_never_deleted_or_extended(
    redis_server: RedisServer, ns: str, made: list[ResponseCache]
) -> None:
    r = redis_server.raw
    cache = on(made, redis_server, ns, lock_ttl=5)
    bound = cache._bound
    skey, lock = store_key(make_key(REQ, namespace=ns)), lock_of(ns)
    r.set(lock, "someone-else", px=60_000)
    bound.release(skey, "my-token", 5000)
    assert not bound.extend(skey, "my-token", 120_000)
    assert r.get(lock) == b"someone-else" and 50_000 < r.pttl(lock) <= 60_000
    r.delete(lock)

    # In the flow: the lock is taken over while fn runs (as after an expiry); finishing must not delete it.
    def fn() -> str:
        r.set(lock, "usurper", px=60_000)
        return "value"

    assert cache.get_or_call(REQ, fn).status == "miss"
    assert r.get(lock) == b"usurper" and r.pttl(lock) > 50_000
    assert cache.peek(REQ) == "value"


def test_a_waiter_computes_without_the_lock_at_wait_timeout(
    redis_server: RedisServer, ns: str, made: list[ResponseCache]
) -> None:
    redis_server.raw.set(lock_of(ns), "stuck-holder", px=60_000)
    cache = on(made, redis_server, ns, wait_timeout=0.3)
    t0 = time.monotonic()
    res = cache.get_or_call(REQ, lambda: "computed anyway")
    assert (res.status, res.value) == ("miss", "computed anyway") and time.monotonic() - t0 >= 0.3
    assert cache.stats.wait_timeouts == 1 and cache.stats.misses == 1
    assert cache.peek(REQ) == "computed anyway"
    assert redis_server.raw.get(lock_of(ns)) == b"stuck-holder"


def test_a_lock_that_expires_without_a_release_is_taken_over(
    redis_server: RedisServer, ns: str, made: list[ResponseCache]
) -> None:
    redis_server.raw.set(lock_of(ns), "crashed", px=300)
    cache = on(made, redis_server, ns)
    res = cache.get_or_call(REQ, lambda: "mine")
    assert res.status == "miss" and cache.stats.wait_timeouts == 0


def test_redis_down_when_the_cache_is_built_costs_fallbacks_not_errors(ns: str) -> None:
    server = RedisServer()
    server.stop()
    try:
        store = RedisStore.from_url(server.url, breaker=CircuitBreaker(reset_timeout=0.1))
        cache = ResponseCache(store, namespace=ns)
        assert cache.get_or_call(REQ, lambda: 1).status == "fallback"
        server.start()
        time.sleep(0.15)
        assert [cache.get_or_call(REQ, lambda: 1).status for _ in range(2)] == ["miss", "hit"]
        cache.close()
        store.close()
    finally:
        server.close()


@pytest.mark.slow
def test_redis_stopped_during_a_bounded_load(own_redis: RedisServer, ns: str, made: list[ResponseCache]) -> None:
    cache = on(made, own_redis, ns, breaker=CircuitBreaker(reset_timeout=0.1, max_reset_timeout=0.2))
    requests = [dict(REQ, max_tokens=n) for n in range(10)]
    failures: list[BaseException] = []
    wrong: list[Any] = []
    done = threading.Event()
    count = [0]
    lock = threading.Lock()

    def load() -> None:
        i = 0
        while not done.is_set() and i < 20_000:  # bounded, whatever happens
            q = requests[i % 10]
            i += 1
            try:
                res = cache.get_or_call(q, lambda q=q: q["max_tokens"])  # type: ignore[misc]
            except BaseException as e:  # noqa: BLE001 - the assertion is that there are none
                failures.append(e)
                continue
            if res.value != q["max_tokens"]:
                wrong.append(res)
            with lock:
                count[0] += 1

    def until(n: int) -> None:
        deadline = time.monotonic() + 20
        while count[0] < n and time.monotonic() < deadline:
            time.sleep(0.005)  # the test's own pacing, not the library's

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    until(200)  # warm: misses then hits
    own_redis.stop()
    until(count[0] + 400)  # an outage under load
    own_redis.start()
    time.sleep(0.25)  # past the breaker's reset timeout
    until(count[0] + 400)
    done.set()
    for t in threads:
        t.join()
    stats = cache.stats
    assert failures == [] and wrong == []
    assert stats.fallbacks > 0 and stats.calls == count[0]
    assert stats.hits > 0 and cache.store.breaker.state == "closed"
    # Hits resumed after the restart (the restarted server started empty).
    assert [cache.get_or_call(requests[3], lambda: 3).status for _ in range(2)][-1] == "hit"


@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_the_breaker_keeps_a_dead_or_frozen_redis_off_the_call_path(
    own_redis: RedisServer, ns: str, made: list[ResponseCache], fault: str
) -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=30)
    cache = on(made, own_redis, ns, breaker=breaker, store_timeout=0.1)
    assert cache.get_or_call(REQ, lambda: "v").status == "miss"
    own_redis.stop() if fault == "stopped" else own_redis.freeze()
    try:
        attempts = breaker.attempts
        statuses = [cache.get_or_call(dict(REQ, max_tokens=n), lambda: "v").status for n in range(50)]
        # Three failures open the breaker; the other 47 calls never touch the network.
        assert statuses == ["fallback"] * 50
        assert breaker.attempts - attempts == 3 and breaker.state == "open" and breaker.rejections >= 47
        assert cache.stats.fallbacks == 50 and cache.stats.errors == 3
    finally:
        if fault == "frozen":
            own_redis.thaw()


def test_async_store_fails_open_too(ns: str) -> None:
    server = RedisServer()
    try:

        async def main() -> list[str]:
            store = AsyncRedisStore.from_url(server.url, breaker=CircuitBreaker(reset_timeout=0.1))
            cache = ResponseCache(store, namespace=ns, store_timeout=1.0)

            async def afn() -> str:
                return "v"

            out: list[str] = [(await cache.aget_or_call(REQ, afn)).status]
            server.stop()
            out += [(await cache.aget_or_call(REQ, afn)).status for _ in range(5)]
            server.start()
            await asyncio.sleep(0.15)
            out += [(await cache.aget_or_call(REQ, afn)).status for _ in range(2)]
            await cache.aclose()
            await store.aclose()
            return out

        assert asyncio.run(main()) == ["miss"] + ["fallback"] * 5 + ["miss", "hit"]
    finally:
        server.close()


def test_redis_errors_never_reach_the_caller_from_peek_and_delete(own_redis: RedisServer, ns: str) -> None:
    store = RedisStore.from_url(own_redis.url)
    cache = ResponseCache(store, namespace=ns, store_timeout=0.1)
    own_redis.stop()
    assert cache.peek(REQ) is None and cache.delete(REQ) is False and cache.stats.errors == 2
    cache.close()
    store.close()


def test_an_async_store_serves_one_event_loop_after_another(redis_server: RedisServer, ns: str) -> None:
    store = AsyncRedisStore.from_url(redis_server.url)

    async def once(value: str) -> str:
        async def afn() -> str:
            return value

        async with ResponseCache(store, namespace=ns) as cache:
            res = await cache.aget_or_call(REQ, afn)
            assert cache.stats.errors == 0
            return res.status

    # Each asyncio.run has its own loop; the store's connections follow the loop they are used from.
    assert asyncio.run(once("a")) == "miss"
    assert asyncio.run(once("b")) == "hit"
    asyncio.run(store.aclose())


@pytest.mark.parametrize("cluster", [False, True])
def test_stores_from_url_are_built_while_nothing_listens(ns: str, cluster: bool) -> None:
    from redis_servers import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    store = RedisStore.from_url(url, cluster=cluster)  # must not connect (LiteLLM #3400: no start-up failure)
    cache = ResponseCache(store, namespace=ns, store_timeout=0.1)
    assert [cache.get_or_call(REQ, lambda: 1).status for _ in range(2)] == ["fallback", "fallback"]
    assert "from_url" in repr(store.client) and store.cluster is cluster
    cache.close()
    store.close()
