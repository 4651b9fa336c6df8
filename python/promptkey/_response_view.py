"""A `ResponseCache` seen through one API origin: the SDK wrapper's view of the user's cache.

The wrapper keys every request under `"{cache.namespace}:{scheme}://{host}:{port}"` (DESIGN §6), so answers
from an emulator, a proxy and the real API never mix. Every call passes that namespace to the cache
(`namespace=`), so the view shares everything else of the user's cache by construction: the store and its
connections, the in-process flights, the lock protocol and the counters (`cache.stats` counts the
wrapper's calls, each once: a stream is looked up and later stored as one call, see `ResponseCache._lookup`).
"""

from __future__ import annotations

from typing import Any

from promptkey import make_key
from promptkey._exceptions import InvalidOptionError, PromptKeyError
from promptkey.cache import ResponseCache
from promptkey.cache._cache import _Pending

# Per-call modes the SDK wrapper offers (`with_cache`); "only-if-cached" has no Message to return on a miss.
MODES = ("use", "refresh", "bypass")


class ResponseView:
    """`mode`: "use" reads and writes, "refresh" never reads but writes (replaces a stored answer), "bypass"
    neither reads nor writes; `ttl` overrides the cache's for what this view writes."""

    def __init__(self, cache: ResponseCache, *, origin: str, mode: str = "use", ttl: float | None = None) -> None:
        if not isinstance(cache, ResponseCache):
            raise InvalidOptionError(f"cache must be a promptkey.ResponseCache or None, got {cache!r}", path="cache")
        if mode not in MODES:
            raise InvalidOptionError(f"cache mode must be one of {', '.join(MODES)}, not {mode!r}", path="mode")
        self.cache = cache
        self.mode = mode
        self.ttl = ttl
        self.namespace = f"{cache.namespace}:{origin}"

    def key(self, request: Any) -> str | None:
        """The key of `request` in this view, or None for a request that cannot be keyed."""
        try:
            return make_key(request, namespace=self.namespace, secret=self.cache.secret)
        except PromptKeyError:
            return None

    # --- sync ---

    def get_or_call(self, request: Any, fn: Any) -> Any:
        mode: Any = self.mode  # one of MODES, checked above
        return self.cache.get_or_call(request, fn, mode=mode, ttl=self.ttl, namespace=self.namespace)

    def lookup(self, request: Any) -> _Pending:
        """Phase one of a streamed call, counted once: `.status` "hit" (`.value`), "miss", "bypass", "fallback"."""
        return self.cache._lookup(request, mode=self.mode, ttl=self.ttl, namespace=self.namespace)

    def store(self, pending: _Pending, value: Any) -> None:
        """Phase two: write an answer computed outside the cache (an assembled stream) if the call was a miss."""
        self.cache._store(pending, value)

    # --- async ---

    async def aget_or_call(self, request: Any, afn: Any) -> Any:
        mode: Any = self.mode
        return await self.cache.aget_or_call(request, afn, mode=mode, ttl=self.ttl, namespace=self.namespace)

    async def alookup(self, request: Any) -> _Pending:
        return await self.cache._alookup(request, mode=self.mode, ttl=self.ttl, namespace=self.namespace)

    async def astore(self, pending: _Pending, value: Any) -> None:
        await self.cache._astore(pending, value)
