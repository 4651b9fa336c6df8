"""The one place the response cache computes keys (DESIGN §1): every key goes through `key_info`."""

from __future__ import annotations

from typing import Any

from promptkey._core import key_info as _key_info
from promptkey._exceptions import InvalidOptionError

__all__ = ["key_info", "store_key", "validate_namespace"]


def validate_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not namespace:
        raise InvalidOptionError(f"namespace must be a non-empty str, got {namespace!r}")
    if "{" in namespace or "}" in namespace:
        raise InvalidOptionError(f"namespace may not contain braces (redis cluster hash tags): {namespace!r}")
    return namespace


def key_info(request: Any, namespace: str, secret: bytes | None) -> tuple[str, bool, bool]:
    """`(key, explicit_sampling, server_tools)`; raises a PromptKeyError for a request that cannot be keyed."""
    return _key_info(request, namespace=namespace, secret=secret)


def store_key(key: str) -> str:
    """`ns:v1:<hex>` → `ns:v1:{<hex>}`: the digest is the hash tag, so value, lock and wake-up share a slot."""
    head, _, digest = key.rpartition(":")
    return f"{head}:{{{digest}}}"
