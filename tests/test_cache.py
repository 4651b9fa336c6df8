"""ResponseCache semantics on the embedded MemoryStore: statuses, modes, isolation, single flight, breaker."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import promptkey
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from promptkey import InvalidOptionError, MemoryStore, ResponseCache, make_key
from promptkey.cache import CircuitBreaker
from promptkey.cache._envelope import INVALID, decode, encode
from promptkey.cache._keying import store_key

pytestmark = pytest.mark.timeout(60)  # a hang (a lost wake-up, a deadlock) fails instead of stalling

REQ = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
ANSWER = {"content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn", "usage": {"output_tokens": 2}}


class Model:
    """A model stand-in that counts calls and can be slowed down or made to fail."""

    def __init__(self, answer: Any = ANSWER, delay: float = 0.0, error: BaseException | None = None) -> None:
        self.answer, self.delay, self.error = answer, delay, error
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.answer


def add_up(stats: promptkey.CacheStats) -> int:
    s = stats
    return s.hits + s.misses + s.waits + s.coalesced + s.bypasses + s.fallbacks + s.uncached


def test_miss_then_hit_returns_equal_fresh_values_and_the_make_key_key() -> None:
    cache = ResponseCache(namespace="app")
    model = Model()
    first = cache.get_or_call(REQ, model)
    second = cache.get_or_call(REQ, model)
    assert (first.status, second.status, model.calls) == ("miss", "hit", 1)
    assert first.key == second.key == make_key(REQ, namespace="app")
    assert first.value == second.value == ANSWER
    assert first.value is not ANSWER and first.value is not second.value


def test_a_caller_mutating_its_value_does_not_change_the_next_callers() -> None:
    cache = ResponseCache()
    first = cache.get_or_call(REQ, Model())
    first.value["content"][0]["text"] = "tampered"
    first.value["extra"] = 1
    assert cache.get_or_call(REQ, Model()).value == ANSWER
    assert cache.peek(REQ) == ANSWER


def test_sixty_four_threads_share_one_computation() -> None:
    cache = ResponseCache()
    model = Model(delay=0.2)
    barrier = threading.Barrier(64)
    results: list[promptkey.CacheResult] = []

    def call() -> None:
        barrier.wait()
        results.append(cache.get_or_call(REQ, model))

    threads = [threading.Thread(target=call) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert model.calls == 1
    assert all(r.value == ANSWER for r in results) and len(results) == 64
    stats = cache.stats
    assert stats.misses == 1 and stats.calls == 64 == add_up(stats)
    assert stats.coalesced + stats.hits == 63 and stats.stampede_rate == stats.coalesced
    # Every caller got its own object.
    assert len({id(r.value) for r in results}) == 64


def test_two_hundred_asyncio_tasks_share_one_computation() -> None:
    cache = ResponseCache()
    calls = 0

    async def afn() -> Any:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return ANSWER

    async def main() -> list[promptkey.CacheResult]:
        return await asyncio.gather(*(cache.aget_or_call(REQ, afn) for _ in range(200)))

    results = asyncio.run(main())
    assert calls == 1 and {r.status for r in results} == {"miss", "coalesced"}
    assert all(r.value == ANSWER for r in results)
    assert cache.stats.calls == 200 == add_up(cache.stats) and cache.stats.coalesced == 199


def test_fn_raising_reaches_every_follower_and_nothing_is_stored() -> None:
    cache = ResponseCache()
    boom = RuntimeError("model overloaded")
    model = Model(delay=0.2, error=boom)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            cache.get_or_call(REQ, model)
        except RuntimeError as e:
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert model.calls == 1 and len(errors) == 8 and all(e is boom for e in errors)
    assert cache.peek(REQ) is None
    assert cache.get_or_call(REQ, Model()).status == "miss"


def test_refresh_recomputes_and_overwrites() -> None:
    cache = ResponseCache()
    cache.get_or_call(REQ, Model(answer={"v": 1}))
    res = cache.get_or_call(REQ, Model(answer={"v": 2}), mode="refresh")
    assert (res.status, res.value) == ("miss", {"v": 2})
    assert cache.get_or_call(REQ, Model(answer={"v": 3})).value == {"v": 2}


def test_bypass_neither_reads_writes_nor_joins_a_computation() -> None:
    cache = ResponseCache()
    cache.get_or_call(REQ, Model(answer={"v": 1}))
    res = cache.get_or_call(REQ, Model(answer={"v": 2}), mode="bypass")
    assert (res.status, res.value) == ("bypass", {"v": 2})
    assert cache.peek(REQ) == {"v": 1}
    # While another caller computes a new key, a bypass caller calls its own function.
    other = dict(REQ, max_tokens=7)
    slow = Model(answer={"v": "slow"}, delay=0.3)
    t = threading.Thread(target=cache.get_or_call, args=(other, slow))
    t.start()
    time.sleep(0.05)
    fast = Model(answer={"v": "own"})
    assert cache.get_or_call(other, fast, mode="bypass").value == {"v": "own"} and fast.calls == 1
    t.join()
    assert cache.peek(other) == {"v": "slow"}


def test_only_if_cached_never_calls_the_model() -> None:
    cache = ResponseCache()
    model = Model()
    res = cache.get_or_call(REQ, model, mode="only-if-cached")
    assert (res.status, res.value, model.calls) == ("uncached", None, 0)
    cache.get_or_call(REQ, model)
    assert cache.get_or_call(REQ, model, mode="only-if-cached").status == "hit" and model.calls == 1
    assert cache.stats.uncached == 1 and cache.stats.calls == add_up(cache.stats)


def test_unknown_mode_and_bad_options_are_refused() -> None:
    with pytest.raises(InvalidOptionError, match="unknown mode 'sometimes'"):
        ResponseCache().get_or_call(REQ, Model(), mode="sometimes")  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="braces"):
        ResponseCache(namespace="tenant{a}")
    with pytest.raises(InvalidOptionError, match="ttl"):
        ResponseCache(ttl=0)
    with pytest.raises(InvalidOptionError, match="secret"):
        ResponseCache(secret="text")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        ({"temperature": 0.7}, "allow_sampling"),
        ({"top_p": 0.9}, "allow_sampling"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "allow_server_tools"),
    ],
)
def test_sampling_and_server_tools_bypass_unless_allowed(extra: dict[str, Any], option: str) -> None:
    request = {**REQ, **extra}
    cache = ResponseCache()
    assert [cache.get_or_call(request, Model()).status for _ in range(2)] == ["bypass", "bypass"]
    # Spelled out (not `**{option: True}`) so mypy checks both option names against ResponseCache's signature.
    allowed = ResponseCache(
        allow_sampling=option == "allow_sampling", allow_server_tools=option == "allow_server_tools"
    )
    assert [allowed.get_or_call(request, Model()).status for _ in range(2)] == ["miss", "hit"]


def test_temperature_zero_is_cached() -> None:
    cache = ResponseCache()
    assert [cache.get_or_call({**REQ, "temperature": 0}, Model()).status for _ in range(2)] == ["miss", "hit"]


def test_a_request_that_cannot_be_keyed_bypasses_and_counts_an_error() -> None:
    cache = ResponseCache()
    model = Model()
    res = cache.get_or_call({**REQ, "metadata_score": float("nan")}, model)
    assert (res.status, res.key, model.calls) == ("bypass", None, 1)
    assert cache.stats.errors == 1 and cache.stats.bypasses == 1


def test_ttl_expiry_and_per_call_override() -> None:
    cache = ResponseCache(ttl=0.1)
    cache.get_or_call(REQ, Model())
    other = dict(REQ, max_tokens=5)
    cache.get_or_call(other, Model(), ttl=30)
    time.sleep(0.15)
    assert cache.get_or_call(REQ, Model()).status == "miss"
    assert cache.get_or_call(other, Model()).status == "hit"


def test_namespaces_and_secrets_isolate_tenants() -> None:
    store = MemoryStore()
    a, b = ResponseCache(store, namespace="a"), ResponseCache(store, namespace="b")
    s1, s2 = ResponseCache(store, secret=b"k1"), ResponseCache(store, secret=b"k2")
    for cache, answer in ((a, 1), (b, 2), (s1, 3), (s2, 4)):
        assert cache.get_or_call(REQ, Model(answer=answer)).status == "miss"
    assert [c.peek(REQ) for c in (a, b, s1, s2)] == [1, 2, 3, 4]
    assert s1.get_or_call(REQ, Model()).key == make_key(REQ, secret=b"k1") != make_key(REQ)


def test_cacheable_filter_decides_what_is_stored() -> None:
    cache = ResponseCache(cacheable=lambda v: v.get("stop_reason") == "end_turn")
    truncated = {**ANSWER, "stop_reason": "max_tokens"}
    assert [cache.get_or_call(REQ, Model(answer=truncated)).status for _ in range(2)] == ["miss", "miss"]
    assert [cache.get_or_call(REQ, Model()).status for _ in range(2)] == ["miss", "hit"]


def test_a_value_that_is_not_json_is_returned_but_never_stored() -> None:
    cache = ResponseCache()
    odd = {"when": object()}
    res = cache.get_or_call(REQ, Model(answer=odd))
    assert res.value is odd and res.status == "miss" and cache.stats.errors == 1
    assert cache.peek(REQ) is None


@pytest.mark.parametrize("bad", [b"{not json", b'{"format":1,"key":"other:v1:00","value":1}', b'{"format":1,"ke'])
def test_unreadable_or_foreign_envelopes_are_misses_and_overwritten(bad: bytes) -> None:
    store = MemoryStore()
    cache = ResponseCache(store)
    key = make_key(REQ)
    store.write(store_key(key), bad, 60_000, None, 1000)
    assert cache.peek(REQ) is None
    assert cache.get_or_call(REQ, Model()).status == "miss"
    assert decode(store.get(store_key(key)) or b"", key) == ANSWER
    assert cache.get_or_call(REQ, Model()).status == "hit"


def test_envelope_names_format_key_model_and_usage() -> None:
    import json

    data = json.loads(encode("ns:v1:ab", ANSWER, "claude-x", created=5.0))
    assert data == {"format": 1, "key": "ns:v1:ab", "created": 5.0, "model": "claude-x", "usage": ANSWER["usage"],
                    "value": ANSWER}  # fmt: skip


def test_memory_store_is_lru_with_a_bound() -> None:
    store = MemoryStore(max_entries=2)
    cache = ResponseCache(store)
    reqs = [dict(REQ, max_tokens=n) for n in range(3)]
    cache.get_or_call(reqs[0], Model())
    cache.get_or_call(reqs[1], Model())
    assert cache.peek(reqs[0]) is not None  # touch 0, so 1 is the least recently used
    cache.get_or_call(reqs[2], Model())
    assert len(store) == 2 and cache.peek(reqs[1]) is None and cache.peek(reqs[0]) is not None
    assert cache.delete(reqs[0]) is True and cache.delete(reqs[0]) is False


def test_stats_rates() -> None:
    cache = ResponseCache()
    for _ in range(3):
        cache.get_or_call(REQ, Model())
    cache.get_or_call(REQ, Model(), mode="bypass")
    s = cache.stats
    assert (s.calls, s.hits, s.misses, s.bypasses) == (4, 2, 1, 1)
    assert s.hit_rate == pytest.approx(2 / 3) and s.stampede_rate == 0.0
    assert promptkey.CacheStats().hit_rate == 0.0


def test_context_managers() -> None:
    with ResponseCache() as cache:
        assert cache.get_or_call(REQ, Model()).status == "miss"

    async def main() -> str:
        async with ResponseCache() as acache:
            return (await acache.aget_or_call(REQ, Model())).status

    assert asyncio.run(main()) == "miss"


def test_circuit_breaker_opens_probes_once_and_backs_off() -> None:
    br = CircuitBreaker(failure_threshold=2, reset_timeout=0.05, max_reset_timeout=0.1)
    assert br.allow() and br.state == "closed"
    br.failure()
    assert br.allow()
    br.failure()
    assert br.state == "open" and not br.allow()
    time.sleep(0.06)
    assert br.allow() and not br.allow()  # exactly one probe
    br.failure()  # failed probe: open again for twice as long (capped)
    assert not br.allow()
    time.sleep(0.11)
    assert br.allow()
    br.success()
    assert br.state == "closed" and br.allow() and br.opened == 1
    with pytest.raises(InvalidOptionError):
        CircuitBreaker(failure_threshold=0)


def test_prometheus_metrics_count_calls_by_status_and_store_errors() -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    from promptkey.cache import _metrics, enable_prometheus

    registry = prometheus_client.CollectorRegistry()
    enable_prometheus(registry)
    try:
        cache = ResponseCache(namespace="metrics")
        for _ in range(3):
            cache.get_or_call(REQ, Model())
        cache.get_or_call(REQ, Model(), mode="bypass")

        def sample(name: str, **labels: str) -> float:
            return registry.get_sample_value(name, labels) or 0.0

        assert sample("promptkey_cache_calls_total", namespace="metrics", status="hit") == 2
        assert sample("promptkey_cache_calls_total", namespace="metrics", status="miss") == 1
        assert sample("promptkey_cache_calls_total", namespace="metrics", status="bypass") == 1
        assert sample("promptkey_cache_call_seconds_count", status="hit") == 2
    finally:
        _metrics._calls = _metrics._errors = _metrics._latency = None


def test_in_process_followers_also_stop_waiting_at_wait_timeout() -> None:
    cache = ResponseCache(wait_timeout=0.2)
    stuck = Model(answer="late leader", delay=1.0)
    t = threading.Thread(target=cache.get_or_call, args=(REQ, stuck))
    t.start()
    time.sleep(0.05)
    res = cache.get_or_call(REQ, Model(answer="own"))
    assert (res.status, res.value) == ("miss", "own") and cache.stats.wait_timeouts == 1
    t.join()

    async def main() -> promptkey.CacheResult:
        other = dict(REQ, max_tokens=3)

        async def slow() -> str:
            await asyncio.sleep(1.0)
            return "slow"

        async def fast() -> str:
            return "fast"

        leader = asyncio.create_task(cache.aget_or_call(other, slow))
        await asyncio.sleep(0.05)
        res = await cache.aget_or_call(other, fast)
        await leader
        return res

    res = asyncio.run(main())
    assert (res.status, res.value) == ("miss", "fast") and cache.stats.wait_timeouts == 2


def test_an_async_function_given_to_get_or_call_is_refused_and_nothing_is_stored() -> None:
    cache = ResponseCache()

    async def afn() -> str:
        return "never awaited"

    with pytest.raises(InvalidOptionError, match="aget_or_call"):
        cache.get_or_call(REQ, afn)
    assert cache.peek(REQ) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["use", "refresh", "bypass", "only-if-cached"]))))
def test_sequential_calls_follow_a_reference_model(ops: list[tuple[int, str]]) -> None:
    """Whatever the order of modes and keys, one caller sees exactly what a plain dict cache predicts."""
    cache = ResponseCache()
    reference: dict[int, int] = {}
    answers = iter(range(10**6))
    for index, mode in ops:
        request = dict(REQ, max_tokens=index + 1)
        res = cache.get_or_call(request, lambda: {"n": next(answers)}, mode=mode)  # type: ignore[arg-type]
        if mode == "bypass":
            assert res.status == "bypass"
        elif mode == "refresh" or (mode == "use" and index not in reference):
            assert res.status == "miss"
            reference[index] = res.value["n"]
        elif index in reference:
            assert (res.status, res.value) == ("hit", {"n": reference[index]})
        else:
            assert (res.status, res.value) == ("uncached", None)
    stats = cache.stats
    assert stats.calls == len(ops) == add_up(stats) and stats.errors == 0


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_envelopes_round_trip_every_json_value(value: Any) -> None:
    data = encode("ns:v1:ab", value, "m")
    assert decode(data, "ns:v1:ab") == value and decode(data, "ns:v1:cd") is INVALID


@given(st.binary(max_size=200))
def test_decoding_arbitrary_bytes_never_raises(data: bytes) -> None:
    out = decode(data, "ns:v1:ab")
    assert out is INVALID or isinstance(out, (dict, list, str, int, float, bool, type(None)))


def test_the_example_runs() -> None:
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "examples" / "response_cache.py"
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "{'coalesced': 31, 'miss': 1}; model calls in this process: 1" in out and "one more call: hit" in out


# --- per-call namespaces (`namespace=`): one cache, several key spaces, shared store, flights and stats ---


def test_a_per_call_namespace_isolates_entries_and_shares_the_counters() -> None:
    store = MemoryStore()
    cache = ResponseCache(store, namespace="app")
    own = cache.get_or_call(REQ, Model(answer=1))
    other = cache.get_or_call(REQ, Model(answer=2), namespace="app:https://api.example.com:443")
    assert (own.status, other.status) == ("miss", "miss")
    assert other.key == make_key(REQ, namespace="app:https://api.example.com:443") != own.key
    # the same store: a cache built with that namespace sees the entry written through the keyword
    assert ResponseCache(store, namespace="app:https://api.example.com:443").peek(REQ) == 2
    assert cache.get_or_call(REQ, Model(answer=3), namespace="app:https://api.example.com:443").value == 2
    assert (cache.peek(REQ), cache.peek(REQ, namespace="app:https://api.example.com:443")) == (1, 2)
    assert cache.peek(REQ, namespace="nobody") is None
    assert cache.delete(REQ, namespace="app:https://api.example.com:443") is True
    assert (cache.peek(REQ), cache.peek(REQ, namespace="app:https://api.example.com:443")) == (1, None)
    stats = cache.stats
    assert (stats.calls, stats.misses, stats.hits) == (3, 2, 1) and add_up(stats) == stats.calls


def test_a_per_call_namespace_is_validated_like_the_constructors() -> None:
    cache = ResponseCache()
    for bad in ("a{b}", "", 7):
        with pytest.raises(InvalidOptionError, match="namespace"):
            cache.get_or_call(REQ, Model(), namespace=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidOptionError, match="namespace"):
            cache.peek(REQ, namespace=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidOptionError, match="namespace"):
            cache.delete(REQ, namespace=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidOptionError, match="namespace"):
            asyncio.run(cache.aget_or_call(REQ, Model(), namespace=bad))  # type: ignore[arg-type]
    assert cache.stats.calls == 0  # refused before anything was counted


def test_in_process_single_flight_is_shared_per_key_never_across_namespaces() -> None:
    cache = ResponseCache()
    models = {"a": Model(answer="a", delay=0.2), "b": Model(answer="b", delay=0.2)}
    barrier = threading.Barrier(32)
    results: list[tuple[str, promptkey.CacheResult]] = []

    def call(ns: str) -> None:
        barrier.wait()
        results.append((ns, cache.get_or_call(REQ, models[ns], namespace=ns)))

    threads = [threading.Thread(target=call, args=("ab"[i % 2],)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert models["a"].calls == models["b"].calls == 1  # one computation per key, not one in all
    assert all(r.value == ns for ns, r in results) and len(results) == 32
    stats = cache.stats
    assert stats.misses == 2 and stats.coalesced + stats.hits == 30 and stats.calls == 32 == add_up(stats)


def test_a_call_in_another_namespace_does_not_wait_for_a_computation_in_this_one() -> None:
    cache = ResponseCache()
    entered, gate = threading.Event(), threading.Event()

    def slow() -> Any:
        entered.set()
        assert gate.wait(10)
        return "slow"

    leader = threading.Thread(target=cache.get_or_call, args=(REQ, slow), kwargs={"namespace": "a"})
    leader.start()
    assert entered.wait(10)
    # the leader is still computing: a call keyed elsewhere computes its own answer at once
    res = cache.get_or_call(REQ, Model(answer="own"), namespace="b")
    assert (res.status, res.value, gate.is_set()) == ("miss", "own", False)
    gate.set()
    leader.join()
    assert cache.peek(REQ, namespace="a") == "slow" and cache.peek(REQ, namespace="b") == "own"


def test_async_per_call_namespace() -> None:
    cache = ResponseCache()

    async def main() -> list[str]:
        first = await cache.aget_or_call(REQ, Model(answer=1), namespace="x")
        second = await cache.aget_or_call(REQ, Model(answer=2), namespace="x")
        third = await cache.aget_or_call(REQ, Model(answer=3))
        assert await cache.apeek(REQ, namespace="x") == 1 and await cache.adelete(REQ, namespace="x")
        assert await cache.apeek(REQ, namespace="x") is None and await cache.apeek(REQ) == 3
        return [first.status, second.status, third.status]

    assert asyncio.run(main()) == ["miss", "hit", "miss"]
    assert (cache.stats.calls, cache.stats.misses, cache.stats.hits) == (3, 2, 1)


# --- two phases (`_lookup`, then `_store`): an answer computed outside the cache counts as one call ---


def test_a_lookup_and_its_store_count_once() -> None:
    cache = ResponseCache()
    pending = cache._lookup(REQ, namespace="s")
    assert (pending.status, pending.key) == ("miss", make_key(REQ, namespace="s"))
    assert cache.stats.calls == cache.stats.misses == 1
    assert cache._store(pending, ANSWER) is True and cache._store(pending, {"again": 1}) is False  # once only
    assert cache.stats.calls == 1 and cache.peek(REQ, namespace="s") == ANSWER
    hit = cache._lookup(REQ, namespace="s")
    assert (hit.status, hit.value) == ("hit", ANSWER) and cache._store(hit, {"v": 2}) is False
    never = cache._lookup(dict(REQ, max_tokens=5))  # looked up, never stored (an abandoned stream)
    assert never.status == "miss"
    bypass = cache._lookup(REQ, mode="bypass", namespace="s")
    assert bypass.status == "bypass" and cache._store(bypass, {"v": 3}) is False
    refresh = cache._lookup(REQ, mode="refresh", namespace="s")
    assert refresh.status == "miss" and cache._store(refresh, {"v": 4}) and cache.peek(REQ, namespace="s") == {"v": 4}
    stats = cache.stats
    assert (stats.calls, stats.misses, stats.hits, stats.bypasses) == (5, 3, 1, 1) and add_up(stats) == 5
    with pytest.raises(InvalidOptionError, match="ttl"):
        cache._lookup(REQ, ttl=0)
    assert cache.stats.calls == 5


def test_a_two_phase_call_whose_answer_is_not_stored_stays_one_miss() -> None:
    cache = ResponseCache(cacheable=lambda v: v != "no")
    declined = cache._lookup(REQ)
    assert cache._store(declined, "no") is False and cache.peek(REQ) is None
    not_json = cache._lookup(REQ)
    assert cache._store(not_json, float("nan")) is False and cache.peek(REQ) is None
    stats = cache.stats
    assert (stats.calls, stats.misses, stats.errors) == (2, 2, 1)


def test_async_two_phase_call() -> None:
    cache = ResponseCache()

    async def main() -> tuple[str, str]:
        miss = await cache._alookup(REQ)
        assert await cache._astore(miss, ANSWER)
        hit = await cache._alookup(REQ)
        return miss.status, hit.status

    assert asyncio.run(main()) == ("miss", "hit")
    assert (cache.stats.calls, cache.stats.misses, cache.stats.hits) == (2, 1, 1)
