# Copied from shared/reference/payloads.py (promptkey design docs); unchanged below this line.
"""Three representative LLM-request payloads (deterministic): SMALL ~0.6 KB, MEDIUM ~21 KB, LARGE ~207 KB. Shapes follow the pre-2026-10 Messages API (they still carry temperature/top_p)."""
import random

_WORDS = ("the of and to in is you that it he was for on are as with his they at be this have from or one had by "
          "word but not what all were we when your can said there use an each which she do how their if will up other "
          "about out many then them these so some her would make like him into time has look two more write go see "
          "number no way could people my than first water been call who oil its now find long down day did get come "
          "made may part request model token cache prefix system assistant function schema argument result").split()
_INTL = ["café", "naïve", "—", "“quoted”", "über", "日本語", "résumé", "Ω", "😀"]


def text(n_chars: int, seed: int, intl_every: int = 40) -> str:
    r = random.Random(seed)
    out, size, i = [], 0, 0
    while size < n_chars:
        i += 1
        w = _INTL[r.randrange(len(_INTL))] if intl_every and i % intl_every == 0 else _WORDS[r.randrange(len(_WORDS))]
        if i % 17 == 0:
            w += "."
        if i % 97 == 0:
            w += "\n"
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n_chars]


def tool(name: str, seed: int) -> dict:
    r = random.Random(seed)
    props = {}
    for j in range(6):
        pname = f"{_WORDS[r.randrange(len(_WORDS))]}_{j}"
        kind = ["string", "integer", "number", "boolean", "array", "object"][j % 6]
        p = {"type": kind, "description": text(60, seed * 100 + j, 0)}
        if kind == "string":
            p["enum"] = ["alpha", "beta", "gamma"]
        if kind == "array":
            p["items"] = {"type": "string"}
        if kind == "object":
            p["properties"] = {"x": {"type": "number"}, "y": {"type": "number"}}
            p["additionalProperties"] = False
        if kind == "number":
            p["minimum"] = 0
            p["maximum"] = 1.5
        props[pname] = p
    return {
        "name": name,
        "description": text(200, seed, 0),
        "input_schema": {"type": "object", "properties": props, "required": sorted(props)[:3]},
    }


TOOLS = [tool(n, i) for i, n in enumerate(["get_weather", "search_docs", "run_sql", "send_email"], start=1)]

SMALL = {
    "model": "claude-3-5-haiku-20241022",
    "system": text(300, 11),
    "messages": [{"role": "user", "content": text(200, 12)}],
    "temperature": 0,
    "max_tokens": 10,
}

_turns = []
for t in range(10):
    role = "user" if t % 2 == 0 else "assistant"
    if role == "assistant" and t == 3:
        content = [
            {"type": "text", "text": text(300, 100 + t)},
            {"type": "tool_use", "id": f"toolu_{t:04d}", "name": "search_docs",
             "input": {"query": text(40, 7, 0), "limit": 5, "score": 0.25}},
        ]
    elif role == "user" and t == 4:
        content = [{"type": "tool_result", "tool_use_id": "toolu_0003", "content": text(1200, 100 + t)}]
    else:
        content = [{"type": "text", "text": text(1050, 100 + t)}]
    _turns.append({"role": role, "content": content})

MEDIUM = {
    "model": "claude-sonnet-4-20250514",
    "system": [{"type": "text", "text": text(6000, 21), "cache_control": {"type": "ephemeral"}}],
    "tools": TOOLS,
    "messages": _turns,
    "temperature": 1.0,        # integral float: JCS -> 1, json/orjson -> 1.0
    "top_p": 0.95,
    "max_tokens": 1024,
    "stream": False,
    "metadata": {"user_id": "u-1234"},
    "stop_sequences": None,
}

LARGE = {
    "model": "claude-sonnet-4-20250514",
    "system": "You are a careful document analyst.",
    "tools": TOOLS,
    "messages": [{"role": "user", "content": [
        {"type": "text", "text": "<document>\n" + text(200_000, 31) + "\n</document>"},
        {"type": "text", "text": "Summarize the document above in five bullet points."},
    ]}],
    "temperature": 0.2,
    "max_tokens": 2048,
}

PAYLOADS = {"SMALL": SMALL, "MEDIUM": MEDIUM, "LARGE": LARGE}
