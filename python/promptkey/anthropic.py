"""`CachedAnthropic` / `AsyncCachedAnthropic`: the Anthropic SDK client with a response cache in front,
prompt-cache breakpoints placed, and every call's usage and cost recorded.

    client = CachedAnthropic(anthropic.Anthropic(), cache=promptkey.ResponseCache(), breakpoints="auto")
    message = client.messages.create(model=..., max_tokens=..., messages=[...])   # an anthropic.types.Message
    client.last.status, client.last.cost, client.last.saved

See docs/anthropic.md for the decisions (what is keyed, what is stored, how streams are replayed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Literal, overload

# First: the core module imports the SDK and turns a missing `anthropic` extra into a one-line hint.
from promptkey._anthropic_core import (
    _BETA_MESSAGES,
    _MESSAGES,
    CACHEABLE_STOP_REASONS,
    Breakpoints,
    CallRecord,
    _cacheable,
    _Core,
    _Flavor,
    _Started,
    _Uncacheable,
    origin_of,
)
from promptkey._message_events import MessageAssembler

# isort: split
import anthropic as _sdk
from anthropic import AsyncStream, Stream
from anthropic.lib.streaming import AsyncMessageStream, MessageStream
from anthropic.types import Message, RawMessageStreamEvent

__all__ = ["CACHEABLE_STOP_REASONS", "AsyncCachedAnthropic", "CachedAnthropic", "CallRecord", "origin_of"]


# --- sync ---------------------------------------------------------------------------------------------------


class _RecordingStream(Stream[RawMessageStreamEvent]):
    """The SDK's own stream of a live answer, which also assembles the Message as the caller reads it and
    hands it over once complete (a stream abandoned early is neither stored nor recorded)."""

    _on_done: Callable[[dict[str, Any]], None]

    def __stream__(self) -> Iterator[RawMessageStreamEvent]:
        assembler = MessageAssembler()
        for event in super().__stream__():
            assembler.feed(event.model_dump(mode="json"))
            yield event
        if assembler.message is not None:
            self._on_done(assembler.message)


class CachedMessages:
    """`client.messages` (or `client.beta.messages`) with the response cache in front; other attributes are
    the SDK's."""

    def __init__(self, core: _Core, flavor: _Flavor = _MESSAGES) -> None:
        self._core = core
        self._flavor = flavor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._flavor.resource(self._core.client), name)

    @overload
    def create(self, *, stream: Literal[True], **params: Any) -> Stream[RawMessageStreamEvent]: ...
    @overload
    def create(self, *, stream: Literal[False] = ..., **params: Any) -> Message: ...
    @overload
    def create(self, *, stream: bool, **params: Any) -> Message | Stream[RawMessageStreamEvent]: ...
    def create(self, **params: Any) -> Any:
        """As `anthropic.Anthropic().messages.create`: a `Message`, or with `stream=True` a `Stream` of
        `RawMessageStreamEvent` (a cached answer is replayed as one)."""
        core = self._core
        started = core.begin(params)
        params = core.prepare(params)
        model = str(params.get("model"))
        if params.get("stream"):
            return self._open_stream(params, started, model)
        view = core.view
        if view is None:
            message = self._flavor.resource(core.client).create(**params)
            data = message.model_dump(mode="json")
            core.finish(
                status="bypass", key=None, message=data, paid=True, started=started, streamed=False, model=model
            )
            return message
        request = core.key_request(params)
        box: dict[str, Any] = {}

        def call() -> dict[str, Any]:
            answer = self._flavor.resource(core.client).create(**params)
            box["message"] = answer
            data: dict[str, Any] = answer.model_dump(mode="json")
            if not _cacheable(data):
                raise _Uncacheable(data)
            return data

        try:
            result = view.get_or_call(request, call)
            status, key, value = result.status, result.key, result.value
        except _Uncacheable as exc:
            status, key, value = ("miss" if box else "coalesced"), view.key(request), exc.value
        paid = "message" in box
        core.finish(status=status, key=key, message=value, paid=paid, started=started, streamed=False, model=model)
        return box["message"] if paid else self._flavor.message.model_validate(value)

    def _open_stream(self, params: dict[str, Any], started: _Started, model: str) -> Stream[RawMessageStreamEvent]:
        core = self._core
        view = core.view
        request = core.key_request(params)
        pending = view.lookup(request) if view is not None else None
        if pending is not None and pending.status == "hit":
            value = pending.value
            core.finish(
                status="hit", key=pending.key, message=value, paid=False, started=started, streamed=True, model=model
            )
            return Stream(cast_to=self._flavor.event, response=core.replay_response(value), client=core.client)
        raw = self._flavor.resource(core.client).create(**params)
        stream = _RecordingStream(
            cast_to=getattr(raw, "_cast_to", self._flavor.event),
            response=raw.response,
            client=core.client,
            options=getattr(raw, "_options", None),
        )

        def done(data: dict[str, Any]) -> None:
            status, key = "bypass", None
            if view is not None and pending is not None:
                if _cacheable(data):
                    view.store(pending, data)
                status, key = pending.status, pending.key
            core.finish(status=status, key=key, message=data, paid=True, started=started, streamed=True, model=model)

        stream._on_done = done
        return stream

    def stream(self, **params: Any) -> CachedMessageStreamManager:
        """As `anthropic.Anthropic().messages.stream`: a context manager yielding the SDK's `MessageStream`
        (iterate events, `text_stream`, `get_final_message()`), replaying a cached answer when there is one."""
        if params.get("output_format") is not None:  # structured parsing: the SDK's own helper, uncached
            sdk_stream = self._flavor.resource(self._core.client).stream
            return CachedMessageStreamManager(lambda: sdk_stream(**params).__enter__())
        return CachedMessageStreamManager(
            lambda: self._flavor.helper(self.create(**params, stream=True), output_format=_sdk.NOT_GIVEN)
        )


class _Beta:
    """`client.beta` with `messages` wrapped (`betas=` keyed as the header it becomes); everything else in
    the SDK's beta namespace passes through."""

    def __init__(self, client: Any, messages: Any) -> None:
        self._client = client
        self.messages = messages

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client.beta, name)


class CachedMessageStreamManager:
    def __init__(self, open_stream: Callable[[], MessageStream[Any]]) -> None:
        self._open = open_stream
        self._stream: MessageStream[Any] | None = None

    def __enter__(self) -> MessageStream[Any]:
        self._stream = self._open()
        return self._stream

    def __exit__(self, *exc: object) -> None:
        if self._stream is not None:
            self._stream.close()


class CachedAnthropic:
    """A wrapped `anthropic.Anthropic`: `messages.create` / `messages.stream` go through the response cache
    (`cache=None`: no response cache; breakpoints, usage and cost still work). `breakpoints`: `"keep"` sends
    the request as given, `"auto"` places markers with `promptkey.plan`, a `Plan` is applied to every request.
    `.last` is the last call's `CallRecord`, also passed to `on_call`. Other attributes are the client's."""

    def __init__(
        self,
        client: _sdk.Anthropic,
        *,
        cache: Any = None,
        breakpoints: Breakpoints = "keep",
        prices: Any = None,
        on_call: Callable[[CallRecord], None] | None = None,
        trace: Any = None,
    ) -> None:
        core = _Core(client, cache=cache, breakpoints=breakpoints, prices=prices, on_call=on_call, trace=trace)
        self._attach(core)

    def _attach(self, core: _Core) -> None:
        self._core = core
        self.messages = CachedMessages(core)
        self.beta = _Beta(core.client, CachedMessages(core, _BETA_MESSAGES))

    @property
    def last(self) -> CallRecord | None:
        return self._core.last

    @property
    def client(self) -> _sdk.Anthropic:
        return self._core.client  # type: ignore[no-any-return]

    def with_options(self, **options: Any) -> CachedAnthropic:
        """`client.with_options(...)` (timeouts, retries, headers) wrapped with the same cache, breakpoints,
        prices and `on_call`; a changed `base_url` changes the origin in the key's namespace too."""
        return self._from_core(self._core.derive(self._core.client.with_options(**options)))

    def close(self) -> None:
        """Close the trace file this wrapper opened, then the SDK client (as `client.close()`)."""
        if self._core.trace is not None:
            self._core.trace.close()
        self._core.client.close()

    def with_cache(self, *, mode: str = "use", ttl: float | None = None) -> CachedAnthropic:
        """A wrapper whose calls use the response cache with `mode` — `"use"` (read, then write), `"refresh"`
        (call the API and replace the stored answer), `"bypass"` (neither read nor write) — and `ttl` for
        what it writes; everything else is shared with this one."""
        return self._from_core(self._core.derive(mode=mode, ttl=ttl))

    @classmethod
    def _from_core(cls, core: _Core) -> CachedAnthropic:
        wrapper = cls.__new__(cls)
        wrapper._attach(core)
        return wrapper

    def __getattr__(self, name: str) -> Any:
        if name == "_core":  # not attached yet (copy, pickle): no client to delegate to
            raise AttributeError(name)
        return getattr(self._core.client, name)


# --- async --------------------------------------------------------------------------------------------------


class _AsyncRecordingStream(AsyncStream[RawMessageStreamEvent]):
    _on_done: Callable[[dict[str, Any]], Awaitable[None]]

    async def __stream__(self) -> AsyncIterator[RawMessageStreamEvent]:
        assembler = MessageAssembler()
        async for event in super().__stream__():
            assembler.feed(event.model_dump(mode="json"))
            yield event
        if assembler.message is not None:
            await self._on_done(assembler.message)


class AsyncCachedMessages:
    """`client.messages` (or `client.beta.messages`) of an `AsyncAnthropic` with the response cache in front."""

    def __init__(self, core: _Core, flavor: _Flavor = _MESSAGES) -> None:
        self._core = core
        self._flavor = flavor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._flavor.resource(self._core.client), name)

    @overload
    async def create(self, *, stream: Literal[True], **params: Any) -> AsyncStream[RawMessageStreamEvent]: ...
    @overload
    async def create(self, *, stream: Literal[False] = ..., **params: Any) -> Message: ...
    @overload
    async def create(self, *, stream: bool, **params: Any) -> Message | AsyncStream[RawMessageStreamEvent]: ...
    async def create(self, **params: Any) -> Any:
        """As `anthropic.AsyncAnthropic().messages.create`."""
        core = self._core
        started = core.begin(params)
        params = core.prepare(params)
        model = str(params.get("model"))
        if params.get("stream"):
            return await self._open_stream(params, started, model)
        view = core.view
        if view is None:
            message = await self._flavor.resource(core.client).create(**params)
            data = message.model_dump(mode="json")
            core.finish(
                status="bypass", key=None, message=data, paid=True, started=started, streamed=False, model=model
            )
            return message
        request = core.key_request(params)
        box: dict[str, Any] = {}

        async def call() -> dict[str, Any]:
            answer = await self._flavor.resource(core.client).create(**params)
            box["message"] = answer
            data: dict[str, Any] = answer.model_dump(mode="json")
            if not _cacheable(data):
                raise _Uncacheable(data)
            return data

        try:
            result = await view.aget_or_call(request, call)
            status, key, value = result.status, result.key, result.value
        except _Uncacheable as exc:
            status, key, value = ("miss" if box else "coalesced"), view.key(request), exc.value
        paid = "message" in box
        core.finish(status=status, key=key, message=value, paid=paid, started=started, streamed=False, model=model)
        return box["message"] if paid else self._flavor.message.model_validate(value)

    async def _open_stream(
        self, params: dict[str, Any], started: _Started, model: str
    ) -> AsyncStream[RawMessageStreamEvent]:
        core = self._core
        view = core.view
        request = core.key_request(params)
        pending = await view.alookup(request) if view is not None else None
        if pending is not None and pending.status == "hit":
            value = pending.value
            core.finish(
                status="hit", key=pending.key, message=value, paid=False, started=started, streamed=True, model=model
            )
            response = core.replay_response(value)
            return AsyncStream(cast_to=self._flavor.event, response=response, client=core.client)
        raw = await self._flavor.resource(core.client).create(**params)
        stream = _AsyncRecordingStream(
            cast_to=getattr(raw, "_cast_to", self._flavor.event),
            response=raw.response,
            client=core.client,
            options=getattr(raw, "_options", None),
        )

        async def done(data: dict[str, Any]) -> None:
            status, key = "bypass", None
            if view is not None and pending is not None:
                if _cacheable(data):
                    await view.astore(pending, data)
                status, key = pending.status, pending.key
            core.finish(status=status, key=key, message=data, paid=True, started=started, streamed=True, model=model)

        stream._on_done = done
        return stream

    def stream(self, **params: Any) -> AsyncCachedMessageStreamManager:
        """As `anthropic.AsyncAnthropic().messages.stream`: an async context manager yielding the SDK's
        `AsyncMessageStream`."""
        if params.get("output_format") is not None:

            async def passthrough() -> AsyncMessageStream[Any]:
                sdk_stream = self._flavor.resource(self._core.client).stream
                return await sdk_stream(**params).__aenter__()  # type: ignore[no-any-return]

            return AsyncCachedMessageStreamManager(passthrough)

        async def open_stream() -> AsyncMessageStream[Any]:
            helper: AsyncMessageStream[Any] = self._flavor.async_helper(
                await self.create(**params, stream=True), output_format=_sdk.NOT_GIVEN
            )
            return helper

        return AsyncCachedMessageStreamManager(open_stream)


class AsyncCachedMessageStreamManager:
    def __init__(self, open_stream: Callable[[], Awaitable[AsyncMessageStream[Any]]]) -> None:
        self._open = open_stream
        self._stream: AsyncMessageStream[Any] | None = None

    async def __aenter__(self) -> AsyncMessageStream[Any]:
        self._stream = await self._open()
        return self._stream

    async def __aexit__(self, *exc: object) -> None:
        if self._stream is not None:
            await self._stream.close()


class AsyncCachedAnthropic:
    """The asyncio twin of `CachedAnthropic`, wrapping an `anthropic.AsyncAnthropic`."""

    def __init__(
        self,
        client: _sdk.AsyncAnthropic,
        *,
        cache: Any = None,
        breakpoints: Breakpoints = "keep",
        prices: Any = None,
        on_call: Callable[[CallRecord], None] | None = None,
        trace: Any = None,
    ) -> None:
        core = _Core(client, cache=cache, breakpoints=breakpoints, prices=prices, on_call=on_call, trace=trace)
        self._attach(core)

    def _attach(self, core: _Core) -> None:
        self._core = core
        self.messages = AsyncCachedMessages(core)
        self.beta = _Beta(core.client, AsyncCachedMessages(core, _BETA_MESSAGES))

    @property
    def last(self) -> CallRecord | None:
        return self._core.last

    @property
    def client(self) -> _sdk.AsyncAnthropic:
        return self._core.client  # type: ignore[no-any-return]

    def with_options(self, **options: Any) -> AsyncCachedAnthropic:
        """`client.with_options(...)` (timeouts, retries, headers) wrapped with the same cache, breakpoints,
        prices and `on_call`; a changed `base_url` changes the origin in the key's namespace too."""
        return self._from_core(self._core.derive(self._core.client.with_options(**options)))

    async def close(self) -> None:
        """Close the trace file this wrapper opened, then the SDK client (as `await client.close()`)."""
        if self._core.trace is not None:
            self._core.trace.close()
        await self._core.client.close()

    def with_cache(self, *, mode: str = "use", ttl: float | None = None) -> AsyncCachedAnthropic:
        """A wrapper whose calls use the response cache with `mode` — `"use"` (read, then write), `"refresh"`
        (call the API and replace the stored answer), `"bypass"` (neither read nor write) — and `ttl` for
        what it writes; everything else is shared with this one."""
        return self._from_core(self._core.derive(mode=mode, ttl=ttl))

    @classmethod
    def _from_core(cls, core: _Core) -> AsyncCachedAnthropic:
        wrapper = cls.__new__(cls)
        wrapper._attach(core)
        return wrapper

    def __getattr__(self, name: str) -> Any:
        if name == "_core":  # not attached yet (copy, pickle): no client to delegate to
            raise AttributeError(name)
        return getattr(self._core.client, name)
