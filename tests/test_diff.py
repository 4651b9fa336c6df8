"""diff and Divergence: the first block where two requests stop sharing a cacheable prefix, and why."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from promptkey import CanonicalizationError, Divergence, diff, prefix_blocks
from promptkey.cli import main

MODEL = "claude-sonnet-4-5"
SYSTEM = "You are a support agent for Acme. " * 40 + "Today is 2026-11-21. Answer in English."


def tool(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"the {name} tool",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    }


def request(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 100,
        "tools": [tool("search"), tool("fetch"), tool("send")],
        "system": [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "Where is my order?"},
            {"role": "assistant", "content": "Let me check."},
            {"role": "user", "content": "Order 1234."},
        ],
    }
    base.update(over)
    return base


def tokens(req: dict[str, Any]) -> list[int]:
    return [b.tokens for b in prefix_blocks(req)]


def check_totals(d: Divergence, before: dict[str, Any]) -> None:
    counts = tokens(before)
    assert d.tokens_kept == sum(counts[: d.index])
    assert d.tokens_lost == sum(counts[d.index :])


def test_a_changed_date_is_found_to_the_character() -> None:
    after = request()
    after["system"][0]["text"] = SYSTEM.replace("2026-11-21", "2026-11-22")
    d = diff(request(), after)
    assert d is not None
    assert (d.index, d.path, d.section, d.change) == (3, "system[0]", "system", "modified")
    assert d.offset == SYSTEM.index("2026-11-21") + 9
    assert (d.before, d.after) == ("2026-11-21", "2026-11-22")
    check_totals(d, request())
    assert str(d) == (
        f"system[0] changed at char {d.offset:,} ('2026-11-21' → '2026-11-22'): "
        f"the {d.tokens_lost:,} tokens from there on are no longer a cached prefix"
    )
    assert d.tokenizer == "estimate:classic"


def test_offsets_count_code_points_not_bytes() -> None:
    before = request(system="日本語のテキスト: version 1")
    after = request(system="日本語のテキスト: version 2")
    d = diff(before, after)
    assert d is not None and d.offset == len("日本語のテキスト: version ")


def test_reordered_schema_keys_are_found_in_the_fingerprint() -> None:
    after = request()
    schema = after["tools"][1]["input_schema"]
    after["tools"][1]["input_schema"] = {k: schema[k] for k in ("properties", "type", "required")}
    d = diff(request(), after)
    assert d is not None
    assert (d.index, d.path, d.change) == (1, "tools[1]", "modified")
    fingerprint = json.dumps(request()["tools"][1], separators=(",", ":"))
    assert d.offset == fingerprint.index('"type":"object"') + 1
    assert d.tokens_kept == tokens(request())[0]


def test_markers_moving_is_not_a_divergence() -> None:
    after = request(cache_control={"type": "ephemeral"})
    del after["system"][0]["cache_control"]
    after["messages"][1]["content"] = [
        {"type": "text", "text": "Let me check.", "cache_control": {"type": "ephemeral"}}
    ]
    assert diff(request(), after) is None


def test_inserted_removed_and_reordered_tools() -> None:
    base = request()
    inserted = request(tools=[tool("search"), tool("lookup"), tool("fetch"), tool("send")])
    d = diff(base, inserted)
    assert d is not None and (d.index, d.path, d.change) == (1, "tools[1]", "inserted")
    assert '"name":"lookup"' in d.after and str(d).startswith("tools[1] was inserted")
    removed = request(tools=[tool("search"), tool("send")])
    d = diff(base, removed)
    assert d is not None and (d.index, d.path, d.change) == (1, "tools[1]", "removed")
    reordered = request(tools=[tool("fetch"), tool("search"), tool("send")])
    d = diff(base, reordered)
    assert d is not None and (d.index, d.change) == (0, "reordered")
    check_totals(d, base)


def test_a_truncated_conversation_loses_its_tail() -> None:
    short = request()
    short["messages"] = short["messages"][:1]
    d = diff(request(), short)
    assert d is not None and (d.index, d.path, d.change) == (5, "messages[1].content[0]", "removed")
    check_totals(d, request())


def test_a_role_change_is_a_modification_of_the_message() -> None:
    after = request()
    after["messages"][1]["role"] = "user"
    d = diff(request(), after)
    assert d is not None and (d.path, d.change, d.offset) == ("messages[1].content[0]", "modified", None)
    assert (d.before, d.after) == ('{"role":"assistant"}', '{"role":"user"}')


@pytest.mark.parametrize(
    ("over", "change", "section", "index"),
    [
        ({"model": "claude-opus-4-5"}, "model", "tools", 0),
        ({"tool_choice": {"type": "any"}}, "tool_choice", "messages", 4),
        ({"tool_choice": {"type": "auto", "disable_parallel_tool_use": True}}, "tool_choice", "messages", 4),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "thinking", "messages", 4),
        ({"output_config": {"effort": "low"}}, "effort", "messages", 4),
        ({"speed": "fast"}, "speed", "system", 3),
        (
            {
                "tools": [
                    tool("search"),
                    tool("fetch"),
                    tool("send"),
                    {"type": "web_search_20250305", "name": "web_search"},
                ]
            },
            "web_search",
            "system",
            3,
        ),
    ],
)
def test_context_changes_name_the_setting(over: dict[str, Any], change: str, section: str, index: int) -> None:
    d = diff(request(), request(**over))
    assert d is not None
    assert (d.change, d.section, d.index, d.offset) == (change, section, index, None)
    check_totals(d, request())
    assert d.path == prefix_blocks(request())[index].path


def test_images_and_citations_are_context() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    with_image = request()
    with_image["messages"][2]["content"] = [image, {"type": "text", "text": "Order 1234."}]
    d = diff(request(), with_image)
    assert d is not None and (d.change, d.index, d.before, d.after) == ("images", 4, "no images", "images")
    assert str(d).startswith("image presence changed (no images → images): the ")
    doc = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}
    plain = request()
    plain["messages"][0]["content"] = [doc, {"type": "text", "text": "q"}]
    cited = copy.deepcopy(plain)
    cited["messages"][0]["content"][0]["citations"] = {"enabled": True}
    d = diff(plain, cited)
    assert d is not None and (d.change, d.section, d.index) == ("citations", "system", 3)


def test_the_earliest_divergence_wins_and_context_wins_ties() -> None:
    # A tool change (index 1) comes before a tool_choice change (index 4).
    after = request(tool_choice={"type": "any"}, tools=[tool("search"), tool("other"), tool("send")])
    d = diff(request(), after)
    assert d is not None and (d.index, d.change) == (1, "modified")
    # Web search and a system edit both start at system[0]: the setting is reported.
    after = request(speed="fast")
    after["system"][0]["text"] = "changed"
    d = diff(request(), after)
    assert d is not None and d.change == "speed"


def test_model_change_sentence() -> None:
    d = diff(request(), request(model="claude-opus-4-5"))
    assert d is not None
    assert str(d) == (
        f"model changed ('{MODEL}' → 'claude-opus-4-5'): caches are per model, so all {d.tokens_lost:,} tokens "
        "are no longer a cached prefix"
    )


def test_a_tokenizer_makes_every_count_a_sum_of_block_counts() -> None:
    def count(block: dict[str, Any]) -> int:
        return len(json.dumps(block, separators=(",", ":"), ensure_ascii=False))

    after = request()
    after["messages"][2]["content"] = "Order 1235."
    d = diff(request(), after, tokenizer=count)
    assert d is not None
    counts = [b.tokens for b in prefix_blocks(request(), tokenizer=count)]
    assert d.tokens_kept == sum(counts[: d.index]) and d.tokens_lost == sum(counts[d.index :])
    assert d.tokenizer.endswith("count")


def test_bad_input_raises_with_a_path() -> None:
    after = request()
    after["messages"][0]["content"] = [{"type": "text", "text": "\ud800"}]
    with pytest.raises(CanonicalizationError) as err:
        diff(request(), after)
    assert err.value.path == "messages[0].content[0].text"


turn = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant"]),
        "content": st.text(min_size=1, max_size=30, alphabet=st.characters(exclude_categories=["Cs"])),
    }
)


@settings(max_examples=60, deadline=None)
@given(head=st.lists(turn, max_size=5), tail=st.lists(turn, max_size=5), system=st.text(max_size=50))
def test_extending_a_conversation_never_diverges(
    head: list[dict[str, Any]], tail: list[dict[str, Any]], system: str
) -> None:
    a = request(system=system, messages=head)
    assert diff(a, a) is None
    assert diff(a, copy.deepcopy(a)) is None
    assert diff(a, request(system=system, messages=head + tail)) is None


# --- the CLI ---


def write(tmp_path: Path, name: str, req: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(req), encoding="utf-8")
    return str(path)


def test_cli_prints_the_table_and_the_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    after = request()
    after["system"][0]["text"] = SYSTEM.replace("2026-11-21", "2026-11-22")
    code = main(["diff", write(tmp_path, "a.json", request()), write(tmp_path, "b.json", after)])
    out = capsys.readouterr().out
    assert code == 1
    assert "system[0] changed at char" in out and "('2026-11-21' → '2026-11-22')" in out
    assert "✗ modified" in out and "tools[2]" in out and "5m" in out
    assert "tokens: estimate:classic" in out
    assert "hint: a change re-writes everything after it" in out


def test_cli_runs_on_the_shipped_example(capsys: pytest.CaptureFixture[str]) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples" / "diff"
    assert main(["diff", str(examples / "monday.json"), str(examples / "tuesday.json")]) == 1
    assert "system[0] changed at char 3,095 ('2026-11-21' → '2026-11-22')" in capsys.readouterr().out


def test_cli_exits_zero_on_an_identical_prefix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    longer = request()
    longer["messages"].append({"role": "assistant", "content": "Shipped yesterday."})
    code = main(["diff", write(tmp_path, "a.json", request()), write(tmp_path, "b.json", longer)])
    out = capsys.readouterr().out
    assert code == 0
    assert "identical prefix: after reuses all 7 blocks" in out and "new in after" in out


def test_cli_json_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["diff", "--json", write(tmp_path, "a.json", request()), write(tmp_path, "b.json", request(speed="fast"))]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["divergence"]["change"] == "speed"
    bad = tmp_path / "bad.json"
    bad.write_text("[1]", encoding="utf-8")
    assert main(["diff", str(bad), str(bad)]) == 2
    assert "a request is a JSON object" in capsys.readouterr().err
    nofile = main(["diff", str(tmp_path / "missing.json"), str(bad)])
    assert nofile == 2


def test_cli_reads_one_side_from_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(request())))
    assert main(["diff", "-", write(tmp_path, "b.json", request())]) == 0
    assert "identical prefix" in capsys.readouterr().out
