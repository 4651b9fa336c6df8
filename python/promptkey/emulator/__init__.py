"""An Anthropic-compatible HTTP emulator backed by the prompt-cache simulator (DESIGN §6; docs/emulator.md).

    with promptkey.emulator.serve() as emu:
        client = anthropic.Anthropic(base_url=emu.base_url, api_key="test")
        message = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=[...])
        emu.clock.advance(301)          # the 5-minute cache entries expire
        emu.stats                       # {"requests": 1, "by_status": {"200": 1}, "tokens": {...}}

Standard library only (plus promptkey's own core): it runs wherever promptkey does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from promptkey.emulator._clock import Clock
from promptkey.emulator._server import Emulator

__all__ = ["Clock", "Emulator", "serve"]


@contextlib.contextmanager
def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Any = None,
    faults: Mapping[str, Any] | None = None,
    latency: Mapping[str, Any] | None = None,
    min_tokens: Any = None,
    tokenizer: Callable[[Mapping[str, Any]], int] | None = None,
) -> Iterator[Emulator]:
    """Run an emulator on a background thread for the duration of the `with` block.

    Args:
        host: interface to bind (loopback by default).
        port: 0 picks a free port; read it back from `.base_url` / `.port`.
        clock: any object with `time()`; default a `Clock` that starts at real time and ticks, with `advance()`.
        faults: `{"529": p, "429": p, "500": p, "stream_error": p, "retry_after": seconds, "seed": 0}`:
            per-request fault rates (drawn in arrival order from a generator seeded with `seed`), answered with
            a `retry-after` header; `stream_error` cuts a stream after its first delta with an `error` event.
        latency: `{"base": s, "per_uncached_token": s, "per_output_token": s}`: sleep before answering (uncached
            = input + cache writes, so cache hits are visibly faster); all zero by default.
        min_tokens, tokenizer: passed to `PromptCacheSimulator` (minimum cacheable prefix; block token counts).

    Yields:
        The running `Emulator` (`.base_url`, `.stats`, `.clock`, `.simulator`).
    """
    emulator = Emulator(
        host=host, port=port, clock=clock, faults=faults, latency=latency, min_tokens=min_tokens, tokenizer=tokenizer
    )
    with emulator:
        yield emulator
