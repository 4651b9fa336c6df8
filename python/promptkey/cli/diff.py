"""`promptkey diff BEFORE.json AFTER.json`: where two requests stop sharing a cached prompt prefix.

Prints the blocks around the divergence (index, path, kind, tokens, breakpoint, whether the block is
still a cached prefix) and one sentence naming the cause. Exit status: 0 when AFTER reuses BEFORE's whole
prefix, 1 when it diverges, 2 when a file cannot be read or is not a valid request.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from promptkey import Block, Divergence, PromptKeyError, diff, prefix_blocks


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="show where two requests stop sharing a cached prompt prefix",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument(
        "before", type=Path, help="the earlier request (JSON: the kwargs of messages.create; - for stdin)"
    )
    parser.add_argument("after", type=Path, help="the later request (- for stdin)")
    parser.add_argument("--context", type=int, default=3, metavar="N", help="blocks shown on each side (default 3)")
    parser.add_argument("--json", action="store_true", help="print the divergence as JSON instead of a table")
    parser.set_defaults(func=run)


def _load(path: Path) -> dict[str, Any]:
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise TypeError(f"{path}: a request is a JSON object, got {type(data).__name__}")
    return data


def _row(block: Block, status: str, label: str | None = None) -> str:
    bp: str = block.breakpoint or ""
    if block.automatic:
        bp += " (top-level)"
    label = str(block.index) if label is None else label
    return f"{label:>5}  {block.path:<28} {block.kind:<18} {block.tokens:>9,}  {bp:<16} {status}"


def render(before: list[Block], after: list[Block], divergence: Divergence | None, context: int) -> str:
    """The table of blocks around the divergence and its sentence."""
    tokenizer = before[0].tokenizer if before else (after[0].tokenizer if after else "none")
    lines = [f"{'#':>5}  {'path':<28} {'kind':<18} {'tokens':>9}  {'breakpoint':<16} status"]
    if divergence is None:
        shown = before[-context:] if context > 0 else []
        if len(before) > len(shown):
            lines.append(f"{'':>5}  … {len(before) - len(shown)} earlier blocks, all cached prefix")
        lines += [_row(b, "same") for b in shown]
        extra = after[len(before) :]
        lines += [_row(b, "new in after") for b in extra[:context]]
        if len(extra) > context:
            lines.append(f"{'':>5}  … {len(extra) - context} more new blocks")
        total = sum(b.tokens for b in before)
        lines.append("")
        lines.append(
            f"identical prefix: after reuses all {len(before)} blocks ({total:,} tokens) of before "
            f"(tokens: {tokenizer})"
        )
        return "\n".join(lines)
    i = divergence.index
    start, end = max(0, i - context), min(len(before), i + context + 1)
    if start > 0:
        lines.append(f"{'':>5}  … {start} earlier blocks, still a cached prefix")
    for b in before[start:end]:
        status = "same" if b.index < i else ("✗ " + divergence.change if b.index == i else "✗ lost")
        lines.append(_row(b, status))
    if end < len(before):
        rest = sum(b.tokens for b in before[end:])
        lines.append(f"{'':>5}  … {len(before) - end} later blocks ({rest:,} tokens), no longer cached")
    if i < len(after) and divergence.change in ("modified", "inserted", "reordered"):
        lines.append(_row(after[i], f"← block {i} in after", label="after"))
    lines.append("")
    lines.append(str(divergence))
    lines.append(
        f"kept {divergence.tokens_kept:,} tokens, lost {divergence.tokens_lost:,} (tokens: {divergence.tokenizer})"
    )
    hint = HINTS.get(divergence.change)
    if hint:
        lines.append(f"hint: {hint}")
    return "\n".join(lines)


# What usually fixes each kind of divergence (the docs' invalidation rules, in one line each).
HINTS = {
    "modified": "a change re-writes everything after it; keep values that change between requests (dates, ids, "
    "user data) after the last cache breakpoint, e.g. in the final user message",
    "inserted": "tools and system render first: add tools and system blocks at the end, or keep the set fixed",
    "removed": "removing a block re-writes everything after it; keep tools and system blocks stable",
    "reordered": "build tools and system blocks in a fixed order (sort tools by name, keep JSON key order stable)",
    "model": "caches are per model: a model switch starts from an empty cache",
    "tool_choice": "tool_choice changes re-write all messages; keep it constant across a conversation",
    "thinking": "thinking settings are part of the messages cache; keep them constant across a conversation",
    "effort": "output_config.effort is part of the messages cache; keep it constant across a conversation",
    "images": "adding or removing the first image re-writes all messages",
    "speed": "the speed setting invalidates system and messages; keep it constant",
    "citations": "turning citations on or off invalidates system and messages",
    "web_search": "server tools (web search/fetch, code execution) are rendered into the system prompt; keep them "
    "constant",
}


def run(args: argparse.Namespace) -> int:
    try:
        before_req, after_req = _load(args.before), _load(args.after)
        divergence = diff(before_req, after_req)
        before, after = prefix_blocks(before_req), prefix_blocks(after_req)
    except (OSError, ValueError, TypeError, PromptKeyError) as exc:
        where = f" at {exc.path}" if isinstance(exc, PromptKeyError) and exc.path else ""
        message = exc.message if isinstance(exc, PromptKeyError) else str(exc)
        print(f"promptkey diff: {message}{where}", file=sys.stderr)
        return 2
    if args.json:
        out: dict[str, Any] | None = None
        if divergence is not None:
            fields = ("index", "path", "section", "change", "offset", "before", "after", "tokens_kept", "tokens_lost")
            out = {name: getattr(divergence, name) for name in fields}
            out["tokenizer"] = divergence.tokenizer
            out["message"] = str(divergence)
        print(json.dumps({"divergence": out}, ensure_ascii=False, indent=2))
    else:
        print(render(before, after, divergence, max(0, args.context)))
    return 0 if divergence is None else 1
