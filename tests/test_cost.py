"""Prices and cost (DESIGN §7): the dated table, overrides, and `cost()` never counting a token twice."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import promptkey
import pytest
from hypothesis import given
from hypothesis import strategies as st
from promptkey import Cost, InvalidOptionError, UnknownModelError, cost, fold_usage, load_prices, usage_tokens

ROOT = Path(__file__).resolve().parent.parent
M = 1_000_000


def test_docs_usage_example_priced_on_sonnet_4_5() -> None:
    # the prompt-caching page's usage example (fact sheet §6), at Sonnet 4.5 prices ($3 in, $15 out)
    usage = {
        "input_tokens": 2048,
        "cache_read_input_tokens": 1800,
        "cache_creation_input_tokens": 248,
        "output_tokens": 503,
        "cache_creation": {"ephemeral_5m_input_tokens": 148, "ephemeral_1h_input_tokens": 100},
    }
    c = cost(usage, "claude-sonnet-4-5")
    assert c.input == pytest.approx(2048 * 3.00 / M)
    assert c.cache_read == pytest.approx(1800 * 0.30 / M)
    assert c.cache_write_5m == pytest.approx(148 * 3.75 / M)
    assert c.cache_write_1h == pytest.approx(100 * 6.00 / M)
    assert c.output == pytest.approx(503 * 15.00 / M)
    assert c.total == pytest.approx(c.input + c.cache_read + c.cache_write_5m + c.cache_write_1h + c.output)
    assert c.baseline == pytest.approx((2048 + 1800 + 248) * 3.00 / M + 503 * 15.00 / M)
    assert c.saving == pytest.approx(c.baseline - c.total)


# models whose read price is not 0.1x input (fact sheet §5), or whose table is not exactly 1.25x/2x (Haiku 3)
_READ_EXCEPTIONS = {
    "claude-fable-5-1": 0.025,
    "claude-mythos-5-1": 0.025,
    "claude-fable-5-2": 0.025,
    "claude-opus-5-5": 0.05,
}


@pytest.mark.parametrize("model", [m for m in load_prices().models if m != "claude-3-haiku"])
def test_cache_multipliers_per_model(model: str) -> None:
    """Seed-style arithmetic: each class costs base x 1.25 (5m write), x 2 (1h write), x 0.1 (read)."""
    table = load_prices()
    day = "2026-11-15"  # after Sonnet 5.5's read change and Fable 5.2's release
    p = table.lookup(model, at=day)
    n = 10_000  # inside the first tier of tiered models
    assert cost({"input_tokens": n, "output_tokens": n}, model, at=day).input == pytest.approx(n * p.input / M)
    w5 = cost({"cache_creation_input_tokens": n}, model, at=day)
    w1 = cost({"cache_creation": {"ephemeral_1h_input_tokens": n}}, model, at=day)
    read = cost({"cache_read_input_tokens": n}, model, at=day)
    assert w5.cache_write_5m == pytest.approx(1.25 * n * p.input / M)
    assert w1.cache_write_1h == pytest.approx(2.0 * n * p.input / M)
    expected_read = _READ_EXCEPTIONS.get(model, 0.05 if model == "claude-sonnet-5-5" else 0.1)
    assert read.cache_read == pytest.approx(expected_read * n * p.input / M)


def test_sonnet_5_5_read_price_has_a_date_range() -> None:
    before = cost({"cache_read_input_tokens": M}, "claude-sonnet-5-5", at="2026-10-06")
    after = cost({"cache_read_input_tokens": M}, "claude-sonnet-5-5", at="2026-10-07")
    assert before.cache_read == pytest.approx(0.20) and after.cache_read == pytest.approx(0.10)


def test_haiku_5_5_tier_counts_cache_reads_and_writes() -> None:
    small = cost({"input_tokens": 50_000, "cache_read_input_tokens": 50_000, "output_tokens": M}, "claude-haiku-5-5")
    large = cost({"input_tokens": 50_000, "cache_read_input_tokens": 50_001, "output_tokens": M}, "claude-haiku-5-5")
    assert small.output == pytest.approx(0.50)
    assert large.output == pytest.approx(2.50)  # 100,001 prompt tokens: the band above 100K


def test_write_without_split_is_5m_and_split_decides() -> None:
    no_split = cost({"cache_creation_input_tokens": 1000}, "claude-haiku-4-5")
    assert no_split.cache_write_5m == pytest.approx(1000 * 1.25 / M) and no_split.cache_write_1h == 0.0
    split = {
        "cache_creation_input_tokens": 1000,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1000},
    }
    with_split = cost(split, "claude-haiku-4-5")
    assert with_split.cache_write_5m == 0.0 and with_split.cache_write_1h == pytest.approx(1000 * 2.0 / M)


def test_an_empty_split_beside_a_write_is_no_split() -> None:
    # anthropic-sdk-java#353: web-search turns reported cache_creation 0/0 with a non-zero write
    usage = {
        "cache_creation_input_tokens": 500,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
    }
    assert usage_tokens(usage).cache_write_5m == 500


def test_batch_halves_every_field_including_baseline() -> None:
    usage = {"input_tokens": 10, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 30, "output_tokens": 40}
    full, half = cost(usage, "claude-opus-4-5"), cost(usage, "claude-opus-4-5", batch=True)
    for name in ("input", "cache_read", "cache_write_5m", "cache_write_1h", "output", "total", "baseline"):
        assert getattr(half, name) == pytest.approx(getattr(full, name) / 2)
    assert half.cache_write_5m == pytest.approx(30 * 5.0 * 0.625 / M)  # batch 5m write = 0.625x base
    assert cost(usage, "claude-opus-4-5", data_residency=True).total == pytest.approx(full.total * 1.1)


def test_unknown_model_raises_naming_it() -> None:
    with pytest.raises(UnknownModelError, match="gpt-5-turbo") as info:
        cost({"input_tokens": 1}, "gpt-5-turbo")
    assert info.value.model == "gpt-5-turbo"
    assert isinstance(info.value, promptkey.PromptKeyError) and isinstance(info.value, LookupError)
    with pytest.raises(UnknownModelError, match="claude-fable-5-2.*2026-11-01"):
        cost({"input_tokens": 1}, "claude-fable-5-2", at="2026-11-01")  # before its release


def test_dated_ids_price_like_their_alias() -> None:
    usage = {"input_tokens": 1234, "output_tokens": 56}
    assert cost(usage, "claude-sonnet-4-5-20250929") == cost(usage, "claude-sonnet-4-5")
    with pytest.raises(UnknownModelError):
        cost(usage, "claude-sonnet-4-5-2025")  # not a date suffix


def test_user_price_file_and_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "prices.json"
    file.write_text(
        json.dumps(
            {"models": {"acme-1": {"input": 2.0, "output": 8.0}, "claude-haiku-4-5": {"input": 9.0, "output": 9.0}}}
        )
    )
    c = cost({"input_tokens": M, "cache_read_input_tokens": M}, "acme-1", prices=str(file))
    assert c.input == pytest.approx(2.0) and c.cache_read == pytest.approx(0.2)  # cache prices by multiplier
    assert cost({"input_tokens": M}, "claude-haiku-4-5", prices=file).input == pytest.approx(9.0)  # replaced
    assert cost({"input_tokens": M}, "claude-opus-4-5", prices=file).input == pytest.approx(5.0)  # kept
    monkeypatch.setenv("PROMPTKEY_PRICES", str(file))
    assert cost({"input_tokens": M}, "acme-1").input == pytest.approx(2.0)
    # prices= layers over the environment's file
    assert cost({"input_tokens": M}, "acme-1", prices={"models": {"acme-1": {"input": 1, "output": 1}}}).input == 1.0
    with pytest.raises(UnknownModelError, match="claude-opus-4-5"):
        cost({"input_tokens": 1}, "claude-opus-4-5", prices={"mode": "replace", "models": {}})


def test_litellm_price_file_is_accepted(tmp_path: Path) -> None:
    litellm = {
        "sample_spec": {"max_tokens": "LEGACY parameter"},
        "claude-sonnet-4-5": {
            "input_cost_per_token": 3e-06,
            "output_cost_per_token": 1.5e-05,
            "cache_creation_input_token_cost": 3.75e-06,
            "cache_creation_input_token_cost_above_1hr": 6e-06,
            "cache_read_input_token_cost": 3e-07,
            "input_cost_per_token_above_200k_tokens": 6e-06,
            "output_cost_per_token_above_200k_tokens": 2.25e-05,
            "litellm_provider": "anthropic",
            "prompt_cache_min_tokens": 1024,
        },
        "anthropic/claude-acme": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06},
        "gpt-4o": {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05, "litellm_provider": "openai"},
    }
    file = tmp_path / "model_prices_and_context_window.json"
    file.write_text(json.dumps(litellm))
    table = load_prices(file)
    small = table.lookup("claude-sonnet-4-5", prompt_tokens=10_000)
    assert (small.input, small.cache_write_5m, small.cache_write_1h, small.cache_read) == (3.0, 3.75, 6.0, 0.3)
    assert small.min_tokens == 1024
    large = table.lookup("claude-sonnet-4-5", prompt_tokens=250_000)
    assert (large.input, large.output) == (6.0, 22.5)
    assert table.lookup("claude-acme").cache_read == pytest.approx(0.1)  # cache prices by multiplier
    with pytest.raises(UnknownModelError):
        table.lookup("gpt-4o")  # not an Anthropic model


def test_litellm_9812_and_11789_regressions() -> None:
    """LiteLLM #9812 added cache-creation tokens to input a second time; #11789 priced cache reads as input when
    streaming. Here input is priced from input_tokens alone, and a folded stream prices like its message."""
    usage = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 1000,
        "cache_read_input_tokens": 500,
        "output_tokens": 1,
    }
    c = cost(usage, "claude-sonnet-4-5")
    assert c.input == pytest.approx(10 * 3.0 / M) and c.cache_read == pytest.approx(500 * 0.3 / M)
    stream = [
        {"type": "message_start", "message": {"usage": {**usage, "output_tokens": 1}}},
        {"type": "message_delta", "usage": usage},
    ]
    assert cost(fold_usage(stream), "claude-sonnet-4-5") == c


def test_a_loaded_table_can_be_passed_as_is() -> None:
    table = load_prices({"models": {"acme-2": {"input": 4, "output": 4}}})
    assert load_prices(table) is table
    assert cost({"input_tokens": M}, "acme-2", prices=table).input == pytest.approx(4.0)


def test_bad_price_entries_name_their_place(tmp_path: Path) -> None:
    with pytest.raises(InvalidOptionError) as info:
        load_prices({"models": {"x": [{"input": 1, "output": -2}]}})
    assert info.value.path == "models.x[0].output"
    with pytest.raises(InvalidOptionError, match="needs 'output'"):
        load_prices({"models": {"x": {"input": 1}}})
    with pytest.raises(InvalidOptionError, match="cannot read price file"):
        load_prices(tmp_path / "missing.json")
    with pytest.raises(InvalidOptionError, match="token count"):
        cost({"input_tokens": -1}, "claude-haiku-4-5")


def test_sdk_usage_types_and_message() -> None:
    from anthropic.types import Message, MessageDeltaUsage, Usage

    usage = Usage(input_tokens=5, output_tokens=7, cache_read_input_tokens=100, cache_creation_input_tokens=0)
    assert usage_tokens(usage).prompt == 105
    message = Message.model_validate(
        {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5",
            "content": [],
            "stop_reason": "end_turn",
            "usage": usage.model_dump(),
        }
    )
    assert cost(message, "claude-haiku-4-5") == cost(usage, "claude-haiku-4-5")
    delta = MessageDeltaUsage(output_tokens=7, input_tokens=5, cache_read_input_tokens=100)
    assert cost(delta, "claude-haiku-4-5") == cost(usage, "claude-haiku-4-5")


def test_costs_add_up() -> None:
    a = cost({"input_tokens": 100, "output_tokens": 10}, "claude-haiku-4-5")
    b = cost({"cache_read_input_tokens": 100}, "claude-haiku-4-5")
    total = a + b
    assert total.total == pytest.approx(a.total + b.total)
    assert isinstance(Cost() + a, Cost)


counts = st.integers(min_value=0, max_value=2_000_000)


@st.composite
def streams(draw: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    final = {
        "input_tokens": draw(counts),
        "cache_read_input_tokens": draw(counts),
        "output_tokens": draw(counts),
    }
    w5, w1 = draw(counts), draw(counts)
    final["cache_creation_input_tokens"] = w5 + w1
    final["cache_creation"] = {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1}
    start = {**final, "output_tokens": min(1, final["output_tokens"])}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": {"usage": start}}]
    steps = sorted(draw(st.lists(st.integers(0, final["output_tokens"]), max_size=4))) + [final["output_tokens"]]
    for out in steps:
        usage: dict[str, Any] = {"output_tokens": out}
        if draw(st.booleans()):  # the real API repeats the input fields, cumulative; some proxies drop them
            usage |= {k: final[k] for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")}
        events.append({"type": "message_delta", "usage": usage})
    return final, events


@given(streams())
def test_streamed_usage_folds_without_double_counting(case: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    final, events = case
    folded = fold_usage(events)
    assert folded == final
    t = usage_tokens(folded)
    assert t.prompt == final["input_tokens"] + final["cache_read_input_tokens"] + final["cache_creation_input_tokens"]
    c = cost(folded, "claude-sonnet-4-5")
    assert c.total == pytest.approx(cost(final, "claude-sonnet-4-5").total)
    # every token is priced once: the same tokens, all uncached, cost exactly the baseline
    flat = {"input_tokens": t.prompt, "output_tokens": t.output}
    assert cost(flat, "claude-sonnet-4-5").total == pytest.approx(c.baseline)
    assert c.total <= c.baseline * 2.0 + 1e-12  # 1h writes, the dearest class, are 2x input


def test_fold_drops_a_stale_split() -> None:
    start = {
        "input_tokens": 1,
        "cache_creation_input_tokens": 10,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 10},
    }
    folded = fold_usage([start, {"output_tokens": 3, "cache_creation_input_tokens": 12}])
    assert "cache_creation" not in folded and usage_tokens(folded).cache_write_5m == 12


def test_min_tokens_agree_with_the_rust_model_table() -> None:
    """The Rust table is the simulator's; no Python accessor exists, so parse `m("alias", min, family)` lines."""
    rust = {
        alias: int(n) for alias, n in re.findall(r'm\("([a-z0-9-]+)",\s*(\d+),', (ROOT / "rust/models.rs").read_text())
    }
    assert len(rust) > 20
    table = load_prices()
    checked = 0
    for model in table.models:
        for entry in table.entries(model):
            if entry.min_tokens is not None:
                assert rust.get(model) == entry.min_tokens, model
                checked += 1
    assert checked >= 20
    # every priced model the simulator knows has a minimum, and vice versa the gaps are deliberate
    assert set(rust) - set(table.models) == {"claude-mythos-preview"}  # no published price
