"""The emulator driven by the real `anthropic` SDK over loopback (DESIGN §6, docs/emulator.md)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import anthropic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from promptkey import InvalidOptionError
from promptkey.emulator import Clock, Emulator, serve
from sdk_clients import track

MODEL = "claude-sonnet-4-6"  # minimum 1,024 tokens; not deprecated in SDK 2.12


def words(block: Mapping[str, Any]) -> int:
    """A tokenizer with predictable counts: one token per word of a text block, ~4 bytes otherwise."""
    text = block.get("text")
    if isinstance(text, str):
        return len(text.split())
    return max(1, len(json.dumps(block, sort_keys=True)) // 4)


def text(n: int, tag: str = "w") -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with serve(tokenizer=words, clock=Clock(1_800_000_000.0, tick=False)) as running:
        yield running


def client(emu: Emulator, **options: Any) -> Any:  # Any: the SDK's content unions would need a narrowing per line
    return track(anthropic.Anthropic(base_url=emu.base_url, api_key=options.pop("api_key", "sk-test"), **options))


def raw(
    emu: Emulator, path: str, body: Any, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request without the SDK, to control every header."""
    data = json.dumps(body).encode() if not isinstance(body, bytes) else body
    request = urllib.request.Request(emu.base_url + path, data=data, method="POST", headers=dict(headers or {}))
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def usage_of(message: Any) -> dict[str, Any]:
    u = message.usage
    return {
        "input_tokens": u.input_tokens,
        "cache_read_input_tokens": u.cache_read_input_tokens,
        "cache_creation_input_tokens": u.cache_creation_input_tokens,
        "cache_creation": u.cache_creation.model_dump() if u.cache_creation else None,
        "output_tokens": u.output_tokens,
    }


def split(w5: int, w1: int) -> dict[str, int]:
    return {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1}


def test_multi_turn_conversation_writes_then_reads_then_reads_and_writes(emu: Emulator) -> None:
    c = client(emu)
    system = text(1500, "s")
    turn1 = [{"role": "user", "content": text(30, "q")}]
    params: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 100,
        "system": system,
        "cache_control": {"type": "ephemeral"},
    }
    first = c.messages.create(messages=turn1, **params)
    assert usage_of(first)["cache_creation_input_tokens"] == 1530 and first.usage.cache_read_input_tokens == 0
    assert first.usage.input_tokens == 0  # the automatic breakpoint sits on the last block: nothing after it
    again = c.messages.create(messages=turn1, **params)
    assert (again.usage.cache_read_input_tokens, again.usage.cache_creation_input_tokens) == (1530, 0)
    turn2 = [
        *turn1,
        {"role": "assistant", "content": first.content[0].text},
        {"role": "user", "content": text(20, "r")},
    ]
    third = c.messages.create(messages=turn2, **params)
    assert third.usage.cache_read_input_tokens == 1530
    assert third.usage.cache_creation_input_tokens == 30 + 20  # the echoed answer, then the new question
    assert third.usage.cache_creation.ephemeral_5m_input_tokens == 50
    assert emu.stats["tokens"] == {
        "input": 0,
        "cache_read": 3060,
        "cache_write_5m": 1580,
        "cache_write_1h": 0,
        "output": first.usage.output_tokens + again.usage.output_tokens + third.usage.output_tokens,
    }


def test_documented_usage_example_is_reproduced_field_for_field(emu: Emulator) -> None:
    """The prompt-caching page's example: read 1,800, write 248 (148 5m + 100 1h), input 2,048."""
    c = client(emu)
    head = {"type": "text", "text": text(1800, "h")}
    c.messages.create(
        model=MODEL,
        max_tokens=5,
        system=[{**head, "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "go"}],
    )
    message = c.messages.create(
        model=MODEL,
        max_tokens=5,
        system=[head, {"type": "text", "text": text(100, "x"), "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": text(148, "y"), "cache_control": {"type": "ephemeral", "ttl": "5m"}},
                    {"type": "text", "text": text(2048, "z")},
                ],
            }
        ],
    )
    assert usage_of(message) == {
        "input_tokens": 2048,
        "cache_read_input_tokens": 1800,
        "cache_creation_input_tokens": 248,
        "cache_creation": split(148, 100),
        "output_tokens": 5,
    }
    assert message.stop_reason == "max_tokens"  # the echo of 2,196 words does not fit in 5 tokens


def test_five_breakpoints_is_the_apis_400(emu: Emulator) -> None:
    system = [{"type": "text", "text": text(10, f"b{i}"), "cache_control": {"type": "ephemeral"}} for i in range(5)]
    with pytest.raises(anthropic.BadRequestError) as info:
        client(emu).messages.create(
            model=MODEL, max_tokens=5, system=system, messages=[{"role": "user", "content": "x"}]
        )
    body: Any = info.value.body
    assert body["error"]["message"] == "A maximum of 4 blocks with cache_control may be provided. Found 5."
    assert body["error"]["type"] == "invalid_request_error"
    assert info.value.request_id is not None and info.value.request_id.startswith("req_")
    assert body["request_id"] == info.value.request_id


def test_ttl_order_is_the_apis_400(emu: Emulator) -> None:
    system = [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral", "ttl": "5m"}}]
    late = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "b", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        }
    ]
    with pytest.raises(anthropic.BadRequestError, match="must not come after a ttl='5m'"):
        client(emu).messages.create(model=MODEL, max_tokens=5, system=system, messages=late)


def test_streaming_and_non_streaming_bill_the_same(emu: Emulator) -> None:
    params: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 50,
        "system": [{"type": "text", "text": text(1200, "s"), "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [{"role": "user", "content": "tell me something nice about caching today"}],
    }
    plain = client(emu, api_key="scope-a").messages.create(**params)
    streamed_client = client(emu, api_key="scope-b")  # another scope: a cold cache, like the first call
    events = list(streamed_client.messages.create(stream=True, **params))
    names = [e.type for e in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert {"content_block_start", "content_block_delta", "content_block_stop"} <= set(names)  # the SDK drops pings
    start = events[0].message.usage
    assert start.cache_creation is not None and start.cache_creation.ephemeral_1h_input_tokens == 1200
    delta = events[-2].usage
    assert (delta.input_tokens, delta.cache_creation_input_tokens, delta.output_tokens) == (
        plain.usage.input_tokens,
        plain.usage.cache_creation_input_tokens,
        plain.usage.output_tokens,
    )
    with client(emu, api_key="scope-c").messages.stream(**params) as stream:
        final = stream.get_final_message()
    assert usage_of(final) == usage_of(plain)
    assert final.content[0].text == plain.content[0].text == "tell me something nice about caching today"


def test_every_sse_event_is_named(emu: Emulator) -> None:
    body = {
        "model": MODEL,
        "max_tokens": 20,
        "stream": True,
        "messages": [{"role": "user", "content": "one two three"}],
    }
    status, headers, payload = raw(emu, "/v1/messages", body, {"x-api-key": "k"})
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    frames = [f for f in payload.decode().split("\n\n") if f.strip()]
    assert [f.split("\n")[0] for f in frames[:2]] == ["event: message_start", "event: ping"]
    for frame in frames:
        event, data = frame.split("\n")
        assert event.startswith("event: ") and data.startswith("data: ")
        assert json.loads(data[6:])["type"] == event[7:]


def test_bearer_and_x_api_key_are_both_accepted_and_none_is_401(emu: Emulator) -> None:
    body = {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    assert raw(emu, "/v1/messages", body, {"authorization": "Bearer k1"})[0] == 200
    assert raw(emu, "/v1/messages", body, {"x-api-key": "k1"})[0] == 200
    status, headers, payload = raw(emu, "/v1/messages", body)
    assert status == 401
    error = json.loads(payload)
    assert error["type"] == "error" and error["error"]["type"] == "authentication_error"
    assert headers["request-id"] == error["request_id"]
    with pytest.raises(anthropic.AuthenticationError):
        no_auth: Any = track(
            anthropic.Anthropic(base_url=emu.base_url, api_key="x", default_headers={"Authorization": anthropic.omit})  # type: ignore[dict-item]  # omit is how the SDK drops a header
        )
        no_auth.messages.create(**body)


def test_x_api_key_decides_the_scope_when_both_are_sent(emu: Emulator) -> None:
    cached = {"type": "text", "text": text(1100), "cache_control": {"type": "ephemeral"}}
    body = {"model": MODEL, "max_tokens": 5, "system": [cached], "messages": [{"role": "user", "content": "hi"}]}
    raw(emu, "/v1/messages", body, {"x-api-key": "team-a"})
    _, _, payload = raw(emu, "/v1/messages", body, {"x-api-key": "team-a", "authorization": "Bearer team-b"})
    assert json.loads(payload)["usage"]["cache_read_input_tokens"] == 1100
    _, _, payload = raw(emu, "/v1/messages", body, {"authorization": "Bearer team-b"})
    assert json.loads(payload)["usage"]["cache_read_input_tokens"] == 0  # another workspace's cache


def test_a_529_fault_is_retried_by_the_sdk_then_succeeds() -> None:
    # seed 1: the first draw (0.134) is below 0.5 (a 529), the second (0.847) is not
    with serve(tokenizer=words, faults={"529": 0.5, "retry_after": 0.01, "seed": 1}) as emu:
        message = client(emu, max_retries=3).messages.create(
            model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.content[0].text == "hi"
        assert emu.stats["requests"] == 2 and emu.stats["by_status"] == {"529": 1, "200": 1}
        status, _, payload = raw(emu, "/v1/messages", {}, {"x-api-key": "k"})
    # the third draw of seed 1 (0.764) is not a fault either: the empty body fails validation
    assert status == 400 and "Field required" in json.loads(payload)["error"]["message"]


def test_faults_answer_with_the_apis_body_and_retry_after() -> None:
    with serve(tokenizer=words, faults={"429": 1.0, "retry_after": 0.25}) as emu:
        status, headers, payload = raw(emu, "/v1/messages", {"model": MODEL}, {"x-api-key": "k"})
        with pytest.raises(anthropic.RateLimitError):
            client(emu, max_retries=0).messages.create(
                model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
        assert emu.stats["by_status"] == {"429": 2}
    assert status == 429 and headers["retry-after"] == "0.25"
    assert json.loads(payload)["error"]["type"] == "rate_limit_error"


def test_count_tokens_equals_the_usage_total(emu: Emulator) -> None:
    c = client(emu)
    params: dict[str, Any] = {
        "model": MODEL,
        "system": [{"type": "text", "text": text(1300), "cache_control": {"type": "ephemeral"}}],
        "tools": [
            {
                "name": "lookup",
                "description": "find a thing",
                "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
            }
        ],
        "messages": [{"role": "user", "content": "where is the thing"}],
    }
    counted = c.messages.count_tokens(**params).input_tokens
    for _ in range(2):  # a write, then a read: the total is the same either way
        u = c.messages.create(max_tokens=10, **params).usage
        assert u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens == counted
    assert emu.stats["by_status"] == {"200": 3}


def test_temperature_rejected_under_2026_10_21_accepted_under_2023_06_01(emu: Emulator) -> None:
    params: dict[str, Any] = {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(anthropic.BadRequestError) as info:
        client(emu).messages.create(extra_body={"temperature": 0.0}, **params)
    body: Any = info.value.body
    assert body["error"]["message"] == "temperature: Extra inputs are not permitted"
    old = client(emu, default_headers={"anthropic-version": "2023-06-01"})
    assert old.messages.create(extra_body={"temperature": 0.0, "top_k": 5}, **params).content[0].text == "hi"
    status, _, payload = raw(emu, "/v1/messages", params, {"x-api-key": "k", "anthropic-version": "2024-01-01"})
    assert status == 400 and "anthropic-version" in json.loads(payload)["error"]["message"]


def test_moving_the_clock_expires_the_cache(emu: Emulator) -> None:
    c = client(emu)
    params: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 5,
        "system": [{"type": "text", "text": text(1100), "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert c.messages.create(**params).usage.cache_creation_input_tokens == 1100
    emu.clock.advance(299)
    assert c.messages.create(**params).usage.cache_read_input_tokens == 1100  # and the read refreshes it
    emu.clock.advance(299)
    assert c.messages.create(**params).usage.cache_read_input_tokens == 1100
    emu.clock.advance(300)  # 5 minutes since the last access: gone
    again = c.messages.create(**params).usage
    assert (again.cache_read_input_tokens, again.cache_creation_input_tokens) == (0, 1100)


def test_prewarm_with_max_tokens_zero(emu: Emulator) -> None:
    system = [{"type": "text", "text": text(1100), "cache_control": {"type": "ephemeral"}}]
    message = client(emu).messages.create(
        model=MODEL, max_tokens=0, system=system, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content == [] and message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 0 and message.usage.cache_creation_input_tokens == 1100


def test_deterministic_answers(emu: Emulator) -> None:
    c = client(emu)

    def ask(content: str, **kw: Any) -> Any:
        return c.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": content}], **kw)

    label = ask("Classify this review. Options: positive, negative, neutral\nReview: I hate how it broke on day one")
    assert label.content[0].text == "negative" and label.stop_reason == "end_turn"
    system_listed = c.messages.create(
        model=MODEL,
        max_tokens=10,
        system="Label each ticket with one of: billing, technical, other.",
        messages=[{"role": "user", "content": "My invoice shows a double charge"}],
    )
    assert system_listed.content[0].text == "billing"
    assert ask("the quick brown fox").content[0].text == "the quick brown fox"
    stopped = ask("alpha beta END gamma", stop_sequences=["END"])
    assert (stopped.content[0].text, stopped.stop_reason, stopped.stop_sequence) == (
        "alpha beta ",
        "stop_sequence",
        "END",
    )
    cut = c.messages.create(model=MODEL, max_tokens=3, messages=[{"role": "user", "content": text(10)}])
    assert (cut.content[0].text, cut.stop_reason, cut.usage.output_tokens) == (text(3), "max_tokens", 3)
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"enum": ["c", "f"]},
            "days": {"type": "integer", "minimum": 1},
        },
        "required": ["city", "unit", "days"],
    }
    tools = [{"name": "forecast", "description": "weather", "input_schema": schema}]
    forced = ask("weather in Paris?", tools=tools, tool_choice={"type": "tool", "name": "forecast"})
    block = forced.content[0]
    assert block.type == "tool_use" and forced.stop_reason == "tool_use"
    assert block.name == "forecast" and block.input == {"city": "example city", "unit": "c", "days": 1}
    assert ask("weather in Paris?", tools=tools, tool_choice={"type": "any"}).content[0].type == "tool_use"
    assert ask("weather in Paris?", tools=tools).content[0].type == "text"  # auto: the model may answer in text
    with c.messages.stream(
        model=MODEL,
        max_tokens=50,
        tools=tools,
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "x"}],
    ) as stream:
        assert stream.get_final_message().content[0].input == block.input


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": MODEL, "messages": [{"role": "user", "content": "x"}]}, "max_tokens: Field required"),
        ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "model: Field required"),
        ({"model": MODEL, "max_tokens": 5}, "messages: Field required"),
        ({"model": MODEL, "max_tokens": 5, "messages": []}, "messages: at least one message is required"),
        (
            {"model": MODEL, "max_tokens": 5, "messages": [{"role": "robot", "content": "x"}]},
            "messages.0.role: Input should be 'user' or 'assistant'",
        ),
        (
            {
                "model": MODEL,
                "max_tokens": 5,
                "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}],
            },
            "messages: text content blocks must be non-empty",
        ),
        (
            {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "  \n"}]},
            "messages: text content blocks must contain non-whitespace text",
        ),
        (
            {
                "model": MODEL,
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "so "}],
            },
            "messages: final assistant content cannot end with trailing whitespace",
        ),
        (
            {"model": MODEL, "max_tokens": 5, "messages": [{"role": "assistant", "content": "x"}]},
            'messages: first message must use the "user" role',
        ),
        (
            {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "foo": 1},
            "foo: Extra inputs are not permitted",
        ),
        (
            {"model": MODEL, "max_tokens": -1, "messages": [{"role": "user", "content": "x"}]},
            "max_tokens: Input should be greater than or equal to 0",
        ),
    ],
)
def test_validation_errors_have_the_apis_shape(emu: Emulator, body: dict[str, Any], message: str) -> None:
    status, headers, payload = raw(emu, "/v1/messages", body, {"x-api-key": "k"})
    error = json.loads(payload)
    assert status == 400 and error["error"] == {"type": "invalid_request_error", "message": message}
    assert error["type"] == "error" and headers["request-id"] == error["request_id"]


def test_malformed_markers_are_400s(emu: Emulator) -> None:
    def marked(marker: Any) -> dict[str, Any]:
        block = {"type": "text", "text": "x", "cache_control": marker}
        return {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": [block]}]}

    for marker, message in [
        ({"type": "ephemeral", "ttl": "10m"}, "cache_control.ttl: Input should be '5m' or '1h'"),
        ({"type": "persistent"}, "cache_control.type: Input should be 'ephemeral'"),
        ("yes", "cache_control must be an object"),
    ]:
        status, _, payload = raw(emu, "/v1/messages", marked(marker), {"x-api-key": "k"})
        assert status == 400 and message in json.loads(payload)["error"]["message"]


def test_not_found_and_bad_json(emu: Emulator) -> None:
    status, _, payload = raw(emu, "/v1/complete", {}, {"x-api-key": "k"})
    assert status == 404 and json.loads(payload)["error"]["type"] == "not_found_error"
    status, _, payload = raw(emu, "/v1/messages", b"{not json", {"x-api-key": "k"})
    assert status == 400 and "json" in json.loads(payload)["error"]["message"]


def test_stats_shape_counts_every_request(emu: Emulator) -> None:
    raw(
        emu,
        "/v1/messages",
        {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "a b"}]},
        {"x-api-key": "k"},
    )
    raw(emu, "/v1/messages", {}, {})
    assert emu.stats == {
        "requests": 2,
        "by_status": {"200": 1, "401": 1},
        "tokens": {"input": 2, "cache_read": 0, "cache_write_5m": 0, "cache_write_1h": 0, "output": 2},
    }


def test_latency_makes_uncached_prefill_slower() -> None:
    latency = {"base": 0.01, "per_uncached_token": 0.0001, "per_output_token": 0.0}
    with serve(tokenizer=words, latency=latency) as emu:
        system = [{"type": "text", "text": text(1500), "cache_control": {"type": "ephemeral"}}]
        c = client(emu)
        started = time.perf_counter()
        c.messages.create(model=MODEL, max_tokens=1, system=system, messages=[{"role": "user", "content": "hi"}])
        # a lower bound only (never an upper one): 0.01 s + 1,501 uncached tokens x 0.1 ms
        assert time.perf_counter() - started >= 0.01 + 0.15


def test_bad_options_raise_typed_errors() -> None:
    with pytest.raises(InvalidOptionError, match="fault rate"):
        Emulator(faults={"529": 1.5})
    with pytest.raises(InvalidOptionError, match="unknown fault option '503'"):
        Emulator(faults={"503": 0.1})
    with pytest.raises(InvalidOptionError, match="add up to more than 1"):
        Emulator(faults={"529": 0.6, "429": 0.6})
    with pytest.raises(InvalidOptionError, match="unknown latency option"):
        Emulator(latency={"prefill": 1.0})


def test_cli_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptkey", "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base_url = line.split()[4]
        assert base_url.startswith("http://127.0.0.1:")
        c: Any = track(anthropic.Anthropic(base_url=base_url, api_key="cli"))  # Any: as `client()` above
        assert (
            c.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "ping"}]).content[0].text
            == "ping"
        )
        with urllib.request.urlopen(base_url + "/_emulator/stats", timeout=5) as response:
            assert json.loads(response.read())["requests"] == 1
    finally:
        proc.send_signal(2)  # SIGINT: the CLI stops cleanly and prints its stats
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and '"requests": 1' in err


def test_simultaneous_identical_requests_all_write() -> None:
    """An entry is readable only once its writer's first token is out (latency base = first_token_after)."""
    from concurrent.futures import ThreadPoolExecutor

    system = [{"type": "text", "text": text(1100), "cache_control": {"type": "ephemeral"}}]
    params: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 5,
        "system": system,
        "messages": [{"role": "user", "content": "hi"}],
    }
    with serve(tokenizer=words, latency={"base": 0.3}) as emu:
        c = client(emu)
        with ThreadPoolExecutor(3) as pool:
            usages = [f.result().usage for f in [pool.submit(c.messages.create, **params) for _ in range(3)]]
        assert [(u.cache_creation_input_tokens, u.cache_read_input_tokens) for u in usages] == [(1100, 0)] * 3
        later = c.messages.create(**params).usage
        assert (later.cache_creation_input_tokens, later.cache_read_input_tokens) == (0, 1100)


def test_async_client_create_and_stream(emu: Emulator) -> None:
    import asyncio

    async def main() -> tuple[Any, Any]:
        async with anthropic.AsyncAnthropic(base_url=emu.base_url, api_key="async") as c:
            params: dict[str, Any] = {
                "model": MODEL,
                "max_tokens": 20,
                "messages": [{"role": "user", "content": "async hello"}],
            }
            created = await c.messages.create(**params)
            async with c.messages.stream(**params) as stream:
                streamed = await stream.get_final_message()
            return created, streamed

    created, streamed = asyncio.run(main())
    assert created.content[0].text == streamed.content[0].text == "async hello"
    assert usage_of(created) == usage_of(streamed)


def test_a_streamed_usage_is_priced_like_the_message(emu: Emulator) -> None:
    import promptkey

    params: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 40,
        "system": [{"type": "text", "text": text(1200), "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [{"role": "user", "content": text(25, "q")}],
    }
    plain = client(emu, api_key="p").messages.create(**params)
    events = list(client(emu, api_key="s").messages.create(stream=True, **params))
    folded = promptkey.fold_usage(events)
    assert promptkey.cost(folded, MODEL) == promptkey.cost(plain, MODEL)
    assert promptkey.cost(folded, MODEL).cache_write_1h == pytest.approx(1200 * 6.0 / 1e6)
    # adding the events' usages instead of folding them counts the prompt twice
    added = sum(promptkey.usage_tokens(e).prompt for e in events if e.type in ("message_start", "message_delta"))
    assert added == 2 * promptkey.usage_tokens(folded).prompt


def test_received_log_and_reset(emu: Emulator) -> None:
    c = client(emu, api_key="logged")
    c.messages.create(
        model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "hi"}], extra_headers={"anthropic-beta": "x-1"}
    )
    raw(emu, "/v1/messages", {"model": MODEL}, {"x-api-key": "k"})
    first, second = emu.received
    assert first["path"] == "/v1/messages" and first["status"] == 200 and first["request_id"].startswith("req_")
    assert first["body"] == {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    assert first["headers"]["authorization"] == "Bearer logged" and first["headers"]["anthropic-beta"] == "x-1"
    assert first["headers"]["anthropic-version"] == "2026-10-21"
    assert second["status"] == 400
    emu.reset()
    assert emu.received == [] and emu.stats["requests"] == 0


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[Emulator, anthropic.Anthropic]]:
    with (
        serve(tokenizer=words, clock=Clock(1_800_000_000.0, tick=False), min_tokens=64) as running,
        anthropic.Anthropic(base_url=running.base_url, api_key="unused") as c,
    ):
        yield running, c


_SCOPES = itertools.count()


@st.composite
def conversations(draw: Any) -> dict[str, Any]:
    """Requests with up to 4 markers in a valid TTL order (every 1h before every 5m)."""
    n_system = draw(st.integers(0, 3))
    n_messages = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 120), min_size=n_system + n_messages, max_size=n_system + n_messages))
    marked = draw(st.lists(st.booleans(), min_size=len(sizes), max_size=len(sizes)))
    positions = [i for i, m in enumerate(marked) if m][:4]
    n_hour = draw(st.integers(0, len(positions)))
    ttl = {p: ("1h" if j < n_hour else "5m") for j, p in enumerate(positions)}
    blocks = []
    for i, size in enumerate(sizes):
        block: dict[str, Any] = {"type": "text", "text": text(size, f"b{i}_")}
        if i in ttl:
            block["cache_control"] = {"type": "ephemeral", "ttl": ttl[i]}
        blocks.append(block)
    messages = [
        {"role": "user" if j % 2 == 0 else "assistant", "content": [blocks[n_system + j]]} for j in range(n_messages)
    ]
    if messages[-1]["role"] == "assistant":
        messages.append({"role": "user", "content": "and then?"})
    request: dict[str, Any] = {"model": MODEL, "max_tokens": 16, "messages": messages}
    if n_system:
        request["system"] = blocks[:n_system]
    return request


@settings(max_examples=25, deadline=None)
@given(request=conversations())
def test_emulator_bills_exactly_like_the_simulator(
    shared: tuple[Emulator, anthropic.Anthropic], request: dict[str, Any]
) -> None:
    import promptkey

    _, c = shared
    scope = next(_SCOPES)  # a fresh workspace per example: each request meets a cold cache
    reference = promptkey.PromptCacheSimulator(tokenizer=words, min_tokens=64, clock=Clock(1_800_000_000.0, tick=False))
    expected = reference.submit(request, api_key="x")
    plain = c.with_options(api_key=f"{scope}-a").messages.create(**request)
    with c.with_options(api_key=f"{scope}-b").messages.stream(**request) as stream:
        streamed = stream.get_final_message()
    assert usage_of(plain) == usage_of(streamed)
    assert usage_of(plain) | {"output_tokens": 0} == {k: expected[k] for k in usage_of(plain)} | {"output_tokens": 0}
    counted = c.messages.count_tokens(**{k: v for k, v in request.items() if k != "max_tokens"}).input_tokens
    u = plain.usage
    assert counted == u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens


def test_a_streamed_request_is_retried_after_a_529() -> None:
    with serve(tokenizer=words, faults={"529": 0.5, "retry_after": 0.01, "seed": 1}) as emu:
        with client(emu, max_retries=3).messages.stream(
            model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "streamed after a retry"}]
        ) as stream:
            assert stream.get_final_message().content[0].text == "streamed after a retry"
        assert emu.stats["by_status"] == {"529": 1, "200": 1}


def test_stream_error_fault_cuts_a_stream_with_an_error_event() -> None:
    with serve(tokenizer=words, faults={"stream_error": 1.0}) as emu:
        params: dict[str, Any] = {
            "model": MODEL,
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "a b c d e f g"}],
        }
        with (
            pytest.raises(anthropic.APIStatusError, match="Overloaded"),
            client(emu).messages.stream(**params) as stream,
        ):
            stream.get_final_message()
        # a non-streaming request is never cut
        assert client(emu).messages.create(**params).content[0].text == "a b c d e f g"


def test_a_client_hanging_up_mid_stream_leaves_the_emulator_serving() -> None:
    with serve(tokenizer=words, latency={"per_output_token": 0.005}) as emu:
        c = client(emu)
        params: dict[str, Any] = {
            "model": MODEL,
            "max_tokens": 300,
            "messages": [{"role": "user", "content": text(200)}],
        }
        with c.messages.stream(**params) as stream:
            next(iter(stream))  # message_start, then hang up while deltas are still coming
        assert c.messages.create(**{**params, "max_tokens": 3}).content[0].text == text(3)
        assert emu.stats["by_status"] == {"200": 2}


def test_clock_ticks_or_stays_frozen() -> None:
    frozen = Clock(100.0, tick=False)
    assert frozen.time() == 100.0 and frozen.advance(5) == 105.0 and frozen.time() == 105.0
    ticking = Clock()
    before = ticking.time()
    assert ticking.advance(3600) >= before + 3600
    assert abs(Clock(50.0).time() - 50.0) < 5.0
    with pytest.raises(InvalidOptionError, match="only moves forward"):
        frozen.advance(-1)
    frozen.set(10.0)
    assert frozen.time() == 10.0


def test_models_endpoint_lists_the_priced_models(emu: Emulator) -> None:
    c = client(emu)
    listed = [m.id for m in c.models.list(limit=5)]  # the SDK pages through after_id
    assert "claude-sonnet-4-6" in listed and len(listed) == len(set(listed)) > 20
    info = c.models.retrieve("claude-sonnet-4-6")
    assert info.display_name == "Claude Sonnet 4.6" and info.line == "sonnet"
    with pytest.raises(anthropic.NotFoundError, match="model: gpt-9"):
        c.models.retrieve("gpt-9")


def test_count_tokens_never_changes_the_cache(emu: Emulator) -> None:
    c = client(emu)
    params: dict[str, Any] = {
        "model": MODEL,
        "system": [{"type": "text", "text": text(1100), "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}],
    }
    for _ in range(3):
        c.messages.count_tokens(**params)
    first = c.messages.create(max_tokens=5, **params).usage
    assert (first.cache_creation_input_tokens, first.cache_read_input_tokens) == (1100, 0)


def test_min_tokens_decides_what_is_cached() -> None:
    params: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 5,
        "system": [{"type": "text", "text": text(1100), "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}],
    }
    with serve(tokenizer=words, min_tokens=2048) as emu:  # below the minimum: no error, no caching
        u = client(emu).messages.create(**params).usage
        assert (u.input_tokens, u.cache_creation_input_tokens) == (1101, 0)
    with serve(tokenizer=words, min_tokens={MODEL: 100}) as emu:
        assert client(emu).messages.create(**params).usage.cache_creation_input_tokens == 1100


def test_extended_thinking_answers_with_a_signed_thinking_block(emu: Emulator) -> None:
    c = client(emu)
    params: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 2000,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": "why is the sky blue"}],
    }
    message = c.messages.create(**params)
    thinking, answer = message.content
    assert thinking.type == "thinking" and thinking.thinking == "The request is 5 words long." and thinking.signature
    assert answer.type == "text" and answer.text == "why is the sky blue"
    assert message.usage.output_tokens == 6 + 5  # thinking counts as output
    with c.messages.stream(**params) as stream:
        streamed = stream.get_final_message()
    assert [b.model_dump() for b in streamed.content] == [b.model_dump() for b in message.content]
    follow_up = [
        *params["messages"],
        {"role": "assistant", "content": message.content},
        {"role": "user", "content": "and at dusk"},
    ]
    assert c.messages.create(**{**params, "messages": follow_up}).content[-1].text == "and at dusk"
    with pytest.raises(anthropic.BadRequestError, match="budget_tokens: Input should be greater than or equal to 1024"):
        c.messages.create(**{**params, "thinking": {"type": "enabled", "budget_tokens": 100}})
    with pytest.raises(anthropic.BadRequestError, match="must be greater than `thinking.budget_tokens`"):
        c.messages.create(**{**params, "max_tokens": 1024})


def test_beta_requests_may_carry_members_the_emulator_does_not_know(emu: Emulator) -> None:
    c = client(emu)
    message = c.beta.messages.create(
        model=MODEL,
        max_tokens=5,
        messages=[{"role": "user", "content": "beta"}],
        betas=["compact-2026-01-12"],
        extra_body={"compaction": {"x": 1}},
    )
    assert message.content[0].text == "beta"
    with pytest.raises(anthropic.BadRequestError, match="compaction: Extra inputs are not permitted"):
        c.messages.create(
            model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}], extra_body={"compaction": {}}
        )
