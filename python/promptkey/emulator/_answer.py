"""The emulator's deterministic answers (docs/emulator.md "Answers"): the same request always gets the same
content, and its `output_tokens` come from the emulator's tokenizer applied to that content.

1. `tool_choice` forces a tool (`{"type":"tool","name":...}`, or `{"type":"any"}` → the first custom tool): one
   `tool_use` block whose input is built from the tool's `input_schema`; `stop_reason: "tool_use"`.
2. A classifier-style prompt (the system or last user text says classify / label / categorize and lists the
   options): the first option named in the text to classify, else the first whose cue words (`LABEL_TABLE`) occur
   in it, else one picked by SHA-256 of that text.
3. Otherwise the last user text, echoed (text of `tool_result` content when the turn has no text; "OK" if none).
With `thinking` enabled (or adaptive) a short thinking block with a signature comes first.
Then `stop_sequences` (the earliest one found cuts the text: `stop_reason: "stop_sequence"`) and `max_tokens`
(the text is cut to fit: `"max_tokens"`; a tool call that does not fit is dropped; `max_tokens: 0` gives no
content at all).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_INSTRUCTION = re.compile(r"\b(classify|classification|label|categori[sz]e)\b", re.IGNORECASE)
_LIST_INTRO = re.compile(
    r"(?:\b(?:options|labels|categories|classes|choices)\b\s*(?:are|is)?\s*:?|\bone of\b\s*:?)[ \t]*(?P<rest>[^\n]*)",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(?P<item>.+?)\s*$", re.MULTILINE)
# cue words for common label sets: used when no option is named in the text (docs/emulator.md "Answers")
LABEL_TABLE: dict[str, tuple[str, ...]] = {
    "positive": ("love", "great", "excellent", "amazing", "good", "happy", "wonderful", "best", "thanks"),
    "negative": ("hate", "terrible", "awful", "bad", "worst", "broken", "angry", "refund", "disappointed"),
    "spam": ("winner", "free money", "click here", "prize", "unsubscribe", "viagra", "lottery"),
    "urgent": ("asap", "immediately", "urgent", "outage", "down", "emergency"),
    "question": ("?", "how do", "what is", "why does", "can i"),
    "billing": ("invoice", "charge", "refund", "payment", "billing", "price"),
    "technical": ("error", "bug", "crash", "exception", "install", "api"),
}
_SPLIT = re.compile(r"\s*(?:,|\||/|;|\bor\b)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    content: list[dict[str, Any]]
    stop_reason: str
    stop_sequence: str | None
    output_tokens: int


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = [b.get("text", "") for b in content or () if isinstance(b, Mapping) and b.get("type") == "text"]
    return "\n".join(p for p in parts if p)


def last_user_text(request: Mapping[str, Any]) -> str:
    for message in reversed(request.get("messages") or ()):
        if message.get("role") != "user":
            continue
        text = _text_of(message.get("content"))
        if text:
            return text
        for block in message.get("content") or ():  # a turn of tool results: echo what the tools said
            if isinstance(block, Mapping) and block.get("type") == "tool_result":
                text = _text_of(block.get("content"))
                if text:
                    return text
        return "OK"
    return "OK"


def _clean(option: str) -> str:
    return option.strip().strip("\"'`[](){}.").strip()


def parse_options(instructions: str) -> tuple[list[str], list[str]]:
    """The options a classifier prompt lists, and the spans that list them (to hide from matching)."""
    spans: list[str] = []
    match = _LIST_INTRO.search(instructions)
    if match and match.group("rest").strip():
        options = [_clean(o) for o in _SPLIT.split(match.group("rest"))]
        spans.append(match.group(0))
    else:
        bullets = list(_BULLET.finditer(instructions))
        options = [_clean(b.group("item")) for b in bullets]
        spans.extend(b.group(0) for b in bullets)
    seen: list[str] = []
    for option in options:
        if option and option not in seen and len(option) <= 64:
            seen.append(option)
    return seen, spans


def classify(request: Mapping[str, Any]) -> str | None:
    system = request.get("system")
    system_text = system if isinstance(system, str) else _text_of(system)
    user = last_user_text(request)
    instructions = f"{system_text}\n{user}"
    lowered_all = instructions.lower()
    # a substring test first: the regex alone costs ~40 us per KB of prompt
    if not any(cue in lowered_all for cue in ("classif", "label", "categori")) or not _INSTRUCTION.search(instructions):
        return None
    options, spans = parse_options(user) if _LIST_INTRO.search(user) or _BULLET.search(user) else ([], [])
    if len(options) < 2:
        options, spans = parse_options(system_text)
        spans = []  # the options sit in the system prompt: the whole user text is the input
    if len(options) < 2:
        return None
    subject = user
    for span in spans:
        subject = subject.replace(span, " ")
    lowered = subject.lower()
    for option in options:
        if re.search(rf"(?<!\w){re.escape(option.lower())}(?!\w)", lowered):
            return option
    for option in options:  # then the cue-word table, in the prompt's option order
        if any(cue in lowered for cue in LABEL_TABLE.get(option.lower(), ())):
            return option
    digest = hashlib.sha256(subject.strip().encode()).digest()
    return options[int.from_bytes(digest[:8], "big") % len(options)]


def example_value(schema: Any, name: str = "value", depth: int = 0) -> Any:
    """A value valid for common JSON Schemas: const/enum/default/examples first, then by type."""
    if not isinstance(schema, Mapping) or depth > 8:
        return None if depth > 8 else {}
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return example_value(schema[key][0], name, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else None)
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties") or {}
        wanted = schema.get("required", list(props))
        return {p: example_value(props.get(p, {}), p, depth + 1) for p in wanted if isinstance(p, str)}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1) or 1))
        return [example_value(schema.get("items", {}), name, depth + 1) for _ in range(count)]
    if kind == "string":
        if schema.get("format") == "date":
            return "2026-01-01"
        if schema.get("format") == "date-time":
            return "2026-01-01T00:00:00Z"
        text = f"example {name}"
        return text.ljust(int(schema.get("minLength", 0) or 0), "x")
    if kind == "integer":
        return int(schema.get("minimum", 0) or 0)
    if kind == "number":
        return schema.get("minimum", 0) or 0
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return {}


def _forced_tool(request: Mapping[str, Any]) -> Mapping[str, Any] | None:
    choice = request.get("tool_choice") or {}
    tools = [t for t in request.get("tools") or () if isinstance(t, Mapping)]
    if choice.get("type") == "tool":
        return next((t for t in tools if t.get("name") == choice.get("name")), None)
    if choice.get("type") == "any":
        return next((t for t in tools if "input_schema" in t), tools[0] if tools else None)
    return None


def build_answer(request: Mapping[str, Any], *, seq: str, count: Callable[[dict[str, Any]], int]) -> Answer:
    """The content for `request`; `seq` makes tool-use ids unique per response; `count(block)` gives tokens."""
    max_tokens = int(request.get("max_tokens", 0))
    if max_tokens == 0:  # pre-warm: no content at all
        return Answer([], "max_tokens", None, 0)
    thinking = request.get("thinking") or {}
    if thinking.get("type") not in ("enabled", "adaptive"):
        return _answer(request, seq=seq, count=count, max_tokens=max_tokens)
    # extended thinking: one short, deterministic thinking block first; it counts toward max_tokens
    user = last_user_text(request)
    thought = "" if thinking.get("display") == "omitted" else f"The request is {len(user.split())} words long."
    signature = hashlib.sha256(f"promptkey-emulator:{thought}:{user}".encode()).hexdigest()
    block = {"type": "thinking", "thinking": thought, "signature": signature}
    spent = count({"type": "text", "text": thought}) if thought else 0
    if spent >= max_tokens:
        return Answer([], "max_tokens", None, max_tokens)
    rest = _answer(request, seq=seq, count=count, max_tokens=max_tokens - spent)
    return Answer([block, *rest.content], rest.stop_reason, rest.stop_sequence, spent + rest.output_tokens)


def _answer(request: Mapping[str, Any], *, seq: str, count: Callable[[dict[str, Any]], int], max_tokens: int) -> Answer:
    tool = _forced_tool(request)
    if tool is not None:
        tool_input = example_value(tool.get("input_schema", {}), tool.get("name", "value"))
        digest = hashlib.sha256(f"{seq}:{json.dumps(tool_input, sort_keys=True)}".encode()).hexdigest()
        block = {"type": "tool_use", "id": f"toolu_{digest[:24]}", "name": tool.get("name"), "input": tool_input}
        tokens = count(block)
        if tokens > max_tokens:
            return Answer([], "max_tokens", None, max_tokens)
        return Answer([block], "tool_use", None, tokens)
    text = classify(request) or last_user_text(request)
    stop_reason, stop_sequence = "end_turn", None
    cut = len(text)
    for sequence in request.get("stop_sequences") or ():
        at = text.find(sequence) if isinstance(sequence, str) and sequence else -1
        if 0 <= at < cut:
            cut, stop_reason, stop_sequence = at, "stop_sequence", sequence
    text = text[:cut]
    tokens = count({"type": "text", "text": text}) if text else 0
    if tokens > max_tokens:  # the longest prefix that fits, by bisection over the tokenizer
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count({"type": "text", "text": text[:mid]}) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        text, tokens, stop_reason, stop_sequence = text[:lo].rstrip(), max_tokens, "max_tokens", None
    content = [{"type": "text", "text": text}] if text else []
    return Answer(content, stop_reason, stop_sequence, tokens)
