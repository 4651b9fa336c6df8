"""Stubs for the native module ``promptkey._core``; the user-facing docstrings live here."""

from collections.abc import Iterable, Mapping
from typing import Any

__version__: str

# --- keys (rust/py_keys.rs) ---

# PyO3's `m.add` also maintains the module's `__all__`, which stubtest compares with this list.
__all__ = [
    "__version__",
    "_gil_release_threshold",
    "_key_material_json",
    "canonical_json",
    "key_info",
    "key_material",
    "make_key",
    "make_keys",
]

def canonical_json(obj: Any, /) -> bytes:
    """The RFC 8785 (JCS) canonical form of ``obj`` as UTF-8 bytes.

    dict → object (str keys, sorted by UTF-16 code units), list/tuple → array, str → string, bool,
    int, float, None; str/int/float subclasses (enum members) by value; pydantic models as the
    Anthropic SDK dumps them; the SDK's ``NOT_GIVEN``/``omit`` members are absent.

    Raises:
        CanonicalizationError: NaN/±Infinity, a lone surrogate, an integer beyond ±(2^53−1), a
            cycle, or nesting deeper than 1,000 levels.
        UnsupportedTypeError: a non-str key, two keys with the same text, or a value with no JSON
            form (bytes, set, Decimal, datetime, generators and other one-shot iterables...).
    """

def key_material(request: Mapping[str, Any], /) -> dict[str, Any]:
    """The normalized subset of a Messages request that enters its key (DESIGN §1 rules 1–6).

    ``request`` is the keyword arguments of ``client.messages.create``. Numbers come back as the
    values they canonicalize to (``1.0`` → ``1``); integers are exact.
    """

def make_key(request: Mapping[str, Any], /, *, namespace: str = "llmcache", secret: bytes | None = None) -> str:
    """``f"{namespace}:v1:{sha256(canonical_json(key_material(request))).hexdigest()}"``.

    Integers beyond ±(2^53−1) are written with every digit (JCS would round them). With ``secret``,
    HMAC-SHA256 keyed by it replaces SHA-256.

    Raises:
        InvalidOptionError: ``namespace`` is empty or contains ``{`` or ``}``; ``secret`` is not bytes.
        CanonicalizationError, UnsupportedTypeError: as ``canonical_json``, with ``.path`` naming
            the place in the request.
    """

def make_keys(
    requests: Iterable[Mapping[str, Any]], /, *, namespace: str = "llmcache", secret: bytes | None = None
) -> list[str]:
    """``[make_key(r, ...) for r in requests]``; an error's ``.path`` starts with the request's index."""

def key_info(
    request: Mapping[str, Any], /, *, namespace: str = "llmcache", secret: bytes | None = None
) -> tuple[str, bool, bool]:
    """``(make_key(request), explicit_sampling, server_tools)`` in one pass (for the response cache).

    ``explicit_sampling``: ``temperature`` > 0, or a non-null ``top_p``/``top_k``. ``server_tools``: a
    web search / web fetch / code execution tool, a non-empty ``mcp_servers``, or a ``container``.
    Both are judged on the key material (after ``extra_body`` is merged).
    """

def _key_material_json(request: Mapping[str, Any], /) -> bytes:
    """The canonical key material as UTF-8 JSON (integers exact); for ``promptkey key --material``."""

def _gil_release_threshold(threshold: int | None = None, /) -> int:
    """The string length from which hashing releases the GIL; with an argument, sets it and returns the old one."""

# --- prefix blocks, chain, diff, tokenizers (rust/py_prefix.rs) ---

# --- simulator (rust/py_simulator.rs) ---

# --- planner (rust/py_planner.rs) ---
