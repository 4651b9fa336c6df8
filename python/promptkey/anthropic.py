"""`CachedAnthropic` / `AsyncCachedAnthropic`: the Anthropic SDK client with a response cache in front,
prompt-cache breakpoints placed, and every call's usage and cost recorded.

    client = CachedAnthropic(anthropic.Anthropic(), cache=promptkey.ResponseCache(), breakpoints="auto")
    message = client.messages.create(model=..., max_tokens=..., messages=[...])   # an anthropic.types.Message
    client.last.status, client.last.cost, client.last.saved

See docs/anthropic.md for the decisions (what is keyed, what is stored, how streams are replayed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

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
from promptkey._response_view import ResponseView
from promptkey.cache._cache import _Pending

# isort: split
import anthropic as _sdk
from anthropic import AsyncStream, Stream
from anthropic.lib.streaming import AsyncMessageStream, MessageStream
from anthropic.types import Message, RawMessageStreamEvent

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["CACHEABLE_STOP_REASONS", "AsyncCachedAnthropic", "CachedAnthropic", "CallRecord", "origin_of"]

_S = TypeVar("_S", bound="Stream[Any] | AsyncStream[Any]")


# --- what the sync and async twins share (no I/O here: the twins differ only in what they await) -------------


class _MessagesBase:
    """`__getattr__` and the bookkeeping around each call; the subclasses make the calls."""

    def __init__(self, core: _Core, flavor: _Flavor = _MESSAGES) -> None:
        self._core = core
        self._flavor = flavor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._flavor.resource(self._core.client), name)

    def _start(self, params: dict[str, Any]) -> tuple[_Started, dict[str, Any], str]:
        started = self._core.begin(params)
        params = self._core.prepare(params)
        return started, params, str(params.get("model"))

    def _uncached(self, message: Any, started: _Started, model: str) -> Any:
        """Record a call made without a response cache; the SDK's own object is returned."""
        data = message.model_dump(mode="json")
        self._core.finish(
            status="bypass", key=None, message=data, paid=True, started=started, streamed=False, model=model
        )
        return message

    @staticmethod
    def _paid(box: dict[str, Any], answer: Any) -> dict[str, Any]:
        """Inside the cache's compute function: keep the SDK's object for the caller, hand the cache its JSON
        (raising `_Uncacheable` for an answer that must not be stored)."""
        box["message"] = answer
        data: dict[str, Any] = answer.model_dump(mode="json")
        if not _cacheable(data):
            raise _Uncacheable(data)
        return data

    def _settle(
        self, view: ResponseView, request: Any, box: dict[str, Any], result: Any, started: _Started, model: str
    ) -> Any:
        """Record a non-streamed cached call (`result`: a `CacheResult` or the `_Uncacheable` raised) and
        return its Message: the SDK's own object when this call paid, else the stored answer validated."""
        if isinstance(result, _Uncacheable):
            status, key, value = ("miss" if box else "coalesced"), view.key(request), result.value
        else:
            status, key, value = result.status, result.key, result.value
        paid = "message" in box
        self._core.finish(
            status=status, key=key, message=value, paid=paid, started=started, streamed=False, model=model
        )
        return box["message"] if paid else self._flavor.message.model_validate(value)

    def _replay(self, pending: _Pending, started: _Started, model: str) -> Any:
        """Record a streamed hit; the stored answer as the SSE response the API would have sent."""
        self._core.finish(
            status="hit",
            key=pending.key,
            message=pending.value,
            paid=False,
            started=started,
            streamed=True,
            model=model,
        )
        return self._core.replay_response(pending.value)

    def _recording(self, cls: type[_S], raw: Any) -> _S:
        """The SDK's live stream re-made as a recording one (same response, cast type and options)."""
        return cls(
            cast_to=getattr(raw, "_cast_to", self._flavor.event),
            response=raw.response,
            client=self._core.client,
            options=getattr(raw, "_options", None),
        )

    def _streamed(self, pending: _Pending | None, data: dict[str, Any], started: _Started, model: str) -> None:
        """Record a live stream read to its end (its cache status was decided, and counted, at the lookup)."""
        status, key = ("bypass", None) if pending is None else (pending.status, pending.key)
        self._core.finish(status=status, key=key, message=data, paid=True, started=started, streamed=True, model=model)


class _WrapperBase:
    """The parts of `CachedAnthropic` and `AsyncCachedAnthropic` that make no calls."""

    _messages_class: type[_MessagesBase]
    _core: _Core

    def _attach(self, core: _Core) -> None:
        self._core = core
        self.messages = self._messages_class(core)
        self.beta = _Beta(core.client, self._messages_class(core, _BETA_MESSAGES))

    @property
    def last(self) -> CallRecord | None:
        return self._core.last

    def with_options(self, **options: Any) -> Self:
        """`client.with_options(...)` (timeouts, retries, headers) wrapped with the same cache, breakpoints,
        prices and `on_call`; a changed `base_url` changes the origin in the key's namespace too."""
        return self._from_core(self._core.derive(self._core.client.with_options(**options)))

    def with_cache(self, *, mode: str = "use", ttl: float | None = None) -> Self:
        """A wrapper whose calls use the response cache with `mode` — `"use"` (read, then write), `"refresh"`
        (call the API and replace the stored answer), `"bypass"` (neither read nor write) — and `ttl` for
        what it writes; everything else is shared with this one."""
        return self._from_core(self._core.derive(mode=mode, ttl=ttl))

    @classmethod
    def _from_core(cls, core: _Core) -> Self:
        wrapper = cls.__new__(cls)
        wrapper._attach(core)
        return wrapper

    def __getattr__(self, name: str) -> Any:
        if name == "_core":  # not attached yet (copy, pickle): no client to delegate to
            raise AttributeError(name)
        return getattr(self._core.client, name)


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


class CachedMessages(_MessagesBase):
    """`client.messages` (or `client.beta.messages`) with the response cache in front; other attributes are
    the SDK's."""

    @overload
    def create(self, *, stream: Literal[True], **params: Any) -> Stream[RawMessageStreamEvent]: ...
    @overload
    def create(self, *, stream: Literal[False] = ..., **params: Any) -> Message: ...
    @overload
    def create(self, *, stream: bool, **params: Any) -> Message | Stream[RawMessageStreamEvent]: ...
    def create(self, **params: Any) -> Any:
        """As `anthropic.Anthropic().messages.create`: a `Message`, or with `stream=True` a `Stream` of
        `RawMessageStreamEvent` (a cached answer is replayed as one)."""
        started, params, model = self._start(params)
        if params.get("stream"):
            return self._open_stream(params, started, model)
        resource = self._flavor.resource(self._core.client)
        view = self._core.view
        if view is None:
            return self._uncached(resource.create(**params), started, model)
        request = self._core.key_request(params)
        box: dict[str, Any] = {}
        try:
            result: Any = view.get_or_call(request, lambda: self._paid(box, resource.create(**params)))
        except _Uncacheable as exc:
            result = exc
        return self._settle(view, request, box, result, started, model)

    def _open_stream(self, params: dict[str, Any], started: _Started, model: str) -> Stream[RawMessageStreamEvent]:
        core = self._core
        view = core.view
        pending = view.lookup(core.key_request(params)) if view is not None else None
        if pending is not None and pending.status == "hit":
            return Stream(
                cast_to=self._flavor.event, response=self._replay(pending, started, model), client=core.client
            )
        stream = self._recording(_RecordingStream, self._flavor.resource(core.client).create(**params))

        def done(data: dict[str, Any]) -> None:
            if view is not None and pending is not None and _cacheable(data):
                view.store(pending, data)
            self._streamed(pending, data, started, model)

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


class CachedAnthropic(_WrapperBase):
    """A wrapped `anthropic.Anthropic`: `messages.create` / `messages.stream` go through the response cache
    (`cache=None`: no response cache; breakpoints, usage and cost still work). `breakpoints`: `"keep"` sends
    the request as given, `"auto"` places markers with `promptkey.plan`, a `Plan` is applied to every request.
    `.last` is the last call's `CallRecord`, also passed to `on_call`. Other attributes are the client's."""

    _messages_class = CachedMessages
    messages: CachedMessages

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

    @property
    def client(self) -> _sdk.Anthropic:
        return self._core.client  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close the trace file this wrapper opened, then the SDK client (as `client.close()`)."""
        if self._core.trace is not None:
            self._core.trace.close()
        self._core.client.close()


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


class AsyncCachedMessages(_MessagesBase):
    """`client.messages` (or `client.beta.messages`) of an `AsyncAnthropic` with the response cache in front."""

    @overload
    async def create(self, *, stream: Literal[True], **params: Any) -> AsyncStream[RawMessageStreamEvent]: ...
    @overload
    async def create(self, *, stream: Literal[False] = ..., **params: Any) -> Message: ...
    @overload
    async def create(self, *, stream: bool, **params: Any) -> Message | AsyncStream[RawMessageStreamEvent]: ...
    async def create(self, **params: Any) -> Any:
        """As `anthropic.AsyncAnthropic().messages.create`."""
        started, params, model = self._start(params)
        if params.get("stream"):
            return await self._open_stream(params, started, model)
        resource = self._flavor.resource(self._core.client)
        view = self._core.view
        if view is None:
            return self._uncached(await resource.create(**params), started, model)
        request = self._core.key_request(params)
        box: dict[str, Any] = {}

        async def call() -> dict[str, Any]:
            return self._paid(box, await resource.create(**params))

        try:
            result: Any = await view.aget_or_call(request, call)
        except _Uncacheable as exc:
            result = exc
        return self._settle(view, request, box, result, started, model)

    async def _open_stream(
        self, params: dict[str, Any], started: _Started, model: str
    ) -> AsyncStream[RawMessageStreamEvent]:
        core = self._core
        view = core.view
        pending = await view.alookup(core.key_request(params)) if view is not None else None
        if pending is not None and pending.status == "hit":
            response = self._replay(pending, started, model)
            return AsyncStream(cast_to=self._flavor.event, response=response, client=core.client)
        raw = await self._flavor.resource(core.client).create(**params)
        stream = self._recording(_AsyncRecordingStream, raw)

        async def done(data: dict[str, Any]) -> None:
            if view is not None and pending is not None and _cacheable(data):
                await view.astore(pending, data)
            self._streamed(pending, data, started, model)

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


class AsyncCachedAnthropic(_WrapperBase):
    """The asyncio twin of `CachedAnthropic`, wrapping an `anthropic.AsyncAnthropic`."""

    _messages_class = AsyncCachedMessages
    messages: AsyncCachedMessages

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

    @property
    def client(self) -> _sdk.AsyncAnthropic:
        return self._core.client  # type: ignore[no-any-return]

    async def close(self) -> None:
        """Close the trace file this wrapper opened, then the SDK client (as `await client.close()`)."""
        if self._core.trace is not None:
            self._core.trace.close()
        await self._core.client.close()
