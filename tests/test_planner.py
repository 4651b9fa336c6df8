"""plan(): breakpoint placement by expected cost (DESIGN §4), checked against the simulator."""

from __future__ import annotations

import copy
import json
import math
import random
import re
from pathlib import Path
from typing import Any

import promptkey
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from promptkey import InvalidOptionError, Plan, PromptCacheSimulator, plan
from promptkey.cli import main

FIVE = {"type": "ephemeral", "ttl": "5m"}


def tok(block: dict[str, Any]) -> int:
    """Exact counts: a text (or tool description) `"#N ..."` is N tokens, any other text one per word;
    10 for anything else. Sized layers stay short strings, so long traces replay fast."""
    text = block.get("text") or block.get("description")
    if not isinstance(text, str):
        return 10
    head, _, _ = text.partition(" ")
    return int(head[1:]) if head.startswith("#") and head[1:].isdigit() else len(text.split())


def words(n: int, tag: str) -> str:
    return " ".join([tag] * n)


def sized(n: int, tag: str) -> str:
    """A text the test tokenizer counts as `n` tokens."""
    return f"#{n} {tag}"


def four_layers(day: int = 0, hour: int = 0, n: int = 0) -> dict[str, Any]:
    """Tools ≈1,700 tokens that never change, a system prompt of 2,000 that changes daily, a user
    context of 5,000 that changes hourly and a query of 100 that is new every request."""
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 500,
        "tools": [{"name": "search", "description": sized(1700, "tool"), "input_schema": {"type": "object"}}],
        "system": [{"type": "text", "text": sized(2000, f"day{day}")}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": sized(5000, f"hour{hour}")},
                    {"type": "text", "text": sized(100, f"query{n}")},
                ],
            }
        ],
    }


LAYERS = {
    "tools": "never",
    "system": "daily",
    "messages[0].content[0]": "hourly",
    "messages[0].content[1]": "per-request",
}


def billed(usage: dict[str, Any]) -> float:
    """Input cost in base-input-token units (Sonnet 4.5: read 0.1, 5m write 1.25, 1h write 2)."""
    c = usage["cache_creation"]
    return float(
        usage["input_tokens"]
        + 0.1 * usage["cache_read_input_tokens"]
        + 1.25 * c["ephemeral_5m_input_tokens"]
        + 2.0 * c["ephemeral_1h_input_tokens"]
    )


def replay(p: Plan, rate: float, days: float, seed: int) -> float:
    """Mean billed cost of a seeded Poisson trace at `rate` whose layers change at the declared periods."""
    rng = random.Random(seed)
    sim = PromptCacheSimulator(tokenizer=tok)
    t, n, total = 0.0, 0, 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= days * 86_400:
            break
        request = p.apply(four_layers(day=int(t // 86_400), hour=int(t // 3_600), n=n))
        total += billed(sim.submit(request, now=t))
        n += 1
    return total / n


@pytest.mark.parametrize(("rate", "days"), [(0.02, 3), (1 / 120, 8)])
def test_four_layers_agree_with_the_simulator(rate: float, days: float) -> None:
    p = plan(four_layers(), reuse=LAYERS, rate=rate, tokenizer=tok)
    # Breakpoints at the ends of the stable layers, never on the query (messages anchor 0).
    assert [(s, a) for s, a, _ in p.breakpoints] == [("tools", 0), ("system", 0), ("messages", 1)]
    assert p.warm_cost < p.expected_cost < p.uncached_cost < p.cold_cost
    simulated = replay(p, rate, days, seed=20261121)
    assert abs(simulated - p.expected_cost) / simulated < 0.02, (simulated, p.expected_cost)


def test_rare_traffic_buys_the_one_hour_ttl() -> None:
    # One request every 10 minutes: a 5m entry is usually gone, a 1h one usually alive.
    req = four_layers()
    p = plan(req, reuse={"tools": "never", "system": "never", "messages": "per-request"}, rate=1 / 600, tokenizer=tok)
    assert p.breakpoints == (("system", 0, "1h"),)
    p = plan(req, reuse={"tools": "never", "system": "never", "messages": "per-request"}, rate=1.0, tokenizer=tok)
    assert p.breakpoints == (("system", 0, "5m"),)
    p = plan(req, ttl="1h", reuse={"messages": "per-request"}, tokenizer=tok)
    assert {ttl for _, _, ttl in p.breakpoints} == {"1h"}


def test_default_reuse_caches_up_to_the_last_user_message() -> None:
    req: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 10,
        "system": words(1500, "sys"),
        "messages": [
            {"role": "user", "content": words(300, "u0")},
            {"role": "assistant", "content": [{"type": "text", "text": words(300, "a0")}]},
            {"role": "user", "content": [{"type": "text", "text": words(50, "u1")}, {"type": "text", "text": "more"}]},
        ],
    }
    p = plan(req, tokenizer=tok)
    # The last user message (2 blocks) is new: the breakpoint sits on the assistant turn before it.
    assert p.breakpoints == (("messages", 2, "5m"),)
    assert p.expected_cost == pytest.approx(2100 * 0.1 + 51)
    assert p.cold_cost == pytest.approx(2100 * 1.25 + 51)
    assert p.warm_cost == p.expected_cost
    applied = p.apply(req)
    assert applied["messages"][1]["content"][0]["cache_control"] == FIVE
    # The anchor counts from the end, so the plan follows a conversation that grew by a turn.
    grown = copy.deepcopy(req)
    grown["messages"] += [
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}]},
    ]
    assert p.apply(grown)["messages"][3]["content"] == [{"type": "text", "text": "ok", "cache_control": FIVE}]


def test_apply_replaces_markers_and_never_mutates() -> None:
    req = four_layers()
    req["cache_control"] = FIVE
    req["tools"][0]["cache_control"] = FIVE
    req["messages"][0]["content"][1]["cache_control"] = FIVE
    req["messages"].append(
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t",
                    "content": [{"type": "text", "text": "r", "cache_control": FIVE}],
                }
            ],
        }
    )
    snapshot = copy.deepcopy(req)
    p = plan(req, reuse={"system": "never", "messages": "per-request", "tools": "never"}, rate=1.0, tokenizer=tok)
    out = p.apply(req)
    assert req == snapshot
    assert "cache_control" not in out
    assert "cache_control" not in out["tools"][0]
    assert out["messages"][1]["content"][0]["content"][0] == {"type": "text", "text": "r"}
    assert out["system"][0]["cache_control"] == FIVE
    marked = json.dumps(out).count('"cache_control"')
    assert marked == len(p.breakpoints) == 1
    # The applied request is valid for the API rules the simulator enforces.
    PromptCacheSimulator(tokenizer=tok).submit(out)
    with pytest.raises(InvalidOptionError, match="does not exist in this request"):
        p.apply({"model": "m", "messages": []})


def test_sdk_blocks_passed_back_can_take_a_marker() -> None:
    from anthropic.types import TextBlock

    answer = TextBlock(type="text", text=words(1500, "answer"), citations=None)
    req: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [answer]},
            {"role": "user", "content": "next"},
        ],
    }
    p = plan(req, tokenizer=tok)
    assert p.breakpoints == (("messages", 1, "5m"),)
    out = p.apply(req)
    assert out["messages"][1]["content"][0] == {
        "type": "text",
        "text": words(1500, "answer"),
        "citations": None,
        "cache_control": FIVE,
    }
    assert req["messages"][1]["content"][0] is answer  # the input is untouched
    dated = TextBlock(type="text", text="As of 2026-11-21: " + words(1500, "answer"), citations=None)
    req["messages"][1]["content"] = [dated]
    assert any("messages[1].content[0] contains a date" in w for w in plan(req, tokenizer=tok).warnings)
    PromptCacheSimulator(tokenizer=tok).submit(out)


def test_string_system_becomes_a_block_when_marked() -> None:
    req = {"model": "claude-sonnet-4-5", "system": words(2000, "s"), "messages": [{"role": "user", "content": "q"}]}
    p = plan(req, tokenizer=tok)
    out = p.apply(req)
    assert out["system"] == [{"type": "text", "text": words(2000, "s"), "cache_control": FIVE}]
    assert isinstance(req["system"], str)


def test_warnings() -> None:
    # Below the minimum: nothing to place, and an existing marker that caches nothing is named.
    small: dict[str, Any] = {
        "model": "claude-opus-4-5",
        "system": [{"type": "text", "text": words(3000, "s"), "cache_control": FIVE}],
        "messages": [{"role": "user", "content": "q"}],
    }
    p = plan(small, tokenizer=tok)
    assert p.breakpoints == ()
    assert any(
        w.startswith("marker below minimum: the existing marker (at system[0]) caches nothing") for w in p.warnings
    )
    small["cache_control"] = FIVE
    p = plan(small, tokenizer=tok)
    assert any(w.startswith("marker below minimum: the top-level cache_control (on messages[0]") for w in p.warnings)
    assert any("below the model's minimum" in w or "under the model's minimum" in w for w in p.warnings)
    # Volatile content before a breakpoint.
    dated = four_layers()
    dated["system"][0]["text"] = "Today is 2026-11-21. " + dated["system"][0]["text"]
    p = plan(dated, tokenizer=tok)
    [w] = [w for w in p.warnings if w.startswith("volatile")]
    assert "system[0] contains a date ('2026-11-21') at char 9" in w
    ids = four_layers()
    ids["tools"][0]["description"] += " session 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7f9b0a3e"
    assert any("a uuid" in w for w in plan(ids, tokenizer=tok).warnings)
    # A turn of more than 20 positions gets an intermediate breakpoint where the previous turn's was.
    long_turn = {
        "model": "claude-sonnet-4-5",
        "system": words(2000, "s"),
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "text", "text": f"part {i}"} for i in range(25)]},
            {"role": "user", "content": "second"},
        ],
    }
    p = plan(long_turn, tokenizer=tok)
    assert any(w.startswith("lookback gap") for w in p.warnings)
    assert ("system", 0, "5m") in p.breakpoints and ("messages", 1, "5m") in p.breakpoints
    p = plan(long_turn, tokenizer=tok, max_breakpoints=1)
    assert any("no breakpoint is free" in w for w in p.warnings)


def test_unknown_model_is_a_warning_not_an_error() -> None:
    req = dict(four_layers(), model="claude-future-9")
    p = plan(req, tokenizer=tok)
    assert p.minimum == 1024
    assert p.warnings[0].startswith("unknown model 'claude-future-9'") or "unknown model" in p.warnings[0]
    # model= overrides the request's model for the minimum.
    assert plan(four_layers(), model="claude-opus-4-5", tokenizer=tok).minimum == 4096


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ttl": "10m"}, "ttl must be one of 'auto', '5m', '1h'"),
        ({"reuse": {"system": "weekly"}}, "one of 'never', 'daily', 'hourly', 'per-request'"),
        ({"reuse": {"system": 1.5}}, r"probability in \[0, 1\]"),
        ({"reuse": {"system": True}}, r"probability in \[0, 1\]"),
        ({"reuse": {"prompt": 1.0}}, "names no section or block"),
        ({"reuse": {"messages[7].content[0]": 1.0}}, "names no section or block"),
        ({"reuse": ["system"]}, "reuse must be a mapping"),
        ({"max_breakpoints": 5}, "max_breakpoints must be between 0 and 4"),
        ({"max_breakpoints": -1}, "max_breakpoints must be between 0 and 4"),
        ({"rate": 0.0}, "rate must be a positive number"),
        ({"rate": math.nan}, "rate must be a positive number"),
        ({"prices": {"input": 3.0}}, "prices must map"),
    ],
)
def test_invalid_options_name_the_allowed_values(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        plan(four_layers(), tokenizer=tok, **options)


def test_reuse_by_path_beats_message_beats_section() -> None:
    req = four_layers()
    p = plan(req, reuse={"messages": 1.0, "messages[-1]": 0.0, "messages[0].content[0]": 1.0}, tokenizer=tok)
    assert p.breakpoints[-1][:2] == ("messages", 1)
    assert [b["reuse_5m"] for b in p.blocks][2:] == [1.0, 0.0]


def test_prices_switch_to_usd() -> None:
    prices = {"input": 3.0, "cache_read": 0.3, "cache_write_5m": 3.75, "cache_write_1h": 6.0}
    tokens = plan(four_layers(), reuse=LAYERS, rate=0.02, tokenizer=tok)
    usd = plan(four_layers(), reuse=LAYERS, rate=0.02, tokenizer=tok, prices=prices)
    assert usd.units == "usd"
    assert usd.breakpoints == tokens.breakpoints
    assert usd.expected_cost == pytest.approx(tokens.expected_cost * 3.0 / 1e6)


def test_from_trace_learns_stability_and_gaps() -> None:
    # Requests every 10 minutes, one conversation prefix, the query always new.
    trace = [(600.0 * i, four_layers(n=i)) for i in range(40)]
    p = Plan.from_trace(trace, tokenizer=tok)
    assert p.breakpoints == (("messages", 1, "1h"),)
    # Every 2 minutes: 5m is enough.
    trace = [(120.0 * i, four_layers(n=i)) for i in range(40)]
    assert Plan.from_trace(trace, tokenizer=tok).breakpoints == (("messages", 1, "5m"),)
    with pytest.raises(InvalidOptionError, match="at least one"):
        Plan.from_trace([])


def test_plan_is_exported_and_cli_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert promptkey.plan is plan
    path = tmp_path / "request.json"
    path.write_text(json.dumps(four_layers()))
    assert main(["plan", str(path)]) == 0
    out = capsys.readouterr().out
    assert "messages[0].content[0]" in out and "expected cost" in out and "5m" in out
    assert main(["plan", str(path), "--model", "claude-opus-4-5"]) == 0
    assert "minimum 4,096" in capsys.readouterr().out
    assert main(["plan", str(tmp_path / "missing.json")]) == 2
    # --reuse: the context changes hourly, the query every request (estimated tokens: real text).
    long = four_layers()
    long["messages"][0]["content"][0]["text"] = words(3000, "context")
    path.write_text(json.dumps(long))
    args = ["plan", str(path), "--reuse", "messages[-1].content[0]=hourly", "--reuse", "system=0.5", "--apply"]
    assert main(args) == 0
    applied = json.loads(capsys.readouterr().out)
    assert "cache_control" in applied["messages"][0]["content"][0]
    stable_context = ["--reuse", "messages[-1].content[0]=1.0"]
    assert main(["plan", str(path), "--json", "--check", *stable_context]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["breakpoints"] == [["messages", 1, "5m"]] and data["warnings"] == []
    dated = copy.deepcopy(long)
    dated["messages"][0]["content"][0]["text"] += " 2026-11-21"
    path.write_text(json.dumps(dated))
    assert main(["plan", str(path), "--check", *stable_context]) == 1
    assert "volatile content before a breakpoint" in capsys.readouterr().out
    assert main(["plan", str(path), "--reuse", "system"]) == 2
    assert main(["plan", str(path), "--reuse", "system=weekly"]) == 2
    assert "one of 'never', 'daily', 'hourly', 'per-request'" in capsys.readouterr().err


# --- invariants: the plan's cold and warm costs are what the simulator bills ------------------------

block_tokens = st.integers(1, 900)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    req: dict[str, Any] = {"model": draw(st.sampled_from(["claude-sonnet-4-5", "claude-opus-4-5", "claude-opus-5"]))}
    n_tools = draw(st.integers(0, 3))
    if n_tools:
        req["tools"] = [
            {"name": f"t{i}", "description": sized(draw(block_tokens), f"t{i}"), "input_schema": {"type": "object"}}
            for i in range(n_tools)
        ]
    n_system = draw(st.integers(0, 2))
    if n_system:
        req["system"] = [{"type": "text", "text": sized(draw(block_tokens), f"s{i}")} for i in range(n_system)]
    messages = []
    for m in range(draw(st.integers(1, 5))):
        content = [
            {"type": "text", "text": sized(draw(block_tokens), f"m{m}b{j}")} for j in range(draw(st.integers(1, 3)))
        ]
        messages.append({"role": "user" if m % 2 == 0 else "assistant", "content": content})
    if messages[-1]["role"] == "assistant":
        messages.append({"role": "user", "content": "next"})
    req["messages"] = messages
    if draw(st.booleans()):
        req["cache_control"] = FIVE
    return req


@settings(max_examples=80, deadline=None)
@given(requests(), st.sampled_from(["auto", "5m", "1h"]), st.sampled_from([None, 1 / 900, 1.0]), st.integers(0, 4))
def test_cold_and_warm_costs_are_what_the_simulator_bills(
    req: dict[str, Any], ttl: str, rate: float | None, max_breakpoints: int
) -> None:
    snapshot = copy.deepcopy(req)
    p = plan(req, ttl=ttl, rate=rate, tokenizer=tok, max_breakpoints=max_breakpoints, reuse={"messages": "hourly"})
    out = p.apply(req)
    assert req == snapshot
    assert json.dumps(out).count('"cache_control"') == len(p.breakpoints) <= max_breakpoints
    assert p.warm_cost - 1e-9 <= p.expected_cost <= p.cold_cost + 1e-9
    assert p.expected_cost <= p.uncached_cost + 1e-6
    sim = PromptCacheSimulator(tokenizer=tok)
    assert billed(sim.submit(out, now=0.0)) == pytest.approx(p.cold_cost)
    assert billed(sim.submit(out, now=1.0)) == pytest.approx(p.warm_cost)


# --- the volatile-content scanner against a regex reference -----------------------------------------

_REFERENCE = re.compile(
    r"(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)"
    r"|(?P<timestamp>\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?)"
    r"|(?P<date>\b(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b)"
    r"|(?P<time>\b(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\b)"
    r"|(?P<unix>\b1[5-9]\d{8}(?:\d{3})?\b)"
    r"|(?P<id>\b(?:req|msg|toolu|run|sess)_[A-Za-z0-9]{12,}\b)"
)
_KINDS = {
    "uuid": "a uuid",
    "timestamp": "a timestamp",
    "date": "a date",
    "time": "a time of day",
    "unix": "a unix timestamp",
    "id": "an id",
}
_PIECES = st.sampled_from(
    ["2026-11-21", "1999-12-31", "2026-13-01", "T", " ", "09:15", ":02", "23:59:59", "24:00:00", "1763683200",
     "123", "req_", "msg_", "abcdef012345", "3f2b8c1e", "-9d4a", "-1c5d7f9b0a3e", "_", "x", "-", ".", "0"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_volatile_scanner_matches_the_regex(text: str) -> None:
    m = _REFERENCE.search(text)
    expected = (_KINDS[m.lastgroup or ""], m.start(), m.group(0)) if m else None
    found = promptkey._core._volatile(text, "p")
    assert (found[1:] if found else None) == expected


# --- end to end: one plan, re-applied to every turn of a conversation -------------------------------


def agent_conversation(turns: int, parts: int) -> dict[str, Any]:
    """A system prompt, then `turns` exchanges whose assistant answers have `parts` text blocks each."""
    messages: list[dict[str, Any]] = []
    for t in range(turns):
        messages.append({"role": "user", "content": [{"type": "text", "text": sized(50, f"question{t}")}]})
        answer = [{"type": "text", "text": sized(40, f"answer{t}.{i}")} for i in range(parts)]
        messages.append({"role": "assistant", "content": answer})
    messages.append({"role": "user", "content": [{"type": "text", "text": sized(50, f"question{turns}")}]})
    return {
        "model": "claude-sonnet-4-5",
        "system": [{"type": "text", "text": sized(2000, "sys")}],
        "messages": messages,
    }


@pytest.mark.parametrize("parts", [3, 30])
def test_a_plan_keeps_a_growing_conversation_cached(parts: int) -> None:
    p = plan(agent_conversation(2, parts), tokenizer=tok)
    if parts > 19:  # a turn longer than the lookback: a breakpoint where the previous turn's was
        assert any(w.startswith("lookback gap") for w in p.warnings)
    sim = PromptCacheSimulator(tokenizer=tok)
    for turn in range(2, 8):
        req = p.apply(agent_conversation(turn, parts))
        usage = sim.submit(req, now=10.0 * turn)
        if turn > 2:
            # Everything but the newest exchange is read: the previous request's prefix.
            new_tokens = 50 + 40 * parts + 50
            total = 2000 + turn * (50 + 40 * parts) + 50
            assert usage["cache_read_input_tokens"] == total - new_tokens, (turn, sim.explain())
