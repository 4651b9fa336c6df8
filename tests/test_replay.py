"""`promptkey replay`: what a trace costs under five strategies, run as users run it (the CLI)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from promptkey import InvalidOptionError
from promptkey.cli import main
from promptkey.replay import (
    STRATEGIES,
    ResponseCacheModel,
    TraceEntry,
    output_tokens,
    parse_line,
    read_trace,
    replay,
    strip_markers,
)

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "examples" / "trace.jsonl"
MODEL = "claude-sonnet-4-6"
SYSTEM = [{"type": "text", "text": "Rule: be exact. " * 600, "cache_control": {"type": "ephemeral"}}]


def line(ts: float, question: str, *, system: Any = SYSTEM, **extra: Any) -> TraceEntry:
    request = {"model": MODEL, "max_tokens": 64, "system": system, "messages": [{"role": "user", "content": question}]}
    return TraceEntry(ts, request, "default", extra.get("output_tokens", 10))


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    plot = tmp_path_factory.mktemp("plot") / "cost.png"
    out = subprocess.run(
        [sys.executable, "-m", "promptkey", "replay", str(TRACE), "--json", "--plot", str(plot)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout), plot  # stdout is only JSON: this parse fails on any stray line


def test_sample_trace_every_strategy_accounts_for_every_request(sample_report: tuple[dict[str, Any], Path]) -> None:
    data, _ = sample_report
    n = sum(1 for text in TRACE.read_text().splitlines() if text.strip())
    assert set(data["strategies"]) == set(STRATEGIES)
    for name, result in data["strategies"].items():
        assert result["requests"] == n, name
        assert result["api_calls"] + result["response_hits"] + result["errors"] == n, name
        assert set(result["tokens"]) == {"input", "cache_read", "cache_write_5m", "cache_write_1h", "output"}
    # every strategy sees the same prompts: the input tokens of the API calls add up the same way
    none = data["strategies"]["none"]
    assert none["tokens"]["cache_read"] == 0 and none["tokens"]["cache_write_5m"] == 0
    as_sent = data["strategies"]["as-sent"]
    prompt = sum(as_sent["tokens"][k] for k in ("input", "cache_read", "cache_write_5m", "cache_write_1h"))
    assert prompt == none["tokens"]["input"]


def test_sample_trace_savings_are_ordered(sample_report: tuple[dict[str, Any], Path]) -> None:
    data, _ = sample_report
    cost = {name: result["cost"] for name, result in data["strategies"].items()}
    assert cost["both"] <= cost["none"]
    assert cost["both"] <= cost["response"] and cost["both"] <= cost["planned"]
    assert cost["planned"] < cost["as-sent"] < cost["none"]  # the sample's apps under-use prompt caching
    assert data["strategies"]["response"]["response_hits"] > 0
    assert data["strategies"]["none"]["hits"] == 0


def test_sample_trace_cost_by_tag(sample_report: tuple[dict[str, Any], Path]) -> None:
    data, _ = sample_report
    by_tag = data["by_tag"]
    assert set(by_tag) == {"classifier", "agent", "qa"}
    assert sum(costs["requests"] for costs in by_tag.values()) == data["strategies"]["none"]["requests"]
    for name in STRATEGIES:
        total = sum(costs[name] for costs in by_tag.values())
        assert total == pytest.approx(data["strategies"][name]["cost"], abs=1e-5), name
    # the agent marks only its (too short) tools: as sent it pays exactly what no caching pays
    assert by_tag["agent"]["as-sent"] == by_tag["agent"]["none"] > by_tag["agent"]["planned"]


def test_sample_trace_misses_by_cause_and_plot(sample_report: tuple[dict[str, Any], Path]) -> None:
    data, plot = sample_report
    causes = data["misses_by_cause"]
    assert set(causes) == {"as-sent", "planned", "both"}
    # the agent app marks only its tools, which are below the model's minimum
    assert causes["as-sent"].get("below_minimum", 0) > 0
    assert causes["as-sent"].get("expired", 0) > 0  # quiet spells longer than five minutes
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000


def test_table_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text("\n".join(json.dumps({"ts": e.ts, "request": e.request}) for e in small_trace()) + "\n")
    assert main(["replay", str(trace)]) == 0
    out = capsys.readouterr().out
    for name in STRATEGIES:
        assert name in out
    assert "cost" in out and "$" in out


def small_trace() -> list[TraceEntry]:
    # the same question three times inside five minutes, a new one, then the first again after an hour
    return [
        line(0, "q1"),
        line(30, "q1"),
        line(60, "q1"),
        line(90, "q2"),
        line(3690, "q1"),
    ]


def test_small_trace_by_hand() -> None:
    report = replay(small_trace()).as_dict()["strategies"]
    # q1 at 30 s, 60 s and 3690 s (within the 24 h default TTL) come from the response cache
    assert report["response"]["response_hits"] == 3 and report["both"]["response_hits"] == 3
    assert report["response"]["api_calls"] == 2 and report["both"]["api_calls"] == 2
    sent = report["as-sent"]
    assert sent["prompt_cache_hits"] == 3  # q1 at 30 s, 60 s and q2 read the system prompt; at 3690 s expired
    assert report["none"]["tokens"]["output"] == 50


def test_response_ttl_and_model_override() -> None:
    short = replay(small_trace(), response_ttl=45).as_dict()["strategies"]["response"]
    assert short["response_hits"] == 1  # only q1 at 30 s: at 60 s the entry stored at 0 s has expired
    opus = replay(small_trace(), model="claude-opus-4-5").as_dict()
    assert opus["trace"]["models"] == {"claude-opus-4-5": 5}
    sonnet = replay(small_trace()).as_dict()
    assert opus["strategies"]["none"]["cost"] > sonnet["strategies"]["none"]["cost"]


def test_output_tokens_rule() -> None:
    assert output_tokens(TraceEntry(0, {"model": MODEL, "max_tokens": 10}, "s", None)) == 10
    assert output_tokens(TraceEntry(0, {"model": MODEL, "max_tokens": 4096}, "s", None)) == 256
    assert output_tokens(TraceEntry(0, {"model": MODEL, "max_tokens": 10}, "s", 3)) == 3


def test_strip_markers_never_mutates() -> None:
    request = {
        "model": MODEL,
        "cache_control": {"type": "ephemeral"},
        "tools": [
            {"name": "t", "input_schema": {"cache_control": "user data stays"}, "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "x",
                        "content": [{"type": "text", "text": "r", "cache_control": {}}],
                    }
                ],
            }
        ],
    }
    before = json.dumps(request)
    stripped = strip_markers(request)
    assert json.dumps(request) == before
    assert "cache_control" not in stripped and "cache_control" not in stripped["tools"][0]
    assert stripped["tools"][0]["input_schema"] == {"cache_control": "user data stays"}
    assert "cache_control" not in stripped["messages"][0]["content"][0]["content"][0]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("{not json", "line 3"),
        ("[1, 2]", "line 3"),
        ('{"ts": "noon", "request": {"model": "m"}}', "line 3.ts"),
        ('{"ts": 1, "request": {"messages": []}}', "line 3.request"),
        ('{"ts": 1, "request": {"model": "m"}, "scope": 7}', "line 3.scope"),
        ('{"ts": 1, "request": {"model": "m"}, "output_tokens": -1}', "line 3.output_tokens"),
        ('{"ts": 1, "request": {"model": "m"}, "tag": ["a"]}', "line 3.tag"),
    ],
)
def test_bad_lines_name_their_place(text: str, path: str) -> None:
    with pytest.raises(InvalidOptionError) as info:
        parse_line(text, 3)
    assert info.value.path == path and "line 3" in str(info.value)


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"ts": 1, "request": {"model": "m"}}\n{oops\n')
    assert main(["replay", str(bad)]) == 2
    assert main(["replay", str(tmp_path / "missing.jsonl")]) == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert main(["replay", str(empty)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "line 2" in err[0] and "cannot read" in err[1] and "no requests" in err[2]


def test_read_trace_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('\n{"ts": 2, "request": {"model": "m"}, "scope": "w"}\n\n')
    assert read_trace(path) == [TraceEntry(2.0, {"model": "m"}, "w", None)]


def test_plain_table_without_rich(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in [m for m in sys.modules if m == "rich" or m.startswith("rich.")] + ["rich"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if the `cli` extra were not installed
    trace = tmp_path / "t.jsonl"
    trace.write_text("\n".join(json.dumps({"ts": e.ts, "request": e.request}) for e in small_trace()) + "\n")
    assert main(["replay", str(trace)]) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(text for text in out if text.strip().startswith("strategy"))
    assert "API calls" in header and "cost" in header
    rows: dict[str, list[str]] = {}
    for text in out:  # the cost table comes first; the token table and the legend repeat the names below
        if text.split() and text.split()[0] in STRATEGIES:
            rows.setdefault(text.split()[0], text.split())
    assert set(rows) == set(STRATEGIES)
    assert rows["none"][1:3] == ["5", "5"] and rows["response"][1:3] == ["5", "2"]  # requests, API calls
    assert any(text.strip().startswith("tokens by class") for text in out)


def test_first_token_after_makes_close_requests_write() -> None:
    # q1 at 0 s and 30 s: with the entry readable only 60 s after the first request started, the second writes
    late = replay(small_trace(), first_token_after=60).as_dict()
    assert late["strategies"]["as-sent"]["prompt_cache_hits"] == 2  # 30 s misses; 60 s and 90 s read
    assert late["misses_by_cause"]["as-sent"].get("in_flight", 0) >= 1
    with pytest.raises(InvalidOptionError, match="first_token_after"):
        replay(small_trace(), first_token_after=-1)


def test_unknown_model_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text(json.dumps({"ts": 0, "request": small_trace()[0].request}) + "\n")
    assert main(["replay", str(trace), "--model", "claude-imaginary-9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "claude-imaginary-9" in err[0]


@pytest.mark.parametrize(("strategy", "breakpoints"), [("as-sent", "keep"), ("planned", "auto")])
def test_replay_bills_exactly_what_the_emulator_bills(strategy: str, breakpoints: str) -> None:
    """One implementation of the rules: sending a slice of the sample trace through the real SDK (wrapped by
    CachedAnthropic with `breakpoints`, no response cache) to the emulator, its clock set to each request's
    timestamp and each scope its own API key, bills the input-side tokens `replay` reports for `strategy`."""
    anthropic = pytest.importorskip("anthropic")
    from promptkey.anthropic import CachedAnthropic
    from promptkey.emulator import Clock, serve

    entries = read_trace(TRACE)[:60]
    expected = replay(entries).as_dict()["strategies"][strategy]["tokens"]
    clock = Clock(entries[0].ts, tick=False)
    billed = dict.fromkeys(("input", "cache_read", "cache_write_5m", "cache_write_1h"), 0)
    with serve(clock=clock) as emu:
        clients: dict[str, Any] = {}
        for entry in entries:
            if entry.scope not in clients:
                sdk = anthropic.Anthropic(base_url=emu.base_url, api_key=entry.scope, max_retries=0)
                clients[entry.scope] = CachedAnthropic(sdk, breakpoints=breakpoints)
            clock.set(entry.ts)
            usage = clients[entry.scope].messages.create(**entry.request).usage
            split = usage.cache_creation
            billed["input"] += usage.input_tokens
            billed["cache_read"] += usage.cache_read_input_tokens or 0
            billed["cache_write_5m"] += split.ephemeral_5m_input_tokens if split else 0
            billed["cache_write_1h"] += split.ephemeral_1h_input_tokens if split else 0
        for client in clients.values():
            client.close()
    assert billed == {name: expected[name] for name in billed}
    assert billed["cache_read"] > 0 and billed["cache_write_5m"] > 0  # the slice exercises both


SYSTEMS = [
    [{"type": "text", "text": f"Handbook {i}. " + "Rule: be exact. " * 500, "cache_control": {"type": "ephemeral"}}]
    for i in range(2)
] + ["A short prompt with no marker."]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0.5, 20, 200, 400, 4000]), st.integers(0, 2), st.integers(0, 3)),
        min_size=1,
        max_size=14,
    )
)
def test_invariants_on_random_traces(steps: list[tuple[float, int, int]]) -> None:
    t, entries = 0.0, []
    for gap, system, question in steps:
        t += gap
        entries.append(line(t, f"question {question}", system=SYSTEMS[system]))
    report = replay(entries).as_dict()["strategies"]
    n = len(entries)
    for name, result in report.items():
        assert result["requests"] == n, name
        assert result["api_calls"] + result["response_hits"] + result["errors"] == n, name
    prompt = {
        name: sum(report[name]["tokens"][k] for k in ("input", "cache_read", "cache_write_5m", "cache_write_1h"))
        for name in report
    }
    # the same prompts reach the API under none, as-sent and planned: only the classes differ
    assert prompt["none"] == prompt["as-sent"] == prompt["planned"]
    # the response cache only ever removes calls, and removes the same ones in front of either billing
    assert report["response"]["cost"] <= report["none"]["cost"] + 1e-12
    assert report["response"]["api_calls"] == report["both"]["api_calls"]
    assert prompt["response"] == prompt["both"]
    assert report["none"]["tokens"]["cache_read"] == 0 and report["response"]["tokens"]["cache_read"] == 0


def test_response_cache_model_follows_memory_store_rules() -> None:
    cache = ResponseCacheModel(ttl=10, max_entries=2)
    assert [cache.hit(k, t) for k, t in [("a", 0), ("b", 1), ("a", 2)]] == [False, False, True]
    assert cache.hit("c", 3) is False  # evicts b, the least recently used
    assert cache.hit("b", 4) is False  # evicts a
    assert cache.hit("c", 12.9) is True and cache.hit("c", 13) is False  # TTL from the write, not the last hit


def test_gzip_and_stdin_traces(tmp_path: Path) -> None:
    text = "\n".join(json.dumps({"ts": e.ts, "request": e.request}) for e in small_trace()) + "\n"
    packed = tmp_path / "t.jsonl.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    assert [e.ts for e in read_trace(packed)] == [e.ts for e in small_trace()]
    out = subprocess.run(
        [sys.executable, "-m", "promptkey", "replay", "-", "--json"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["strategies"]["none"]["requests"] == len(small_trace())


@pytest.mark.parametrize("planner", ["request", "learned"])
def test_planners_are_causal(planner: str) -> None:
    # the cost of the first k requests never depends on what comes after them
    entries = read_trace(TRACE)[:120]
    whole = replay(entries, planner=planner).strategies
    head = replay(entries[:70], planner=planner).strategies
    for name in ("planned", "both"):
        assert head[name].timeline == whole[name].timeline[:70], name


def test_learned_planner_on_the_sample() -> None:
    entries = read_trace(TRACE)
    learned = replay(entries, planner="learned").as_dict()
    request = replay(entries).as_dict()
    assert learned["trace"]["planner"] == "learned" and learned["trace"]["plan_failures"] == 0
    # on this sample, learning 1h TTLs for the slow Q&A traffic beats the per-request default
    assert learned["strategies"]["planned"]["cost"] < request["strategies"]["planned"]["cost"]
    assert learned["strategies"]["planned"]["tokens"]["cache_write_1h"] > 0
    for name in ("none", "as-sent", "response"):  # the other strategies do not depend on the planner
        assert learned["strategies"][name] == request["strategies"][name]
    with pytest.raises(InvalidOptionError, match="planner"):
        replay(entries[:1], planner="oracle")


def test_sample_trace_is_what_the_script_writes(tmp_path: Path) -> None:
    out = tmp_path / "trace.jsonl"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_trace.py"), "-o", str(out)], check=True, capture_output=True
    )
    assert out.read_bytes() == TRACE.read_bytes()  # seeded and clock-free: the committed file is reproducible
