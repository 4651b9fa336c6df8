"""The emulator: options, state (simulator, stats, faults, clock) and the server thread. The wire format is
`_http.py`."""

from __future__ import annotations

import collections
import random
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from http.server import ThreadingHTTPServer
from typing import Any

from promptkey._exceptions import InvalidOptionError, PromptCacheError, PromptKeyError
from promptkey.emulator._answer import Answer, build_answer
from promptkey.emulator._billing import Biller
from promptkey.emulator._clock import Clock
from promptkey.emulator._http import handler_for
from promptkey.emulator._validate import ApiError

FAULT_STATUSES = ("529", "429", "500")
#: how many received requests `Emulator.received` keeps (oldest dropped first)
RECEIVED_MAX = 10_000
_LATENCY_KEYS = ("base", "per_uncached_token", "per_output_token")
_TOKEN_CLASSES = ("input", "cache_read", "cache_write_5m", "cache_write_1h", "output")


def _parse_faults(faults: Mapping[str, Any] | None) -> tuple[dict[str, float], float, random.Random]:
    faults = dict(faults or {})
    rates: dict[str, float] = {}
    retry_after, seed = 1.0, 0
    for key, value in faults.items():
        name = str(key)
        if name in FAULT_STATUSES or name == "stream_error":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise InvalidOptionError(f"fault rate must be a number in [0, 1], got {value!r}", f"faults[{name!r}]")
            rates[name] = float(value)
        elif name == "retry_after":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise InvalidOptionError(f"retry_after must be seconds >= 0, got {value!r}", "faults['retry_after']")
            retry_after = float(value)
        elif name == "seed":
            seed = value
        else:
            allowed = ", ".join([*FAULT_STATUSES, "stream_error", "retry_after", "seed"])
            raise InvalidOptionError(f"unknown fault option {name!r} (allowed: {allowed})", f"faults[{name!r}]")
    if sum(v for k, v in rates.items() if k in FAULT_STATUSES) > 1 + 1e-12:
        raise InvalidOptionError(f"fault rates add up to more than 1: {rates}", "faults")
    return rates, retry_after, random.Random(seed)


def _parse_latency(latency: Mapping[str, Any] | None) -> dict[str, float]:
    out = dict.fromkeys(_LATENCY_KEYS, 0.0)
    for key, value in (latency or {}).items():
        if key not in out:
            raise InvalidOptionError(f"unknown latency option {key!r} (allowed: {', '.join(_LATENCY_KEYS)})", "latency")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise InvalidOptionError(f"latency must be seconds >= 0, got {value!r}", f"latency[{key!r}]")
        out[key] = float(value)
    return out


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up mid-answer (a cancelled stream, a timeout) is normal, not a traceback
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)


class Emulator:
    """A running emulator. Build it with `promptkey.emulator.serve(...)` (a context manager) or directly, then
    `start()` / `close()`; `serve_forever()` blocks (the CLI)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Any = None,
        faults: Mapping[str, Any] | None = None,
        latency: Mapping[str, Any] | None = None,
        min_tokens: Any = None,
        tokenizer: Callable[[Mapping[str, Any]], int] | None = None,
    ) -> None:
        if clock is not None and not callable(getattr(clock, "time", None)):
            raise InvalidOptionError("clock must have a time() method", "clock")
        self.clock: Any = clock if clock is not None else Clock()
        self._rates, self._retry_after, self._rng = _parse_faults(faults)
        self._latency = _parse_latency(latency)
        self._tokenizer = tokenizer
        self._estimates: dict[str, Callable[[Mapping[str, Any]], int]] = {}
        self._biller = Biller(clock=self.clock, min_tokens=min_tokens, tokenizer=tokenizer)
        self._lock = threading.Lock()
        self._seq = 0
        self._received: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECEIVED_MAX)
        self._stats: dict[str, Any] = {"requests": 0, "by_status": {}, "tokens": dict.fromkeys(_TOKEN_CLASSES, 0)}
        self._server = _Server((host, port), handler_for(self))
        # handler threads are joined on close (after their keep-alive sockets are shut down), so nothing leaks
        self._server.daemon_threads = False
        self._connections: set[Any] = set()
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The URL to give the SDK (`Anthropic(base_url=...)`); it has no `/v1`."""
        host = self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def simulator(self) -> Any:
        """The `PromptCacheSimulator` that bills every request (`.explain()` tells why the last one missed)."""
        return self._biller.simulator

    @property
    def stats(self) -> dict[str, Any]:
        """A snapshot: `{"requests", "by_status": {"200": n, ...}, "tokens": {input, cache_read, ...}}`."""
        with self._lock:
            return {
                "requests": self._stats["requests"],
                "by_status": dict(self._stats["by_status"]),
                "tokens": dict(self._stats["tokens"]),
            }

    @property
    def received(self) -> list[dict[str, Any]]:
        """The API requests received, oldest first (the last 10,000): `{"path", "headers" (lower-case names),
        "body" (parsed JSON, None if unreadable), "request_id", "status"}`. Tests use it to see exactly what a
        client sent, e.g. to recompute a response key from the wire body."""
        with self._lock:
            return list(self._received)

    def reset(self) -> None:
        """Forget every cache entry, the stats and the received log (the clock is left alone)."""
        with self._lock:
            self._biller.simulator.clear()
            self._received.clear()
            self._stats = {"requests": 0, "by_status": {}, "tokens": dict.fromkeys(_TOKEN_CLASSES, 0)}

    def start(self) -> Emulator:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="promptkey-emulator", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        with self._lock:
            connections = list(self._connections)
        for sock in connections:  # wake handlers idling on keep-alive connections
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()

    def __enter__(self) -> Emulator:  # noqa: PYI034 - typing.Self needs 3.11; the core stays stdlib-only
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- request handling, called from handler threads -----------------------------------------------------
    def _next_ids(self) -> tuple[int, str]:
        with self._lock:
            self._seq += 1
            self._stats["requests"] += 1
            seq = self._seq
        return seq, f"req_emu{seq:018d}"

    def _record(self, status: int, usage: Mapping[str, Any] | None = None, entry: dict[str, Any] | None = None) -> None:
        with self._lock:
            if entry is not None:
                entry["status"] = status
                self._received.append(entry)
            by_status = self._stats["by_status"]
            by_status[str(status)] = by_status.get(str(status), 0) + 1
            if usage is not None:
                tokens = self._stats["tokens"]
                tokens["input"] += usage["input_tokens"]
                tokens["cache_read"] += usage["cache_read_input_tokens"]
                tokens["cache_write_5m"] += usage["cache_creation"]["ephemeral_5m_input_tokens"]
                tokens["cache_write_1h"] += usage["cache_creation"]["ephemeral_1h_input_tokens"]
                tokens["output"] += usage["output_tokens"]

    def _draw_stream_error(self) -> bool:
        """Whether this stream is cut by an `error` event (a second draw, streams only)."""
        rate = self._rates.get("stream_error", 0.0)
        if not rate:
            return False
        with self._lock:
            return self._rng.random() < rate

    def _draw_fault(self) -> str | None:
        if not any(self._rates.get(status) for status in FAULT_STATUSES):
            return None
        with self._lock:  # one draw per request, in arrival order, from the seeded generator
            u = self._rng.random()
        edge = 0.0
        for status in FAULT_STATUSES:
            edge += self._rates.get(status, 0.0)
            if u < edge:
                return status
        return None

    def _counter(self, model: str) -> Callable[[Mapping[str, Any]], int]:
        """Output tokens of an answer block: the tokenizer's count minus that of an empty text block, because an
        estimate that prices a block's JSON framing (the default one does) would bill framing as output."""
        if model not in self._estimates:
            if self._tokenizer is not None:
                base = self._tokenizer
            else:
                from promptkey.tokenizers import default_estimate

                base = default_estimate(model)
            framing = base({"type": "text", "text": ""})

            def count(block: Mapping[str, Any]) -> int:
                return max(1, base(block) - framing)

            self._estimates[model] = count
        return self._estimates[model]

    def _messages(self, body: Any, *, scope: str, seq: int) -> tuple[dict[str, Any], Answer]:
        """Validate, bill and answer one `/v1/messages` request; returns (usage, answer)."""
        try:
            with self._lock:  # the simulator's state and the fault generator move in request order
                usage = self._biller.bill(body, scope=scope, first_token_after=self._latency["base"])
        except PromptCacheError as exc:  # the API's own text
            raise ApiError(400, exc.message) from None
        except PromptKeyError as exc:  # a malformed request the simulator could not read: still the client's 400
            raise ApiError(400, str(exc)) from None
        answer = build_answer(body, seq=f"{seq}", count=self._counter(body["model"]))
        return {**usage, "output_tokens": answer.output_tokens, "service_tier": "standard"}, answer

    def _count_tokens(self, body: Any) -> int:
        try:
            return self._biller.count(body)
        except PromptCacheError as exc:  # the API's own text
            raise ApiError(400, exc.message) from None
        except PromptKeyError as exc:  # a malformed request the simulator could not read: still the client's 400
            raise ApiError(400, str(exc)) from None

    def _prefill_delay(self, usage: Mapping[str, Any]) -> float:
        uncached = usage["input_tokens"] + usage["cache_creation_input_tokens"]
        return self._latency["base"] + self._latency["per_uncached_token"] * float(uncached)

    def _output_delay(self, tokens: int) -> float:
        return self._latency["per_output_token"] * tokens
