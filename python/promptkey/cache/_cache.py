"""`ResponseCache`: exact-match response caching with stampede protection, failing open (DESIGN §5).

The decision logic is written once, as a generator that yields store operations (`_lead`); `get_or_call`
drives it with blocking calls and `aget_or_call` with awaits, so the sync and asyncio paths cannot drift.
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Iterator, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from promptkey._exceptions import InvalidOptionError, PromptKeyError
from promptkey.cache import _metrics
from promptkey.cache._breaker import BreakerOpen, StoreError
from promptkey.cache._envelope import INVALID, decode, encode
from promptkey.cache._keying import key_info, store_key, validate_namespace
from promptkey.cache._memory import MemoryStore

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["CacheResult", "CacheStats", "ResponseCache"]

Mode = Literal["use", "refresh", "bypass", "only-if-cached"]
Status = Literal["miss", "hit", "wait", "coalesced", "bypass", "fallback", "uncached"]
_MODES = ("use", "refresh", "bypass", "only-if-cached")
_COUNTERS = ("hits", "misses", "waits", "coalesced", "bypasses", "fallbacks", "uncached", "errors", "wait_timeouts")
_STATUS_COUNTER = {
    "hit": "hits",
    "miss": "misses",
    "wait": "waits",
    "coalesced": "coalesced",
    "bypass": "bypasses",
    "fallback": "fallbacks",
    "uncached": "uncached",
}
# A leader stopped by a BaseException (KeyboardInterrupt, task cancellation) tells followers to retry
# rather than handing them an exception that was about the leader, not the request.
_RETRY: Any = object()
Outcome = tuple[str, "bytes | None", Any]  # (status, envelope or None, the leader's own fresh value)
Op = tuple[Any, ...]


class CacheResult:
    """What `get_or_call` returns: `.value` (yours to mutate), `.status`, `.key` (`== make_key(request)`)."""

    __slots__ = ("key", "status", "value")

    def __init__(self, value: Any, status: Status, key: str | None) -> None:
        self.value = value
        self.status = status
        self.key = key

    def __repr__(self) -> str:
        return f"CacheResult(status={self.status!r}, key={self.key!r}, value={self.value!r:.60})"


@dataclass(frozen=True)
class CacheStats:
    """A snapshot of a cache's counters. Every call counts once in `calls` and once in one status counter."""

    calls: int = 0
    hits: int = 0
    misses: int = 0
    waits: int = 0
    coalesced: int = 0
    bypasses: int = 0
    fallbacks: int = 0
    uncached: int = 0
    errors: int = 0
    wait_timeouts: int = 0

    @property
    def hit_rate(self) -> float:
        """Calls answered without running the model, among calls that could have been: (hits + waits +
        coalesced) / (calls - bypasses); 0.0 when there were none."""
        n = self.calls - self.bypasses
        return (self.hits + self.waits + self.coalesced) / n if n else 0.0

    @property
    def stampede_rate(self) -> float:
        """Callers that shared a computation per computation: (waits + coalesced) / misses; 0.0 if none."""
        return (self.waits + self.coalesced) / self.misses if self.misses else 0.0


@dataclass(frozen=True)
class _Job:
    key: str
    skey: str
    model: Any
    ttl_ms: int
    mode: str
    seen: bytes | None  # an unreadable envelope already read, to be overwritten
    store_failed: bool


@dataclass
class _Pending:
    """One call split in two phases (`_lookup`, then `_store`), counted once, when it was looked up."""

    key: str | None
    skey: str  # "" when the request could not be keyed
    status: str
    value: Any
    model: Any
    ttl_ms: int
    ns: str
    stored: bool = False


@contextmanager
def _leading(flights: Any, skey: str, flight: Any) -> Iterator[Callable[[Outcome], Outcome]]:
    """Ends an in-process flight however its leader ends (shared by the sync and asyncio paths):
    followers get the leader's outcome (passed through `settle`), its exception, or `_RETRY` when the
    leader was interrupted (KeyboardInterrupt, task cancellation), which was about the leader only."""
    settled: list[Outcome] = []

    def settle(outcome: Outcome) -> Outcome:
        settled.append(outcome)
        return outcome

    try:
        yield settle
    except Exception as e:
        flights.done(skey, flight)
        flight.future.set_exception(e)
        raise
    except BaseException:
        flights.done(skey, flight)
        flight.future.set_result(_RETRY)
        raise
    flights.done(skey, flight)
    flight.future.set_result(settled[0])


class ResponseCache:
    """An exact-match cache of model responses, keyed by `make_key(request)`. See docs/response-cache.md."""

    def __init__(
        self,
        store: Any = None,
        *,
        ttl: float = 86_400,
        lock_ttl: float = 30,
        wait_timeout: float = 60,
        namespace: str = "llmcache",
        secret: bytes | None = None,
        allow_sampling: bool = False,
        allow_server_tools: bool = False,
        cacheable: Callable[[Any], bool] | None = None,
        store_timeout: float = 0.25,
    ) -> None:
        self.namespace = validate_namespace(namespace)
        if secret is not None and not isinstance(secret, (bytes, bytearray)):
            raise InvalidOptionError(f"secret must be bytes or None, got {type(secret).__name__}")
        for name, v in (("ttl", ttl), ("lock_ttl", lock_ttl), ("store_timeout", store_timeout)):
            _positive(name, v)
        if not isinstance(wait_timeout, (int, float)) or wait_timeout < 0:
            raise InvalidOptionError(f"wait_timeout must be a number >= 0, got {wait_timeout!r}")
        if cacheable is not None and not callable(cacheable):
            raise InvalidOptionError(f"cacheable must be callable, got {cacheable!r}")
        if store is None:
            store = MemoryStore()
        elif not hasattr(store, "bind"):
            raise InvalidOptionError(f"store must be a MemoryStore, RedisStore or AsyncRedisStore, got {store!r}")
        self.store = store
        self.ttl = ttl
        self.lock_ttl = lock_ttl
        self.wait_timeout = wait_timeout
        self.secret = bytes(secret) if secret is not None else None
        self.allow_sampling = allow_sampling
        self.allow_server_tools = allow_server_tools
        self.cacheable = cacheable
        self.store_timeout = store_timeout
        self._bound = store.bind(store_timeout)
        self._lock_ms = max(1, int(lock_ttl * 1000))
        self._counts = dict.fromkeys(("calls", *_COUNTERS), 0)
        self._counts_lock = threading.Lock()

    # --- bookkeeping ---

    @property
    def stats(self) -> CacheStats:
        with self._counts_lock:
            return CacheStats(**self._counts)

    def _count(self, name: str) -> None:
        with self._counts_lock:
            self._counts[name] += 1
        if name == "errors":
            _metrics.store_error(self.namespace)

    def _store_error(self, e: StoreError) -> None:
        if not isinstance(e, BreakerOpen):  # a skipped operation is a fallback, not one more error
            self._count("errors")

    def _done(self, value: Any, status: Status, key: str | None, t0: float, ns: str) -> CacheResult:
        with self._counts_lock:
            self._counts["calls"] += 1
            self._counts[_STATUS_COUNTER[status]] += 1
        if t0:
            _metrics.observe(ns, status, time.perf_counter() - t0)
        return CacheResult(value, status, key)

    def _ns(self, namespace: str | None) -> str:
        """The namespace a call keys under: the cache's, or the call's own (validated as the constructor's)."""
        return self.namespace if namespace is None else validate_namespace(namespace)

    def _ttl_ms(self, ttl: float | None) -> int:
        if ttl is None:
            return max(1, int(self.ttl * 1000))
        _positive("ttl", ttl)
        return max(1, int(ttl * 1000))

    def _prepare(self, request: Any, mode: str, ns: str) -> tuple[str | None, bool]:
        """(key or None, whether this call bypasses the cache)."""
        if mode not in _MODES:
            raise InvalidOptionError(f"unknown mode {mode!r}; expected one of {', '.join(_MODES)}")
        try:
            key, sampling, server_tools = key_info(request, ns, self.secret)
        except PromptKeyError:
            # The call still happens; a request we cannot key is never cached, and counted as an error.
            self._count("errors")
            return None, True
        bypass = mode == "bypass" or (sampling and not self.allow_sampling)
        return key, bypass or (server_tools and not self.allow_server_tools)

    def _job(self, request: Any, key: str, mode: str, ttl_ms: int, seen: bytes | None, failed: bool) -> _Job:
        return _Job(key, store_key(key), _model_of(request), ttl_ms, mode, seen, failed)

    # --- the decision logic, shared by both drivers ---

    def _lead(self, job: _Job) -> Generator[Op, Any, Outcome]:
        if job.store_failed:
            return (yield from self._compute(job, None, write=False, status="fallback"))
        if job.mode == "refresh":
            return (yield from self._compute(job, None, write=True, status="miss"))
        if job.mode == "late":  # an in-process follower past wait_timeout: compute without the lock
            self._count("wait_timeouts")
            return (yield from self._compute(job, None, write=True, status="miss"))
        token = secrets.token_hex(16)
        deadline = time.monotonic() + self.wait_timeout
        seen, waited = job.seen, False
        while True:
            try:
                kind, payload = yield ("acquire", job.skey, token, self._lock_ms, seen)
            except StoreError as e:
                self._store_error(e)
                return (yield from self._compute(job, None, write=False, status="fallback"))
            if kind == 0:
                value = decode(payload, job.key)
                if value is INVALID:
                    seen = payload  # unreadable or another key's: take the lock and overwrite it
                    continue
                return ("wait" if waited else "hit"), payload, value
            if kind == 1:
                return (yield from self._compute(job, token, write=True, status="miss"))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._count("wait_timeouts")
                return (yield from self._compute(job, None, write=True, status="miss"))
            waited = True
            # Sleep at most until the holder's lock would expire: a dead holder is replaced then.
            until_expiry = payload / 1000 + 0.005 if payload > 0 else self.lock_ttl
            try:
                yield ("wait", job.skey, min(remaining, until_expiry))
            except StoreError as e:
                self._store_error(e)
                return (yield from self._compute(job, None, write=False, status="fallback"))

    def _compute(self, job: _Job, token: str | None, *, write: bool, status: str) -> Generator[Op, Any, Outcome]:
        if token is not None:
            yield ("extend", job.skey, token)
        try:
            value = yield ("call",)
        except BaseException:
            if token is not None:
                yield ("unextend",)
                yield from self._release(job, token)
            raise
        if token is not None:
            yield ("unextend",)
        try:
            data: bytes | None = encode(job.key, value, job.model)
        except (TypeError, ValueError):
            data = None  # not JSON: handed back as is, never stored
            self._count("errors")
        if data is not None and write and self._accepts(value):
            try:
                yield ("write", job.skey, data, job.ttl_ms, token, self._lock_ms)
            except StoreError as e:
                self._store_error(e)  # a failed write after computing stays a miss
        elif token is not None:
            yield from self._release(job, token)
        return status, data, (value if data is None else decode(data, job.key))

    def _release(self, job: _Job, token: str) -> Generator[Op, Any, None]:
        try:
            yield ("release", job.skey, token, self._lock_ms)
        except StoreError as e:
            self._store_error(e)

    def _accepts(self, value: Any) -> bool:
        if self.cacheable is None:
            return True
        try:
            return bool(self.cacheable(value))
        except Exception:  # noqa: BLE001 - the model was paid for: a faulty filter must not lose the answer
            self._count("errors")
            return False

    # --- sync driver ---

    def _sync_store(self) -> Any:
        if not self.store.serves_sync:
            raise InvalidOptionError(f"{type(self.store).__name__} serves aget_or_call; use RedisStore for get_or_call")
        return self._bound

    def get_or_call(
        self,
        request: Any,
        fn: Callable[[], Any],
        *,
        mode: Mode = "use",
        ttl: float | None = None,
        namespace: str | None = None,
    ) -> CacheResult:
        """The cached answer to `request`, or `fn()`'s (called at most once per key across callers);
        `namespace` keys this call under another namespace, sharing everything else of this cache."""
        t0 = time.perf_counter() if _metrics.enabled() else 0.0
        store = self._bound if self.store.serves_sync else self._sync_store()
        if ttl is not None:
            _positive("ttl", ttl)
        ns = self._ns(namespace)
        key, bypass = self._prepare(request, mode, ns)
        if bypass or key is None:
            return self._done(fn(), "bypass", key, t0, ns)
        skey = store_key(key)
        seen, failed = None, False
        if mode != "refresh":
            try:
                data = store.get(skey)
            except StoreError as e:
                data, failed = None, True
                self._store_error(e)
            if data is not None:
                value = decode(data, key)
                if value is not INVALID:
                    return self._done(value, "hit", key, t0, ns)
                seen = data
            if mode == "only-if-cached":
                return self._done(None, "uncached", key, t0, ns)
        job = self._job(request, key, mode, self._ttl_ms(ttl), seen, failed)
        deadline = time.monotonic() + self.wait_timeout  # in-process followers wait no longer than this
        while True:
            if mode == "refresh":
                status, _, value = self._run(job, store, fn)
                return self._done(value, status, key, t0, ns)  # type: ignore[arg-type]
            flight, leader = store.flights.join_or_lead(skey)
            if not leader and flight.thread == threading.get_ident():
                # An asyncio leader on this very thread cannot finish while we block: compute on our own.
                status, _, value = self._run(job, store, fn)
                return self._done(value, status, key, t0, ns)  # type: ignore[arg-type]
            if not leader:
                try:
                    outcome = flight.future.result(timeout=max(0.0, deadline - time.monotonic()))
                except FutureTimeout:
                    status, _, value = self._run(replace(job, mode="late"), store, fn)
                    return self._done(value, status, key, t0, ns)  # type: ignore[arg-type]
                if outcome is _RETRY:
                    continue
                return self._done(_follower_value(outcome, key), "coalesced", key, t0, ns)
            with _leading(store.flights, skey, flight) as settle:
                outcome = settle(self._run(job, store, fn))
            return self._done(outcome[2], outcome[0], key, t0, ns)  # type: ignore[arg-type]

    def _run(self, job: _Job, store: Any, fn: Callable[[], Any]) -> Outcome:
        gen = self._lead(job)
        send: Any = None
        exc: BaseException | None = None
        extender: _Extender | None = None
        try:
            while True:
                try:
                    op = gen.send(send) if exc is None else gen.throw(exc)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                send, exc = None, None
                name = op[0]
                try:
                    if name == "call":
                        send = fn()
                        if inspect.isawaitable(send):
                            _discard(send)
                            raise InvalidOptionError("fn returned an awaitable: use aget_or_call for async functions")
                    elif name == "extend":
                        extender = _Extender(self, store, op[1], op[2])
                        extender.start()
                    elif name == "unextend":
                        if extender is not None:
                            extender.stop()
                            extender = None
                    else:
                        send = getattr(store, name)(*op[1:])
                except BaseException as e:  # noqa: BLE001 - thrown into the flow, which cleans up and re-raises
                    exc = e
        finally:
            if extender is not None:
                extender.stop()

    # --- asyncio driver ---

    def _async_store(self) -> Any:
        if not self.store.serves_async:
            raise InvalidOptionError(f"{type(self.store).__name__} serves get_or_call; use AsyncRedisStore here")
        return self._bound

    async def aget_or_call(
        self,
        request: Any,
        afn: Callable[[], Awaitable[Any]] | Callable[[], Any],
        *,
        mode: Mode = "use",
        ttl: float | None = None,
        namespace: str | None = None,
    ) -> CacheResult:
        """The asyncio twin of `get_or_call`: `afn()` is awaited (a plain function's result is used as is)."""
        t0 = time.perf_counter() if _metrics.enabled() else 0.0
        ttl_ms = self._ttl_ms(ttl)
        store = self._async_store()
        ns = self._ns(namespace)
        key, bypass = self._prepare(request, mode, ns)
        if bypass or key is None:
            return self._done(await _maybe_await(afn()), "bypass", key, t0, ns)
        skey = store_key(key)
        seen, failed = None, False
        if mode != "refresh":
            try:
                data = await store.get(skey) if store.is_async else store.get(skey)
            except StoreError as e:
                data, failed = None, True
                self._store_error(e)
            if data is not None:
                value = decode(data, key)
                if value is not INVALID:
                    return self._done(value, "hit", key, t0, ns)
                seen = data
            if mode == "only-if-cached":
                return self._done(None, "uncached", key, t0, ns)
        job = self._job(request, key, mode, ttl_ms, seen, failed)
        deadline = time.monotonic() + self.wait_timeout  # in-process followers wait no longer than this
        while True:
            if mode == "refresh":
                status, _, value = await self._arun(job, store, afn)
                return self._done(value, status, key, t0, ns)  # type: ignore[arg-type]
            flight, leader = store.flights.join_or_lead(skey)
            if not leader:
                # shield: a cancelled follower must not cancel the computation the others are waiting for.
                shared = asyncio.shield(asyncio.wrap_future(flight.future))
                try:
                    outcome = await asyncio.wait_for(shared, max(0.0, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    status, _, value = await self._arun(replace(job, mode="late"), store, afn)
                    return self._done(value, status, key, t0, ns)  # type: ignore[arg-type]
                if outcome is _RETRY:
                    continue
                return self._done(_follower_value(outcome, key), "coalesced", key, t0, ns)
            with _leading(store.flights, skey, flight) as settle:
                outcome = settle(await self._arun(job, store, afn))
            return self._done(outcome[2], outcome[0], key, t0, ns)  # type: ignore[arg-type]

    async def _arun(self, job: _Job, store: Any, afn: Callable[[], Any]) -> Outcome:
        gen = self._lead(job)
        send: Any = None
        exc: BaseException | None = None
        extender: asyncio.Task[None] | None = None
        try:
            while True:
                try:
                    op = gen.send(send) if exc is None else gen.throw(exc)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                send, exc = None, None
                name = op[0]
                try:
                    if name == "call":
                        send = await _maybe_await(afn())
                    elif name == "extend":
                        extender = asyncio.create_task(self._aextend(store, op[1], op[2]))
                    elif name == "unextend":
                        if extender is not None:
                            extender.cancel()
                            extender = None
                    else:
                        send = getattr(store, name)(*op[1:])
                        if store.is_async:
                            send = await send
                except BaseException as e:  # noqa: BLE001 - thrown into the flow, which cleans up and re-raises
                    exc = e
        finally:
            if extender is not None:
                extender.cancel()

    async def _aextend(self, store: Any, skey: str, token: str) -> None:
        while True:
            await asyncio.sleep(self.lock_ttl / 3)  # a heartbeat at a third of the lock's life, not a poll
            try:
                ok = store.extend(skey, token, self._lock_ms)
                if store.is_async:
                    ok = await ok
            except StoreError as e:
                self._store_error(e)
                continue
            if not ok:
                return  # the lock is gone (expired, or the write released it): nothing left to keep

    # --- direct access ---

    def _key(self, request: Any, namespace: str | None) -> str:
        return key_info(request, self._ns(namespace), self.secret)[0]

    def peek(self, request: Any, *, namespace: str | None = None) -> Any:
        """The cached value for `request`, or None (also when the store is unavailable); never computes."""
        key = self._key(request, namespace)
        try:
            data = self._sync_store().get(store_key(key))
        except StoreError as e:
            self._store_error(e)
            return None
        value = INVALID if data is None else decode(data, key)
        return None if value is INVALID else value

    def delete(self, request: Any, *, namespace: str | None = None) -> bool:
        """Remove `request`'s entry; True if there was one (False also when the store is unavailable)."""
        try:
            return bool(self._sync_store().delete(store_key(self._key(request, namespace))))
        except StoreError as e:
            self._store_error(e)
            return False

    async def apeek(self, request: Any, *, namespace: str | None = None) -> Any:
        """The asyncio twin of `peek`."""
        key = self._key(request, namespace)
        store = self._async_store()
        try:
            data = await store.get(store_key(key)) if store.is_async else store.get(store_key(key))
        except StoreError as e:
            self._store_error(e)
            return None
        value = INVALID if data is None else decode(data, key)
        return None if value is INVALID else value

    async def adelete(self, request: Any, *, namespace: str | None = None) -> bool:
        """The asyncio twin of `delete`."""
        store = self._async_store()
        try:
            done = store.delete(store_key(self._key(request, namespace)))
            return bool(await done if store.is_async else done)
        except StoreError as e:
            self._store_error(e)
            return False

    # --- two-phase calls: an answer computed outside the cache (a stream the caller reads) ---
    # `_lookup` decides and counts the call once (hit, miss, bypass, fallback); `_store` later writes the
    # answer of a miss and counts nothing more, so a stream read to the end, or abandoned, is one call.

    def _open(self, request: Any, mode: str, ttl: float | None, namespace: str | None) -> _Pending:
        ns = self._ns(namespace)
        ttl_ms = self._ttl_ms(ttl)  # a bad ttl fails before the answer is paid for
        key, bypass = self._prepare(request, mode, ns)
        status = "bypass" if bypass or key is None else "miss"
        return _Pending(key, store_key(key) if key else "", status, None, _model_of(request), ttl_ms, ns)

    def _read(self, pending: _Pending, data: bytes | None, failed: bool, t0: float) -> _Pending:
        if failed:
            pending.status = "fallback"  # as in get_or_call: nothing is written after a failed read
        elif data is not None and pending.key is not None:
            value = decode(data, pending.key)
            if value is not INVALID:
                pending.status, pending.value = "hit", value
        self._done(None, pending.status, pending.key, t0, pending.ns)  # type: ignore[arg-type]
        return pending

    def _lookup(
        self, request: Any, *, mode: str = "use", ttl: float | None = None, namespace: str | None = None
    ) -> _Pending:
        """Phase one: `.status` "hit" (with `.value`), "miss" (compute, then `_store`), "bypass" or "fallback"."""
        t0 = time.perf_counter() if _metrics.enabled() else 0.0
        store = self._sync_store()
        pending = self._open(request, mode, ttl, namespace)
        data, failed = None, False
        if pending.status == "miss" and mode != "refresh":
            try:
                data = store.get(pending.skey)
            except StoreError as e:
                failed = True
                self._store_error(e)
        return self._read(pending, data, failed, t0)

    async def _alookup(
        self, request: Any, *, mode: str = "use", ttl: float | None = None, namespace: str | None = None
    ) -> _Pending:
        """The asyncio twin of `_lookup`."""
        t0 = time.perf_counter() if _metrics.enabled() else 0.0
        store = self._async_store()
        pending = self._open(request, mode, ttl, namespace)
        data, failed = None, False
        if pending.status == "miss" and mode != "refresh":
            try:
                data = await store.get(pending.skey) if store.is_async else store.get(pending.skey)
            except StoreError as e:
                failed = True
                self._store_error(e)
        return self._read(pending, data, failed, t0)

    def _envelope(self, pending: _Pending, value: Any) -> bytes | None:
        """The bytes `_store` writes, or None when nothing is to be written (and why is already counted)."""
        if pending.status != "miss" or pending.key is None or pending.stored:
            return None
        pending.stored = True  # phase two runs once, whatever happens in it
        try:
            data = encode(pending.key, value, pending.model)
        except (TypeError, ValueError):
            self._count("errors")
            return None
        return data if self._accepts(value) else None

    def _store(self, pending: _Pending, value: Any) -> bool:
        """Phase two: write a miss's answer (a plain overwrite that wakes waiters); True if it was written."""
        data = self._envelope(pending, value)
        if data is None:
            return False
        try:
            self._sync_store().write(pending.skey, data, pending.ttl_ms, None, self._lock_ms)
        except StoreError as e:
            self._store_error(e)  # a failed write stays a miss, as in get_or_call
            return False
        return True

    async def _astore(self, pending: _Pending, value: Any) -> bool:
        """The asyncio twin of `_store`."""
        data = self._envelope(pending, value)
        if data is None:
            return False
        store = self._async_store()
        try:
            done = store.write(pending.skey, data, pending.ttl_ms, None, self._lock_ms)
            if store.is_async:
                await done
        except StoreError as e:
            self._store_error(e)
            return False
        return True

    # --- lifecycle: close the connections this cache's store binding opened (never a client you passed) ---

    def close(self) -> None:
        if not self._bound.is_async:
            closer = getattr(self._bound, "close", None)
            if closer is not None:
                closer()

    async def aclose(self) -> None:
        if self._bound.is_async:
            await self._bound.aclose()
        else:
            self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"ResponseCache(store={self.store!r}, namespace={self.namespace!r}, ttl={self.ttl})"


class _Extender:
    """Keeps a held lock alive while `fn` runs: PEXPIRE (owner-checked) every lock_ttl / 3."""

    def __init__(self, cache: ResponseCache, store: Any, skey: str, token: str) -> None:
        self._cache, self._store, self._skey, self._token = cache, store, skey, token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="promptkey-lock-extender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        interval = self._cache.lock_ttl / 3
        while not self._stop.wait(interval):
            try:
                if not self._store.extend(self._skey, self._token, self._cache._lock_ms):
                    return
            except StoreError as e:
                self._cache._store_error(e)


def _follower_value(outcome: Outcome, key: str) -> Any:
    _, data, value = outcome
    # A fresh decode for every follower; a value that could not be encoded is shared as is.
    return value if data is None else decode(data, key)


def _model_of(request: Any) -> Any:
    return request.get("model") if isinstance(request, Mapping) else getattr(request, "model", None)


def _discard(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)  # a coroutine never awaited would warn at garbage collection
    if close is not None:
        close()


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidOptionError(f"{name} must be a positive number of seconds, got {value!r}")
