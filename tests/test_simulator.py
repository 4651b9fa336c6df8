"""PromptCacheSimulator: Anthropic's prompt-cache rules (DESIGN §3), the docs' own examples first."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from promptkey import InvalidOptionError, PromptCacheError, PromptCacheSimulator, PromptKeyError

FIVE = {"type": "ephemeral", "ttl": "5m"}
HOUR = {"type": "ephemeral", "ttl": "1h"}


def tok(block: dict[str, Any]) -> int:
    """Exact counts: a text block or tool is as many tokens as its text/description has words; other
    blocks (tool_use, tool_result, images) are 10."""
    text = block.get("text") or block.get("description")
    return len(text.split()) if isinstance(text, str) else 10


def words(n: int, tag: str = "w") -> str:
    return " ".join([tag] * n)


def text(n: int, tag: str = "w", cc: dict[str, str] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": words(n, tag)}
    if cc:
        block["cache_control"] = cc
    return block


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def sim(**kw: Any) -> tuple[PromptCacheSimulator, Clock]:
    clock = Clock()
    return PromptCacheSimulator(clock=clock, tokenizer=tok, **kw), clock


def conversation(
    n_blocks: int, bp: int | None = None, tokens: int = 200, model: str = "claude-sonnet-4-5"
) -> dict[str, Any]:
    """One user message of `n_blocks` text blocks (block i says `b{i}`), 5m breakpoint on block `bp` (1-based)."""
    content = [text(tokens, f"b{i}", FIVE if bp == i + 1 else None) for i in range(n_blocks)]
    return {"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": content}]}


def reasons(s: PromptCacheSimulator) -> list[str]:
    return [r["reason"] for r in s.explain()]


# --- lookback -------------------------------------------------------------------------------------


def test_documented_lookback_example() -> None:
    s, clock = sim()
    # Turn 1: 10 blocks, breakpoint at block 10: written.
    u = s.submit(conversation(10, bp=10))
    assert (u["cache_creation_input_tokens"], u["cache_read_input_tokens"]) == (2000, 0)
    # Turn 2: 15 blocks, breakpoint at 15: reads at 10, writes 11–15.
    clock.now += 5
    u = s.submit(conversation(15, bp=15))
    assert (u["cache_read_input_tokens"], u["cache_creation_input_tokens"], u["input_tokens"]) == (2000, 1000, 0)
    [record] = s.explain()
    assert (record["reason"], record["hit_path"]) == ("hit", "messages[0].content[9]")
    # Turn 3: 35 blocks, breakpoint at 35: checks 35…16; block 15 is one position outside: no hit.
    clock.now += 5
    u = s.submit(conversation(35, bp=35))
    assert u["cache_read_input_tokens"] == 0
    assert u["cache_creation_input_tokens"] == 7000
    [record] = s.explain()
    assert record["reason"] == "outside_lookback"
    assert "messages[0].content[14] is cached but 21 positions back" in record["message"]


def tool_turn(n_calls: int, tail_texts: int) -> dict[str, Any]:
    """10 cached text blocks, then an assistant turn of `n_calls` tool_use blocks, a user turn of their
    tool_result blocks and `tail_texts` text blocks, the last one marked."""
    first = [text(200, f"b{i}", FIVE if i == 9 else None) for i in range(10)]
    uses = [{"type": "tool_use", "id": f"t{i}", "name": "f", "input": {"i": i}} for i in range(n_calls)]
    results = [{"type": "tool_result", "tool_use_id": f"t{i}", "content": "ok"} for i in range(n_calls)]
    tail = [text(5, f"tail{i}", FIVE if i == tail_texts - 1 else None) for i in range(tail_texts)]
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": first},
            {"role": "assistant", "content": uses},
            {"role": "user", "content": results + tail},
        ],
    }


def test_tool_use_and_tool_result_runs_are_one_position_each() -> None:
    s, clock = sim()
    s.submit(conversation(10, bp=10))
    clock.now += 1
    # 30 tool_use + 30 tool_result = 2 positions; with 17 texts the breakpoint is the 20th position
    # counting back to block 10: a hit.
    s.submit(tool_turn(30, 17))
    assert s.explain()[-1]["reason"] == "hit"
    assert s.explain()[-1]["hit_path"] == "messages[0].content[9]"
    # One more text block and block 10 falls out of the window.
    s2, _ = sim()
    s2.submit(conversation(10, bp=10))
    s2.submit(tool_turn(30, 18))
    assert s2.explain()[-1]["reason"] == "outside_lookback"
    # A run of one is a position too: 1 + 1 + 18 positions from the breakpoint also miss.
    s3, _ = sim()
    s3.submit(conversation(10, bp=10))
    s3.submit(tool_turn(1, 18))
    assert s3.explain()[-1]["reason"] == "outside_lookback"


# --- billing ---------------------------------------------------------------------------------------


def test_mixed_ttl_billing_a_b_c() -> None:
    s, clock = sim(min_tokens=100)
    system = [text(1000, "s0", HOUR), text(1000, "s1")]
    req: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 5,
        "system": system,
        "messages": [{"role": "user", "content": "x"}],
    }
    s.submit(req)
    # A = 1,000 (hit at system[0]), B = 2,000 (1h at system[1]), C = 3,000 (5m on the message), tail 1.
    req2 = copy.deepcopy(req)
    req2["system"][1]["cache_control"] = HOUR
    req2["messages"] = [{"role": "user", "content": [text(1000, "m", FIVE), text(1, "q")]}]
    clock.now += 10
    u = s.submit(req2)
    assert u == {
        "input_tokens": 1,
        "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 1000,
        "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 1000},
        "output_tokens": 0,
    }
    # Each breakpoint reads system[0] (its own or by lookback); the later two write their segments.
    assert [(r["hit_path"], r["wrote"], r["tokens_written"]) for r in s.explain()] == [
        ("system[0]", False, 0),
        ("system[0]", True, 1000),
        ("system[0]", True, 1000),
    ]
    # Billing never invents or loses a token.
    assert u["input_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"] == 3001


# --- validation: the API's own messages ------------------------------------------------------------


def test_five_breakpoints_raise_the_api_message() -> None:
    s, _ = sim()
    req = conversation(5, tokens=300)
    for block in req["messages"][0]["content"]:
        block["cache_control"] = FIVE
    with pytest.raises(
        PromptCacheError, match=r"^A maximum of 4 blocks with cache_control may be provided\. Found 5\.$"
    ):
        s.submit(req)
    assert isinstance(PromptCacheError("x"), ValueError | PromptKeyError)


def test_one_hour_after_five_minutes_raises_the_api_message() -> None:
    s, _ = sim()
    req = conversation(5, tokens=300)
    req["messages"][0]["content"][1]["cache_control"] = FIVE
    req["messages"][0]["content"][4]["cache_control"] = HOUR
    with pytest.raises(PromptCacheError) as info:
        s.submit(req)
    assert str(info.value).startswith(
        "messages.0.content.4.cache_control.ttl: a ttl='1h' cache_control block must not come after a ttl='5m' "
        "cache_control block. Note that blocks are processed in the following order: `tools`, `system`, `messages`."
    )
    # The same order across sections: a 1h marker in messages after a 5m one in system.
    req = conversation(2, tokens=300)
    req["system"] = [text(300, "s", FIVE)]
    req["messages"][0]["content"][1]["cache_control"] = HOUR
    with pytest.raises(PromptCacheError, match="must not come after"):
        s.submit(req)


def test_top_level_cache_control() -> None:
    s, clock = sim()
    req = conversation(6, tokens=300)
    req["messages"].append({"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}]})
    req["cache_control"] = FIVE
    s.submit(req)
    # It lands on the last cacheable block, walking back over the thinking block.
    [record] = s.explain()
    assert (record["path"], record["automatic"], record["ttl"]) == ("messages[0].content[5]", True, "5m")
    assert s.explain()[0]["tokens_written"] == 1800
    # Over an explicit marker of the same TTL it is a no-op: 4 explicit + top-level is fine.
    req = conversation(6, tokens=300)
    for i in (2, 3, 4, 5):
        req["messages"][0]["content"][i]["cache_control"] = FIVE
    req["cache_control"] = FIVE
    clock.now += 1
    s.submit(req)
    assert len(s.explain()) == 4
    # Over an explicit marker of another TTL it is the API's 400.
    mixed = conversation(6, tokens=300)
    mixed["messages"][0]["content"][5]["cache_control"] = FIVE
    mixed["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    with pytest.raises(PromptCacheError, match="ttl"):
        s.submit(mixed)
    # Elsewhere it is a 5th marker.
    req["messages"][0]["content"][5].pop("cache_control")
    req["messages"][0]["content"][1]["cache_control"] = FIVE
    with pytest.raises(PromptCacheError, match="Found 5"):
        s.submit(req)


# --- minimums --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "minimum"), [("claude-opus-4-5", 4096), ("claude-sonnet-4-5", 1024)])
def test_below_the_minimum_caches_nothing_and_raises_nothing(model: str, minimum: int) -> None:
    s, clock = sim()
    short = {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": [text(minimum - 1, "a", FIVE)]}]}
    for _ in range(2):
        u = s.submit(short)
        clock.now += 1
        assert (u["input_tokens"], u["cache_creation_input_tokens"], u["cache_read_input_tokens"]) == (
            minimum - 1,
            0,
            0,
        )
    [record] = s.explain()
    assert record["reason"] == "below_minimum"
    assert record["message"] == (
        f"below_minimum: the prefix through messages[0].content[0] is {minimum - 1:,} tokens; {model} caches from {minimum:,}"
    )
    exact = {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": [text(minimum, "a", FIVE)]}]}
    assert s.submit(exact)["cache_creation_input_tokens"] == minimum
    # The minimum is measured on the whole prefix up to the breakpoint.
    split = {
        "model": model,
        "max_tokens": 5,
        "system": [text(minimum - 10, "s")],
        "messages": [{"role": "user", "content": [text(10, "q", FIVE)]}],
    }
    assert s.submit(split)["cache_creation_input_tokens"] == minimum


def test_min_tokens_override_and_unknown_models() -> None:
    req = conversation(1, bp=1, tokens=600)
    s, _ = sim(min_tokens=500)
    assert s.submit(req)["cache_creation_input_tokens"] == 600
    s, _ = sim(min_tokens={"claude-sonnet-4-5": 700})
    assert s.submit(req)["cache_creation_input_tokens"] == 0
    s, _ = sim(min_tokens={"claude-sonnet-4-5-20250929": 100})
    assert s.submit(req)["cache_creation_input_tokens"] == 0  # the table, not the dated override
    odd = conversation(1, bp=1, tokens=1100, model="claude-next-9")
    s, _ = sim()
    with pytest.warns(
        UserWarning, match=r"unknown model .claude-next-9.: assuming a minimum cacheable prefix of 1,024"
    ):
        assert s.submit(odd)["cache_creation_input_tokens"] == 1100
    with pytest.raises(InvalidOptionError, match="min_tokens must be a non-negative int or a mapping"):
        PromptCacheSimulator(min_tokens=[1])  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="min_tokens"):
        PromptCacheSimulator(min_tokens={"m": -1})
    with pytest.raises(InvalidOptionError, match="clock must have a time"):
        PromptCacheSimulator(clock=object())


# --- time ------------------------------------------------------------------------------------------


def test_ttl_boundary_and_refresh_on_read() -> None:
    s, clock = sim()
    req = conversation(6, bp=6)
    clock.now = 0.0
    s.submit(req)
    clock.now = 299.0
    s.submit(req)
    assert reasons(s) == ["hit"]
    # The read at 299 refreshed it: alive until 599 (exclusive), not 300.
    clock.now = 598.0
    s.submit(req)
    assert reasons(s) == ["hit"]
    # Exactly one TTL after the last read: expired.
    clock.now = 898.0
    u = s.submit(req)
    assert reasons(s) == ["expired"]
    assert s.explain()[0]["message"] == "expired: last read 300 s ago, TTL 300 s; wrote 1,200 tokens (5m)"
    assert u["cache_creation_input_tokens"] == 1200
    # One tick before the TTL it is alive.
    clock.now += 300.0 - 1e-6
    s.submit(req)
    assert reasons(s) == ["hit"]


def test_explain_says_how_long_ago() -> None:
    s, clock = sim()
    req = conversation(6, bp=6)
    s.submit(req)
    clock.now += 412
    s.submit(req)
    assert s.explain()[0]["message"].startswith("expired: last written 412 s ago, TTL 300 s")
    clock.now += 100
    s.submit(req)
    clock.now += 412
    s.submit(req)
    assert s.explain()[0]["message"].startswith("expired: last read 412 s ago, TTL 300 s")


def test_one_hour_entries_outlive_five_minutes() -> None:
    s, clock = sim()
    req = conversation(6)
    req["messages"][0]["content"][5]["cache_control"] = HOUR
    s.submit(req)
    clock.now += 3599
    assert s.submit(req)["cache_read_input_tokens"] == 1200
    clock.now += 3600
    assert s.submit(req)["cache_creation"]["ephemeral_1h_input_tokens"] == 1200


def test_identical_requests_in_flight_all_write() -> None:
    s, clock = sim()
    req = conversation(6, bp=6)
    usages = [s.submit(req, first_token_after=2.0) for _ in range(3)]
    assert all(u["cache_creation_input_tokens"] == 1200 for u in usages)
    assert reasons(s) == ["in_flight"]
    assert "becomes readable in 2 s" in s.explain()[0]["message"]
    clock.now += 2.0
    assert s.submit(req)["cache_read_input_tokens"] == 1200
    # With first_token_after=0 (the default) the second of two simultaneous requests reads.
    s2, _ = sim()
    s2.submit(req)
    assert s2.submit(req)["cache_read_input_tokens"] == 1200


def test_model_and_scope_separation() -> None:
    s, clock = sim()
    req = conversation(6, bp=6)
    s.submit(req, api_key="team-a")
    clock.now += 1
    assert s.submit(req, api_key="team-b")["cache_read_input_tokens"] == 0
    assert reasons(s) == ["other_scope"]
    other_model = dict(req, model="claude-sonnet-4-6")
    assert s.submit(other_model, api_key="team-a")["cache_read_input_tokens"] == 0
    [record] = s.explain()
    assert record["reason"] == "other_scope"
    assert record["message"].startswith("other_scope: this content is cached for model claude-sonnet-4-5")
    assert s.submit(req, api_key="team-a")["cache_read_input_tokens"] == 1200
    assert s.submit(req, api_key="team-b")["cache_read_input_tokens"] == 1200


# --- what invalidates what (the docs' table) -------------------------------------------------------


def layered(**extra: Any) -> dict[str, Any]:
    tools: list[dict[str, Any]] = [
        {"name": "lookup", "description": words(600, "t1"), "input_schema": {"type": "object"}},
        {"name": "search", "description": words(600, "t2"), "input_schema": {"type": "object"}, "cache_control": FIVE},
    ]
    req = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4000,
        "tools": tools,
        "system": [text(600, "sys", FIVE)],
        "messages": [{"role": "user", "content": [text(600, "ctx", FIVE), text(5, "q")]}],
    }
    req.update(extra)
    return req


def read_pattern(
    s: PromptCacheSimulator, clock: Clock, before: dict[str, Any], after: dict[str, Any]
) -> tuple[list[str | None], int]:
    """Which entry each breakpoint of `after` read (None: a miss), and the tokens read."""
    s.submit(before)
    clock.now += 1
    u = s.submit(after)
    return [r["hit_path"] for r in s.explain()], u["cache_read_input_tokens"]


# A breakpoint whose own prefix changed still reads the nearest earlier entry (lookback).
KEEP_TOOLS_AND_SYSTEM = (["tools[1]", "system[0]", "system[0]"], 1800)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"tool_choice": {"type": "any"}}, KEEP_TOOLS_AND_SYSTEM),
        ({"tool_choice": {"type": "auto", "disable_parallel_tool_use": True}}, KEEP_TOOLS_AND_SYSTEM),
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}}, KEEP_TOOLS_AND_SYSTEM),
        ("tool", ([None, None, None], 0)),
        ("web_search", (["tools[1]", "tools[1]", "tools[1]"], 1200)),
        ({"speed": "fast"}, (["tools[1]", "tools[1]", "tools[1]"], 1200)),
        ("image", KEEP_TOOLS_AND_SYSTEM),
    ],
)
def test_invalidation_table(change: Any, expected: tuple[list[str | None], int]) -> None:
    s, clock = sim()
    before = layered()
    after = copy.deepcopy(before)
    if change == "tool":
        after["tools"][0]["description"] += " (v2)"
    elif change == "image":
        # After every breakpoint: only the "images anywhere" context can invalidate the messages.
        image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
        after["messages"][0]["content"].append(image)
    elif change == "web_search":
        after["tools"].append({"type": "web_search_20250305", "name": "web_search"})
    else:
        after.update(change)
    assert read_pattern(s, clock, before, after) == expected


def test_moving_a_marker_keeps_the_cache() -> None:
    s, clock = sim()
    before = layered()
    after = copy.deepcopy(before)
    del after["messages"][0]["content"][0]["cache_control"]
    after["messages"][0]["content"][1]["cache_control"] = FIVE
    # The last breakpoint moved one block on: it reads the entry one position back.
    assert read_pattern(s, clock, before, after) == (["tools[1]", "system[0]", "messages[0].content[0]"], 2400)
    assert s.explain()[-1]["message"].startswith(
        "hit: read 2,400 tokens through messages[0].content[0] (found by lookback); "
    )


# --- API surface -----------------------------------------------------------------------------------


def test_prepared_requests_and_traces() -> None:
    s, _ = sim()
    prepared = s.prepare(conversation(6, bp=6))
    assert (prepared.model, prepared.tokens, len(prepared)) == ("claude-sonnet-4-5", 1200, 6)
    usages = s.submit_many([(0.0, prepared), (10.0, prepared), (400.0, conversation(6, bp=6))])
    assert [u["cache_read_input_tokens"] for u in usages] == [0, 1200, 0]
    assert len(s) == 1
    s.clear()
    assert len(s) == 0 and s.explain() == []
    with pytest.raises(PromptCacheError):
        s.prepare(
            dict(conversation(5, tokens=300), cache_control=FIVE)
            | {"messages": [{"role": "user", "content": [text(1, cc=FIVE)] * 5}]}
        )
    with pytest.raises(InvalidOptionError, match="first_token_after"):
        s.submit(prepared, first_token_after=-1.0)
    with pytest.raises(InvalidOptionError, match=r"\(timestamp, request\) pairs"):
        s.submit_many([prepared])  # type: ignore[list-item]


def test_default_clock_is_wall_time() -> None:
    s = PromptCacheSimulator(tokenizer=tok)
    req = conversation(6, bp=6)
    s.submit(req)
    assert s.submit(req)["cache_read_input_tokens"] == 1200


def test_input_is_not_modified() -> None:
    s, _ = sim()
    req = layered(cache_control=FIVE)
    snapshot = copy.deepcopy(req)
    s.submit(req)
    assert req == snapshot


# --- invariants ------------------------------------------------------------------------------------

turn = st.tuples(
    st.integers(1, 12),  # blocks in the request
    st.lists(st.integers(0, 11), max_size=3, unique=True),  # marked blocks
    st.booleans(),  # 1h on the first marker
    st.floats(0, 900),  # seconds since the previous request
    st.sampled_from(["a", "b"]),  # api key
)


@settings(max_examples=60, deadline=None)
@given(st.lists(turn, min_size=1, max_size=12))
def test_usage_always_adds_up_to_the_prompt(turns: list[tuple[int, list[int], bool, float, str]]) -> None:
    s, clock = sim()
    for n, marked, first_hour, gap, key in turns:
        req = conversation(n, tokens=150)
        for k, i in enumerate(sorted(m for m in marked if m < n)):
            req["messages"][0]["content"][i]["cache_control"] = HOUR if first_hour and k == 0 else FIVE
        clock.now += gap
        u = s.submit(req, api_key=key)
        assert u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"] == 150 * n
        parts = u["cache_creation"]
        assert (
            parts["ephemeral_5m_input_tokens"] + parts["ephemeral_1h_input_tokens"] == u["cache_creation_input_tokens"]
        )
        records = s.explain()
        assert sum(r["tokens_written"] for r in records) == u["cache_creation_input_tokens"]
        assert all((r["reason"] == "hit") == (r["hit_index"] is not None) for r in records)
