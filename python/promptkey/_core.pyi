"""Stubs for the native module ``promptkey._core``; the user-facing docstrings live here."""

from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeAlias, final

__version__: str
__all__ = ["__version__"]  # each section below extends this list

# --- keys (rust/py_keys.rs) ---

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

_Tokenizer: TypeAlias = Callable[[dict[str, Any]], int]
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

# --- planner (rust/py_planner.rs) ---
