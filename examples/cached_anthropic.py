"""CachedAnthropic in one screen, runnable without an API key: the real `anthropic` SDK talks to promptkey's
emulator on loopback (point `base_url` at the real API and nothing else changes).

    python examples/cached_anthropic.py
"""

from __future__ import annotations

import anthropic
import promptkey
from promptkey.anthropic import CachedAnthropic
from promptkey.emulator import serve

HANDBOOK = "Our return policy, in detail. " + " ".join(f"Clause {i}: returns within 30 days." for i in range(300))


def ask(client: CachedAnthropic, question: str) -> None:
    message = client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=200,
        system=HANDBOOK,
        messages=[{"role": "user", "content": question}],
    )
    r = client.last
    assert r is not None
    usage = message.usage if r.status != "hit" else None
    read = usage.cache_read_input_tokens if usage else 0
    written = usage.cache_creation_input_tokens if usage else 0
    print(
        f"{r.status:<6} cost ${r.cost or 0:.6f}  saved ${r.saved:.6f}  "
        f"prompt cache: read {read or 0:>5}, wrote {written or 0:>5}  {question!r}"
    )


def main() -> None:
    with serve() as emulator:
        sdk = anthropic.Anthropic(base_url=emulator.base_url, api_key="any-key-works-here")
        client = CachedAnthropic(sdk, cache=promptkey.ResponseCache(), breakpoints="auto")
        ask(client, "Can I return shoes?")  # miss: the planned breakpoint writes the handbook to the cache
        ask(client, "Can I return shoes?")  # hit: the response cache answers, no API call
        ask(client, "What about socks?")  # miss: a new question, but the handbook is read from the cache
        with client.messages.stream(
            model="claude-sonnet-4-6",
            max_tokens=200,
            system=HANDBOOK,
            messages=[{"role": "user", "content": "Can I return shoes?"}],
        ) as stream:
            text = "".join(stream.text_stream)  # a cached answer replayed as a stream
        print(f"stream {client.last.status if client.last else '?'}: {text[:40]!r}...")
        print(f"the emulator saw {emulator.stats['requests']} requests")
        sdk.close()


if __name__ == "__main__":
    main()
