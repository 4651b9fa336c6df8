"""A `ResponseCache` seen through one API origin: the SDK wrapper's view of the user's cache.

The wrapper keys every request under `"{cache.namespace}:{scheme}://{host}:{port}"` (DESIGN §6), so answers
from an emulator, a proxy and the real API never mix, while sharing everything else of the user's cache:
the store and its connections, the in-process flights, the lock protocol, the counters (`cache.stats`
counts the wrapper's calls). `ResponseCache` has no per-call namespace, so the view is a shallow copy of
the cache with only `namespace` replaced: every other attribute is the same object as the original's.
"""

from __future__ import annotations

import copy
from typing import Any

from promptkey import make_key
from promptkey._exceptions import InvalidOptionError, PromptKeyError


def _with_namespace(cache: Any, namespace: str) -> Any:
    derive = getattr(cache, "with_namespace", None)
    if callable(derive):  # a cache that can derive a view itself knows best what to share
        return derive(namespace)
    view = copy.copy(cache)  # shallow: store, binding, counters and their lock stay shared
    view.namespace = namespace
    return view


def _nothing() -> None:
    return None


# Per-call modes the SDK wrapper offers (`with_cache`); "only-if-cached" has no Message to return on a miss.
MODES = ("use", "refresh", "bypass")


class ResponseView:
    """`mode`: "use" reads and writes, "refresh" never reads but writes (replaces a stored answer), "bypass"
    neither reads nor writes; `ttl` overrides the cache's for what this view writes."""

    def __init__(self, cache: Any, *, origin: str, mode: str = "use", ttl: float | None = None) -> None:
        if mode not in MODES:
            raise InvalidOptionError(f"cache mode must be one of {', '.join(MODES)}, not {mode!r}", path="mode")
        self.original = cache
        self.mode = mode
        self.ttl = ttl
        self.namespace = f"{cache.namespace}:{origin}"
        self.cache = _with_namespace(cache, self.namespace)

    def key(self, request: Any) -> str | None:
        """The key of `request` in this view, or None for a request that cannot be keyed."""
        try:
            return make_key(request, namespace=self.namespace, secret=getattr(self.cache, "secret", None))
        except PromptKeyError:
            return None

    # --- sync ---

    def get_or_call(self, request: Any, fn: Any) -> Any:
        return self.cache.get_or_call(request, fn, mode=self.mode, ttl=self.ttl)

    def lookup(self, request: Any) -> tuple[str, Any] | None:
        """`(key, stored value)` for a hit, else None; never calls the API."""
        if self.mode != "use":
            return None
        result = self.cache.get_or_call(request, _nothing, mode="only-if-cached")
        return (result.key, result.value) if result.status == "hit" else None

    def store(self, request: Any, value: Any) -> tuple[str, str | None]:
        """Write an answer computed outside the cache (an assembled stream): `(status, key)`."""
        if self.mode == "bypass":
            return "bypass", self.key(request)
        result = self.cache.get_or_call(request, lambda: value, mode="refresh", ttl=self.ttl)
        return result.status, result.key

    # --- async ---

    async def aget_or_call(self, request: Any, afn: Any) -> Any:
        return await self.cache.aget_or_call(request, afn, mode=self.mode, ttl=self.ttl)

    async def alookup(self, request: Any) -> tuple[str, Any] | None:
        if self.mode != "use":
            return None
        result = await self.cache.aget_or_call(request, _nothing, mode="only-if-cached")
        return (result.key, result.value) if result.status == "hit" else None

    async def astore(self, request: Any, value: Any) -> tuple[str, str | None]:
        if self.mode == "bypass":
            return "bypass", self.key(request)

        async def compute() -> Any:
            return value

        result = await self.cache.aget_or_call(request, compute, mode="refresh", ttl=self.ttl)
        return result.status, result.key
