"""Request validation with the Messages API's statuses and texts (docs/emulator.md lists every check).

Cache-control rules (more than 4 breakpoints, TTL order) are not checked here: the simulator owns them and
raises `PromptCacheError` with the API's text, which the server turns into the same 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

VERSIONS = ("2023-06-01", "2026-10-21")
#: *decision*: a request without `anthropic-version` is treated as the current version (the real API rejects it;
#: being lenient lets `curl` users try the emulator without ceremony).
DEFAULT_VERSION = "2026-10-21"

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

_SAMPLING = ("temperature", "top_p", "top_k")
# top-level members the Messages API accepts (SDK 2.12 `messages.create`); anything else is "Extra inputs"
_KNOWN = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "tools",
        "tool_choice",
        "stream",
        "stop_sequences",
        "metadata",
        "cache_control",
        "container",
        "context_management",
        "diagnostics",
        "inference_geo",
        "mcp_servers",
        "output_config",
        "service_tier",
        "speed",
        "thinking",
        "user_profile_id",
        "workspace_id",
    }
)
_COUNT_KNOWN = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "cache_control", "mcp_servers", "output_config", "speed"}
    | {"thinking", "context_management", "output_format", "user_profile_id", "workspace_id"}
)


class ApiError(Exception):
    """An HTTP error answer: status, the API's `error.type`, and its message."""

    def __init__(self, status: int, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or ERROR_TYPES.get(status, "api_error")


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _check_text_blocks(blocks: Any, where: str) -> None:
    if not isinstance(blocks, list):
        raise _bad(f"{where}: Input should be a valid list")
    for i, block in enumerate(blocks):
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            raise _bad(f"{where}.{i}: Input should be a valid dictionary with a 'type'")
        if block["type"] == "text":
            text = block.get("text")
            if not isinstance(text, str):
                raise _bad(f"{where}.{i}.text: Field required")
            if text == "":
                raise _bad(f"{where.split('.')[0]}: text content blocks must be non-empty")
            if not text.strip():
                raise _bad(f"{where.split('.')[0]}: text content blocks must contain non-whitespace text")


def validate(body: Any, *, version: str, count_only: bool = False, beta: bool = False) -> None:
    """Raise `ApiError` (400) for what the API would reject; return None for a request it would accept.
    Beta requests (an `anthropic-beta` header, or `?beta=true`) may carry members this emulator does not know:
    they are not checked."""
    if not isinstance(body, Mapping):
        raise _bad("request body must be a json object")
    if version != "2023-06-01":  # 2026-10-21 removed sampling parameters, even at their default values
        for name in _SAMPLING:
            if name in body:
                raise _bad(f"{name}: Extra inputs are not permitted")
    known = _COUNT_KNOWN if count_only else _KNOWN
    for name in body:
        if not beta and name not in known and not (version == "2023-06-01" and name in _SAMPLING and not count_only):
            raise _bad(f"{name}: Extra inputs are not permitted")
    required = ("model", "messages") if count_only else ("max_tokens", "messages", "model")
    for name in required:
        if name not in body:
            raise _bad(f"{name}: Field required")
    if not isinstance(body["model"], str) or not body["model"]:
        raise _bad("model: Input should be a valid string")
    if not count_only:
        max_tokens = body["max_tokens"]
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
            raise _bad("max_tokens: Input should be a valid integer")
        if max_tokens < 0:
            raise _bad("max_tokens: Input should be greater than or equal to 0")
        if "stream" in body and not isinstance(body["stream"], bool):
            raise _bad("stream: Input should be a valid boolean")
    if version == "2023-06-01":
        temperature = body.get("temperature")
        if temperature is not None and (not isinstance(temperature, (int, float)) or not 0 <= temperature <= 1):
            raise _bad("temperature: Input should be less than or equal to 1")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _bad("messages: Input should be a valid list")
    if not messages:
        raise _bad("messages: at least one message is required")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise _bad(f"messages.{i}: Input should be a valid dictionary")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise _bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if "content" not in message:
            raise _bad(f"messages.{i}.content: Field required")
        content = message["content"]
        if isinstance(content, str):
            if content and not content.strip():
                raise _bad("messages: text content blocks must contain non-whitespace text")
            if content == "" and not (role == "assistant" and i == len(messages) - 1):
                raise _bad(
                    f"messages.{i}: all messages must have non-empty content except for the optional final assistant message"
                )
        else:
            _check_text_blocks(content, f"messages.{i}.content")
            if not content and not (role == "assistant" and i == len(messages) - 1):
                raise _bad(
                    f"messages.{i}: all messages must have non-empty content except for the optional final assistant message"
                )
    last = messages[-1]
    if last.get("role") == "assistant":  # a prefill the model continues from
        tail = last["content"] if isinstance(last["content"], str) else ""
        if isinstance(last["content"], list) and last["content"]:
            final = last["content"][-1]
            tail = final.get("text", "") if final.get("type") == "text" else ""
        if tail and tail != tail.rstrip():
            raise _bad("messages: final assistant content cannot end with trailing whitespace")
    _check_tool_pairs(messages)
    # *decision*: like the API before 2025, the first message must be a user turn (docs/emulator.md)
    if messages[0].get("role") != "user":
        raise _bad('messages: first message must use the "user" role')
    system = body.get("system")
    if system is not None and not isinstance(system, str):
        _check_text_blocks(system, "system")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _bad("tools: Input should be a valid list")
        names = set()
        for i, tool in enumerate(tools):
            if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
                raise _bad(f"tools.{i}.name: Field required")
            if tool["name"] in names:
                raise _bad(f"tools: Tool names must be unique. Found duplicate: {tool['name']}")
            names.add(tool["name"])
    thinking = body.get("thinking")
    if thinking is not None:
        if not isinstance(thinking, Mapping) or thinking.get("type") not in ("enabled", "disabled", "adaptive"):
            raise _bad("thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'")
        if thinking["type"] == "enabled":
            budget = thinking.get("budget_tokens")
            if isinstance(budget, bool) or not isinstance(budget, int):
                raise _bad("thinking.enabled.budget_tokens: Field required")
            if budget < 1024:
                raise _bad("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
            if not count_only and body["max_tokens"] <= budget:
                raise _bad(
                    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation "
                    "at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
                )
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, Mapping) or choice.get("type") not in ("auto", "any", "tool", "none"):
            raise _bad("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
        if choice["type"] in ("any", "tool") and not tools:
            raise _bad(f"tool_choice: tool_choice.type '{choice['type']}' requires tools to be provided")
        if choice["type"] == "tool" and choice.get("name") not in {t.get("name") for t in tools or ()}:
            raise _bad(f"tool_choice.name: Tool '{choice.get('name')}' not found in tools")


def _ids(content: Any, kind: str, key: str) -> list[str]:
    if not isinstance(content, list):
        return []
    return [str(b.get(key)) for b in content if isinstance(b, Mapping) and b.get("type") == kind]


def _check_tool_pairs(messages: list[Any]) -> None:
    """Every `tool_result` answers a `tool_use` of the previous (assistant) message, and every `tool_use` that is
    not in the last message is answered in the next one."""
    for i, message in enumerate(messages):
        content = message.get("content")
        if message.get("role") == "user":
            previous = messages[i - 1] if i > 0 and messages[i - 1].get("role") == "assistant" else {}
            uses = set(_ids(previous.get("content"), "tool_use", "id"))
            blocks = content if isinstance(content, list) else []
            for k, block in enumerate(blocks):
                if not isinstance(block, Mapping) or block.get("type") != "tool_result":
                    continue
                result = str(block.get("tool_use_id"))
                if result not in uses:
                    raise _bad(
                        f"messages.{i}.content.{k}: unexpected `tool_use_id` found in `tool_result` blocks: {result}. "
                        "Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                    )
        elif i + 1 < len(messages):
            following = messages[i + 1]
            answered = (
                set(_ids(following.get("content"), "tool_result", "tool_use_id"))
                if following.get("role") == "user"
                else set()
            )
            missing = [u for u in _ids(content, "tool_use", "id") if u not in answered]
            if missing:
                raise _bad(
                    f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block in the "
                    "next message."
                )
