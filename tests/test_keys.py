"""make_key / make_keys / key_material / key_info: the key material rules of DESIGN §1, invariances,
sensitivities, options, errors, golden keys and cross-process stability."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from promptkey import (
    CanonicalizationError,
    InvalidOptionError,
    UnsupportedTypeError,
    canonical_json,
    key_material,
    make_key,
    make_keys,
)
from promptkey._core import _key_material_json, key_info

GOLDEN = Path(__file__).parent / "data" / "golden" / "keys_v1.json"


def base() -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 512,
        "system": "You are a classifier.",
        "tools": [
            {
                "name": "lookup",
                "description": "Look a thing up",
                "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
            }
        ],
        "messages": [
            {"role": "user", "content": "Classify: great product"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x", "n": None}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "found"}]},
        ],
    }


def sha_key(material_bytes: bytes, namespace: str = "llmcache") -> str:
    return f"{namespace}:v1:{hashlib.sha256(material_bytes).hexdigest()}"


def test_key_is_sha256_of_the_canonical_material() -> None:
    r = base()
    assert make_key(r) == sha_key(canonical_json(key_material(r)))
    assert key_material(r) == json.loads(_key_material_json(r))
    # The structural rules ran: string spellings became blocks; the tool input's null stayed.
    m = key_material(r)
    assert m["system"] == [{"type": "text", "text": "You are a classifier."}]
    assert m["messages"][0]["content"] == [{"type": "text", "text": "Classify: great product"}]
    assert m["messages"][1]["content"][1]["input"] == {"q": "x", "n": None}
    assert m["messages"][2]["content"][0]["content"] == [{"type": "text", "text": "found"}]


def variant(edit: Any) -> dict[str, Any]:
    r = base()
    edit(r)
    return r


INVARIANT = {
    "metadata": lambda r: r.update(metadata={"user_id": "u1"}),
    "stream": lambda r: r.update(stream=True),
    "timeout": lambda r: r.update(timeout=30),
    "service_tier": lambda r: r.update(service_tier="auto"),
    "diagnostics": lambda r: r.update(diagnostics={"x": 1}),
    "top-level cache_control": lambda r: r.update(cache_control={"type": "ephemeral"}),
    "extra_query": lambda r: r.update(extra_query={"a": "b"}),
    "other extra_headers": lambda r: r.update(extra_headers={"X-Trace": "1", "User-Agent": "me"}),
    "null top-level member": lambda r: r.update(temperature=None, stop_sequences=None),
    "system as a block list": lambda r: r.update(system=[{"type": "text", "text": "You are a classifier."}]),
    "system block cache_control": lambda r: r.update(
        system=[{"type": "text", "text": "You are a classifier.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    ),
    "content as a block list": lambda r: r["messages"][0].update(
        content=[{"type": "text", "text": "Classify: great product"}]
    ),
    "content block cache_control": lambda r: r["messages"][1]["content"][0].update(cache_control={"type": "ephemeral"}),
    "citations null": lambda r: r["messages"][1]["content"][0].update(citations=None),
    "message-level cache_control and null": lambda r: r["messages"][0].update(cache_control={"type": "x"}, name=None),
    "tool cache_control": lambda r: r["tools"][0].update(cache_control={"type": "ephemeral"}),
    "tool null member": lambda r: r["tools"][0].update(type=None),
    "tool_result content as list": lambda r: r["messages"][2]["content"][0].update(
        content=[{"type": "text", "text": "found"}]
    ),
    "tool_result inner block cache_control": lambda r: r["messages"][2]["content"][0].update(
        content=[{"type": "text", "text": "found", "cache_control": {"type": "ephemeral"}, "citations": None}]
    ),
    "tool_result cache_control": lambda r: r["messages"][2]["content"][0].update(cache_control={"type": "ephemeral"}),
    "extra_body same value": lambda r: r.update(extra_body={"max_tokens": 512}),
    "dict order": lambda r: r.update(dict(reversed(list(r.items())))),
    "tuple for list": lambda r: r.update(messages=tuple(r["messages"])),
}


@pytest.mark.parametrize("name", list(INVARIANT))
def test_invariant(name: str) -> None:
    assert make_key(variant(INVARIANT[name])) == make_key(base())


def test_dict_order_anywhere() -> None:
    r = base()
    shuffled = json.loads(json.dumps(r))
    shuffled["tools"][0] = dict(reversed(list(shuffled["tools"][0].items())))
    shuffled = dict(reversed(list(shuffled.items())))
    assert make_key(shuffled) == make_key(r)


SENSITIVE = {
    "model": lambda r: r.update(model="claude-haiku-4-5"),
    "system": lambda r: r.update(system="You are a poet."),
    "no system": lambda r: r.pop("system"),
    "tool description": lambda r: r["tools"][0].update(description="Look it up"),
    "tool order": lambda r: r["tools"].insert(0, {"name": "other", "input_schema": {"type": "object"}}),
    "tool_choice": lambda r: r.update(tool_choice={"type": "any"}),
    "role": lambda r: r["messages"][0].update(role="assistant"),
    "text": lambda r: r["messages"][0].update(content="Classify: bad product"),
    "tool_use id": lambda r: r["messages"][1]["content"][1].update(id="toolu_2"),
    "message order": lambda r: r["messages"].reverse(),
    "max_tokens": lambda r: r.update(max_tokens=513),
    "stop_sequences": lambda r: r.update(stop_sequences=["END"]),
    "thinking": lambda r: r.update(thinking={"type": "enabled", "budget_tokens": 2048}),
    "output_config": lambda r: r.update(output_config={"effort": "high"}),
    "betas": lambda r: r.update(betas=["context-1m-2025-08-07"]),
    "beta header": lambda r: r.update(extra_headers={"anthropic-beta": "context-1m-2025-08-07"}),
    "version header": lambda r: r.update(extra_headers={"anthropic-version": "2023-06-01"}),
    "unknown field": lambda r: r.update(speed="fast"),
    "unknown block field": lambda r: r["messages"][0].update(
        content=[{"type": "text", "text": "Classify: great product", "x": 1}]
    ),
    "bool vs int": lambda r: r.update(flag=True),
    "null in tool input": lambda r: r["messages"][1]["content"][1]["input"].pop("n"),
    "cache_control inside tool input": lambda r: r["messages"][1]["content"][1]["input"].update(
        cache_control={"type": "ephemeral"}
    ),
    "cache_control inside input_schema": lambda r: r["tools"][0]["input_schema"]["properties"].update(
        cache_control={"type": "string"}
    ),
    "null inside input_schema": lambda r: r["tools"][0]["input_schema"].update(required=None),
    "list order in data": lambda r: r["messages"][1]["content"][1]["input"].update(q=["a", "b"]),
    "extra_body override": lambda r: r.update(extra_body={"max_tokens": 1}),
    "content string vs document": lambda r: r["messages"][0].update(
        content=[{"type": "document", "source": {"type": "text", "data": "Classify: great product"}}]
    ),
}


@pytest.mark.parametrize("name", list(SENSITIVE))
def test_sensitive(name: str) -> None:
    assert make_key(variant(SENSITIVE[name])) != make_key(base())


def test_bool_and_int_differ() -> None:
    assert make_key({"model": "m", "x": True}) != make_key({"model": "m", "x": 1})
    assert make_key({"model": "m", "x": [1, 2]}) != make_key({"model": "m", "x": [2, 1]})


def test_extra_body_merges_shallow_and_wins() -> None:
    merged = {"model": "m", "max_tokens": 1, "extra_body": {"max_tokens": 5, "speed": "fast"}}
    assert key_material(merged) == {"model": "m", "max_tokens": 5, "speed": "fast"}
    assert make_key(merged) == make_key({"model": "m", "max_tokens": 5, "speed": "fast"})
    # Shallow: a nested object replaces, never merges.
    nested = {"model": "m", "thinking": {"type": "enabled", "budget_tokens": 1}, "extra_body": {"thinking": {"x": 1}}}
    assert key_material(nested)["thinking"] == {"x": 1}


def test_omit_in_extra_body_removes_the_parameter() -> None:
    anthropic = pytest.importorskip("anthropic")
    r = {"model": "m", "max_tokens": 1, "top_k": 5, "extra_body": {"top_k": anthropic.omit}}
    assert key_material(r) == {"model": "m", "max_tokens": 1}


def test_sdk_sentinels_are_absent() -> None:
    anthropic = pytest.importorskip("anthropic")
    r = {"model": "m", "max_tokens": 1, "system": anthropic.NOT_GIVEN, "temperature": anthropic.omit}
    assert make_key(r) == make_key({"model": "m", "max_tokens": 1})
    r2 = {"model": "m", "x": {"a": 1, "b": anthropic.NOT_GIVEN}}
    assert key_material(r2) == {"model": "m", "x": {"a": 1}}
    with pytest.raises(UnsupportedTypeError, match="NOT_GIVEN") as info:
        make_key({"model": "m", "x": [anthropic.NOT_GIVEN]})
    assert info.value.path == "x[0]"


def test_betas_from_param_or_header_as_the_sdk_sends_them() -> None:
    # The SDK joins `betas` into the anthropic-beta header, and an anthropic-beta in extra_headers
    # replaces it (tests/test_keys_sdk.py checks this against the wire).
    a = {"model": "m", "betas": ["b2", "b1"], "extra_headers": {"Anthropic-Beta": "b3, b1"}}
    assert key_material(a) == {"model": "m", "betas": ["b1", "b3"]}
    assert make_key(a) == make_key({"model": "m", "extra_headers": {"anthropic-beta": "b1,b3"}})
    assert make_key({"model": "m", "betas": ["b2", "b1", "b2"]}) == make_key({"model": "m", "betas": ["b1,b2"]})
    assert key_material({"model": "m", "betas": ["b2", "b1", "b2"]})["betas"] == ["b1", "b2"]
    assert make_key({"model": "m", "betas": []}) == make_key({"model": "m"})
    removed = {"model": "m", "betas": ["b1"], "extra_headers": {"anthropic-beta": None}}
    assert key_material(removed) == {"model": "m"}
    v = {"model": "m", "extra_headers": {"ANTHROPIC-VERSION": "2023-06-01"}}
    assert key_material(v) == {"model": "m", "anthropic-version": "2023-06-01"}


def test_big_integers_are_exact_in_make_key() -> None:
    r = {"model": "m", "x": {"big": 2**64 + 1, "neg": -(10**40)}}
    material = _key_material_json(r)
    assert b'"big":18446744073709551617' in material and b"-1" + b"0" * 40 in material
    assert make_key(r) == sha_key(material)
    assert make_key(r) != make_key({"model": "m", "x": {"big": 2**64, "neg": -(10**40)}})
    assert key_material(r)["x"]["big"] == 2**64 + 1
    with pytest.raises(CanonicalizationError, match="beyond"):
        canonical_json(r)


def test_secret_uses_hmac() -> None:
    r = base()
    material = _key_material_json(r)
    assert make_key(r, secret=b"s3cret") == "llmcache:v1:" + hmac.new(b"s3cret", material, hashlib.sha256).hexdigest()
    assert make_key(r, secret=b"s3cret") != make_key(r)
    assert make_key(r, secret=None) == make_key(r)
    with pytest.raises(InvalidOptionError, match="secret must be bytes"):
        make_key(r, secret="s3cret")  # type: ignore[arg-type]


def test_namespace() -> None:
    assert make_key(base(), namespace="tenant-a").startswith("tenant-a:v1:")
    assert make_key(base(), namespace="tenant-a")[-64:] == make_key(base())[-64:]
    for bad in ["a{b", "x}", "{tag}", ""]:
        with pytest.raises(InvalidOptionError) as info:
            make_key(base(), namespace=bad)
        assert info.value.path == "namespace"
    with pytest.raises(InvalidOptionError):
        make_keys([base()], namespace="{x}")


def test_make_keys_names_the_bad_index() -> None:
    good = base()
    bad = base()
    bad["messages"][0]["content"] = [{"type": "text", "text": "x", "score": float("nan")}]
    assert make_keys([good, good]) == [make_key(good)] * 2
    assert make_keys(iter([good])) == [make_key(good)]
    with pytest.raises(CanonicalizationError, match="nan") as info:
        make_keys([good, good, good, bad])
    assert info.value.path == "[3].messages[0].content[0].score"
    assert "[3].messages[0].content[0].score" in str(info.value)


@pytest.mark.parametrize(
    ("request_", "error", "path"),
    [
        ([1, 2], UnsupportedTypeError, None),
        ({"model": "m", "messages": [{"role": "user", "content": b"x"}]}, UnsupportedTypeError, "messages[0].content"),
        ({"model": "m", "extra_body": {"x": {1, 2}}}, UnsupportedTypeError, "extra_body.x"),
        ({"model": "m", "extra_body": [1]}, UnsupportedTypeError, "extra_body"),
        ({"model": "m", "betas": [1]}, UnsupportedTypeError, "betas[0]"),
        ({"model": "m", "system": "a\ud800"}, CanonicalizationError, "system"),
        (
            {"model": "m", "tools": [{"name": "t", "input_schema": {"x": float("inf")}}]},
            CanonicalizationError,
            "tools[0].input_schema.x",
        ),
    ],
)
def test_request_errors(request_: Any, error: type[Exception], path: str | None) -> None:
    with pytest.raises(error) as info:
        make_key(request_)
    assert info.value.path == path  # type: ignore[attr-defined]


def test_cycle_in_request_and_shared_tools() -> None:
    tools = [{"name": "t", "input_schema": {"type": "object"}}]
    r = {"model": "m", "tools": tools, "extra_body": {"also": tools}}
    make_key(r)  # one list used twice is not a cycle
    loop: dict[str, Any] = {"model": "m"}
    loop["metadata_copy"] = loop
    with pytest.raises(CanonicalizationError, match="cycle"):
        make_key(loop)


def test_key_info_flags() -> None:
    plain = base()
    assert key_info(plain) == (make_key(plain), False, False)
    assert key_info(plain, namespace="n", secret=b"k")[0] == make_key(plain, namespace="n", secret=b"k")
    cases: dict[str, tuple[dict[str, Any], tuple[bool, bool]]] = {
        "temperature 0": ({"temperature": 0}, (False, False)),
        "temperature 0.7": ({"temperature": 0.7}, (True, False)),
        "top_p": ({"top_p": 0.9}, (True, False)),
        "top_k null": ({"top_k": None}, (False, False)),
        "top_k": ({"top_k": 5}, (True, False)),
        "via extra_body": ({"extra_body": {"temperature": 1}}, (True, False)),
        "web search": ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, (False, True)),
        "web fetch": ({"tools": [{"type": "web_fetch_20250910", "name": "web_fetch"}]}, (False, True)),
        "code exec": ({"tools": [{"type": "code_execution_20250825", "name": "code_execution"}]}, (False, True)),
        "bash is client-side": ({"tools": [{"type": "bash_20250124", "name": "bash"}]}, (False, False)),
        "mcp": ({"mcp_servers": [{"type": "url", "url": "https://x", "name": "x"}]}, (False, True)),
        "mcp empty": ({"mcp_servers": []}, (False, False)),
        "container": ({"container": "cntr_1"}, (False, True)),
    }
    for name, (extra, flags) in cases.items():
        r = {**base(), **extra}
        assert key_info(r)[1:] == flags, name


def test_input_is_never_mutated() -> None:
    r = variant(INVARIANT["content block cache_control"])
    before = copy.deepcopy(r)
    make_key(r)
    key_material(r)
    assert r == before


def test_thread_safety() -> None:
    requests = [variant(f) for f in SENSITIVE.values()]
    expected = [make_key(r) for r in requests]
    results: list[list[str]] = []

    def work() -> None:
        results.append([make_key(r) for r in requests for _ in range(20)][::20])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


def test_long_strings_with_the_gil_released() -> None:
    from promptkey._core import _gil_release_threshold

    r = {"model": "m", "messages": [{"role": "user", "content": "é\n" * 50_000}]}
    before = make_key(r)
    old = _gil_release_threshold(16)
    try:
        assert make_key(r) == before
        assert (
            make_key(r, secret=b"k")
            == "llmcache:v1:" + hmac.new(b"k", _key_material_json(r), hashlib.sha256).hexdigest()
        )
    finally:
        _gil_release_threshold(old)


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    )
)
def test_make_key_hashes_the_material(data: Any) -> None:
    r = {"model": "m", "messages": [{"role": "user", "content": [{"type": "tool_result", "content": data}]}], "x": data}
    assert make_key(r) == sha_key(_key_material_json(r))
    # key_material parses the canonical text back, so a float at or beyond 2^53 with an integral value
    # (written as digits, as ECMAScript does) returns as an int: only the safe domain round-trips.
    if all(abs(i) < 2**53 for i in _ints(data)):
        assert _key_material_json(r) == canonical_json(key_material(r))


def _ints(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, float) and value.is_integer():
        return [int(value)]
    if isinstance(value, list):
        return [i for v in value for i in _ints(v)]
    if isinstance(value, dict):
        return [i for v in value.values() for i in _ints(v)]
    return []


def golden_requests() -> dict[str, dict[str, Any]]:
    return {
        "base": base(),
        "minimal": {"model": "claude-haiku-4-5", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]},
        "unicode": {"model": "m", "messages": [{"role": "user", "content": "日本語 😀 café \u2028 \x00"}]},
        "numbers": {"model": "m", "x": [0, -0.0, 1.5, 1e21, 1e-7, 2**60, -(2**53 - 1), 5e-324]},
        "betas": {"model": "m", "betas": ["b"], "extra_headers": {"anthropic-version": "2023-06-01"}},
        "extra_body": {"model": "m", "max_tokens": 1, "extra_body": {"max_tokens": 2, "speed": "fast"}},
    }


def test_golden_keys() -> None:
    """Key v1 is frozen: if this fails, the key changed and every cache would miss (bump to v2)."""
    golden = json.loads(GOLDEN.read_text())
    computed = {name: make_key(r) for name, r in golden_requests().items()}
    assert computed == golden["dicts"]


def test_stable_across_processes_and_hash_seeds() -> None:
    code = (
        "import json,sys; sys.path.insert(0, sys.argv[1]); import test_keys as t; "
        "print(json.dumps({n: t.make_key(r) for n, r in t.golden_requests().items()}))"
    )
    outputs = set()
    for seed in ["0", "1", "12345"]:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code, str(Path(__file__).parent)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(out.stdout)
    assert len(outputs) == 1
    assert json.loads(outputs.pop()) == {n: make_key(r) for n, r in golden_requests().items()}


def test_keying_never_imports_the_sdk_or_pydantic() -> None:
    code = (
        "import sys, promptkey; promptkey.make_key({'model': 'm', 'messages': [{'role': 'user', 'content': 'x'}]});"
        "promptkey.canonical_json({'a': [1, 2.5, None]});"
        "print(sorted(m for m in ('anthropic', 'pydantic', 'openai') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


_text = st.text(max_size=12)
_leaf = st.none() | st.booleans() | st.integers(-1000, 1000) | st.floats(-1e6, 1e6) | _text
_data = st.recursive(
    _leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3), max_leaves=8
)
_block = st.fixed_dictionaries(
    {"type": st.just("text"), "text": _text}, optional={"citations": st.none(), "x": _data}
) | st.fixed_dictionaries(
    {"type": st.just("tool_use"), "id": _text, "name": _text, "input": st.dictionaries(_text, _data)}
)
_request = st.fixed_dictionaries(
    {
        "model": _text,
        "max_tokens": st.integers(1, 10_000),
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["user", "assistant"]), "content": _text | st.lists(_block)}
            ),
            max_size=4,
        ),
    },
    optional={"system": _text | st.lists(_block, max_size=2), "temperature": st.floats(0, 1), "extra": _data},
)


def _shuffled(value: Any, rnd: Any) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: _shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rnd) for v in value]
    return value


def _noisy(request: dict[str, Any]) -> dict[str, Any]:
    """cache_control on every structural object, string spellings as block lists, per-call members."""
    noisy = copy.deepcopy(request)
    if isinstance(noisy.get("system"), str):
        noisy["system"] = [{"type": "text", "text": noisy["system"], "cache_control": {"type": "ephemeral"}}]
    for message in noisy["messages"]:
        message["cache_control"] = {"type": "ephemeral"}
        if isinstance(message["content"], str):
            message["content"] = [{"type": "text", "text": message["content"]}]
        for block in message["content"]:
            block["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
            block["citations"] = None
    noisy.update(stream=True, metadata={"user_id": "x"}, service_tier="auto")
    return noisy


@settings(max_examples=200, deadline=None)
@given(_request, st.randoms(use_true_random=False))
def test_invariances_hold_for_generated_requests(request_: dict[str, Any], rnd: Any) -> None:
    key = make_key(request_)
    assert make_key(_shuffled(request_, rnd)) == key
    assert make_key(_noisy(request_)) == key
    assert key == sha_key(_key_material_json(request_))
