"""A three-turn conversation against the local emulator, priced call by call.

    pip install 'promptkey[anthropic]' && python examples/emulator_cost.py

No API key, no network: the emulator bills `usage` with promptkey's prompt-cache simulator.
"""

from __future__ import annotations

import anthropic
import promptkey
from promptkey.emulator import serve

MODEL = "claude-sonnet-4-6"
MANUAL = "Section 1. The device must be unplugged before cleaning. " * 300  # a long shared document

with serve() as emu, anthropic.Anthropic(base_url=emu.base_url, api_key="demo") as client:
    messages: list[anthropic.types.MessageParam] = []
    total = promptkey.Cost()
    for question in ("How do I clean it?", "Is water safe?", "Summarize the rules."):
        messages.append({"role": "user", "content": question})
        reply = client.messages.create(
            model=MODEL,
            max_tokens=200,
            system=[{"type": "text", "text": MANUAL}],
            cache_control={"type": "ephemeral"},  # automatic breakpoint on the last block
            messages=messages,
        )
        messages.append({"role": "assistant", "content": "".join(b.text for b in reply.content if b.type == "text")})
        u, c = reply.usage, promptkey.cost(reply.usage, MODEL)
        total += c
        print(
            f"read {u.cache_read_input_tokens:>5}  write {u.cache_creation_input_tokens:>5}  "
            f"input {u.input_tokens:>3}  output {u.output_tokens:>3}  ${c.total:.5f}  (no cache ${c.baseline:.5f})"
        )
    print(f"total ${total.total:.5f}, without caching ${total.baseline:.5f}: saved {total.saving / total.baseline:.0%}")
