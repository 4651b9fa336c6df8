"""CountTokens and Calibrator, tested with the real `anthropic` SDK against the emulator over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import anthropic
import pytest
from promptkey import Calibrator, CountTokens, InvalidOptionError
from promptkey.emulator import Emulator, serve
from promptkey.tokenizers import request_blocks
from sdk_clients import track

MODEL = "claude-sonnet-4-6"


def words(block: Mapping[str, Any]) -> int:
    """Predictable counts. The simulator hands it blocks after DESIGN §1 normalization (a string `tool_result`
    content becomes a list of one text block), so the tests write blocks in that form already."""
    text = block.get("text")
    if isinstance(text, str):
        return len(text.split())
    return max(1, len(json.dumps({k: v for k, v in block.items() if k != "cache_control"}, sort_keys=True)) // 4)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with serve(tokenizer=words) as running:
        yield running


def sdk(emu: Emulator) -> Any:  # Any: the SDK's content unions would need a narrowing per line
    c = anthropic.Anthropic(base_url=emu.base_url, api_key="tok")
    return track(c)


TOOL = {
    "name": "search",
    "description": "search the docs",
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
}
REQUEST: dict[str, Any] = {
    "model": MODEL,
    "tools": [TOOL],
    "system": [{"type": "text", "text": "you are terse and exact"}, {"type": "text", "text": "answer in french"}],
    "messages": [
        {"role": "user", "content": "what is a prefix cache"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"q": "prefix"}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "a cache keyed by prefix"}],
                }
            ],
        },
    ],
}


def test_differencing_recovers_every_blocks_count(emu: Emulator) -> None:
    tok = CountTokens(sdk(emu), model=MODEL)
    counted = tok.count(REQUEST)
    expected = [words(block) for _, _, block in request_blocks(REQUEST)]
    assert list(counted.blocks) == expected
    assert counted.paths[0] == "tools[0]" and counted.paths[-1] == "messages[2].content[0]"
    api_total = sdk(emu).messages.count_tokens(**REQUEST).input_tokens
    assert counted.total == api_total == sum(expected) + counted.overhead
    assert counted.overhead == tok.overhead == 0  # the emulator bills blocks only: no per-request framing


def test_appending_a_turn_counts_only_the_new_blocks(emu: Emulator) -> None:
    tok = CountTokens(sdk(emu), model=MODEL)
    tok.count(REQUEST)
    calls, requests = tok.calls, emu.stats["requests"]
    longer = {**REQUEST, "messages": [*REQUEST["messages"], {"role": "assistant", "content": "un cache de préfixe"}]}
    counted = tok.count(longer)
    assert tok.calls - calls == 1 and emu.stats["requests"] - requests == 1
    assert counted.blocks[-1] == 4
    # moving a cache marker changes no count: everything is memoized
    marked = json.loads(json.dumps(longer))
    marked["system"][1]["cache_control"] = {"type": "ephemeral"}
    assert tok.count(marked).blocks == counted.blocks and tok.calls - calls == 1


def test_tool_choice_tokens_are_overhead_not_a_block(emu: Emulator) -> None:
    tok = CountTokens(sdk(emu), model=MODEL)
    forced = {**REQUEST, "tool_choice": {"type": "tool", "name": "search"}}
    counted = tok.count(forced)
    assert counted.total == sdk(emu).messages.count_tokens(**forced).input_tokens


def test_single_blocks_are_counted_alone(emu: Emulator) -> None:
    tok = CountTokens(sdk(emu), model=MODEL)
    text = {"type": "text", "text": "one two three four five"}
    use = {"type": "tool_use", "id": "toolu_9", "name": "search", "input": {"q": "x"}}
    result = {"type": "tool_result", "tool_use_id": "toolu_9", "content": [{"type": "text", "text": "found it"}]}
    assert tok(text) == 5
    assert tok(TOOL) == words(TOOL)
    assert tok(use) == words(use)
    assert tok(result) == words(result)
    calls = tok.calls
    assert tok(text) == 5 and tok.calls == calls  # memoized
    assert tok.name == f"count_tokens({MODEL})"


def test_counted_blocks_answer_the_tokenizer_protocol(emu: Emulator) -> None:
    tok = CountTokens(sdk(emu), model=MODEL)
    counted = tok.count(REQUEST)
    calls = tok.calls
    per_block = [tok(block) for _, _, block in request_blocks(REQUEST)]
    assert per_block == list(counted.blocks) and tok.calls == calls


def test_calibrator_learns_the_ratio_from_real_usage() -> None:
    with serve(tokenizer=lambda block: 3 * words(block)) as emu:
        cal = Calibrator(model=MODEL, base=words)
        assert cal.ratio == 1.0 and cal.samples == 0
        c = sdk(emu)
        for n in (10, 40, 120):
            request = {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": " ".join(["w"] * n)}]}
            cal.observe(request, c.messages.create(**request))
        assert cal.samples == 3
        assert cal.ratio == pytest.approx(3.0) and cal.overhead == pytest.approx(0.0, abs=1e-6)
        assert cal({"type": "text", "text": "a b c d"}) == 12
        assert "x3.000" in cal.name


def test_calibrator_separates_a_fixed_overhead() -> None:
    cal = Calibrator(model=MODEL, base=words)
    for n in (100, 300, 1000):
        request = {"model": MODEL, "messages": [{"role": "user", "content": " ".join(["w"] * n)}]}
        cal.observe(request, {"input_tokens": int(1.25 * n) + 40, "output_tokens": 1})
    assert cal.ratio == pytest.approx(1.25, rel=1e-3) and cal.overhead == pytest.approx(40, abs=1)
    # cache reads and writes are prompt tokens too
    cal2 = Calibrator(model=MODEL, base=words)
    cal2.observe(
        REQUEST | {"messages": [{"role": "user", "content": "a b c d"}]},
        {"input_tokens": 1, "cache_read_input_tokens": 7},
    )
    assert cal2.samples == 1


def test_bad_model_option() -> None:
    with pytest.raises(InvalidOptionError, match="model"):
        CountTokens(object(), model="")
    with pytest.raises(InvalidOptionError, match="model"):
        Calibrator(model="")


def test_differencing_recovers_the_default_estimate_and_feeds_prefix_blocks() -> None:
    from promptkey import _core

    with serve() as emu:  # the emulator bills with the built-in estimate
        tok = CountTokens(sdk(emu), model=MODEL)
        counted = tok.count(REQUEST)
        estimated = [b.tokens for b in _core.prefix_blocks(REQUEST)]
        assert list(counted.blocks) == estimated
        assert [b.tokens for b in _core.prefix_blocks(REQUEST, tokenizer=tok)] == estimated


def test_calibrator_over_the_default_estimate() -> None:
    from promptkey.tokenizers import default_estimate

    estimate = default_estimate(MODEL)
    with serve(tokenizer=lambda block: 2 * estimate(block)) as emu:
        cal = Calibrator(model=MODEL)  # base: the built-in estimate
        for n in (5, 50, 500):
            request = {"model": MODEL, "max_tokens": 1, "messages": [{"role": "user", "content": "lorem ipsum " * n}]}
            cal.observe(request, sdk(emu).messages.create(**request))
        assert cal.ratio == pytest.approx(2.0) and cal.overhead == pytest.approx(0.0, abs=1e-6)


def test_parallel_tool_results_are_counted_without_invalid_prefixes(emu: Emulator) -> None:
    """A prefix ending between two tool_results leaves a tool_use unanswered, which the API rejects: the run
    is counted as a whole and split by the estimate, and the total stays exact."""
    uses = [{"type": "tool_use", "id": f"toolu_{i}", "name": "search", "input": {"q": f"q{i}"}} for i in range(2)]
    results = [
        {"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": [{"type": "text", "text": "r " * (5 + 40 * i)}]}
        for i in range(2)
    ]
    request = {
        "model": MODEL,
        "tools": [TOOL],
        "messages": [
            {"role": "user", "content": "look up two things"},
            {"role": "assistant", "content": uses},
            {"role": "user", "content": [*results, {"type": "text", "text": "thanks"}]},
        ],
    }
    status = sdk(emu).messages.with_raw_response.count_tokens(**request).status_code
    assert status == 200
    tok = CountTokens(sdk(emu), model=MODEL)
    counted = tok.count(request)
    assert emu.stats["by_status"] == {"200": emu.stats["requests"]}  # no prefix was rejected
    assert counted.total == sdk(emu).messages.count_tokens(**request).input_tokens
    run = counted.blocks[-3] + counted.blocks[-2]
    assert run == words(results[0]) + words(results[1]) and counted.blocks[-2] > counted.blocks[-3]
    assert counted.blocks[-1] == 1


def test_emulator_rejects_unanswered_tool_use(emu: Emulator) -> None:
    use = {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {}}
    messages = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": "never mind"},
    ]
    with pytest.raises(anthropic.BadRequestError, match="`tool_use` ids were found without `tool_result`"):
        sdk(emu).messages.count_tokens(model=MODEL, tools=[TOOL], messages=messages)
    stray = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "x"}]}]
    with pytest.raises(anthropic.BadRequestError, match=r"messages\.0\.content\.0: unexpected `tool_use_id`"):
        sdk(emu).messages.create(model=MODEL, max_tokens=5, messages=stray)


def test_assistant_text_with_trailing_whitespace_is_never_a_prefix_end(emu: Emulator) -> None:
    request = {
        "model": MODEL,
        "messages": [
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "sure thing "},
            {"role": "user", "content": "go on please"},
        ],
    }
    counted = CountTokens(sdk(emu), model=MODEL).count(request)
    assert emu.stats["by_status"] == {"200": emu.stats["requests"]}
    assert counted.total == sdk(emu).messages.count_tokens(**request).input_tokens
    assert sum(counted.blocks[1:]) == 2 + 3


def test_request_settings_are_sent_with_every_prefix(emu: Emulator) -> None:
    """thinking is part of every counted prefix (and of the probe), so block counts and the total stay exact."""
    tok = CountTokens(sdk(emu), model=MODEL)
    thinking = {**REQUEST, "thinking": {"type": "enabled", "budget_tokens": 2048}}
    plain, with_thinking = tok.count(REQUEST), tok.count(thinking)
    assert with_thinking.blocks == plain.blocks
    assert with_thinking.total == sdk(emu).messages.count_tokens(**thinking).input_tokens
