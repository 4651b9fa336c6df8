"""Peers' key bugs (docs/reference survey), each as a regression test promptkey must pass."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from promptkey import UnsupportedTypeError, make_key


def request() -> dict[str, Any]:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 64,
        "system": "Answer in French.",
        "tools": [{"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}],
        "messages": [
            {"role": "user", "content": "Say hello."},
            {"role": "assistant", "content": "Bonjour."},
            {"role": "user", "content": "Again."},
        ],
    }


def edited(edit: Any) -> dict[str, Any]:
    r = copy.deepcopy(request())
    edit(r)
    return r


# Each pair: a change that must change the key, named after the peer bug where it did not.
MUST_DIFFER = {
    "gptcache-526 system prompt ignored": lambda r: r.update(system="Answer in German."),
    "gptcache-527 model ignored": lambda r: r.update(model="claude-opus-4-7"),
    "gptcache-526 earlier turns ignored": lambda r: r["messages"][1].update(content="Salut."),
    "litellm-894 max_tokens ignored": lambda r: r.update(max_tokens=65),
    "litellm-42400 provider-specific param dropped": lambda r: r.update(num_ctx=8192),
    "litellm-5049 unknown param dropped": lambda r: r.update(top_a=0.5),
    "autogen-8211 tool_choice ignored": lambda r: r.update(tool_choice={"type": "tool", "name": "lookup"}),
    "instructor-2585 explicit temperature ignored": lambda r: r.update(temperature=0.7),
    "instructor-2585 temperature 0 same as absent": lambda r: r.update(temperature=0),
    "instructor-2524 hoisted system prompt ignored": lambda r: r.update(
        system=[{"type": "text", "text": "Answer in French."}, {"type": "text", "text": "Be brief."}]
    ),
    "tools ignored": lambda r: r["tools"][0]["input_schema"]["properties"]["q"].update(type="integer"),
    "bool collapsed into int": lambda r: r.update(max_tokens=True),
}


@pytest.mark.parametrize("name", list(MUST_DIFFER))
def test_change_changes_the_key(name: str) -> None:
    assert make_key(edited(MUST_DIFFER[name])) != make_key(request())


def test_litellm_40128_body_key_order_does_not_matter() -> None:
    r = request()
    reordered = {k: r[k] for k in reversed(list(r))}
    reordered["tools"] = [{k: t[k] for k in reversed(list(t))} for t in r["tools"]]
    assert make_key(reordered) == make_key(r)


def test_langchain_23257_objects_are_refused_not_repr_keyed() -> None:
    class Settings:  # a repr with an address in it would make a key that never hits again
        pass

    with pytest.raises(UnsupportedTypeError, match="Settings") as info:
        make_key({**request(), "extra_body": {"settings": Settings()}})
    assert info.value.path == "extra_body.settings"


def test_keys_are_namespaced_and_versioned() -> None:
    # Tenant isolation (litellm-19575) and a schema version in every key.
    assert make_key(request(), namespace="tenant-a") != make_key(request(), namespace="tenant-b")
    assert make_key(request()).startswith("llmcache:v1:")
