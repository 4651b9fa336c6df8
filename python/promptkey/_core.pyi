"""Stubs for the native module ``promptkey._core``; the user-facing docstrings live here."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, SupportsIndex, TypeAlias, final

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

# --- prefix blocks, chain, diff, tokenizers (rust/py_prefix.rs, rust/py_diff.rs) ---

# PyO3's `m.add` also maintains the module's `__all__`, which stubtest compares with the stub's.
__all__ += [
    "Block",
    "Divergence",
    "PrefixChain",
    "diff",
    "prefix_blocks",
    "set_thinking_in_system_models",
    "thinking_in_system_models",
]
__all__ += ["_validate_breakpoints"]

_Tokenizer: TypeAlias = Callable[[dict[str, Any]], SupportsIndex]
"""A tokenizer: called with one normalized block (a dict: a tool definition, a system block or a message
content block, as ``json.loads`` of its fingerprint) and returning its token count (an int >= 0)."""

@final
class Block:
    """One block of a request's prompt-cache prefix (tools → system → messages)."""

    @property
    def index(self) -> int:
        """0-based position in tools → system → messages order."""
    @property
    def section(self) -> Literal["tools", "system", "messages"]: ...
    @property
    def path(self) -> str:
        """Where the block is in the request: ``tools[1]``, ``system[0]``, ``messages[2].content[1]``."""
    @property
    def kind(self) -> str:
        """The block's ``type`` (``text``, ``image``, ``tool_use``...), or ``"tool"`` for a tool definition."""
    @property
    def tokens(self) -> int:
        """The block's tokens, as counted by ``tokenizer``."""
    @property
    def digest(self) -> str:
        """Hex SHA-256 chained over the model, every block up to this one and their contexts."""
    @property
    def breakpoint(self) -> Literal["5m", "1h"] | None:
        """The block's ``cache_control`` TTL, including a resolved top-level ``cache_control``."""
    @property
    def automatic(self) -> bool:
        """True when ``breakpoint`` came from the request's top-level ``cache_control``."""
    @property
    def cacheable(self) -> bool:
        """False for blocks that cannot carry a marker: thinking, redacted thinking, empty text."""
    @property
    def message_index(self) -> int | None:
        """For message blocks, the index of the message."""
    @property
    def tokenizer(self) -> str:
        """Which tokenizer counted ``tokens``: ``estimate:classic``, ``estimate:newer`` or a callable's name."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def prefix_blocks(request: Mapping[str, Any], /, *, tokenizer: _Tokenizer | None = None) -> list[Block]:
    """The blocks of ``request`` with chained prefix digests (DESIGN §2).

    Args:
        request: the keyword arguments of ``client.messages.create`` (dicts or the SDK's objects).
        tokenizer: counts one block's tokens; default: the per-model-family estimate (a ``UserWarning``
            for a model the table does not know).

    Raises:
        CanonicalizationError: NaN/Infinity, a lone surrogate, a cycle, nesting beyond 1,000 levels.
        UnsupportedTypeError: a value with no JSON meaning, or a non-``str`` key.
        PromptCacheError: a ``cache_control`` the API would reject, a block without ``type``, no ``model``.
    """

@final
class PrefixChain:
    """A request's prefix that grows turn by turn: ``append`` hashes only the new blocks, unless the new
    turn flips a whole-prompt context flag (the first image, the first citations-enabled document); then
    every block is re-chained and ``append`` returns True."""

    def __new__(cls, request: Mapping[str, Any], /, *, tokenizer: _Tokenizer | None = None) -> PrefixChain: ...
    def append(self, message: Mapping[str, Any] | Any, /) -> bool:
        """Appends one message (a dict, a ``MessageParam`` or a response ``Message``).

        Returns:
            True when a whole-prompt context flag flipped and the whole chain was recomputed.
        """
    @property
    def blocks(self) -> list[Block]:
        """Equal to ``prefix_blocks`` of the whole request, appended messages included."""
    @property
    def digest(self) -> str:
        """The chained digest of the last block (of the model alone when there are no blocks)."""
    @property
    def recomputations(self) -> int:
        """How many ``append`` calls recomputed the whole chain."""
    @property
    def tokenizer(self) -> str: ...
    @property
    def tokens(self) -> int:
        """The sum of the blocks' tokens."""
    def __len__(self) -> int: ...

@final
class Divergence:
    """Where two requests stop sharing a cacheable prefix, and why; ``str()`` is one sentence."""

    @property
    def index(self) -> int:
        """The first block of ``before`` that is no longer a cached prefix."""
    @property
    def path(self) -> str:
        """That block's path (for ``inserted``, the new block's path in ``after``)."""
    @property
    def section(self) -> Literal["tools", "system", "messages"]: ...
    @property
    def change(
        self,
    ) -> Literal[
        "modified",
        "inserted",
        "removed",
        "reordered",
        "model",
        "tool_choice",
        "thinking",
        "effort",
        "images",
        "speed",
        "citations",
        "web_search",
    ]: ...
    @property
    def offset(self) -> int | None:
        """For ``modified``: 0-based code points into the block's text (text and thinking blocks) or its
        fingerprint JSON; ``None`` otherwise."""
    @property
    def before(self) -> str:
        """An excerpt of what changed, as it was."""
    @property
    def after(self) -> str:
        """An excerpt of what changed, as it is now."""
    @property
    def tokens_kept(self) -> int:
        """Tokens of ``before`` ahead of the divergence (still a cached prefix)."""
    @property
    def tokens_lost(self) -> int:
        """Tokens of ``before`` from the divergence on (no longer a cached prefix)."""
    @property
    def tokenizer(self) -> str: ...

def diff(
    before: Mapping[str, Any], after: Mapping[str, Any], /, *, tokenizer: _Tokenizer | None = None
) -> Divergence | None:
    """The first block where ``after`` stops sharing ``before``'s cacheable prefix, or None when ``after``
    starts with every block of ``before`` under the same model and context (it may add blocks)."""

def set_thinking_in_system_models(models: list[str], /) -> None:
    """Models that render thinking and effort ahead of the system prompt (changing them then also
    invalidates system). Empty by default; names match after a trailing ``-YYYYMMDD`` is stripped."""

def thinking_in_system_models() -> list[str]: ...
def _validate_breakpoints(request: Mapping[str, Any], /) -> None:
    """Raises ``PromptCacheError`` with the API's own 400 text for the request's ``cache_control`` markers
    (more than 4, a 1h after a 5m, a top-level marker over a different TTL, a marker on a block that
    cannot carry one). The simulator runs this on every submission."""

# --- simulator (rust/py_simulator.rs) ---

__all__ += ["PreparedRequest", "PromptCacheSimulator"]

@final
class PreparedRequest:
    """A request read once into prefix blocks (digests, token counts) and validated, for repeated
    submission to a `PromptCacheSimulator` without re-reading it. Made by `PromptCacheSimulator.prepare`."""

    @property
    def model(self) -> str: ...
    @property
    def tokens(self) -> int:
        """Total input tokens of the request (the sum of its blocks)."""
    def __len__(self) -> int:
        """Number of prefix blocks."""

@final
class PromptCacheSimulator:
    """Anthropic's prompt cache, simulated: what each request would read, write and be billed.

    Args:
        clock: any object with a ``time()`` method returning seconds (default: ``time.time``).
        tokenizer: a callable ``tokenizer(block: dict) -> int`` counting one block's tokens (default:
            the per-model estimate).
        min_tokens: the minimum cacheable prefix: one int for every model, or a mapping model -> int
            (matched verbatim, then without a ``-YYYYMMDD`` date) over the built-in table. An unknown
            model uses 1,024 with a ``UserWarning`` (once per model).
    """

    def __new__(
        cls,
        *,
        clock: Any | None = None,
        tokenizer: _Tokenizer | None = None,
        min_tokens: int | Mapping[str, int] | None = None,
    ) -> PromptCacheSimulator: ...
    def prepare(self, request: Mapping[str, Any], /) -> PreparedRequest:
        """Read and validate `request` once (raises `PromptCacheError` as `submit` would)."""
    def submit(
        self,
        request: Mapping[str, Any] | PreparedRequest,
        /,
        *,
        api_key: str = "default",
        first_token_after: float = 0.0,
        now: float | None = None,
    ) -> dict[str, Any]:
        """Submit one request and return the ``usage`` Anthropic would bill.

        Returns ``{"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
        "cache_creation": {"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"},
        "output_tokens": 0}`` (output is not simulated). `api_key` is the cache scope (workspace);
        entries are also scoped by model. The request starts at `now` (default: ``clock.time()``)
        and its entries become readable `first_token_after` seconds later.

        Raises:
            PromptCacheError: more than 4 markers, a 1h marker after a 5m one, a marker on a block
                that cannot carry one (the API's own messages).
        """
    def submit_many(
        self,
        trace: Iterable[tuple[float, Mapping[str, Any] | PreparedRequest]],
        /,
        *,
        api_key: str = "default",
        first_token_after: float = 0.0,
    ) -> list[dict[str, Any]]:
        """Submit `(timestamp, request)` pairs in order; their usage dicts."""
    def explain(self) -> list[dict[str, Any]]:
        """One record per breakpoint of the last submission.

        Keys: ``index``, ``path``, ``section``, ``ttl``, ``automatic``, ``prefix_tokens``, ``reason``
        (``hit``, ``never_written``, ``expired``, ``below_minimum``, ``outside_lookback``,
        ``in_flight``, ``other_scope``), ``hit_index``, ``hit_path``, ``wrote``, ``tokens_written`` and
        ``message`` (e.g. "expired: last read 412 s ago, TTL 300 s; wrote 6,000 tokens (5m)").
        """
    def clear(self) -> None:
        """Forget every entry, in every scope."""
    def __len__(self) -> int:
        """Entries held (live or recently expired), over all scopes."""

# --- planner (rust/py_planner.rs) ---

__all__ += ["_plan", "_trace_reuse", "_volatile"]

def _volatile(obj: Any, path: str, /) -> tuple[str, str, int, str] | None:
    """The first date, timestamp, time of day, uuid, unix timestamp or request id in the strings of a
    block: ``(path, what, code-point offset, value)``."""

def _plan(
    request: Mapping[str, Any],
    /,
    *,
    model: str | None = None,
    ttl: str = "auto",
    reuse: Mapping[str, Any] | None = None,
    rate: float | None = None,
    tokenizer: _Tokenizer | None = None,
    max_breakpoints: int = 4,
    prices: Mapping[str, float] | None = None,
    strict_reuse: bool = True,
) -> dict[str, Any]:
    """The planner's raw outcome; use `promptkey.plan`."""

def _trace_reuse(
    trace: Iterable[tuple[float, Mapping[str, Any]]],
    /,
    *,
    tokenizer: _Tokenizer | None = None,
) -> dict[str, tuple[float, float]]:
    """Per block position, the share of requests whose prefix was seen within 5 min and within 1 h."""
