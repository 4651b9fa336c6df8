"""The Anthropic SDK's own objects key exactly like the JSON the SDK sends for them.

A loopback HTTP server captures what the real `anthropic` client puts on the wire (body and the beta /
version headers); the key computed from the call's parameters must equal the key of that body.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from promptkey import canonical_json, key_material, make_key

anthropic = pytest.importorskip("anthropic")
from anthropic.types import Message, TextBlock, ToolUseBlock

GOLDEN = Path(__file__).parent / "data" / "golden" / "keys_v1.json"

RESPONSE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [{"type": "text", "text": "ok", "citations": None}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 1},
}


class Capture(BaseHTTPRequestHandler):
    captured: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        Capture.captured.append(({k.lower(): v for k, v in self.headers.items()}, body))
        out = json.dumps(RESPONSE).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with anthropic.Anthropic(
        api_key="test", base_url=f"http://127.0.0.1:{server.server_address[1]}", max_retries=0
    ) as c:
        yield c
    server.shutdown()
    server.server_close()


def wire_key(headers: dict[str, str], body: bytes) -> str:
    """The key of what went over the wire: the body plus the beta and version headers."""
    extra = {name: headers[name] for name in ("anthropic-beta", "anthropic-version") if name in headers}
    return make_key({**json.loads(body), "extra_headers": extra})


def previous_response() -> Any:
    """A response as the SDK parses it: its TextBlock carries `citations: None`, which the SDK sends back."""
    return Message.model_validate(
        {
            **RESPONSE,
            "content": [
                {"type": "text", "text": "Let me check.", "citations": None},
                {"type": "tool_use", "id": "toolu_01", "name": "lookup", "input": {"q": "weather", "unit": None}},
            ],
            "stop_reason": "tool_use",
        }
    )


def params_with_sdk_objects() -> dict[str, Any]:
    previous = previous_response()
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 256,
        "system": [TextBlock(type="text", text="Be brief.", citations=None)],
        "tools": [{"name": "lookup", "description": "Look up", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "What's the weather?"},
            {"role": "assistant", "content": previous.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "sunny"}],
            },
        ],
        "metadata": {"user_id": "u-1"},
    }


def call_and_capture(create: Any, params: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    Capture.captured.clear()
    create(**params)
    assert len(Capture.captured) == 1
    return Capture.captured[0]


def test_sdk_objects_key_like_the_wire(client: Any) -> None:
    params = params_with_sdk_objects()
    headers, body = call_and_capture(client.messages.create, params)
    # The body really carries the SDK-dumped blocks, citations null included.
    sent = json.loads(body)
    assert sent["messages"][1]["content"][0] == {"type": "text", "text": "Let me check.", "citations": None}
    version = {"extra_headers": {"anthropic-version": headers["anthropic-version"]}}
    assert make_key({**params, **version}) == wire_key(headers, body)
    # ... and the same as hand-written dicts without the null.
    as_dicts = json.loads(body)
    as_dicts["messages"][1]["content"][0].pop("citations")
    assert make_key({**params, **version}) == make_key({**as_dicts, **version})


def test_betas_and_extra_body_key_like_the_wire(client: Any) -> None:
    params = {
        **params_with_sdk_objects(),
        "betas": ["context-1m-2025-08-07", "interleaved-thinking-2025-05-14"],
        "extra_body": {"max_tokens": 300, "speed": "fast"},
        "extra_headers": {"anthropic-beta": "token-efficient-tools-2025-02-19", "x-trace": "abc"},
    }
    headers, body = call_and_capture(client.beta.messages.create, params)
    assert json.loads(body)["max_tokens"] == 300
    keyed = {**params, "extra_headers": {**params["extra_headers"], "anthropic-version": headers["anthropic-version"]}}
    assert make_key(keyed) == wire_key(headers, body)
    # extra_headers' anthropic-beta replaces the header built from `betas`: only it goes over the wire.
    assert headers["anthropic-beta"] == "token-efficient-tools-2025-02-19"
    assert key_material(keyed)["betas"] == ["token-efficient-tools-2025-02-19"]
    without_header = {**params, "extra_headers": {"anthropic-version": headers["anthropic-version"]}}
    headers, body = call_and_capture(client.beta.messages.create, without_header)
    assert make_key(without_header) == wire_key(headers, body)
    assert key_material(without_header)["betas"] == ["context-1m-2025-08-07", "interleaved-thinking-2025-05-14"]


def test_not_given_and_omit_key_like_the_wire(client: Any) -> None:
    params = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": [TextBlock(type="text", text="hi")]}],
        "stop_sequences": anthropic.NOT_GIVEN,
        "system": anthropic.omit,
    }
    headers, body = call_and_capture(client.messages.create, params)
    version = {"extra_headers": {"anthropic-version": headers["anthropic-version"]}}
    assert make_key({**params, **version}) == wire_key(headers, body)


def test_sdk_object_golden_keys() -> None:
    golden = json.loads(GOLDEN.read_text())["sdk"]
    tool_use = ToolUseBlock(type="tool_use", id="toolu_9", name="calc", input={"expr": "1+1", "cache_control": None})
    computed = {
        "sdk_objects": make_key(params_with_sdk_objects()),
        "tool_use_block": make_key({"model": "m", "messages": [{"role": "assistant", "content": [tool_use]}]}),
    }
    assert computed == golden


def test_canonical_json_and_material_of_sdk_objects() -> None:
    block = TextBlock(type="text", text="hi", citations=None)
    # canonical_json is plain JCS: the model as the SDK dumps it, null included.
    assert canonical_json(block) == b'{"citations":null,"text":"hi","type":"text"}'
    # In a request the block sits at a structural position, where the null is dropped.
    material = key_material({"model": "m", "messages": [{"role": "assistant", "content": [block]}]})
    assert material["messages"][0]["content"] == [{"type": "text", "text": "hi"}]
    tool_use = ToolUseBlock(type="tool_use", id="t", name="n", input={"a": None, "cache_control": 1})
    material = key_material({"model": "m", "messages": [{"role": "assistant", "content": [tool_use]}]})
    assert material["messages"][0]["content"][0]["input"] == {"a": None, "cache_control": 1}
