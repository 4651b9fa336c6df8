"""CachedAnthropic's overhead and `promptkey replay`'s throughput (pytest-benchmark; prints, never asserts a time).

python -m pytest benches/test_bench_anthropic.py --benchmark-only      (use a release build)

Rows:
- "create: answered": a response-cache hit through `CachedAnthropic` (key, store lookup, `Message` rebuilt)
  against the same call going over loopback to the emulator with the plain SDK (its cheapest possible miss);
- "stream: answered": the same for `messages.stream(...)` read to `get_final_message()` (a hit is replayed as
  server-sent events through the SDK's own parser);
- "replay sample trace": all five strategies over examples/trace.jsonl, per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import promptkey
import pytest
from promptkey.anthropic import CachedAnthropic
from promptkey.emulator import Emulator, serve
from promptkey.replay import read_trace, replay

TRACE = Path(__file__).resolve().parents[1] / "examples" / "trace.jsonl"
PARAMS: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 64,
    "system": [{"type": "text", "text": "You are a careful assistant. " * 400, "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": "hello there, what is the policy?"}],
}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with serve() as running:
        yield running


@pytest.fixture(scope="module")
def sdk(emu: Emulator) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=emu.base_url, api_key="bench") as client:
        yield client


def _info(benchmark: Any, group: str, role: str, impl: str, batch: int = 1, suite: str = "anthropic") -> None:
    benchmark.group = group
    benchmark.extra_info.update({"suite": suite, "role": role, "impl": impl, "batch": batch})


def test_bench_create_cached_hit(benchmark: Any, sdk: anthropic.Anthropic) -> None:
    _info(benchmark, "create: answered", "subject", "CachedAnthropic hit")
    client = CachedAnthropic(sdk, cache=promptkey.ResponseCache())
    client.messages.create(**PARAMS)
    message = benchmark(lambda: client.messages.create(**PARAMS))
    assert client.last is not None and client.last.status == "hit" and message.content


def test_bench_create_sdk_to_emulator(benchmark: Any, sdk: anthropic.Anthropic) -> None:
    _info(benchmark, "create: answered", "competitor", "SDK to emulator (loopback)")
    sdk.messages.create(**PARAMS)
    assert benchmark(lambda: sdk.messages.create(**PARAMS)).content


def test_bench_stream_cached_hit(benchmark: Any, sdk: anthropic.Anthropic) -> None:
    _info(benchmark, "stream: answered", "subject", "CachedAnthropic hit")
    client = CachedAnthropic(sdk, cache=promptkey.ResponseCache())

    def run() -> Any:
        with client.messages.stream(**PARAMS) as stream:
            return stream.get_final_message()

    run()
    assert benchmark(run).content and client.last is not None and client.last.status == "hit"


def test_bench_stream_sdk_to_emulator(benchmark: Any, sdk: anthropic.Anthropic) -> None:
    _info(benchmark, "stream: answered", "competitor", "SDK to emulator (loopback)")

    def run() -> Any:
        with sdk.messages.stream(**PARAMS) as stream:
            return stream.get_final_message()

    assert benchmark(run).content


def test_bench_replay_sample_trace(benchmark: Any) -> None:
    entries = read_trace(TRACE)
    _info(benchmark, "sample trace, per request", "subject", "replay, 5 strategies", batch=len(entries), suite="replay")
    report = benchmark.pedantic(lambda: replay(entries), rounds=3, iterations=1)
    assert report.requests == len(entries)
