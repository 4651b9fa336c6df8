"""prefix_blocks and PrefixChain: byte-exact fingerprints, chained digests, contexts, markers, tokens."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from typing import Any

import promptkey
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from promptkey import (
    CanonicalizationError,
    InvalidOptionError,
    PrefixChain,
    PromptCacheError,
    UnsupportedTypeError,
    prefix_blocks,
)
from promptkey._core import _validate_breakpoints

MODEL = "claude-sonnet-4-5"


def tool(name: str, **props: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"the {name} tool",
        "input_schema": {"type": "object", "properties": props or {"q": {"type": "string"}}, "required": ["q"]},
    }


def request(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 100,
        "tools": [tool("search"), tool("fetch")],
        "system": [{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Today is 2026-11-21."}],
        "messages": [
            {"role": "user", "content": "What is the weather?"},
            {"role": "assistant", "content": [{"type": "text", "text": "Let me look."}]},
            {"role": "user", "content": [{"type": "text", "text": "In Paris."}]},
        ],
    }
    base.update(over)
    return base


def digests(req: dict[str, Any]) -> list[str]:
    return [b.digest for b in prefix_blocks(req)]


def by_section(req: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"tools": [], "system": [], "messages": []}
    for b in prefix_blocks(req):
        out[b.section].append(b.digest)
    return out


# --- a reference implementation of DESIGN §2 in plain Python, for requests without settings ---


def _lp(b: bytes) -> bytes:
    return len(b).to_bytes(8, "big") + b


def _fp(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def reference_digests(req: dict[str, Any]) -> list[str]:
    d = hashlib.sha256(_lp(b"promptkey-prefix-v1") + _lp(req["model"].encode()) + _lp(b"")).digest()
    out = []

    def step(ctx: bytes, block: Any) -> None:
        nonlocal d
        block = {k: v for k, v in block.items() if v is not None}  # nulls drop at structural positions
        d = hashlib.sha256(d + _lp(ctx) + _lp(_fp(block))).digest()
        out.append(d.hex())

    for t in req.get("tools", []):
        step(b"", t)
    system = req.get("system", [])
    for b in [{"type": "text", "text": system}] if isinstance(system, str) else system:
        step(b"", b)
    for m in req.get("messages", []):
        header = {k: v for k, v in m.items() if k != "content"}
        content = m["content"]
        for b in [{"type": "text", "text": content}] if isinstance(content, str) else content:
            step(b"\n" + _fp(header), b)
    return out


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"]))
)
json_value = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(tool_input=json_value, text=st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_digests_match_a_reference_implementation_byte_for_byte(tool_input: Any, text: str) -> None:
    # Floats as Python's repr writes them (1.0, 1e-07, 1e+16), raw non-ASCII, escapes as json.dumps.
    req = {
        "model": MODEL,
        "tools": [tool("t")],
        "system": text,
        "messages": [
            {"role": "user", "content": text},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "t", "input": tool_input}]},
        ],
    }
    assert digests(req) == reference_digests(req)


def test_digest_hex_and_fields() -> None:
    blocks = prefix_blocks(request())
    assert [b.path for b in blocks] == [
        "tools[0]",
        "tools[1]",
        "system[0]",
        "system[1]",
        "messages[0].content[0]",
        "messages[1].content[0]",
        "messages[2].content[0]",
    ]
    assert [b.index for b in blocks] == list(range(7))
    assert [b.kind for b in blocks] == ["tool", "tool", "text", "text", "text", "text", "text"]
    assert [b.message_index for b in blocks] == [None] * 4 + [0, 1, 2]
    assert all(len(b.digest) == 64 and int(b.digest, 16) >= 0 for b in blocks)
    assert len({b.digest for b in blocks}) == 7
    assert all(b.tokenizer == "estimate:classic" for b in blocks)


# --- byte exactness ---


def test_reordering_schema_keys_changes_the_digest() -> None:
    before = request()
    after = copy.deepcopy(before)
    schema = after["tools"][1]["input_schema"]
    after["tools"][1]["input_schema"] = dict(reversed(list(schema.items())))
    a, b = digests(before), digests(after)
    assert a[0] == b[0]
    assert all(x != y for x, y in zip(a[1:], b[1:], strict=True))


def test_markers_are_not_content() -> None:
    plain = request()
    marked = copy.deepcopy(plain)
    marked["tools"][1]["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    marked["system"][1]["cache_control"] = {"type": "ephemeral"}
    marked["messages"][2]["content"][0]["cache_control"] = {"type": "ephemeral"}
    moved = copy.deepcopy(plain)
    moved["messages"][1]["content"][0]["cache_control"] = {"type": "ephemeral"}
    moved["cache_control"] = {"type": "ephemeral"}
    assert digests(plain) == digests(marked) == digests(moved)
    assert [b.breakpoint for b in prefix_blocks(marked)] == [None, "1h", None, "5m", None, None, "5m"]


def test_string_spellings_equal_their_one_block_lists() -> None:
    short = request(
        system="Be brief.",
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "search", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}]},
        ],
    )
    long = copy.deepcopy(short)
    long["system"] = [{"type": "text", "text": "Be brief."}]
    long["messages"][0]["content"] = [{"type": "text", "text": "hi"}]
    long["messages"][2]["content"][0]["content"] = [{"type": "text", "text": "42"}]
    assert digests(short) == digests(long)


def test_nulls_drop_at_structural_positions_only() -> None:
    base = request()
    nulls = copy.deepcopy(base)
    nulls["tool_choice"] = None
    nulls["tools"][0]["cache_control"] = None
    nulls["messages"][1]["content"][0]["citations"] = None
    nulls["messages"][1]["name"] = None
    assert digests(base) == digests(nulls)
    # Below structural positions everything stays: a null inside tool input is data.
    a = request(messages=[{"role": "user", "content": [{"type": "tool_use", "id": "x", "name": "n", "input": {}}]}])
    b = copy.deepcopy(a)
    b["messages"][0]["content"][0]["input"] = {"k": None}
    assert digests(a) != digests(b)


def test_integral_floats_are_not_integers() -> None:
    a = request(tools=[tool("t", n={"type": "number", "maximum": 1})])
    b = request(tools=[tool("t", n={"type": "number", "maximum": 1.0})])
    assert digests(a)[0] != digests(b)[0]


def test_consecutive_same_role_messages_chain_like_one_turn() -> None:
    merged = request(
        messages=[{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]
    )
    split = request(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    assert digests(merged) == digests(split)
    other_role = request(messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    assert digests(merged)[-1] != digests(other_role)[-1]


def test_sdk_objects_equal_the_dicts_they_dump_to() -> None:
    anthropic_types = pytest.importorskip("anthropic.types")
    block = anthropic_types.TextBlock(type="text", text="Let me look.", citations=None)
    sdk = request()
    sdk["messages"][1]["content"] = [block]
    as_dict = request()
    as_dict["messages"][1]["content"] = [block.model_dump(mode="json", exclude_unset=True)]
    assert digests(sdk) == digests(as_dict)
    # The SDK's sentinels are absent wherever they appear.
    anthropic = pytest.importorskip("anthropic")
    assert digests(request(tool_choice=anthropic.NOT_GIVEN, thinking=anthropic.omit)) == digests(request())


def test_extra_body_wins_like_the_sdk_merges_it() -> None:
    a = request(extra_body={"tool_choice": {"type": "any"}}, tool_choice={"type": "auto"})
    assert digests(a) == digests(request(tool_choice={"type": "any"}))


# --- contexts: the docs' invalidation table at the digest level ---


def test_tool_choice_keeps_tools_and_system_and_changes_every_message() -> None:
    a = by_section(request())
    for change in ({"type": "any"}, {"type": "auto", "disable_parallel_tool_use": True}):
        b = by_section(request(tool_choice=change))
        assert a["tools"] == b["tools"] and a["system"] == b["system"]
        assert all(x != y for x, y in zip(a["messages"], b["messages"], strict=True))


def test_changing_a_tool_changes_everything() -> None:
    changed = request()
    changed["tools"][0]["description"] = "changed"
    assert all(x != y for x, y in zip(digests(request()), digests(changed), strict=True))


def test_thinking_and_effort_change_messages_only() -> None:
    a = by_section(request())
    for over in ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, {"output_config": {"effort": "low"}}):
        b = by_section(request(**over))
        assert a["tools"] == b["tools"] and a["system"] == b["system"], over
        assert all(x != y for x, y in zip(a["messages"], b["messages"], strict=True)), over
    # An explicit default equals absent.
    assert digests(request(output_config={"effort": "high"})) == digests(request())
    assert digests(request(thinking={"type": "disabled"})) == digests(request())


def test_thinking_enters_system_for_models_in_the_table() -> None:
    thinking = {"type": "adaptive"}
    try:
        promptkey.set_thinking_in_system_models(["claude-opus-5"])
        assert promptkey.thinking_in_system_models() == ["claude-opus-5"]
        a, b = (
            by_section(request(model="claude-opus-5-20260101")),
            by_section(request(model="claude-opus-5-20260101", thinking=thinking)),
        )
        assert a["tools"] == b["tools"] and a["system"] != b["system"]
        assert by_section(request())["system"] == by_section(request(thinking=thinking))["system"]
    finally:
        promptkey.set_thinking_in_system_models([])


@pytest.mark.parametrize(
    "over",
    [
        {"tools": [tool("search"), tool("fetch"), {"type": "web_search_20250305", "name": "web_search"}]},
        {"speed": "fast"},
    ],
)
def test_web_search_and_speed_keep_tools_and_change_system_and_messages(over: dict[str, Any]) -> None:
    a, b = by_section(request()), by_section(request(**over))
    assert a["tools"] == b["tools"]
    assert all(x != y for x, y in zip(a["system"] + a["messages"], b["system"] + b["messages"], strict=True))


def test_citations_toggle_keeps_tools_and_changes_system() -> None:
    doc = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}, "title": "d"}
    plain = request(messages=[{"role": "user", "content": [doc, {"type": "text", "text": "q"}]}])
    cited = copy.deepcopy(plain)
    cited["messages"][0]["content"][0]["citations"] = {"enabled": True}
    a, b = by_section(plain), by_section(cited)
    assert a["tools"] == b["tools"] and a["system"] != b["system"]


def test_an_image_anywhere_changes_every_message_but_not_system() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    a = request()
    b = copy.deepcopy(a)
    b["messages"][2]["content"].append(image)
    sa, sb = by_section(a), by_section(b)
    assert sa["tools"] == sb["tools"] and sa["system"] == sb["system"]
    assert all(x != y for x, y in zip(sa["messages"], sb["messages"][:-1], strict=True))


def test_model_names_are_taken_verbatim() -> None:
    assert digests(request(model="claude-sonnet-4-5")) != digests(request(model="claude-sonnet-4-5-20250929"))


# --- the top-level marker ---


def test_top_level_marker_lands_on_the_last_cacheable_block() -> None:
    req = request(cache_control={"type": "ephemeral", "ttl": "1h"})
    req["messages"].append(
        {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "hm", "signature": "s"}, {"type": "text", "text": ""}],
        }
    )
    blocks = prefix_blocks(req)
    assert [(b.kind, b.cacheable) for b in blocks[-3:]] == [("text", True), ("thinking", False), ("text", False)]
    assert blocks[-3].breakpoint == "1h" and blocks[-3].automatic
    assert [b.breakpoint for b in blocks[:-3]] == [None] * (len(blocks) - 3)


def test_top_level_marker_over_a_same_ttl_marker_is_a_no_op() -> None:
    req = request(cache_control={"type": "ephemeral"})
    req["messages"][2]["content"][0]["cache_control"] = {"type": "ephemeral", "ttl": "5m"}
    last = prefix_blocks(req)[-1]
    assert last.breakpoint == "5m" and not last.automatic
    _validate_breakpoints(req)


# --- the API's own 400s ---


def marked(n: int, ttls: list[str]) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": f"block {i}"} for i in range(n)]
    for i, ttl in enumerate(ttls):
        if ttl:
            content[i]["cache_control"] = {"type": "ephemeral", "ttl": ttl}
    return {"model": MODEL, "messages": [{"role": "user", "content": content}]}


def test_five_markers_raise_the_apis_message() -> None:
    with pytest.raises(PromptCacheError) as err:
        _validate_breakpoints(marked(6, ["5m"] * 5))
    assert str(err.value) == "A maximum of 4 blocks with cache_control may be provided. Found 5."
    # The top-level marker counts as one more when it is not a no-op.
    req = marked(6, ["5m"] * 4)
    req["cache_control"] = {"type": "ephemeral"}
    with pytest.raises(PromptCacheError, match="Found 5"):
        _validate_breakpoints(req)
    req = marked(4, ["5m"] * 4)
    req["cache_control"] = {"type": "ephemeral"}
    _validate_breakpoints(req)


def test_one_hour_after_five_minutes_raises_the_apis_message() -> None:
    with pytest.raises(PromptCacheError) as err:
        _validate_breakpoints(marked(5, ["", "5m", "", "", "1h"]))
    assert err.value.message == (
        "messages.0.content.4.cache_control.ttl: a ttl='1h' cache_control block must not come after a ttl='5m' "
        "cache_control block. Note that blocks are processed in the following order: `tools`, `system`, `messages`."
    )
    assert err.value.path == "messages.0.content.4"
    # Order is tools → system → messages: a 1h system marker after a 5m tool marker is wrong too.
    req = request()
    req["tools"][0]["cache_control"] = {"type": "ephemeral"}
    req["system"][0]["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    with pytest.raises(PromptCacheError, match=r"^system\.0\.cache_control\.ttl: a ttl='1h'"):
        _validate_breakpoints(req)
    _validate_breakpoints(marked(5, ["1h", "1h", "5m", "", "5m"]))


def test_top_level_marker_over_a_different_ttl_is_a_400() -> None:
    req = marked(2, ["", "5m"])
    req["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    with pytest.raises(PromptCacheError, match=r"^cache_control\.ttl: the top-level cache_control has ttl='1h'"):
        _validate_breakpoints(req)


def test_markers_on_blocks_that_cannot_carry_one() -> None:
    req = marked(1, [])
    req["messages"][0]["content"] = [{"type": "text", "text": "", "cache_control": {"type": "ephemeral"}}]
    with pytest.raises(PromptCacheError, match="cannot be set for empty text blocks"):
        _validate_breakpoints(req)


# --- errors with paths ---


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (math.nan, CanonicalizationError, "nan is not valid json"),
        (math.inf, CanonicalizationError, "infinity is not valid json"),
        (b"bytes", UnsupportedTypeError, "unsupported type bytes"),
        ({1: "x"}, UnsupportedTypeError, "object keys must be str, got int"),
        ("\ud800", CanonicalizationError, "lone surrogate"),
        ({"x"}, UnsupportedTypeError, "unsupported type set"),
    ],
)
def test_bad_values_raise_typed_errors_with_paths(value: Any, error: type[Exception], match: str) -> None:
    req = request()
    req["messages"][1]["content"] = [{"type": "tool_use", "id": "t", "name": "n", "input": {"score": value}}]
    with pytest.raises(error, match=match) as err:
        prefix_blocks(req)
    assert getattr(err.value, "path", None) == "messages[1].content[0].input.score"


def test_structural_errors_name_their_place() -> None:
    with pytest.raises(PromptCacheError, match="model: Field required"):
        prefix_blocks({"messages": []})
    with pytest.raises(UnsupportedTypeError, match="messages must be a list, got generator") as err:
        prefix_blocks({"model": MODEL, "messages": ({"role": "user", "content": "x"} for _ in range(1))})
    assert err.value.path == "messages"
    with pytest.raises(PromptCacheError, match=r"messages\.0\.content\.1\.type: Field required") as err2:
        prefix_blocks({"model": MODEL, "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {}]}]})
    assert err2.value.path == "messages[0].content[1].type"
    with pytest.raises(PromptCacheError, match="Input should be '5m' or '1h'") as err3:
        prefix_blocks(request(cache_control={"type": "ephemeral", "ttl": "10m"}))
    assert err3.value.path == "cache_control.ttl"
    with pytest.raises(UnsupportedTypeError, match="the request must be an object, got list"):
        prefix_blocks([])  # type: ignore[arg-type]


def test_cycles_and_depth_raise_not_crash() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    req = request()
    req["messages"][1]["content"] = [{"type": "tool_use", "id": "t", "name": "n", "input": loop}]
    with pytest.raises(CanonicalizationError, match="cycle"):
        prefix_blocks(req)
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    req["messages"][1]["content"][0]["input"] = {"d": deep}
    with pytest.raises(CanonicalizationError, match="deeper than 1000"):
        prefix_blocks(req)


# --- tokens ---


def test_a_tokenizer_gets_normalized_blocks_and_counts_are_its_sums() -> None:
    seen: list[dict[str, Any]] = []

    def count(block: dict[str, Any]) -> int:
        seen.append(block)
        return len(json.dumps(block))

    req = request(system="Be brief.")
    req["messages"][0]["content"] = "hi"
    req["messages"][2]["content"][0]["cache_control"] = {"type": "ephemeral"}
    blocks = prefix_blocks(req, tokenizer=count)
    assert seen[2] == {"type": "text", "text": "Be brief."}
    assert seen[3] == {"type": "text", "text": "hi"}
    assert "cache_control" not in seen[-1]
    assert [b.tokens for b in blocks] == [len(json.dumps(s)) for s in seen]
    assert {b.tokenizer for b in blocks} == {
        "test_a_tokenizer_gets_normalized_blocks_and_counts_are_its_sums.<locals>.count"
    }


def test_a_tokenizer_name_attribute_labels_reports() -> None:
    class Counter:
        name = "count_tokens:claude-sonnet-4-5"

        def __call__(self, block: dict[str, Any]) -> int:
            return 3

    assert {b.tokenizer for b in prefix_blocks(request(), tokenizer=Counter())} == {Counter.name}


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, None])
def test_a_tokenizer_must_return_an_int(bad: Any) -> None:
    with pytest.raises(InvalidOptionError, match="must return an int >= 0") as err:
        prefix_blocks(request(), tokenizer=lambda block: bad)
    assert err.value.path == "tools[0]"


def test_the_estimate_depends_on_the_model_family() -> None:
    text = "word " * 400
    classic = prefix_blocks({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": text}]})[0]
    newer = prefix_blocks({"model": "claude-opus-4-7", "messages": [{"role": "user", "content": text}]})[0]
    assert classic.tokenizer == "estimate:classic" and newer.tokenizer == "estimate:newer"
    assert 500 <= classic.tokens <= 520  # 2,000 ASCII characters / 4, plus the block's JSON framing
    assert newer.tokens == math.ceil((classic.tokens - 0.25) * 1.3) or newer.tokens > classic.tokens * 1.25
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 100_000}}
    img = prefix_blocks({"model": MODEL, "messages": [{"role": "user", "content": [image]}]})[0]
    assert 1600 <= img.tokens < 1700


def test_an_unknown_model_warns_and_uses_the_default_estimate() -> None:
    with pytest.warns(UserWarning, match="unknown model 'gpt-5'"):
        blocks = prefix_blocks(request(model="gpt-5"))
    assert blocks[0].tokenizer == "estimate:classic"
    prefix_blocks(request(model="gpt-5"), tokenizer=lambda b: 1)  # a tokenizer needs no model table


# --- PrefixChain ---

message_strategy = st.builds(
    lambda role, parts: {
        "role": role,
        "content": parts[0] if len(parts) == 1 and parts[0] else [{"type": "text", "text": p} for p in parts],
    },
    st.sampled_from(["user", "assistant"]),
    st.lists(st.text(max_size=20, alphabet=st.characters(exclude_categories=["Cs"])), min_size=1, max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(
    head=st.lists(message_strategy, max_size=3),
    tail=st.lists(message_strategy, max_size=6),
    top=st.sampled_from([None, "5m", "1h"]),
)
def test_a_chain_built_turn_by_turn_equals_the_whole_request(
    head: list[dict[str, Any]], tail: list[dict[str, Any]], top: str | None
) -> None:
    req = request(messages=head)
    if top:
        req["cache_control"] = {"type": "ephemeral", "ttl": top}
    chain = PrefixChain(req)
    for message in tail:
        assert chain.append(message) is False
    whole = prefix_blocks({**req, "messages": head + tail})
    assert chain.blocks == whole
    assert chain.digest == (whole[-1].digest if whole else PrefixChain({"model": MODEL}).digest)
    assert len(chain) == len(whole) and chain.tokens == sum(b.tokens for b in whole)


def test_the_first_image_recomputes_and_says_so() -> None:
    chain = PrefixChain(request())
    before = [b.digest for b in chain.blocks]
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    assert chain.append({"role": "user", "content": [image, {"type": "text", "text": "and this?"}]}) is True
    assert chain.recomputations == 1
    assert chain.append({"role": "assistant", "content": "a cat"}) is False
    assert chain.recomputations == 1
    after = chain.blocks
    assert [b.digest for b in after[:4]] == before[:4]  # tools and system
    assert all(b.digest != d for b, d in zip(after[4:7], before[4:], strict=True))
    whole = request()
    whole["messages"] += [
        {"role": "user", "content": [image, {"type": "text", "text": "and this?"}]},
        {"role": "assistant", "content": "a cat"},
    ]
    assert after == prefix_blocks(whole)


def test_the_first_citations_document_recomputes() -> None:
    chain = PrefixChain(request())
    doc = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "x"},
        "citations": {"enabled": True},
    }
    assert chain.append({"role": "user", "content": [doc]}) is True


def test_a_chain_accepts_response_messages() -> None:
    types = pytest.importorskip("anthropic.types")
    response = types.Message(
        id="msg_1",
        type="message",
        role="assistant",
        model=MODEL,
        content=[types.TextBlock(type="text", text="Sunny.", citations=None)],
        stop_reason="end_turn",
        stop_sequence=None,
        usage=types.Usage(input_tokens=1, output_tokens=1),
    )
    chain = PrefixChain(request())
    chain.append(response)
    whole = request()
    whole["messages"].append(response.to_param())
    assert chain.blocks == prefix_blocks(whole)
    assert chain.blocks[-1].path == "messages[3].content[0]"


def test_a_bad_appended_message_names_its_index() -> None:
    chain = PrefixChain(request())
    with pytest.raises(CanonicalizationError) as err:
        chain.append({"role": "user", "content": [{"type": "text", "text": "x", "n": math.nan}]})
    assert err.value.path == "messages[3].content[0].n"
    assert len(chain) == 7  # unchanged


def test_nested_and_server_tool_markers_count_with_their_own_locations() -> None:
    req = request()
    req["tools"].append({"type": "web_search_20250305", "name": "web_search", "cache_control": {"type": "ephemeral"}})
    req["messages"].append(
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "search", "input": {"q": "x"}}]}
    )
    req["messages"].append(
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [
                        {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
                        {"type": "text", "text": "b", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
                    ],
                }
            ],
        }
    )
    blocks = prefix_blocks(req)
    # The server tool is not a block: its marker caches up to the tool before it.
    assert [b.path for b in blocks[:2]] == ["tools[0]", "tools[1]"] and blocks[1].breakpoint == "5m"
    assert blocks[-1].kind == "tool_result" and blocks[-1].breakpoint == "1h"
    with pytest.raises(PromptCacheError, match=r"^messages\.4\.content\.0\.content\.1\.cache_control\.ttl: a ttl='1h'"):
        _validate_breakpoints(req)
    req["system"][0]["cache_control"] = {"type": "ephemeral"}
    req["system"][1]["cache_control"] = {"type": "ephemeral"}
    with pytest.raises(PromptCacheError, match="Found 5"):
        _validate_breakpoints(req)


def test_a_marker_on_a_thinking_block_is_rejected() -> None:
    req = request()
    req["messages"].append(
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hm", "signature": "s", "cache_control": {"type": "ephemeral"}}
            ],
        }
    )
    assert prefix_blocks(req)[-1].cacheable is False
    with pytest.raises(PromptCacheError, match=r"^messages\.3\.content\.0: cache_control cannot be set for thinking"):
        _validate_breakpoints(req)


def test_block_repr_names_the_block() -> None:
    block = prefix_blocks(request())[2]
    assert repr(block).startswith("Block(index=2, path='system[0]', kind='text', tokens=")
    chain = PrefixChain(request())
    assert repr(chain).startswith(f"PrefixChain(model='{MODEL}', blocks=7, digest='")


IMAGE = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
CITED = {
    "type": "document",
    "source": {"type": "text", "media_type": "text/plain", "data": "d"},
    "citations": {"enabled": True},
}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["text", "image", "cited", "thinking"]), min_size=1, max_size=8))
def test_a_chain_recomputes_exactly_when_a_whole_prompt_flag_flips(kinds: list[str]) -> None:
    chain = PrefixChain(request(messages=[]))
    messages: list[dict[str, Any]] = []
    images = citations = False
    for i, kind in enumerate(kinds):
        choices: dict[str, dict[str, Any]] = {
            "text": {"type": "text", "text": f"turn {i}"},
            "image": IMAGE,
            "cited": CITED,
            "thinking": {"type": "thinking", "thinking": "hm", "signature": "s"},
        }
        block = choices[kind]
        message = {"role": "assistant" if kind == "thinking" else "user", "content": [block]}
        flips = (kind == "image" and not images) or (kind == "cited" and not citations)
        images, citations = images or kind == "image", citations or kind == "cited"
        assert chain.append(message) is flips
        messages.append(message)
    assert chain.blocks == prefix_blocks(request(messages=messages))


def test_any_mapping_is_an_object() -> None:
    from collections import OrderedDict
    from types import MappingProxyType

    req = request()
    assert digests(MappingProxyType(req)) == digests(req)  # type: ignore[arg-type]
    assert digests(OrderedDict(req)) == digests(req)
    nested = request()
    nested["messages"][1]["content"] = [MappingProxyType({"type": "text", "text": "Let me look."})]
    assert digests(nested) == digests(request())


def test_an_unknown_model_warns_at_the_callers_line() -> None:
    with pytest.warns(UserWarning) as record:
        prefix_blocks(request(model="gpt-5"))
    assert record[0].filename == __file__


def test_search_results_with_citations_toggle_citations_too() -> None:
    result = {
        "type": "search_result",
        "source": "https://example.com",
        "title": "t",
        "content": [{"type": "text", "text": "x"}],
        "citations": {"enabled": True},
    }
    chain = PrefixChain(request())
    assert chain.append({"role": "user", "content": [result]}) is True


# --- end to end: the bytes the real SDK sends ---


def test_fingerprints_of_sdk_objects_equal_the_body_the_sdk_sends() -> None:
    anthropic = pytest.importorskip("anthropic")
    import http.server
    import threading

    bodies: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            reply = json.dumps(
                {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": MODEL,
                    "content": [{"type": "text", "text": "ok"}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                }
            ).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = anthropic.Anthropic(base_url=f"http://127.0.0.1:{server.server_port}", api_key="k", max_retries=0)
        types = anthropic.types
        kwargs: dict[str, Any] = {
            "model": "claude-opus-4-5",  # not deprecated: the SDK warns about Sonnet 4.5
            "max_tokens": 10,
            "tools": [tool("search")],
            "system": [{"type": "text", "text": "Be brief, café ☕.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "Weather in Zürich?"},
                {
                    "role": "assistant",
                    "content": [
                        types.TextBlock(type="text", text="Checking.", citations=None),
                        types.ToolUseBlock(
                            type="tool_use", id="toolu_1", name="search", input={"q": "Zürich", "n": 1.0}
                        ),
                    ],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "12 °C"}]},
            ],
            "tool_choice": {"type": "auto"},
        }
        first = client.messages.create(**kwargs)
        # `to_param()`: a response Message itself would also carry its id, usage and stop fields (see
        # test_a_chain_accepts_response_messages for how a bare Message is taken).
        kwargs["messages"] += [first.to_param(), {"role": "user", "content": "Thanks"}]
        client.messages.create(**kwargs)
    finally:
        server.shutdown()
        server.server_close()
    assert len(bodies) == 2
    sent = bodies[1]
    assert digests(kwargs) == digests(sent)
    assert prefix_blocks(kwargs) == prefix_blocks(sent)


def test_threads_appending_with_a_slow_tokenizer_do_not_deadlock() -> None:
    import threading
    import time

    def slow(block: dict[str, Any]) -> int:
        time.sleep(0.002)  # releases the GIL, as an HTTP call to count_tokens would
        return 5

    chain = PrefixChain(request(), tokenizer=slow)
    threads = [
        threading.Thread(target=lambda: [chain.append({"role": "user", "content": "x"}) for _ in range(10)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads)
    assert len(chain) == 7 + 40 and chain.tokens == 5 * 47
    assert [b.path for b in chain.blocks][-1] == "messages[42].content[0]"


def test_blocks_are_hashable_values() -> None:
    a, b = prefix_blocks(request()), prefix_blocks(copy.deepcopy(request()))
    assert a == b and {*a} == {*b} and len({*a, *b}) == 7


def test_a_tokenizer_may_return_any_integer_type() -> None:
    class Count:
        def __index__(self) -> int:
            return 4

    assert {b.tokens for b in prefix_blocks(request(), tokenizer=lambda block: Count())} == {4}
