"""A Messages request heavy in non-ASCII text (CJK, Cyrillic, accents, emoji), for the keying benchmarks.

Deterministic (seeded); about 60 KB of UTF-8, two thirds of it multi-byte characters. The SMALL, MEDIUM and
LARGE payloads live in payloads.py (copied from the design docs).
"""

from __future__ import annotations

import random
from typing import Any

_POOLS = (
    "日本語の文章はキャッシュのキーを計算するときにも正しく扱われなければならない",
    "中文文本包含许多汉字，例如缓存、模型、请求和响应",
    "한국어 문장도 포함되어 있습니다 캐시 키",
    "Русский текст с кириллицей и знаками препинания",
    "café naïve résumé über façade jalapeño",
    "😀🚀🎉👍🔥✨🌍📦",
)


def intl_text(n_chars: int, seed: int) -> str:
    r = random.Random(seed)
    out: list[str] = []
    size = 0
    while size < n_chars:
        pool = _POOLS[r.randrange(len(_POOLS))]
        start = r.randrange(len(pool))
        piece = pool[start : start + r.randrange(4, 16)]
        if r.random() < 0.15:
            piece += " the cache key "
        out.append(piece)
        size += len(piece)
    return "".join(out)[:n_chars]


INTL: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 1024,
    "system": [{"type": "text", "text": intl_text(4000, 1), "cache_control": {"type": "ephemeral"}}],
    "tools": [
        {
            "name": f"検索_{i}",
            "description": intl_text(300, 10 + i),
            "input_schema": {
                "type": "object",
                "properties": {"クエリ": {"type": "string", "description": intl_text(80, 20 + i)}},
                "required": ["クエリ"],
            },
        }
        for i in range(3)
    ],
    "messages": [
        {"role": "user" if t % 2 == 0 else "assistant", "content": intl_text(2500, 100 + t)} for t in range(8)
    ],
}
