"""canonical_json: RFC 8785 conformance (vectors, 100k ES6 numbers, rfc8785 as the reference) and errors."""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import json
import math
import struct
import threading
import types
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from promptkey import CanonicalizationError, UnsupportedTypeError, canonical_json

JCS = Path(__file__).parent / "data" / "jcs"


@pytest.mark.parametrize("name", ["arrays", "french", "structures", "unicode", "values", "weird"])
def test_jcs_vectors(name: str) -> None:
    value = json.loads((JCS / "input" / f"{name}.json").read_text(encoding="utf-8"))
    expected = (JCS / "output" / f"{name}.json").read_bytes()
    assert canonical_json(value) == expected
    assert canonical_json(value).hex() == "".join((JCS / "outhex" / f"{name}.txt").read_text().split())


def test_es6_number_lines() -> None:
    lines = (JCS / "es6testfile_100000.txt").read_text().splitlines()
    assert len(lines) == 100_000
    for line in lines:
        bits, expected = line.split(",")
        number = struct.unpack(">d", bytes.fromhex(bits.zfill(16)))[0]
        assert canonical_json(number) == expected.encode(), line


# JSON in the JCS domain: any str (no surrogates), finite doubles incl. ±0.0 and extremes, safe ints.
_text = st.text(st.characters(exclude_categories=["Cs"]))
_keys = st.one_of(
    _text,
    # The keys where UTF-8 and UTF-16 order disagree: U+E000–U+FFFF against astral characters.
    st.text(st.one_of(st.characters(min_codepoint=0xE000, max_codepoint=0xFFFF), st.characters(min_codepoint=0x10000))),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 5e-324, 1.7976931348623157e308, 1e21, 1e-7, 123456789012345680000.0]),
    _text,
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_matches_rfc8785(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(_keys, st.integers(0, 9), min_size=2, max_size=12))
def test_key_order_is_utf16(value: dict[str, int]) -> None:
    expected = sorted(value, key=lambda k: k.encode("utf-16-be"))
    assert list(json.loads(canonical_json(value))) == expected


def nested(depth: int) -> list[Any]:
    root: list[Any] = []
    cur = root
    for _ in range(depth - 1):
        nxt: list[Any] = []
        cur.append(nxt)
        cur = nxt
    return root


def test_depth_limit_and_no_stack_overflow() -> None:
    assert canonical_json(nested(1000)) == b"[" * 1000 + b"]" * 1000
    with pytest.raises(CanonicalizationError, match="nesting deeper than 1000"):
        canonical_json(nested(1001))
    with pytest.raises(CanonicalizationError, match="nesting deeper than 1000"):
        canonical_json(nested(100_000))
    deep: dict[str, Any] = {}
    cur = deep
    for _ in range(100_000):
        cur["a"] = {}
        cur = cur["a"]
    with pytest.raises(CanonicalizationError) as info:
        canonical_json(deep)
    assert info.value.path is not None and info.value.path.startswith("a.a.a")


def test_depth_1000_fits_a_small_thread_stack() -> None:
    results: list[object] = []
    old = threading.stack_size(1 << 20)
    try:
        t = threading.Thread(target=lambda: results.append(canonical_json(nested(1000))))
        t.start()
        t.join()
    finally:
        threading.stack_size(old)
    assert results and len(results[0]) == 2000  # type: ignore[arg-type]


def test_cycles_are_errors_shared_objects_are_not() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(CanonicalizationError, match="cycle") as info:
        canonical_json({"a": loop})
    assert info.value.path == "a[1]"
    d: dict[str, Any] = {}
    d["self"] = d
    with pytest.raises(CanonicalizationError, match="cycle"):
        canonical_json(d)
    shared = {"x": [1, 2]}
    assert canonical_json([shared, shared, {"y": shared}]) == b'[{"x":[1,2]},{"x":[1,2]},{"y":{"x":[1,2]}}]'


@pytest.mark.parametrize(
    ("value", "message", "path"),
    [
        ({"a": [1, math.nan]}, "nan is not valid json", "a[1]"),
        ({"a": math.inf}, "infinity is not valid json", "a"),
        ([-math.inf], "-infinity is not valid json", "[0]"),
        ({"s": "ok\ud800"}, "lone surrogate U\\+D800", "s"),
        ({"k\udfff": 1}, "lone surrogate U\\+DFFF in an object key", None),
        ({"n": 2**53}, "integer 9007199254740992 is beyond", "n"),
        ([-(2**53)], "integer -9007199254740992", "[0]"),
        ([10**30], "integer 1000000000000000000000000000000", "[0]"),
    ],
)
def test_canonicalization_errors(value: Any, message: str, path: str | None) -> None:
    with pytest.raises(CanonicalizationError, match=message) as info:
        canonical_json(value)
    assert info.value.path == path
    assert isinstance(info.value, ValueError)


def _gen() -> Any:
    yield 1


class Plain(enum.Enum):
    A = "a"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"b": b"x"}, "unsupported type bytes"),
        ({"b": {1, 2}}, "unsupported type set"),
        ({"b": decimal.Decimal("1.5")}, "unsupported type decimal.Decimal"),
        ({"b": datetime.datetime(2026, 1, 1)}, "unsupported type datetime.datetime"),
        ({"b": object()}, "unsupported type object"),
        ({"b": _gen()}, "generator is a one-shot iterable"),
        ({"b": iter([1])}, "one-shot iterable"),
        ({"b": Plain.A}, "unsupported type"),
        ({"b": {1: "x"}}, "object key 1 of type int is not a string"),
    ],
)
def test_unsupported_types(value: Any, message: str) -> None:
    with pytest.raises(UnsupportedTypeError, match=message) as info:
        canonical_json(value)
    assert info.value.path == "b"
    assert isinstance(info.value, TypeError)


class Key(str):
    """A str subclass whose instances never compare equal to plain strs: two keys, one text."""

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


def test_duplicate_key_text_is_an_error() -> None:
    with pytest.raises(UnsupportedTypeError, match="two keys with the same text"):
        canonical_json({"a": 1, Key("a"): 2})


class Color(str, enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def test_python_mapping() -> None:
    assert canonical_json([True, False, 1, None, 1.0, -0.0, 1e21, 1e-7]) == b"[true,false,1,null,1,0,1e+21,1e-7]"
    assert canonical_json((1, (2,))) == b"[1,[2]]"
    assert canonical_json({"c": Color.RED, "l": Level.HIGH}) == b'{"c":"red","l":3}'
    assert canonical_json(collections.OrderedDict([("b", 1), ("a", 2)])) == b'{"a":2,"b":1}'
    assert canonical_json(types.MappingProxyType({"b": 1, "a": 2})) == b'{"a":2,"b":1}'
    assert canonical_json("\u2028</script>\x7f\x00\x1f") == b'"\xe2\x80\xa8</script>\x7f\\u0000\\u001f"'
    assert canonical_json({"": 0}) == b'{"":0}'


@pytest.mark.parametrize(
    "piece",
    ['plain ascii "quoted" \\ \n\t\x01 ', "café naïve \x7f\x80ÿ ", "日本語 Кириллица € ", "emoji 😀🚀 mixed é 中 "],
)
def test_long_strings_of_every_storage_kind(piece: str) -> None:
    # Long non-ASCII strings are encoded by promptkey itself (no UTF-8 copy from CPython): every
    # storage kind (Latin-1, UCS-2, UCS-4), escapes included, must give the reference bytes.
    for copies in (60, 600, 6000):  # below and above the 1,024-unit threshold, and past 64 KiB
        text = piece * copies
        fresh = json.loads(json.dumps({"k": text, "short": piece}))
        assert canonical_json(fresh) == rfc8785.dumps({"k": text, "short": piece})
        assert canonical_json(fresh) == canonical_json(fresh)  # the second pass reads the cached UTF-8
        assert fresh["k"].encode() == text.encode()


def test_lone_surrogate_in_a_long_string() -> None:
    for text in ["é" * 3000 + "\udc00", "日" * 3000 + "\ud800x", "😀" * 3000 + "\udbff"]:
        with pytest.raises(CanonicalizationError, match="lone surrogate U\\+D[89ABCDEF]") as info:
            canonical_json({"doc": text})
        assert info.value.path == "doc"
