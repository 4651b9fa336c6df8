"""Stubs for the native module ``promptkey._core``; the user-facing docstrings live here."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

__version__: str

# --- keys (rust/py_keys.rs) ---

# --- prefix blocks, chain, diff, tokenizers (rust/py_prefix.rs) ---

# --- simulator (rust/py_simulator.rs) ---

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

    def __init__(
        self,
        *,
        clock: Any | None = None,
        tokenizer: Callable[[dict[str, Any]], int] | None = None,
        min_tokens: int | Mapping[str, int] | None = None,
    ) -> None: ...
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

def _plan(
    request: Mapping[str, Any],
    /,
    *,
    model: str | None = None,
    ttl: str = "auto",
    reuse: Mapping[str, Any] | None = None,
    rate: float | None = None,
    tokenizer: Callable[[dict[str, Any]], int] | None = None,
    max_breakpoints: int = 4,
    prices: Mapping[str, float] | None = None,
    strict_reuse: bool = True,
) -> dict[str, Any]:
    """The planner's raw outcome; use `promptkey.plan`."""

def _trace_reuse(
    trace: Iterable[tuple[float, Mapping[str, Any]]],
    /,
    *,
    tokenizer: Callable[[dict[str, Any]], int] | None = None,
) -> dict[str, tuple[float, float]]:
    """Per block position, the share of requests whose prefix was seen within 5 min and within 1 h."""
