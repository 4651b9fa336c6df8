"""The one place the response cache computes keys (DESIGN §1): every key goes through `key_info`."""

from __future__ import annotations

from typing import Any

from promptkey._exceptions import InvalidOptionError

__all__ = ["key_info", "store_key", "validate_namespace"]

try:
    from promptkey._core import key_info as _key_info
except ImportError:  # pragma: no cover - until the keys branch is merged
    _key_info = None


def validate_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not namespace:
        raise InvalidOptionError(f"namespace must be a non-empty str, got {namespace!r}")
    if "{" in namespace or "}" in namespace:
        raise InvalidOptionError(f"namespace may not contain braces (redis cluster hash tags): {namespace!r}")
    return namespace


def key_info(request: Any, namespace: str, secret: bytes | None) -> tuple[str, bool, bool]:
    """`(key, explicit_sampling, server_tools)`; raises a PromptKeyError for a request that cannot be keyed."""
    if _key_info is None:  # pragma: no cover
        return _interim_key_info(request, namespace, secret)
    return _key_info(request, namespace=namespace, secret=secret)  # type: ignore[no-any-return]


def store_key(key: str) -> str:
    """`ns:v1:<hex>` → `ns:v1:{<hex>}`: the digest is the hash tag, so value, lock and wake-up share a slot."""
    head, _, digest = key.rpartition(":")
    return f"{head}:{{{digest}}}"


def _interim_key_info(request: Any, namespace: str, secret: bytes | None) -> tuple[str, bool, bool]:  # TEMPORARY
    import hashlib
    import hmac
    import json

    from promptkey._exceptions import CanonicalizationError, UnsupportedTypeError

    validate_namespace(namespace)
    try:
        text = json.dumps(request, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    except TypeError as e:
        raise UnsupportedTypeError(str(e)) from None
    except ValueError as e:
        raise CanonicalizationError(str(e)) from None
    digest = hmac.new(secret, text, "sha256").hexdigest() if secret else hashlib.sha256(text).hexdigest()
    t = request.get("temperature")
    sampling = (t is not None and t > 0) or request.get("top_p") is not None or request.get("top_k") is not None
    tools = [x.get("type", "") for x in request.get("tools") or [] if isinstance(x, dict)]
    server = any(x.startswith(("web_search", "web_fetch", "code_execution")) for x in tools)
    server = server or bool(request.get("mcp_servers")) or request.get("container") is not None
    return f"{namespace}:v1:{digest}", sampling, server
