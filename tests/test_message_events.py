"""A stored Message replayed as server-sent events, and events folded back into the Message.

The SDK's own stream parser and accumulator (`anthropic.Stream` + `MessageStream`) are the referee: what
they assemble from our events must be the Message we started from."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from promptkey._message_events import MessageAssembler, assemble, encode_sse, events_from_message

pytest.importorskip("anthropic")  # the `anthropic` extra

import anthropic
import httpx2
from anthropic.lib.streaming import MessageStream
from anthropic.types import Message, RawMessageStreamEvent

USAGE = {
    "input_tokens": 50,
    "cache_creation_input_tokens": 248,
    "cache_read_input_tokens": 1800,
    "cache_creation": {"ephemeral_5m_input_tokens": 148, "ephemeral_1h_input_tokens": 100},
    "output_tokens": 503,
    "service_tier": "standard",
}


def message(content: list[dict[str, Any]], stop_reason: str = "end_turn") -> dict[str, Any]:
    raw = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": USAGE,
    }
    # normalized through the SDK type, as CachedAnthropic stores it
    return Message.model_validate(raw).model_dump(mode="json")


def sdk_final(events: list[dict[str, Any]]) -> dict[str, Any]:
    client = anthropic.Anthropic(api_key="unused", base_url="http://127.0.0.1:9")
    response = httpx2.Response(
        200,
        headers={"content-type": "text/event-stream"},
        content=encode_sse(events),
        request=httpx2.Request("POST", "http://127.0.0.1:9/v1/messages"),
    )
    event_type: Any = RawMessageStreamEvent  # a typing union: the SDK parses into it
    raw: anthropic.Stream[RawMessageStreamEvent] = anthropic.Stream(
        cast_to=event_type, response=response, client=client
    )
    stream = MessageStream(raw, output_format=anthropic.NOT_GIVEN)
    final = stream.get_final_message()
    return Message.model_validate(final.model_dump(mode="json")).model_dump(mode="json")


MIXED = message(
    [
        {"type": "thinking", "thinking": "the user wants a lookup", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "Let me check. " * 20},
        {"type": "tool_use", "id": "toolu_1", "name": "get_order", "input": {"id": [1, 2, {"é": None}]}},
    ],
    stop_reason="tool_use",
)


def test_events_are_the_apis_shapes() -> None:
    events = events_from_message(MIXED)
    names = [event["type"] for event in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    start = events[0]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    # message_start carries the input side of usage with the 5m/1h split; message_delta the cumulative totals
    assert start["usage"]["cache_creation"] == USAGE["cache_creation"]
    assert events[-2]["usage"]["output_tokens"] == 503 and events[-2]["delta"]["stop_reason"] == "tool_use"
    text_deltas = [e for e in events if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta"]
    assert len(text_deltas) > 1  # long text arrives in pieces
    sse = encode_sse(events).decode()
    assert sse.count("event: ") == len(events)  # every event named: the SDK drops unnamed ones


def test_sdk_assembles_the_same_message() -> None:
    assert sdk_final(events_from_message(MIXED)) == MIXED
    assert assemble(events_from_message(MIXED)) == MIXED


def test_cumulative_usage_is_overwritten_not_added() -> None:
    events = events_from_message(MIXED)
    # a second, identical message_delta (the API repeats cumulative totals) must not double anything
    doubled = [*events[:-1], events[-2], events[-1]]
    assert assemble(doubled)["usage"] == MIXED["usage"]


def test_incomplete_or_foreign_streams_are_refused() -> None:
    events = events_from_message(MIXED)
    with pytest.raises(ValueError, match="before message_stop"):
        assemble(events[:-1])
    with pytest.raises(ValueError, match="content_block_start.*before message_start"):
        MessageAssembler().feed(events[1])


texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=300)
json_leaf = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | texts
json_value = st.recursive(json_leaf, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(texts, kids, max_size=4))
block = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, texts),
    st.builds(
        lambda i, inp: {"type": "tool_use", "id": f"toolu_{i}", "name": "tool", "input": inp},
        st.integers(0, 10**6),
        st.dictionaries(texts, json_value, max_size=4),
    ),
    st.builds(lambda t, s: {"type": "thinking", "thinking": t, "signature": s}, texts, texts),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(block, max_size=5), st.sampled_from(["end_turn", "tool_use", "max_tokens", "stop_sequence"]))
def test_round_trip_through_the_sdk(content: list[dict[str, Any]], stop_reason: str) -> None:
    original = message(content, stop_reason)
    events = events_from_message(original)
    assert assemble(events) == original
    assert sdk_final(events) == original


def test_citations_and_server_tools_round_trip() -> None:
    cited = message(
        [
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "refunds"}},
            {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_1",
                "content": [
                    {
                        "type": "web_search_result",
                        "url": "https://example.com/refunds",
                        "title": "Refunds",
                        "encrypted_content": "opaque",
                        "page_age": None,
                    }
                ],
            },
            {
                "type": "text",
                "text": "Refunds take 30 days.",
                "citations": [
                    {
                        "type": "web_search_result_location",
                        "url": "https://example.com/refunds",
                        "title": "Refunds",
                        "encrypted_index": "idx",
                        "cited_text": "30 days",
                    }
                ],
            },
        ]
    )
    events = events_from_message(cited)
    kinds = [e["delta"]["type"] for e in events if e["type"] == "content_block_delta"]
    assert "citations_delta" in kinds and "input_json_delta" in kinds
    assert assemble(events) == cited
    assert sdk_final(events) == cited
