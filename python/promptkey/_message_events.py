"""A Message and its stream of server-sent events, both ways, as plain JSON (no SDK needed).

`events_from_message` turns a stored answer into the events the Messages API would have streamed for it
(so a cached answer can be replayed to a caller who asked for a stream); `MessageAssembler` folds streamed
events back into the Message (so a streamed answer can be stored once it is complete). The two are inverse:
`assemble(events_from_message(m)) == m` for every Message whose usage fields are consistent.

Event shapes follow the API's streaming reference (docs/reference/anthropic-prompt-caching.md §11):
`message_start` carries the Message with empty content and the input-side usage (including the
`cache_creation` split), each block is `content_block_start` → deltas → `content_block_stop`, and
`message_delta` carries the stop reason and the *cumulative* usage — which is why the assembler overwrites
counts instead of adding them (adding them is the double-count peers have shipped).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

# Text is replayed in pieces of this many characters so `text_stream` consumers see a stream, not one lump.
TEXT_CHUNK = 64

# Usage members a `message_delta` repeats (cumulative); `cache_creation` is not among them in the API.
_DELTA_USAGE = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
    "server_tool_use",
    "output_tokens_details",
)
_DELTA_FIELDS = ("stop_reason", "stop_sequence", "stop_details", "container")
_TOOL_INPUT_BLOCKS = ("tool_use", "server_tool_use")


def events_from_message(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream of events (each a dict with its `type`) that delivers `message`."""
    usage = dict(message.get("usage") or {})
    start_usage = dict(usage, output_tokens=0)  # output is reported by message_delta, as the API does
    start = dict(message, content=[], stop_reason=None, stop_sequence=None, usage=start_usage)
    if "stop_details" in start:
        start["stop_details"] = None
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(message.get("content") or []):
        events.extend(_block_events(index, block))
    delta = {name: message[name] for name in _DELTA_FIELDS if message.get(name) is not None}
    delta.setdefault("stop_reason", message.get("stop_reason"))
    delta.setdefault("stop_sequence", message.get("stop_sequence"))
    delta_usage = {name: usage[name] for name in _DELTA_USAGE if usage.get(name) is not None}
    delta_usage.setdefault("output_tokens", 0)
    events.append({"type": "message_delta", "delta": delta, "usage": delta_usage})
    events.append({"type": "message_stop"})
    return events


def _block_events(index: int, block: dict[str, Any]) -> Iterable[dict[str, Any]]:
    kind = block.get("type")
    deltas: list[dict[str, Any]] = []
    start = dict(block)
    if kind == "text":
        start["text"] = ""
        citations = block.get("citations")
        if citations:
            start["citations"] = None
            deltas += [{"type": "citations_delta", "citation": citation} for citation in citations]
        text = block.get("text") or ""
        deltas += [{"type": "text_delta", "text": text[i : i + TEXT_CHUNK]} for i in range(0, len(text), TEXT_CHUNK)]
    elif kind in _TOOL_INPUT_BLOCKS:
        start["input"] = {}
        partial = json.dumps(block.get("input") or {}, ensure_ascii=False, separators=(",", ":"))
        deltas.append({"type": "input_json_delta", "partial_json": partial})
    elif kind == "thinking":
        start["thinking"] = ""
        start["signature"] = ""
        deltas.append({"type": "thinking_delta", "thinking": block.get("thinking") or ""})
        deltas.append({"type": "signature_delta", "signature": block.get("signature") or ""})
    # any other block (redacted thinking, server tool results, ...) arrives whole in its start event
    yield {"type": "content_block_start", "index": index, "content_block": start}
    for delta in deltas:
        yield {"type": "content_block_delta", "index": index, "delta": delta}
    yield {"type": "content_block_stop", "index": index}


def encode_sse(events: Iterable[dict[str, Any]]) -> bytes:
    """Server-sent-events framing: every event named (the SDK drops events without an `event:` line)."""
    out = bytearray()
    for event in events:
        data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        out += f"event: {event['type']}\ndata: {data}\n\n".encode()
    return bytes(out)


class MessageAssembler:
    """Folds stream events (dicts) into the final Message dict; `.message` is set once `message_stop` arrives.

    Unknown event and delta types are ignored, as the SDK's accumulator ignores them; an event before
    `message_start` raises `ValueError` (the stream is not a Messages stream)."""

    def __init__(self) -> None:
        self._message: dict[str, Any] | None = None
        self._json: dict[int, str] = {}
        self.message: dict[str, Any] | None = None

    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in ("ping", None):
            return
        if kind == "message_start":
            self._message = dict(event["message"])
            self._message["content"] = list(self._message.get("content") or [])
            self._message["usage"] = dict(self._message.get("usage") or {})
            return
        message = self._message
        if message is None:
            raise ValueError(f"stream event {kind!r} arrived before message_start")
        if kind == "content_block_start":
            message["content"].append(dict(event["content_block"]))
        elif kind == "content_block_delta":
            self._delta(message["content"][event["index"]], event["index"], event["delta"])
        elif kind == "content_block_stop":
            index = event["index"]
            if index in self._json:
                text = self._json.pop(index)
                message["content"][index]["input"] = json.loads(text) if text else {}
        elif kind == "message_delta":
            for name, value in (event.get("delta") or {}).items():
                message[name] = value
            for name, value in (event.get("usage") or {}).items():
                if value is not None:  # cumulative totals: overwrite, never add
                    message["usage"][name] = value
        elif kind == "message_stop":
            self.message = message

    def _delta(self, block: dict[str, Any], index: int, delta: dict[str, Any]) -> None:
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = (block.get("text") or "") + delta["text"]
        elif kind == "input_json_delta":
            self._json[index] = self._json.get(index, "") + delta["partial_json"]
        elif kind == "citations_delta":
            block["citations"] = [*(block.get("citations") or []), delta["citation"]]
        elif kind == "thinking_delta":
            block["thinking"] = (block.get("thinking") or "") + delta["thinking"]
        elif kind == "signature_delta":
            block["signature"] = delta["signature"]


def assemble(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The Message a complete stream of events delivers; `ValueError` if the stream never finished."""
    assembler = MessageAssembler()
    for event in events:
        assembler.feed(event)
    if assembler.message is None:
        raise ValueError("the stream ended before message_stop")
    return assembler.message
