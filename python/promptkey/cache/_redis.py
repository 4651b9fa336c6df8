"""`RedisStore` and `AsyncRedisStore`: the response cache on Redis or Redis Cluster (redis-py clients).

The store never sends commands through the client it is given. It opens its own connections with that
client's connection settings (address, TLS, credentials, database) and three changes: socket timeouts equal
the cache's `store_timeout` (so every operation is bounded, even against a frozen server), no retries (the
circuit breaker is the retry policy) and raw bytes (so `decode_responses` on the given client does not
matter). The given client is left open for its owner; the store closes the connections it opened.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from promptkey._exceptions import InvalidOptionError
from promptkey.cache import _lock
from promptkey.cache._breaker import BreakerOpen, CircuitBreaker, StoreError
from promptkey.cache._lock import Flights

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["AsyncRedisStore", "RedisStore"]

# Longest single blocking wait for a wake-up; a waiter re-checks the lock at least this often. The blocking
# connection's socket timeout is this plus store_timeout, so a frozen server cannot hold a waiter longer.
WAIT_SLICE = 5.0
# Connection settings that belong to the given client's own plumbing and must not be copied.
_PRIVATE: tuple[str, ...] = ("maint_notifications", "orig_", "himport_registry", "oss_cluster", "redis_connect_func")
_PRIVATE += ("event_dispatcher", "connection_pool", "retry", "cache", "decode_responses")
# Anything a store operation raises is a store failure: the caller never sees it (fail-open).
_FAILURES = (Exception,)


def _settings(kwargs: dict[str, Any], timeout: float, read_timeout: float) -> dict[str, Any]:
    kw = {k: v for k, v in kwargs.items() if not k.startswith(_PRIVATE)}
    kw.update(socket_timeout=read_timeout, socket_connect_timeout=timeout, decode_responses=False)
    return kw


def _startup(client: Any) -> list[tuple[str, int]]:
    nodes = {(n.host, int(n.port)) for n in client.get_nodes()}
    nodes |= {(n.host, int(n.port)) for n in client.nodes_manager.startup_nodes.values()}
    return sorted(nodes)


class _Url:
    """What `from_url` keeps instead of a client: building a cluster client connects, and a store must be
    creatable while Redis is down (LiteLLM #3400); the connections are opened by the first operation."""

    def __init__(self, url: str, cluster: bool, options: dict[str, Any]) -> None:
        self.url, self.cluster, self.options = url, cluster, options

    def build(self, factory: Any, timeout: float, read_timeout: float, retry: Any) -> Any:
        kw = {**self.options, "socket_timeout": read_timeout, "socket_connect_timeout": timeout}
        kw.update(decode_responses=False, retry=retry)
        return factory.from_url(self.url, **kw)

    def __repr__(self) -> str:
        return f"<from_url {self.url.split('@')[-1]!r}>"  # never show credentials


def _derive_sync(client: Any, timeout: float, read_timeout: float) -> Any:
    if isinstance(client, _Url):
        factory = redis.cluster.RedisCluster if client.cluster else redis.Redis
        return client.build(factory, timeout, read_timeout, Retry(NoBackoff(), 0))
    if isinstance(client, redis.cluster.RedisCluster):
        kw = _settings(client.nodes_manager.connection_kwargs, timeout, read_timeout)
        for k in ("host", "port", "db"):
            kw.pop(k, None)
        nodes = [redis.cluster.ClusterNode(h, p) for h, p in _startup(client)]  # type: ignore[no-untyped-call]
        return redis.cluster.RedisCluster(startup_nodes=nodes, retry=Retry(NoBackoff(), 0), **kw)
    pool = client.connection_pool
    kw = _settings(pool.connection_kwargs, timeout, read_timeout)
    new_pool = redis.ConnectionPool(connection_class=pool.connection_class, max_connections=pool.max_connections, **kw)
    return redis.Redis(connection_pool=new_pool, retry=Retry(NoBackoff(), 0))


def _derive_async(client: Any, timeout: float, read_timeout: float) -> Any:
    if isinstance(client, _Url):
        factory = redis.asyncio.cluster.RedisCluster if client.cluster else redis.asyncio.Redis
        return client.build(factory, timeout, read_timeout, AsyncRetry(NoBackoff(), 0))
    if isinstance(client, redis.asyncio.cluster.RedisCluster):
        kw = _settings(client.connection_kwargs, timeout, read_timeout)
        # The asyncio cluster client takes named settings only (no **kwargs): keep the ones it names.
        accepted = inspect.signature(redis.asyncio.cluster.RedisCluster.__init__).parameters
        kw = {k: v for k, v in kw.items() if k in accepted and k not in ("host", "port", "db")}
        nodes = [redis.asyncio.cluster.ClusterNode(h, p) for h, p in _startup(client)]
        return redis.asyncio.cluster.RedisCluster(startup_nodes=nodes, retry=AsyncRetry(NoBackoff(), 0), **kw)
    pool = client.connection_pool
    kw = _settings(pool.connection_kwargs, timeout, read_timeout)
    new_pool = redis.asyncio.ConnectionPool(
        connection_class=pool.connection_class, max_connections=pool.max_connections, **kw
    )
    return redis.asyncio.Redis(connection_pool=new_pool, retry=AsyncRetry(NoBackoff(), 0))


def _refuse_sentinel(client: Any) -> None:
    # The store re-creates connections from the client's settings; a Sentinel-managed pool finds its master
    # through the Sentinels, which those settings do not carry. Refuse it rather than fall back forever.
    pool = getattr(client, "connection_pool", None)
    if pool is not None and "Sentinel" in type(pool).__name__:
        raise InvalidOptionError("sentinel-managed clients are not supported; pass the master's client or a url")


def _keys(skey: str) -> tuple[str, str, str]:
    return skey, skey + ":lock", skey + ":ready"


class _StoreBase:
    is_async = False

    def __init__(
        self,
        client: Any,
        *,
        breaker: CircuitBreaker | None = None,
        _owned: bool = False,
    ) -> None:
        self._check(client)
        if breaker is not None and not isinstance(breaker, CircuitBreaker):
            raise InvalidOptionError(f"breaker must be a CircuitBreaker, got {breaker!r}")
        self.client = client
        self._owned = _owned
        self.breaker = breaker or CircuitBreaker()
        self.flights = Flights()
        self._bound: dict[float, Any] = {}
        self._bind_lock = threading.Lock()
        # Hash tags are the digest, so cluster keys spread over the masters; the store reports its style.
        self.cluster = isinstance(client, (redis.cluster.RedisCluster, redis.asyncio.cluster.RedisCluster))
        self.cluster = self.cluster or (isinstance(client, _Url) and client.cluster)

    def _check(self, client: Any) -> None:
        raise NotImplementedError

    def bind(self, store_timeout: float) -> Any:
        with self._bind_lock:
            bound = self._bound.get(store_timeout)
            if bound is None:
                bound = self._bound[store_timeout] = self._make_bound(store_timeout)
            return bound

    def _make_bound(self, store_timeout: float) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        kind = "cluster" if self.cluster else "standalone"
        return f"{type(self).__name__}({kind}, breaker={self.breaker.state!r})"


class RedisStore(_StoreBase):
    """The response cache's store on Redis or Redis Cluster, for `get_or_call` (a sync redis-py client)."""

    serves_sync = True
    serves_async = False

    def _check(self, client: Any) -> None:
        if isinstance(client, _Url):
            return
        if isinstance(client, (redis.asyncio.Redis, redis.asyncio.cluster.RedisCluster)):
            raise InvalidOptionError("RedisStore needs a sync redis client; use AsyncRedisStore for redis.asyncio")
        if not isinstance(client, (redis.Redis, redis.cluster.RedisCluster)):
            raise InvalidOptionError(f"RedisStore needs a redis.Redis or redis.cluster.RedisCluster, got {client!r}")
        _refuse_sentinel(client)

    @classmethod
    def from_url(
        cls, url: str, *, cluster: bool = False, breaker: CircuitBreaker | None = None, **options: Any
    ) -> RedisStore:
        """A store on `url` (`redis://`, `rediss://`, `unix://`); `options` go to redis-py's `from_url`."""
        return cls(_Url(url, cluster, options), breaker=breaker, _owned=True)

    def _make_bound(self, store_timeout: float) -> _SyncBound:
        return _SyncBound(self, store_timeout)

    def close(self) -> None:
        with self._bind_lock:
            bound, self._bound = list(self._bound.values()), {}
        for b in bound:
            b.close()
        if self._owned and not isinstance(self.client, _Url):
            self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRedisStore(_StoreBase):
    """The response cache's store on Redis or Redis Cluster, for `aget_or_call` (a `redis.asyncio` client)."""

    serves_sync = False
    serves_async = True
    is_async = True

    def _check(self, client: Any) -> None:
        if isinstance(client, _Url):
            return
        if isinstance(client, (redis.Redis, redis.cluster.RedisCluster)):
            raise InvalidOptionError("AsyncRedisStore needs a redis.asyncio client; use RedisStore for sync clients")
        if not isinstance(client, (redis.asyncio.Redis, redis.asyncio.cluster.RedisCluster)):
            raise InvalidOptionError(f"AsyncRedisStore needs a redis.asyncio client, got {client!r}")
        _refuse_sentinel(client)

    @classmethod
    def from_url(
        cls, url: str, *, cluster: bool = False, breaker: CircuitBreaker | None = None, **options: Any
    ) -> AsyncRedisStore:
        """A store on `url` (`redis://`, `rediss://`, `unix://`); `options` go to redis-py's `from_url`."""
        return cls(_Url(url, cluster, options), breaker=breaker, _owned=True)

    def _make_bound(self, store_timeout: float) -> _AsyncBound:
        return _AsyncBound(self, store_timeout)

    async def aclose(self) -> None:
        with self._bind_lock:
            bound, self._bound = list(self._bound.values()), {}
        for b in bound:
            await b.aclose()
        if self._owned and not isinstance(self.client, _Url):
            await self.client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _SyncBound:
    """The store's operations with one `store_timeout`, behind the breaker; failures become StoreError."""

    is_async = False

    def __init__(self, store: RedisStore, timeout: float) -> None:
        self.store = store
        self.flights = store.flights
        self.breaker = store.breaker
        self.timeout = timeout
        self._lock = threading.Lock()
        self._cmd: Any = None
        self._block: Any = None
        self._scripts: dict[str, Any] = {}

    def _client(self) -> Any:
        # Built lazily inside a guarded operation: a cluster client connects when built, and a Redis that is
        # down when the cache is created must cost a fallback, not an exception (LiteLLM #3400).
        if self._cmd is None:
            with self._lock:
                if self._cmd is None:
                    cmd = _derive_sync(self.store.client, self.timeout, self.timeout)
                    self._scripts = {name: cmd.register_script(getattr(_lock, name)) for name in _SCRIPTS}
                    self._cmd = cmd
        return self._cmd

    def _guard(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.breaker.allow():
            raise BreakerOpen("circuit breaker open")
        try:
            result = fn(*args, **kwargs)
        except _FAILURES as e:
            self.breaker.failure()
            raise StoreError(str(e)) from e
        self.breaker.success()
        return result

    def get(self, skey: str) -> bytes | None:
        # The cache-hit path, inlined: breaker check, one GET, breaker bookkeeping.
        breaker = self.breaker
        if not breaker.allow():
            raise BreakerOpen("circuit breaker open")
        try:
            data = (self._cmd or self._client()).get(skey)
        except _FAILURES as e:
            breaker.failure()
            raise StoreError(str(e)) from e
        breaker.success()
        return data  # type: ignore[no-any-return]

    def _script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        self._client()
        return self._scripts[name](keys=keys, args=args)

    def acquire(self, skey: str, token: str, lock_ms: int, seen: bytes | None) -> tuple[int, bytes | int]:
        args = [token, lock_ms, seen or b"", "0" if seen is None else "1"]
        kind, payload = self._guard(self._script, "ACQUIRE", list(_keys(skey)), args)
        return int(kind), payload

    def write(self, skey: str, data: bytes, ttl_ms: int, token: str | None, lock_ms: int) -> None:
        self._guard(self._script, "WRITE", list(_keys(skey)), [data, ttl_ms, token or "", lock_ms])

    def release(self, skey: str, token: str, lock_ms: int) -> None:
        _, lock, ready = _keys(skey)
        self._guard(self._script, "RELEASE", [lock, ready], [token, lock_ms])

    def extend(self, skey: str, token: str, lock_ms: int) -> bool:
        return bool(self._guard(self._script, "EXTEND", [skey + ":lock"], [token, lock_ms]))

    def _blmove(self, ready: str, timeout: float) -> Any:
        if self._block is None:
            with self._lock:
                if self._block is None:
                    self._block = _derive_sync(self.store.client, self.timeout, WAIT_SLICE + self.timeout)
        return self._block.blmove(ready, ready, timeout, "LEFT", "RIGHT")

    def wait(self, skey: str, timeout: float) -> bool:
        # BLMOVE's timeout 0 would block forever; Redis takes fractional seconds.
        timeout = min(max(timeout, 0.01), WAIT_SLICE)
        return self._guard(self._blmove, skey + ":ready", timeout) is not None

    def delete(self, skey: str) -> bool:
        return bool(self._guard(self._script, "DELETE", [skey, skey + ":ready"], []))

    def close(self) -> None:
        for c in (self._cmd, self._block):
            if c is not None:
                c.close()
                # A client built on an explicit pool leaves the pool open on close(): disconnect it too.
                if isinstance(c, redis.Redis):
                    c.connection_pool.disconnect()
        self._cmd = self._block = None


class _AsyncBound:
    """The asyncio twin of `_SyncBound`."""

    is_async = True

    def __init__(self, store: AsyncRedisStore, timeout: float) -> None:
        self.store = store
        self.flights = store.flights
        self.breaker = store.breaker
        self.timeout = timeout
        self._cmd: Any = None
        self._block: Any = None
        self._scripts: dict[str, Any] = {}
        self._init_lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _on_this_loop(self) -> None:
        # redis.asyncio connections belong to the event loop that opened them. A store reused from another
        # loop (a second asyncio.run) starts over with new connections instead of failing on dead ones.
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._cmd, self._block, self._init_lock = loop, None, None, None

    async def _client(self) -> Any:
        self._on_this_loop()
        if self._cmd is None:
            async with self._lock():
                if self._cmd is None:
                    cmd = await self._open(self.timeout)
                    self._scripts = {name: cmd.register_script(getattr(_lock, name)) for name in _SCRIPTS}
                    self._cmd = cmd
        return self._cmd

    def _lock(self) -> asyncio.Lock:
        if self._init_lock is None:
            self._init_lock = asyncio.Lock()
        return self._init_lock

    async def _open(self, read_timeout: float) -> Any:
        client = _derive_async(self.store.client, self.timeout, read_timeout)
        # redis-py's asyncio cluster client breaks when many tasks make its first commands at once
        # ("'NoneType' object has no attribute 'writelines'"): initialize it once, before anyone uses it.
        if isinstance(client, redis.asyncio.cluster.RedisCluster):
            await client.initialize()
        return client

    async def _guard(self, coro_fn: Any, *args: Any) -> Any:
        if not self.breaker.allow():
            raise BreakerOpen("circuit breaker open")
        try:
            result = await coro_fn(*args)
        except _FAILURES as e:
            self.breaker.failure()
            raise StoreError(str(e)) from e
        self.breaker.success()
        return result

    async def _get(self, skey: str) -> Any:
        return await (await self._client()).get(skey)

    async def get(self, skey: str) -> bytes | None:
        return await self._guard(self._get, skey)  # type: ignore[no-any-return]

    async def _script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        await self._client()
        return await self._scripts[name](keys=keys, args=args)

    async def acquire(self, skey: str, token: str, lock_ms: int, seen: bytes | None) -> tuple[int, bytes | int]:
        args = [token, lock_ms, seen or b"", "0" if seen is None else "1"]
        kind, payload = await self._guard(self._script, "ACQUIRE", list(_keys(skey)), args)
        return int(kind), payload

    async def write(self, skey: str, data: bytes, ttl_ms: int, token: str | None, lock_ms: int) -> None:
        await self._guard(self._script, "WRITE", list(_keys(skey)), [data, ttl_ms, token or "", lock_ms])

    async def release(self, skey: str, token: str, lock_ms: int) -> None:
        _, lock, ready = _keys(skey)
        await self._guard(self._script, "RELEASE", [lock, ready], [token, lock_ms])

    async def extend(self, skey: str, token: str, lock_ms: int) -> bool:
        return bool(await self._guard(self._script, "EXTEND", [skey + ":lock"], [token, lock_ms]))

    async def _blmove(self, ready: str, timeout: float) -> Any:
        await self._client()
        if self._block is None:
            async with self._lock():
                if self._block is None:
                    self._block = await self._open(WAIT_SLICE + self.timeout)
        return await self._block.blmove(ready, ready, timeout, "LEFT", "RIGHT")

    async def wait(self, skey: str, timeout: float) -> bool:
        timeout = min(max(timeout, 0.01), WAIT_SLICE)
        return await self._guard(self._blmove, skey + ":ready", timeout) is not None

    async def delete(self, skey: str) -> bool:
        return bool(await self._guard(self._script, "DELETE", [skey, skey + ":ready"], []))

    async def aclose(self) -> None:
        for c in (self._cmd, self._block):
            if c is not None:
                if isinstance(c, redis.asyncio.Redis):
                    await c.aclose(close_connection_pool=True)
                else:
                    await c.aclose()
        self._cmd = self._block = None


_SCRIPTS = ("ACQUIRE", "WRITE", "RELEASE", "EXTEND", "DELETE")
