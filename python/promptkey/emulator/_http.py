"""The emulator's wire format: stdlib `BaseHTTPRequestHandler`, HTTP/1.1 keep-alive, SSE by chunked encoding."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import time
import urllib.parse
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from promptkey.emulator._answer import Answer
from promptkey.emulator._validate import DEFAULT_VERSION, VERSIONS, ApiError, validate

if TYPE_CHECKING:
    from promptkey.emulator._server import Emulator

_FAULT_TEXT = {
    "529": "Overloaded",
    "429": "Number of request tokens has exceeded your per-minute rate limit (emulated fault)",
    "500": "Internal server error (emulated fault)",
}


def scope_of(headers: Any) -> str | None:
    """The API key: `x-api-key` decides when both it and `Authorization: Bearer` are sent."""
    key = headers.get("x-api-key")
    if key:
        return str(key)
    auth = headers.get("authorization") or ""
    match = re.match(r"\s*bearer\s+(\S+)", auth, re.IGNORECASE)
    return match.group(1) if match else None


def _model_names() -> list[str]:
    from promptkey.prices import load_prices

    return load_prices().models


def _model_info(alias: str) -> dict[str, Any]:
    """A `ModelInfo` for an alias; *decision*: the creation date is not in our data, so a fixed one is shown."""
    words = alias.removeprefix("claude-").split("-")
    family = next((w for w in words if not w.isdigit()), "")
    version = ".".join(w for w in words if w.isdigit())
    line = family if family in ("haiku", "sonnet", "opus", "fable", "mythos") else None
    return {
        "type": "model",
        "id": alias,
        "display_name": f"Claude {family.title()} {version}".strip(),
        "created_at": "2025-01-01T00:00:00Z",
        "lifecycle": "active",
        "line": line,
    }


def _message_id(seq: int, body: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(f"{seq}:{body.get('model')}".encode()).hexdigest()
    return f"msg_emu{digest[:20]}"


def _chunks(text: str, words: int = 3) -> list[str]:
    pieces = re.findall(r"\s*\S+\s*|\s+", text)
    return ["".join(pieces[i : i + words]) for i in range(0, len(pieces), words)] or [text]


def handler_for(emu: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
        server_version = "promptkey-emulator"
        _entry: dict[str, Any] | None = None

        def setup(self) -> None:
            super().setup()
            # headers and body go out in separate writes: without this, Nagle plus the client's delayed ACK
            # adds ~40 ms to every response
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with emu._lock:
                emu._connections.add(self.connection)

        def finish(self) -> None:
            with emu._lock:
                emu._connections.discard(self.connection)
            try:
                super().finish()
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: Any, rid: str, extra: Mapping[str, str] | None = None) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", rid)
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, err: ApiError, rid: str, extra: Mapping[str, str] | None = None) -> None:
            emu._record(err.status, None, self._entry)
            body = {"type": "error", "error": {"type": err.error_type, "message": err.message}, "request_id": rid}
            self._send(err.status, body, rid, extra)

        def _body(self) -> Any:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw or b"null")
            except ValueError:
                raise ApiError(400, "request body is not valid json") from None

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == "/_emulator/stats":
                self._send(200, {**emu.stats, "time": emu.clock.time()}, "req_emu_stats")
                return
            if path == "/v1/models" or path.startswith("/v1/models/"):
                self._models(path, query)
                return
            self._not_found()

        def _models(self, path: str, query: str) -> None:
            """`client.models.list()` / `.retrieve(id)`: the models the price table knows."""
            rid = "req_emu_models"
            if scope_of(self.headers) is None:
                err = ApiError(401, "x-api-key header is required")
                body = {"type": "error", "error": {"type": err.error_type, "message": err.message}, "request_id": rid}
                self._send(401, body, rid)
                return
            models = [_model_info(name) for name in _model_names()]
            if path != "/v1/models":
                wanted = urllib.parse.unquote(path.removeprefix("/v1/models/"))
                found = next((m for m in models if m["id"] == wanted), None)
                if found is None:
                    err = ApiError(404, f"model: {wanted}")
                    body = {
                        "type": "error",
                        "error": {"type": err.error_type, "message": err.message},
                        "request_id": rid,
                    }
                    self._send(404, body, rid)
                else:
                    self._send(200, found, rid)
                return
            params = urllib.parse.parse_qs(query)
            after = params.get("after_id", [None])[0]
            if after is not None:
                ids = [m["id"] for m in models]
                models = models[ids.index(after) + 1 :] if after in ids else []
            limit = max(1, min(1000, int(params.get("limit", ["20"])[0] or 20)))
            page = models[:limit]
            first, last = (page[0]["id"], page[-1]["id"]) if page else (None, None)
            self._send(200, {"data": page, "has_more": len(models) > limit, "first_id": first, "last_id": last}, rid)

        def _not_found(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:  # drain the body so the keep-alive connection stays in sync
                self.rfile.read(length)
            rid = "req_emu_404"
            err = ApiError(404, f"Not found: {self.command} {self.path.split('?', 1)[0]}")
            body = {"type": "error", "error": {"type": err.error_type, "message": err.message}, "request_id": rid}
            self._send(404, body, rid)

        def do_POST(self) -> None:
            self._entry = None
            path = self.path.split("?", 1)[0]
            if path == "/_emulator/clock":
                self._clock()
            elif path in ("/v1/messages", "/v1/messages/count_tokens"):
                self._api(count_only=path.endswith("count_tokens"))
            else:
                self._not_found()

        def _clock(self) -> None:
            try:
                body = self._body()
                seconds = float((body or {}).get("advance", 0))
                emu.clock.advance(seconds)
            except (ApiError, ValueError, TypeError, AttributeError) as exc:
                self._send(400, {"type": "error", "error": {"type": "invalid_request_error", "message": str(exc)}}, "-")
                return
            self._send(200, {"time": emu.clock.time()}, "req_emu_clock")

        def _api(self, *, count_only: bool) -> None:
            seq, rid = emu._next_ids()
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._entry = {"path": self.path, "headers": headers, "body": None, "request_id": rid}
            try:
                body = self._body()  # read first so a keep-alive connection stays in sync whatever happens
                self._entry["body"] = body
                scope = scope_of(self.headers)
                if scope is None:
                    raise ApiError(401, "x-api-key header is required")
                version = self.headers.get("anthropic-version") or DEFAULT_VERSION
                if version not in VERSIONS:
                    raise ApiError(
                        400, f"anthropic-version: unsupported version {version!r} (supported: {', '.join(VERSIONS)})"
                    )
                if not count_only:
                    fault = emu._draw_fault()
                    if fault is not None:
                        retry = f"{emu._retry_after:g}"
                        self._error(ApiError(int(fault), _FAULT_TEXT[fault]), rid, {"retry-after": retry})
                        return
                beta = "beta=true" in self.path.partition("?")[2] or bool(self.headers.get("anthropic-beta"))
                validate(body, version=version, count_only=count_only, beta=beta)
                if count_only:
                    total = emu._count_tokens(body)
                    emu._record(200, None, self._entry)
                    self._send(200, {"input_tokens": total}, rid)
                    return
                usage, answer = emu._messages(body, scope=scope, seq=seq)
            except ApiError as err:
                self._error(err, rid)
                return
            except Exception as exc:  # noqa: BLE001 - a bug must answer like the API's 500, never hang the client
                self._error(ApiError(500, f"emulator error: {type(exc).__name__}: {exc}"), rid)
                return
            message = {
                "id": _message_id(seq, body),
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": answer.content,
                "stop_reason": answer.stop_reason,
                "stop_sequence": answer.stop_sequence,
                "usage": usage,
            }
            emu._record(200, usage, self._entry)
            if body.get("stream"):
                self._stream(message, answer, rid)
            else:
                time.sleep(emu._prefill_delay(usage) + emu._output_delay(answer.output_tokens))
                self._send(200, message, rid)

        def _event(self, name: str, payload: Mapping[str, Any]) -> None:
            data = f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _stream(self, message: dict[str, Any], answer: Answer, rid: str) -> None:
            usage = message["usage"]
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("cache-control", "no-cache")
            self.send_header("transfer-encoding", "chunked")
            self.send_header("request-id", rid)
            self.end_headers()
            time.sleep(emu._prefill_delay(usage))
            # message_start carries the full input usage (with the cache_creation split); output so far is tiny
            start_usage = {**usage, "output_tokens": min(1, usage["output_tokens"])}
            start = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
            self._event("message_start", {"type": "message_start", "message": start})
            self._event("ping", {"type": "ping"})
            plan: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
            for block in message["content"]:
                if block["type"] == "thinking":
                    parts = [{"type": "thinking_delta", "thinking": c} for c in _chunks(block["thinking"]) if c]
                    parts.append({"type": "signature_delta", "signature": block["signature"]})
                    plan.append(({"type": "thinking", "thinking": "", "signature": ""}, parts))
                elif block["type"] == "tool_use":
                    raw = json.dumps(block["input"], ensure_ascii=False)
                    parts = [
                        {"type": "input_json_delta", "partial_json": raw[i : i + 24]} for i in range(0, len(raw), 24)
                    ]
                    plan.append(({**block, "input": {}}, parts))
                else:
                    parts = [{"type": "text_delta", "text": c} for c in _chunks(block["text"])]
                    plan.append(({"type": "text", "text": ""}, parts))
            pause = emu._output_delay(answer.output_tokens) / max(1, sum(len(parts) for _, parts in plan))
            cut = emu._draw_stream_error()
            for index, (head, parts) in enumerate(plan):
                self._event(
                    "content_block_start", {"type": "content_block_start", "index": index, "content_block": head}
                )
                for delta in parts:
                    if pause:
                        time.sleep(pause)
                    self._event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
                    if cut:  # an overload after the first delta, as the API sends it: no message_delta or stop
                        error = {"type": "overloaded_error", "message": "Overloaded"}
                        self._event("error", {"type": "error", "error": error})
                        self.wfile.write(b"0\r\n\r\n")
                        self.wfile.flush()
                        return
                self._event("content_block_stop", {"type": "content_block_stop", "index": index})
            final_usage = {
                k: usage[k]
                for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
            }
            delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
            self._event("message_delta", {"type": "message_delta", "delta": delta, "usage": final_usage})
            self._event("message_stop", {"type": "message_stop"})
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler
