"""A stampede of 32 identical requests through the response cache: the "model" runs once.

    python examples/response_cache.py                          # in-process MemoryStore
    python examples/response_cache.py redis://localhost:6379/0 # Redis: run it in two terminals at once

The model is a stand-in (a function that sleeps 0.5 s and returns a Messages-API-shaped answer), so the
example needs no API key. Prints each caller's status, how many times the model ran, and the stats.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from typing import Any

from promptkey import MemoryStore, RedisStore, ResponseCache

REQUEST = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 256,
    "system": "Classify the ticket as billing, bug or other. Answer with one word.",
    "messages": [{"role": "user", "content": "I was charged twice for my subscription this month."}],
}
model_calls = 0


def model() -> dict[str, Any]:
    global model_calls
    model_calls += 1
    time.sleep(0.5)
    return {
        "content": [{"type": "text", "text": "billing"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 38, "output_tokens": 2},
    }


def main(url: str | None) -> int:
    store = RedisStore.from_url(url) if url else MemoryStore()
    with ResponseCache(store, namespace="example", ttl=60, cacheable=lambda v: v["stop_reason"] == "end_turn") as cache:
        statuses: Counter[str] = Counter()
        lock = threading.Lock()

        def caller() -> None:
            res = cache.get_or_call(REQUEST, model)
            with lock:
                statuses[res.status] += 1

        threads = [threading.Thread(target=caller) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        again = cache.get_or_call(REQUEST, model)
        print(f"32 concurrent callers: {dict(sorted(statuses.items()))}; model calls in this process: {model_calls}")
        print(f"one more call: {again.status} -> {again.value['content'][0]['text']!r}")
        s = cache.stats
        print(f"stats: calls={s.calls} hit_rate={s.hit_rate:.2f} stampede_rate={s.stampede_rate:.0f} errors={s.errors}")
        print(f"key: {again.key}")
    if url:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
