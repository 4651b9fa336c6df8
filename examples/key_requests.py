"""Key every request in examples/requests/ and measure keying throughput.

    python examples/key_requests.py [DIR]

Prints each request's cache key (and which cacheability flags it raises), shows that variants differing
only in what never changes the answer (key order, cache_control, metadata, stream, string spellings) share
one key, then measures how many requests per second `make_key` keys, next to canonical-but-slow rfc8785 +
hashlib when that package is installed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import promptkey
from promptkey._core import key_info


def load(directory: Path) -> dict[str, dict[str, Any]]:
    files = sorted(directory.glob("*.json"))
    if not files:
        raise SystemExit(f"no *.json requests in {directory}")
    return {f.stem: json.loads(f.read_text(encoding="utf-8")) for f in files}


def noise(request: dict[str, Any]) -> dict[str, Any]:
    """The same request as another client might send it: keys reversed, cache_control moved, metadata added."""
    variant = copy.deepcopy(request)
    for message in variant.get("messages", []):
        if isinstance(message.get("content"), list):
            for block in message["content"]:
                block.pop("cache_control", None)
                if block.get("type") == "text" and len(message["content"]) == 1:
                    message["content"] = block["text"]  # the one-string spelling
        else:
            message["content"] = [{"type": "text", "text": message["content"], "cache_control": {"type": "ephemeral"}}]
    variant["metadata"] = {"user_id": "someone-else"}
    variant["stream"] = not variant.get("stream", False)
    return dict(reversed(list(variant.items())))


def throughput(fn: Any, requests: list[dict[str, Any]], seconds: float = 0.5) -> float:
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for r in requests:
            fn(r)
        calls += len(requests)
    return calls / elapsed


def main(argv: list[str]) -> int:
    directory = Path(argv[1]) if len(argv) > 1 else Path(__file__).parent / "requests"
    requests = load(directory)
    width = max(map(len, requests))
    print(f"promptkey {promptkey.__version__}: keys of {len(requests)} requests in {directory}\n")
    for name, request in requests.items():
        key, sampling, server_tools = key_info(request)
        flags = [f for f, on in (("sampling", sampling), ("server-tools", server_tools)) if on]
        same = promptkey.make_key(noise(request)) == key
        size = len(json.dumps(request, ensure_ascii=False).encode())
        note = "  [" + ", ".join(flags) + "]" if flags else ""
        print(f"  {name:<{width}}  {key}  {size:>5} B  noisy variant: {'same key' if same else 'DIFFERENT'}{note}")

    batch = list(requests.values())
    rate = throughput(promptkey.make_key, batch)
    print(f"\nmake_key: {rate:,.0f} requests/s ({1e6 / rate:.2f} µs per request)")
    try:
        import rfc8785
    except ImportError:
        return 0
    slow = throughput(lambda r: hashlib.sha256(rfc8785.dumps(r)).hexdigest(), batch)
    print(f"rfc8785 + hashlib: {slow:,.0f} requests/s ({rate / slow:.0f}× slower, and without the key-material rules)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
