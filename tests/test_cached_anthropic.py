"""CachedAnthropic end to end: the real `anthropic` SDK over loopback against promptkey's emulator."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sdk_clients import track

pytest.importorskip("anthropic")  # the `anthropic` extra

import anthropic
import httpx2
import promptkey
from promptkey import CacheStats, InvalidOptionError, MemoryStore, ResponseCache, make_key
from promptkey.anthropic import AsyncCachedAnthropic, CachedAnthropic, CallRecord, origin_of
from promptkey.emulator import serve

MODEL = "claude-sonnet-4-6"
# Long enough to reach the model's minimum cacheable prefix (1,024 tokens) with room to spare.
SYSTEM = "You answer questions about the handbook. " + " ".join(f"Rule {i}: be exact and brief." for i in range(400))


def params(question: str = "What is rule 7?", **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 256,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": question}],
        **extra,
    }


class Seen:
    """What went over the wire: an httpx event hook on the SDK's own HTTP client records each request."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []

    def hook(self, request: httpx2.Request) -> None:
        self.requests.append(request)

    async def ahook(self, request: httpx2.Request) -> None:
        self.requests.append(request)

    def wire_request(self, index: int = -1) -> dict[str, Any]:
        """The body the emulator received, plus the beta/version headers that travelled with it."""
        request = self.requests[index]
        body = json.loads(request.content)
        headers = {
            name: request.headers[name] for name in ("anthropic-version", "anthropic-beta") if name in request.headers
        }
        return {**body, "extra_headers": headers}


@pytest.fixture
def emulator() -> Iterator[Any]:
    with serve() as emu:
        yield emu


def sdk_client(emu: Any, seen: Seen | None = None, **options: Any) -> Any:
    """A real SDK client for the emulator (closed after the test), with `seen` recording what it sends."""
    hooks = {"request": [seen.hook]} if seen is not None else {}
    http = httpx2.Client(event_hooks=hooks)
    client = anthropic.Anthropic(base_url=emu.base_url, api_key="test-key", http_client=http, max_retries=0, **options)
    return track(client)


def test_second_identical_call_is_served_from_the_cache(emulator: Any) -> None:
    records: list[CallRecord] = []
    cache = ResponseCache(MemoryStore())
    client = CachedAnthropic(sdk_client(emulator), cache=cache, on_call=records.append)
    first = client.messages.create(**params())
    assert client.last is not None and client.last.status == "miss"
    miss = client.last
    second = client.messages.create(**params())
    hit = client.last
    assert isinstance(first, anthropic.types.Message) and isinstance(second, anthropic.types.Message)
    assert second.model_dump() == first.model_dump()
    assert emulator.stats["requests"] == 1  # the emulator saw one request
    assert hit is not None and hit.status == "hit" and hit.key == miss.key
    assert miss.cost is not None and miss.cost > 0 and miss.saved == 0
    assert hit.cost == 0 and hit.saved == pytest.approx(miss.cost)
    assert hit.usage["input_tokens"] == 0 and miss.usage["output_tokens"] > 0
    assert records == [miss, hit]
    # the user's own cache object counts the wrapper's calls (the origin view shares its counters and store)
    assert (cache.stats.calls, cache.stats.misses, cache.stats.hits) == (2, 1, 1)


def test_cost_matches_the_usage_the_api_billed(emulator: Any) -> None:
    client = CachedAnthropic(sdk_client(emulator))  # no response cache: usage and cost still recorded
    message = client.messages.create(
        **params(system=[{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}])
    )
    record = client.last
    assert record is not None and record.status == "bypass" and record.key is None
    assert record.usage == message.usage.model_dump(mode="json")
    assert message.usage.cache_creation_input_tokens and message.usage.cache_creation_input_tokens > 1000
    assert record.cost == pytest.approx(promptkey.cost(message.usage, MODEL).total)


def test_key_equals_the_key_of_what_went_over_the_wire(emulator: Any) -> None:
    seen = Seen()
    cache = ResponseCache(MemoryStore())
    client = CachedAnthropic(
        sdk_client(emulator, seen, default_headers={"anthropic-beta": "b-2026-01-01"}), cache=cache
    )
    client.messages.create(**params(extra_headers={"anthropic-beta": "a-2026-02-02"}, metadata={"user_id": "u1"}))
    assert client.last is not None
    namespace = f"llmcache:{origin_of(emulator.base_url)}"
    wire = seen.wire_request()
    assert wire["extra_headers"]["anthropic-beta"] == "a-2026-02-02"  # the call's header replaced the default
    assert client.last.key == make_key(wire, namespace=namespace)
    # the same from the emulator's side: the body and headers it received
    got = emulator.received[-1]
    keyed = {name: got["headers"][name] for name in ("anthropic-version", "anthropic-beta") if name in got["headers"]}
    assert client.last.key == make_key({**got["body"], "extra_headers": keyed}, namespace=namespace)
    # and the client's default beta header enters the key when the call sets none
    client.messages.create(**params("another question"))
    wire = seen.wire_request()
    assert wire["extra_headers"]["anthropic-beta"] == "b-2026-01-01"
    assert client.last.key == make_key(wire, namespace=namespace)
    plain = make_key({**wire, "extra_headers": {}}, namespace=namespace)
    assert client.last.key != plain


def test_two_base_urls_never_share_entries() -> None:
    store = MemoryStore()
    with serve() as one, serve() as two:
        first = CachedAnthropic(sdk_client(one), cache=ResponseCache(store))
        second = CachedAnthropic(sdk_client(two), cache=ResponseCache(store))
        first.messages.create(**params())
        second.messages.create(**params())
        assert first.last is not None and second.last is not None
        assert second.last.status == "miss" and first.last.key != second.last.key
        assert one.stats["requests"] == 1 and two.stats["requests"] == 1
        second.messages.create(**params())
        assert second.last.status == "hit"
    assert origin_of("https://api.anthropic.com") == "https://api.anthropic.com:443"
    assert origin_of("http://127.0.0.1:8787/") != origin_of("http://127.0.0.1:8788/")


def test_non_cacheable_stop_reason_is_a_miss_and_not_stored(emulator: Any) -> None:
    client = CachedAnthropic(sdk_client(emulator), cache=ResponseCache(MemoryStore()))
    cut = params("please repeat this rather long sentence back to me word for word", max_tokens=2)
    first = client.messages.create(**cut)
    assert first.stop_reason == "max_tokens" and client.last is not None and client.last.status == "miss"
    client.messages.create(**cut)
    assert client.last.status == "miss" and emulator.stats["requests"] == 2


def test_streamed_miss_is_stored_once_assembled_and_a_hit_replays_as_a_stream(emulator: Any) -> None:
    client = CachedAnthropic(sdk_client(emulator), cache=ResponseCache(MemoryStore()))
    with client.messages.stream(**params("stream me an answer")) as stream:
        live_text = "".join(stream.text_stream)
        live = stream.get_final_message()
    assert client.last is not None and client.last.status == "miss" and client.last.streamed
    with client.messages.stream(**params("stream me an answer")) as stream:
        events = [event.type for event in stream]
        replayed = stream.get_final_message()
    assert client.last.status == "hit" and client.last.cost == 0
    assert events[0] == "message_start" and "content_block_delta" in events and events[-1] == "message_stop"
    assert replayed.model_dump() == live.model_dump() and live_text == "".join(
        b.text for b in replayed.content if b.type == "text"
    )
    assert emulator.stats["requests"] == 1
    # a stored non-streamed answer replays as a raw event stream from create(stream=True) too
    raw = client.messages.create(**params("stream me an answer"), stream=True)
    assert isinstance(raw, anthropic.Stream)
    assert [event.type for event in raw][-1] == "message_stop"
    # and a streamed answer serves a later non-streamed call
    message = client.messages.create(**params("stream me an answer"))
    assert client.last.status == "hit" and message.model_dump() == live.model_dump()
    assert emulator.stats["requests"] == 1


def test_abandoned_stream_is_not_stored(emulator: Any) -> None:
    client = CachedAnthropic(sdk_client(emulator), cache=ResponseCache(MemoryStore()))
    with client.messages.stream(**params("abandon me")) as stream:
        next(iter(stream))
    client.messages.create(**params("abandon me"))
    assert client.last is not None and client.last.status == "miss"
    assert emulator.stats["requests"] == 2


def test_a_streamed_miss_then_hit_counts_once_each_in_the_cache_stats(emulator: Any) -> None:
    cache = ResponseCache(MemoryStore())
    client = CachedAnthropic(sdk_client(emulator), cache=cache)
    with client.messages.stream(**params("count me once")) as stream:
        stream.get_final_message()
    assert client.last is not None and client.last.status == "miss"
    assert cache.stats == CacheStats(calls=1, misses=1)  # the lookup and the later write are one call
    with client.messages.stream(**params("count me once")) as stream:
        stream.get_final_message()
    assert client.last.status == "hit"
    assert cache.stats == CacheStats(calls=2, misses=1, hits=1)
    assert emulator.stats["requests"] == 1


def test_an_abandoned_stream_counts_once_as_a_miss(emulator: Any) -> None:
    cache = ResponseCache(MemoryStore())
    client = CachedAnthropic(sdk_client(emulator), cache=cache)
    with client.messages.stream(**params("abandon me early")) as stream:
        next(iter(stream))
    assert cache.stats == CacheStats(calls=1, misses=1)  # the API was called: a miss, though nothing stored
    client.messages.create(**params("abandon me early"))
    assert cache.stats == CacheStats(calls=2, misses=2) and emulator.stats["requests"] == 2


def test_streams_in_refresh_and_bypass_modes_count_once(emulator: Any) -> None:
    cache = ResponseCache(MemoryStore())
    client = CachedAnthropic(sdk_client(emulator), cache=cache)
    with client.with_cache(mode="bypass").messages.stream(**params("modes")) as stream:
        stream.get_final_message()
    assert cache.stats == CacheStats(calls=1, bypasses=1)
    with client.with_cache(mode="refresh").messages.stream(**params("modes")) as stream:
        stream.get_final_message()
    assert cache.stats == CacheStats(calls=2, bypasses=1, misses=1)
    client.messages.create(**params("modes"))  # what the refresh stored
    assert client.last is not None and client.last.status == "hit"
    assert cache.stats == CacheStats(calls=3, bypasses=1, misses=1, hits=1) and emulator.stats["requests"] == 2


def test_async_streams_count_once(emulator: Any) -> None:
    cache = ResponseCache(MemoryStore())

    async def main() -> None:
        sdk = anthropic.AsyncAnthropic(base_url=emulator.base_url, api_key="k", max_retries=0)
        client = AsyncCachedAnthropic(sdk, cache=cache)
        for _ in range(2):
            async with client.messages.stream(**params("async count")) as stream:
                await stream.get_final_message()
        async with client.messages.stream(**params("async abandon")) as stream:
            await anext(aiter(stream))
        await sdk.close()

    asyncio.run(main())
    assert cache.stats == CacheStats(calls=3, misses=2, hits=1) and emulator.stats["requests"] == 2


def test_the_cache_must_be_a_response_cache(emulator: Any) -> None:
    with pytest.raises(InvalidOptionError, match="cache must be a promptkey.ResponseCache") as info:
        CachedAnthropic(sdk_client(emulator), cache=MemoryStore())
    assert info.value.path == "cache"


def test_breakpoints_auto_places_markers(emulator: Any) -> None:
    seen = Seen()
    client = CachedAnthropic(sdk_client(emulator, seen), breakpoints="auto")
    request = params()
    client.messages.create(**request)
    wire = seen.wire_request()
    marked = [b for b in wire["system"] if "cache_control" in b]
    assert marked, "plan placed no marker on a system prompt above the minimum"
    assert "cache_control" not in json.dumps(request)  # the caller's params are not mutated
    assert client.last is not None and client.last.usage["cache_creation_input_tokens"] > 0
    client.messages.create(**params("a different question"))
    assert client.last.usage["cache_read_input_tokens"] > 1000  # the planned prefix is read back


def test_breakpoints_keep_sends_the_request_alone(emulator: Any) -> None:
    seen = Seen()
    client = CachedAnthropic(sdk_client(emulator, seen))
    client.messages.create(**params())
    assert "cache_control" not in seen.requests[-1].content.decode()


def test_a_plan_is_applied(emulator: Any) -> None:
    seen = Seen()
    plan = promptkey.plan(params())
    client = CachedAnthropic(sdk_client(emulator, seen), breakpoints=plan)
    client.messages.create(**params("yet another question"))
    assert json.loads(seen.requests[-1].content) == plan.apply(params("yet another question"))


def test_bad_options_and_passthrough(emulator: Any) -> None:
    with pytest.raises(InvalidOptionError, match="breakpoints"):
        CachedAnthropic(sdk_client(emulator), breakpoints="sometimes")
    client = CachedAnthropic(sdk_client(emulator))
    assert client.base_url == client.client.base_url  # attributes pass through to the SDK client
    count = client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert count.input_tokens > 0


def test_api_errors_propagate_and_nothing_is_stored(emulator: Any) -> None:
    client = CachedAnthropic(sdk_client(emulator), cache=ResponseCache(MemoryStore()))
    bad = params(messages=[{"role": "user", "content": ""}])
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(**bad)


def test_async_twin(emulator: Any) -> None:
    async def main() -> None:
        seen = Seen()
        http = httpx2.AsyncClient(event_hooks={"request": [seen.ahook]})
        sdk = anthropic.AsyncAnthropic(base_url=emulator.base_url, api_key="k", http_client=http, max_retries=0)
        client = AsyncCachedAnthropic(sdk, cache=ResponseCache(MemoryStore()))
        first = await client.messages.create(**params("async question"))
        assert client.last is not None and client.last.status == "miss"
        second = await client.messages.create(**params("async question"))
        assert client.last.status == "hit" and isinstance(second, anthropic.types.Message)
        assert second.model_dump() == first.model_dump()
        assert client.last.key == make_key(seen.wire_request(), namespace=f"llmcache:{origin_of(emulator.base_url)}")
        async with client.messages.stream(**params("async stream")) as stream:
            text = "".join([chunk async for chunk in stream.text_stream])
        assert client.last.status == "miss" and text
        async with client.messages.stream(**params("async stream")) as stream:
            final = await stream.get_final_message()
        assert client.last.status == "hit" and "".join(b.text for b in final.content if b.type == "text") == text
        bypassing = client.with_cache(mode="bypass")
        assert isinstance(bypassing, AsyncCachedAnthropic)
        await bypassing.messages.create(**params("async question"))
        assert bypassing.last is not None and bypassing.last.status == "bypass"
        await sdk.close()

    asyncio.run(main())
    assert emulator.stats["requests"] == 3


def test_missing_extra_is_a_one_line_hint() -> None:
    code = "import sys; sys.modules['anthropic'] = None\nimport promptkey.anthropic"
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError") and "pip install 'promptkey[anthropic]'" in last


def test_concurrent_identical_calls_share_one_api_call() -> None:
    # the emulator answers slowly, so eight threads arrive while the first call is still in flight
    with serve(latency={"base": 0.4, "per_uncached_token": 0.0, "per_output_token": 0.0}) as emu:
        records: list[CallRecord] = []
        client = CachedAnthropic(sdk_client(emu), cache=ResponseCache(MemoryStore()), on_call=records.append)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: client.messages.create(**params("stampede")), range(8)))
        assert emu.stats["requests"] == 1
    assert sorted(r.status for r in records) == ["coalesced"] * 7 + ["miss"]
    assert {a.model_dump_json() for a in answers} == {answers[0].model_dump_json()}
    paid = next(r for r in records if r.status == "miss")
    assert all(r.cost == 0 and r.saved == pytest.approx(paid.cost) for r in records if r.status == "coalesced")


def test_sdk_objects_in_params_key_like_the_wire(emulator: Any) -> None:
    seen = Seen()
    client = CachedAnthropic(sdk_client(emulator, seen), cache=ResponseCache(MemoryStore()))
    first = client.messages.create(**params("turn one"))
    # the assistant turn passed back as the SDK's own content blocks (TextBlock carries citations=None)
    history = [
        {"role": "user", "content": "turn one"},
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": "turn two"},
    ]
    client.messages.create(**params(messages=history))
    assert client.last is not None and client.last.status == "miss"
    assert client.last.key == make_key(seen.wire_request(), namespace=f"llmcache:{origin_of(emulator.base_url)}")
    client.messages.create(**params(messages=json.loads(json.dumps(seen.wire_request()["messages"]))))
    assert client.last.status == "hit"  # the plain-dict spelling of the same conversation


def test_uncached_stream_still_records_usage_and_cost(emulator: Any) -> None:
    client = CachedAnthropic(sdk_client(emulator))
    stream = client.messages.create(**params("no cache, streamed"), stream=True)
    assert client.last is None  # recorded once the stream has been read
    events = list(stream)
    assert events[-1].type == "message_stop"
    assert client.last is not None and client.last.status == "bypass" and client.last.streamed
    assert client.last.usage["output_tokens"] > 0 and client.last.cost is not None and client.last.cost > 0


def test_with_options_keeps_the_cache(emulator: Any) -> None:
    client = CachedAnthropic(sdk_client(emulator), cache=ResponseCache(MemoryStore()))
    client.messages.create(**params("options"))
    derived = client.with_options(timeout=30.0, max_retries=1)
    assert isinstance(derived, CachedAnthropic) and derived.client.max_retries == 1
    derived.messages.create(**params("options"))
    assert derived.last is not None and derived.last.status == "hit"
    assert emulator.stats["requests"] == 1


class _UnreadablePlan:
    """A user plan object whose `apply` refuses the request."""

    def apply(self, request: Any) -> dict[str, Any]:
        raise promptkey.PromptCacheError("cannot place markers here", "messages[0]")


def test_a_plan_that_cannot_apply_sends_the_request_as_given(emulator: Any) -> None:
    seen = Seen()
    client = CachedAnthropic(sdk_client(emulator, seen), breakpoints=_UnreadablePlan())
    request = params(system=[{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral", "ttl": "1h"}}])
    client.messages.create(**request)
    assert json.loads(seen.requests[-1].content)["system"] == request["system"]
    assert client.last is not None and client.last.usage["cache_creation"]["ephemeral_1h_input_tokens"] > 1000


@pytest.mark.filterwarnings("ignore:unknown model:UserWarning")  # the emulator estimates tokens for it
def test_prices_are_checked_up_front_and_applied(emulator: Any) -> None:
    with pytest.raises(promptkey.PromptKeyError):
        CachedAnthropic(sdk_client(emulator), prices={"models": {"claude-sonnet-4-6": "free"}})
    cheap = promptkey.load_prices().lookup(MODEL)
    table = {
        "models": {
            "claude-unlisted-1": [
                {
                    "input": cheap.input,
                    "output": cheap.output,
                    "cache_write_5m": cheap.cache_write_5m,
                    "cache_write_1h": cheap.cache_write_1h,
                    "cache_read": cheap.cache_read,
                    "min_tokens": 1024,
                }
            ]
        }
    }
    priced = CachedAnthropic(sdk_client(emulator), prices=table)
    priced.messages.create(**params(model="claude-unlisted-1"))
    assert priced.last is not None and priced.last.cost is not None and priced.last.cost > 0
    unpriced = CachedAnthropic(sdk_client(emulator))
    message = unpriced.messages.create(**params(model="claude-unlisted-1"))
    assert isinstance(message, anthropic.types.Message)  # the paid answer reaches the caller
    assert unpriced.last is not None and unpriced.last.cost is None


@pytest.mark.redis
def test_two_processes_share_one_call_through_redis(redis_server: Any, ns: str) -> None:
    # two wrappers with their own RedisStore stand for two processes: no in-process sharing between them
    from promptkey.cache._redis import RedisStore

    with serve(latency={"base": 0.5, "per_uncached_token": 0.0, "per_output_token": 0.0}) as emu:
        stores = [RedisStore.from_url(redis_server.url), RedisStore.from_url(redis_server.url)]
        clients = [CachedAnthropic(sdk_client(emu), cache=ResponseCache(s, namespace=ns)) for s in stores]
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(c.messages.create, **params("across processes")) for c in clients]
            answers = [f.result() for f in futures]
        statuses = sorted(c.last.status for c in clients if c.last is not None)
        assert statuses == ["miss", "wait"] and emu.stats["requests"] == 1
        assert answers[0].model_dump() == answers[1].model_dump()
        clients[0].messages.create(**params("across processes"))
        assert clients[0].last is not None and clients[0].last.status == "hit"
        # the stored entry lives under the cache's namespace followed by the emulator's origin
        keys = {k if isinstance(k, str) else k.decode() for k in redis_server.raw.keys(f"{ns}:*")}
        digest = str(clients[0].last.key).rsplit(":", 1)[1]
        assert f"{ns}:{origin_of(emu.base_url)}:v1:{{{digest}}}" in keys
        assert all(k.startswith(f"{ns}:{origin_of(emu.base_url)}:v1:") for k in keys)
        for store in stores:
            store.close()


def test_a_stream_whose_lookup_fails_is_one_fallback_and_writes_nothing(emulator: Any) -> None:
    import socket

    from promptkey.cache._redis import RedisStore

    with socket.socket() as probe:  # a loopback port nobody listens on: every store operation fails
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0")
    cache = ResponseCache(store)
    client = CachedAnthropic(sdk_client(emulator), cache=cache)
    with client.messages.stream(**params("redis is down")) as stream:
        stream.get_final_message()
    assert client.last is not None and client.last.status == "fallback"
    stats = cache.stats
    assert (stats.calls, stats.fallbacks, stats.misses, stats.errors) == (1, 1, 0, 1)  # the read; no write tried
    store.close()


def test_one_shot_iterables_go_through_unkeyed(emulator: Any) -> None:
    # a generator cannot be keyed without consuming it: the call bypasses the cache and the SDK still gets it
    client = CachedAnthropic(sdk_client(emulator), cache=ResponseCache(MemoryStore()), breakpoints="auto")
    turns = [{"role": "user", "content": "from a generator"}]
    message = client.messages.create(**params(messages=(turn for turn in turns)))
    assert client.last is not None and client.last.status == "bypass" and client.last.key is None
    assert message.content and client.last.cost is not None and client.last.cost > 0


def test_beta_messages_are_cached_and_keyed_like_the_wire(emulator: Any) -> None:
    seen = Seen()
    sdk = sdk_client(emulator, seen, default_headers={"anthropic-beta": "default-2026-01-01"})
    client = CachedAnthropic(sdk, cache=ResponseCache(MemoryStore()))
    first = client.beta.messages.create(**params("beta question"), betas=["feature-2026-03-03"])
    wire = seen.wire_request()
    # `betas=` becomes the call's anthropic-beta header and replaces the client's default one
    assert wire["extra_headers"]["anthropic-beta"] == "feature-2026-03-03"
    assert client.last is not None and client.last.status == "miss"
    assert client.last.key == make_key(wire, namespace=f"llmcache:{origin_of(emulator.base_url)}")
    second = client.beta.messages.create(**params("beta question"), betas=["feature-2026-03-03"])
    assert client.last.status == "hit" and isinstance(second, anthropic.types.beta.BetaMessage)
    assert second.model_dump() == first.model_dump()
    # a different beta is a different answer; the plain messages API too (another header set)
    client.beta.messages.create(**params("beta question"), betas=["other-2026-04-04"])
    assert client.last.status == "miss"
    client.messages.create(**params("beta question"))
    assert client.last.status == "miss" and emulator.stats["requests"] == 3
    with client.beta.messages.stream(**params("beta question"), betas=["feature-2026-03-03"]) as stream:
        replayed = stream.get_final_message()
    assert client.last.status == "hit" and replayed.model_dump() == first.model_dump()
    assert client.beta.models is not None  # the rest of the beta namespace passes through


def test_with_cache_refresh_and_bypass(emulator: Any) -> None:
    cache = ResponseCache(MemoryStore())
    client = CachedAnthropic(sdk_client(emulator), cache=cache)
    client.messages.create(**params("refresh me"))
    refreshing = client.with_cache(mode="refresh")
    refreshing.messages.create(**params("refresh me"))  # goes to the API and replaces the stored answer
    assert refreshing.last is not None and refreshing.last.status == "miss"
    bypassing = client.with_cache(mode="bypass")
    with bypassing.messages.stream(**params("refresh me")) as stream:
        stream.get_final_message()
    assert bypassing.last is not None and bypassing.last.status == "bypass"
    bypassing.messages.create(**params("never stored"))
    assert bypassing.last.status == "bypass"
    client.messages.create(**params("never stored"))
    assert client.last is not None and client.last.status == "miss"  # bypass wrote nothing
    client.messages.create(**params("refresh me"))
    assert client.last.status == "hit" and emulator.stats["requests"] == 5
    short = client.with_cache(ttl=0.2)
    short.messages.create(**params("short lived"))
    time.sleep(0.3)  # the entry's own TTL, fixed at write (MemoryStore uses the host clock)
    short.messages.create(**params("short lived"))
    assert short.last is not None and short.last.status == "miss"
    with pytest.raises(InvalidOptionError, match="cache mode"):
        client.with_cache(mode="only-if-cached")


def test_async_concurrent_identical_calls_share_one_api_call() -> None:
    async def main(emu: Any) -> list[CallRecord]:
        records: list[CallRecord] = []
        sdk = anthropic.AsyncAnthropic(base_url=emu.base_url, api_key="k", max_retries=0)
        client = AsyncCachedAnthropic(sdk, cache=ResponseCache(MemoryStore()), on_call=records.append)
        answers = await asyncio.gather(*(client.messages.create(**params("async stampede")) for _ in range(8)))
        assert {a.model_dump_json() for a in answers} == {answers[0].model_dump_json()}
        await sdk.close()
        return records

    with serve(latency={"base": 0.3, "per_uncached_token": 0.0, "per_output_token": 0.0}) as emu:
        records = asyncio.run(main(emu))
        assert emu.stats["requests"] == 1
    assert sorted(r.status for r in records) == ["coalesced"] * 7 + ["miss"]


def test_trace_records_every_call_for_replay(emulator: Any, tmp_path: Any) -> None:
    from promptkey.replay import read_trace, replay, strip_markers

    path = tmp_path / "calls.jsonl"
    client = CachedAnthropic(sdk_client(emulator), cache=ResponseCache(MemoryStore()), breakpoints="auto", trace=path)
    first = client.messages.create(**params("record me"))
    client.messages.create(**params("record me"))  # a hit is traffic too
    follow_up = [
        {"role": "user", "content": "record me"},
        {"role": "assistant", "content": first.content},  # SDK objects are recorded as the JSON they send
        {"role": "user", "content": "and then?"},
    ]
    with client.messages.stream(**params(messages=follow_up), extra_headers={"x-trace": "1"}) as stream:
        stream.get_final_message()
    client.messages.create(**params(messages=(turn for turn in follow_up)))  # a generator cannot be recorded
    entries = read_trace(path)
    assert len(entries) == 3
    assert entries[0].request == params("record me")  # the caller's request: no planned markers, no options
    assert entries[0].output_tokens == first.usage.output_tokens == entries[1].output_tokens
    # what the SDK put on the wire for that call, markers aside (the trace keeps the caller's markers)
    wire = strip_markers(emulator.received[1]["body"])
    assert entries[2].request["messages"] == wire["messages"]
    assert entries[0].ts <= entries[1].ts <= entries[2].ts
    report = replay(entries).as_dict()["strategies"]
    assert report["response"]["response_hits"] == 1 and report["none"]["requests"] == 3
    client.close()
