"""Emulator round trips and cost() pricing (pytest-benchmark; prints, never asserts a time).

python -m pytest benches/test_bench_emulator.py --benchmark-only
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import promptkey
import pytest
from promptkey.emulator import Emulator, serve

MODEL = "claude-sonnet-4-6"
SYSTEM = [{"type": "text", "text": "You are a careful assistant. " * 400, "cache_control": {"type": "ephemeral"}}]
PARAMS: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 32,
    "system": SYSTEM,
    "messages": [{"role": "user", "content": "hello there"}],
}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with serve() as running:
        yield running


@pytest.fixture(scope="module")
def client(emu: Emulator) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=emu.base_url, api_key="bench") as c:
        yield c


def test_bench_create_cache_hit(benchmark: Any, client: anthropic.Anthropic) -> None:
    client.messages.create(**PARAMS)
    message = benchmark(lambda: client.messages.create(**PARAMS))
    assert message.usage.cache_read_input_tokens > 0


def test_bench_stream_cache_hit(benchmark: Any, client: anthropic.Anthropic) -> None:
    def run() -> Any:
        with client.messages.stream(**PARAMS) as stream:
            return stream.get_final_message()

    assert benchmark(run).usage.cache_read_input_tokens > 0


def test_bench_count_tokens(benchmark: Any, client: anthropic.Anthropic) -> None:
    params = {k: v for k, v in PARAMS.items() if k != "max_tokens"}
    assert benchmark(lambda: client.messages.count_tokens(**params)).input_tokens > 0


def test_bench_cost(benchmark: Any) -> None:
    usage = {
        "input_tokens": 50,
        "cache_read_input_tokens": 1800,
        "cache_creation_input_tokens": 248,
        "output_tokens": 503,
    }
    assert benchmark(lambda: promptkey.cost(usage, MODEL)).total > 0
