"""ResponseCache on real Redis and a real 3-master Redis Cluster: layout, envelopes, stampedes, wake-up."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cache_workers import counted_model, stampede_process
from promptkey import AsyncRedisStore, CacheStats, InvalidOptionError, RedisStore, ResponseCache, make_key
from promptkey.cache._keying import store_key
from redis_servers import RedisCluster, RedisServer

# A hang is a bug: fail the test instead of stalling the suite (pytest-timeout, in requirements-dev.txt).
pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]

REQ = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hello"}]}
ANSWER = {"content": [{"type": "text", "text": "hi"}], "usage": {"input_tokens": 5, "output_tokens": 1}}


def raw(server: RedisServer | RedisCluster) -> Any:
    return server.raw


@pytest.fixture
def made() -> Iterator[list[ResponseCache]]:
    """Caches a test creates; their stores (and the connections they opened) are closed at teardown."""
    caches: list[ResponseCache] = []
    yield caches
    for cache in caches:
        cache.close()
        cache.store.close()


def on(
    made: list[ResponseCache], server: Any, ns: str, *, cluster: bool = False, decode: bool = False, **options: Any
) -> ResponseCache:
    store = RedisStore.from_url(server.url, cluster=cluster, decode_responses=decode)
    # A generous store_timeout: on a loaded 2-core CI machine 64 first connections can take longer than
    # 250 ms, and a timeout would (correctly) fall back; these tests are about locking, not about timeouts.
    options.setdefault("store_timeout", 2.0)
    cache = ResponseCache(store, namespace=ns, **options)
    made.append(cache)
    return cache


def add_up(s: CacheStats) -> int:
    return s.hits + s.misses + s.waits + s.coalesced + s.bypasses + s.fallbacks + s.uncached


@pytest.mark.parametrize("decode_responses", [False, True])
def test_layout_envelope_and_hit_either_decode_style(
    redis_server: RedisServer, ns: str, decode_responses: bool
) -> None:
    client = redis_server.client(decode_responses=decode_responses)
    store = RedisStore(client)
    cache = ResponseCache(store, namespace=ns, ttl=600)
    first = cache.get_or_call(REQ, lambda: ANSWER)
    second = cache.get_or_call(REQ, lambda: {"other": 1})
    assert (first.status, second.status) == ("miss", "hit") and first.value == second.value == ANSWER
    key = make_key(REQ, namespace=ns)
    assert first.key == key
    r = raw(redis_server)
    skey = f"{ns}:v1:{{{key.rsplit(':', 1)[1]}}}"
    env = json.loads(r.get(skey))
    assert env["format"] == 1 and env["key"] == key and env["model"] == REQ["model"]
    assert env["usage"] == ANSWER["usage"] and env["value"] == ANSWER and env["created"] > 1e9
    assert 590_000 < r.pttl(skey) <= 600_000
    assert not r.exists(skey + ":lock")  # released by the write
    cache.close()
    store.close()
    assert client.ping()  # the client we passed is still ours and open
    client.close()


@pytest.mark.parametrize(
    "bad", [b"\xff\xfe garbage", b'{"format":1,"key":"elsewhere:v1:00","value":1}', b'{"format":1,"key":"tr']
)
def test_corrupt_foreign_and_truncated_entries_are_misses_and_overwritten(
    redis_server: RedisServer, ns: str, bad: bytes, made: list[ResponseCache]
) -> None:
    cache = on(made, redis_server, ns, decode=True)
    skey = store_key(make_key(REQ, namespace=ns))
    r = raw(redis_server)
    r.set(skey, bad)
    assert cache.peek(REQ) is None
    assert cache.get_or_call(REQ, lambda: ANSWER).status == "miss"
    assert json.loads(r.get(skey))["value"] == ANSWER
    assert cache.get_or_call(REQ, dict).status == "hit" and cache.stats.errors == 0


def test_wrong_style_stores_are_refused(redis_server: RedisServer) -> None:
    import redis.asyncio

    with pytest.raises(InvalidOptionError, match="AsyncRedisStore"):
        RedisStore(redis.asyncio.Redis.from_url(redis_server.url))
    with pytest.raises(InvalidOptionError, match="RedisStore"):
        AsyncRedisStore(redis_server.raw)
    with pytest.raises(InvalidOptionError, match="aget_or_call"):
        ResponseCache(AsyncRedisStore.from_url(redis_server.url)).get_or_call(REQ, lambda: 1)

    async def one() -> int:
        return 1

    async def use_sync_store() -> None:
        await ResponseCache(RedisStore(redis_server.raw)).aget_or_call(REQ, one)

    with pytest.raises(InvalidOptionError, match="get_or_call"):
        asyncio.run(use_sync_store())


def test_namespaces_and_secrets_isolate_tenants_on_redis(redis_server: RedisServer, ns: str) -> None:
    store = RedisStore(redis_server.raw)
    caches = [ResponseCache(store, namespace=ns + "a"), ResponseCache(store, namespace=ns + "b")]
    caches += [ResponseCache(store, namespace=ns, secret=b"k1"), ResponseCache(store, namespace=ns, secret=b"k2")]
    for i, cache in enumerate(caches):
        assert cache.get_or_call(REQ, lambda i=i: i).status == "miss"  # type: ignore[misc]
    assert [c.peek(REQ) for c in caches] == [0, 1, 2, 3]
    store.close()


def _thread_stampede(caches: list[ResponseCache], request: Any, fn: Any, n: int) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = []
    lock = threading.Lock()

    def call(cache: ResponseCache) -> None:
        barrier.wait()
        res = cache.get_or_call(request, fn)
        with lock:
            results.append(res)

    threads = [threading.Thread(target=call, args=(caches[i % len(caches)],)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("where", ["standalone", "cluster"])
def test_sixty_four_threads_over_four_stores_call_the_model_once(
    where: str, redis_server: RedisServer, redis_cluster: RedisCluster, ns: str, made: list[ResponseCache]
) -> None:
    server: Any = redis_cluster if where == "cluster" else redis_server
    # Four store objects behave like four processes: the Redis lock, not the in-process flight, decides.
    caches = [on(made, server, ns, cluster=where == "cluster") for _ in range(4)]
    fn = counted_model(server.url, f"{ns}:calls", 0.3, ANSWER, cluster=where == "cluster")
    results = _thread_stampede(caches, REQ, fn, 64)
    assert int(raw(server).get(f"{ns}:calls")) == 1
    assert len(results) == 64 and all(r.value == ANSWER for r in results)
    statuses = [r.status for r in results]
    assert statuses.count("miss") == 1 and set(statuses) <= {"miss", "wait", "coalesced", "hit"}
    assert sum(c.stats.calls for c in caches) == 64 == sum(add_up(c.stats) for c in caches)
    # Each of the three other stores got it through Redis (waiting on the lock, or a hit if it came late).
    assert sum(c.stats.waits + c.stats.hits for c in caches) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("where", ["standalone", "cluster"])
def test_four_processes_of_sixteen_threads_call_the_model_once(
    where: str, redis_server: RedisServer, redis_cluster: RedisCluster, ns: str
) -> None:
    server: Any = redis_cluster if where == "cluster" else redis_server
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    args = (server.url, where == "cluster", ns, REQ, 16, barrier, out)
    procs = [ctx.Process(target=stampede_process, args=args) for _ in range(4)]
    for p in procs:
        p.start()
    outputs = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert int(raw(server).get(f"{ns}:calls")) == 1
    statuses = [s for st, _, _ in outputs for s in st]
    values = [v for _, vs, _ in outputs for v in vs]
    assert len(statuses) == 64 and statuses.count("miss") == 1
    assert statuses.count("wait") + statuses.count("hit") >= 3  # each other process got it through Redis
    assert all(v == {"answer": 42, "usage": {"output_tokens": 3}} for v in values)
    assert sum(calls for _, _, calls in outputs) == 64


@pytest.mark.parametrize("where", ["standalone", "cluster"])
def test_two_hundred_asyncio_tasks_call_the_model_once(
    where: str, redis_server: RedisServer, redis_cluster: RedisCluster, ns: str
) -> None:
    server: Any = redis_cluster if where == "cluster" else redis_server
    calls = 0

    async def afn() -> Any:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.3)
        return ANSWER

    async def main() -> list[Any]:
        stores = [AsyncRedisStore.from_url(server.url, cluster=where == "cluster") for _ in range(4)]
        caches = [ResponseCache(s, namespace=ns, store_timeout=2.0) for s in stores]
        results = await asyncio.gather(*(caches[i % 4].aget_or_call(REQ, afn) for i in range(200)))
        for c, s in zip(caches, stores, strict=True):
            await c.aclose()
            await s.aclose()
        assert sum(c.stats.calls for c in caches) == 200 == sum(add_up(c.stats) for c in caches)
        return results

    results = asyncio.run(main())
    assert calls == 1 and all(r.value == ANSWER for r in results)
    statuses = [r.status for r in results]
    assert statuses.count("miss") == 1 and statuses.count("wait") + statuses.count("hit") >= 3


def test_cluster_keys_spread_over_masters_and_share_a_slot(redis_cluster: RedisCluster, ns: str) -> None:
    rc = raw(redis_cluster)
    nodes = set()
    for i in range(60):
        skey = store_key(make_key(dict(REQ, max_tokens=i), namespace=ns))
        slots = {rc.keyslot(skey + suffix) for suffix in ("", ":lock", ":ready")}
        assert len(slots) == 1
        nodes.add(rc.get_node_from_key(skey).name)
    assert len(nodes) == 3
    # And through the cache: a value written on the cluster is read back from the slot's master.
    store = RedisStore(rc)
    cache = ResponseCache(store, namespace=ns)
    assert [cache.get_or_call(REQ, lambda: ANSWER).status for _ in range(2)] == ["miss", "hit"]
    store.close()


@pytest.mark.parametrize("where", ["standalone", "cluster"])
def test_waiters_wake_promptly_when_the_value_lands(
    where: str, redis_server: RedisServer, redis_cluster: RedisCluster, ns: str, made: list[ResponseCache]
) -> None:
    server: Any = redis_cluster if where == "cluster" else redis_server
    holder = on(made, server, ns, cluster=where == "cluster", lock_ttl=10)
    waiter = on(made, server, ns, cluster=where == "cluster", lock_ttl=10)
    finished: list[float] = []

    def slow() -> Any:
        time.sleep(0.8)
        finished.append(time.monotonic())
        return ANSWER

    t = threading.Thread(target=holder.get_or_call, args=(REQ, slow))
    t.start()
    time.sleep(0.2)
    res = waiter.get_or_call(REQ, lambda: pytest.fail("the waiter must not compute"))
    woke = time.monotonic()
    t.join()
    assert res.status == "wait" and res.value == ANSWER
    # Functional bound: a poll of a few hundred ms, or a wait until lock expiry (10 s), fails this.
    assert woke - finished[0] < 0.2


def test_fn_raising_releases_the_lock_and_stores_nothing(
    redis_server: RedisServer, ns: str, made: list[ResponseCache]
) -> None:
    cache = on(made, redis_server, ns)
    skey = store_key(make_key(REQ, namespace=ns))

    def fail() -> Any:
        raise ValueError("bad gateway")

    with pytest.raises(ValueError, match="bad gateway"):
        cache.get_or_call(REQ, fail)
    r = raw(redis_server)
    assert not r.exists(skey) and not r.exists(skey + ":lock")
    assert cache.get_or_call(REQ, lambda: ANSWER).status == "miss"


def test_ttl_expiry_on_redis(redis_server: RedisServer, ns: str, made: list[ResponseCache]) -> None:
    cache = on(made, redis_server, ns, ttl=0.2)
    assert cache.get_or_call(REQ, lambda: 1).status == "miss"
    assert cache.get_or_call(REQ, lambda: 1).status == "hit"
    time.sleep(0.3)
    assert cache.get_or_call(REQ, lambda: 2).status == "miss"


def test_refresh_and_delete_on_redis(redis_server: RedisServer, ns: str, made: list[ResponseCache]) -> None:
    cache = on(made, redis_server, ns)
    cache.get_or_call(REQ, lambda: 1)
    assert cache.get_or_call(REQ, lambda: 2, mode="refresh").value == 2
    assert cache.peek(REQ) == 2
    assert cache.delete(REQ) is True and cache.peek(REQ) is None and cache.delete(REQ) is False


@pytest.mark.parametrize("where", ["standalone", "cluster"])
def test_async_store_on_a_client_you_pass(
    where: str, redis_server: RedisServer, redis_cluster: RedisCluster, ns: str
) -> None:
    import redis.asyncio
    import redis.asyncio.cluster

    async def main() -> list[str]:
        if where == "cluster":
            client: Any = redis.asyncio.cluster.RedisCluster.from_url(redis_cluster.url, decode_responses=True)
        else:
            client = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
        store = AsyncRedisStore(client)
        statuses: list[str] = []
        async with ResponseCache(store, namespace=ns) as cache:
            for _ in range(2):

                async def afn() -> Any:
                    return ANSWER

                res = await cache.aget_or_call(REQ, afn)
                assert res.value == ANSWER
                statuses.append(res.status)
            assert await cache.apeek(REQ) == ANSWER
            assert await cache.adelete(REQ) is True and await cache.apeek(REQ) is None
        await store.aclose()
        assert await client.ping()  # ours, still open
        await client.aclose()
        return statuses

    assert asyncio.run(main()) == ["miss", "hit"]


def test_async_waiters_wake_promptly_when_the_value_lands(redis_server: RedisServer, ns: str) -> None:
    async def main() -> tuple[str, float]:
        holder_store, waiter_store = (
            AsyncRedisStore.from_url(redis_server.url),
            AsyncRedisStore.from_url(redis_server.url),
        )
        holder = ResponseCache(holder_store, namespace=ns, lock_ttl=10)
        waiter = ResponseCache(waiter_store, namespace=ns, lock_ttl=10)
        finished: list[float] = []

        async def slow() -> Any:
            await asyncio.sleep(0.8)
            finished.append(time.monotonic())
            return ANSWER

        async def never() -> Any:
            raise AssertionError("the waiter must not compute")

        task = asyncio.create_task(holder.aget_or_call(REQ, slow))
        await asyncio.sleep(0.2)
        res = await waiter.aget_or_call(REQ, never)
        woke = time.monotonic()
        await task
        for c, s in ((holder, holder_store), (waiter, waiter_store)):
            await c.aclose()
            await s.aclose()
        return res.status, woke - finished[0]

    status, delay = asyncio.run(main())
    assert status == "wait" and delay < 0.2


def test_sentinel_managed_clients_are_refused() -> None:
    from redis.sentinel import Sentinel

    # redis-py leaves Sentinel and master_for unannotated.
    client = Sentinel([("127.0.0.1", 1)]).master_for("mymaster")  # type: ignore[no-untyped-call]
    with pytest.raises(InvalidOptionError, match="sentinel"):
        RedisStore(client)


def test_a_hit_is_one_round_trip_and_a_miss_three(own_redis: RedisServer, ns: str, made: list[ResponseCache]) -> None:
    cache = on(made, own_redis, ns)
    cache.get_or_call(dict(REQ, max_tokens=1), lambda: 0)  # connections open, scripts loaded
    client = cache._bound._cmd
    sent: list[str] = []
    execute = client.execute_command

    def counting(*args: Any, **options: Any) -> Any:  # counts what the store sends; Redis is real
        sent.append(str(args[0]).lower())
        return execute(*args, **options)

    client.execute_command = counting
    cache.get_or_call(REQ, lambda: ANSWER)
    assert sent == ["get", "evalsha", "evalsha"]  # GET, acquire, write (+ release + wake-up in the script)
    sent.clear()
    for _ in range(10):
        assert cache.get_or_call(REQ, lambda: ANSWER).status == "hit"
    assert sent == ["get"] * 10


def test_auth_from_the_url_and_from_the_client_you_pass(ns: str) -> None:
    server = RedisServer(password="s3cret-pw")
    try:
        url_store = RedisStore.from_url(server.url)
        client = server.client(db=3)
        client_store = RedisStore(client)
        for store in (url_store, client_store):
            cache = ResponseCache(store, namespace=ns)
            assert [cache.get_or_call(REQ, lambda: ANSWER).status for _ in range(2)] == ["miss", "hit"]
            assert cache.stats.errors == 0
            cache.close()
            store.close()
        assert "s3cret-pw" not in repr(url_store.client)
        # The client's database was kept: the second store wrote to db 3, the first to db 0.
        skey = store_key(make_key(REQ, namespace=ns))
        assert client.exists(skey) and server.raw.exists(skey)
        client.close()
    finally:
        server.close()
