"""Write `examples/trace.jsonl`: a seeded, deterministic sample of Messages API traffic for `promptkey replay`.

    python examples/make_trace.py                      # writes examples/trace.jsonl
    python examples/make_trace.py --seed 7 -o my.jsonl

Each line is `{"ts": <epoch seconds>, "request": {...}, "scope": "...", "output_tokens": n, "tag": "..."}`:
the body a `client.messages.create(**request)` call would send, when it was sent, the workspace it was sent
from, how many tokens the answer had (a real trace records `usage.output_tokens`; replay prices output
from it) and which application sent it (replay breaks costs down by `tag`). Three applications share one afternoon (about four hours) of one team's traffic:

* `classifier` — support-ticket triage. A long system prompt (label definitions and worked examples) marked
  with `cache_control` (the app does prompt caching right), a short ticket as the user message, a one-word
  label as the answer. Tickets come from a pool drawn with a Zipf law: a fat head of the same texts sent again
  and again (password resets, duplicate alerts), which only a response cache can serve for free. Traffic
  comes in bursts with quiet spells of 6-25 minutes, so the 5-minute prompt cache expires now and then.
* `agent` — an order-support agent with four tools, over 3-6 tool-using turns per conversation. The app
  marks only its last tool definition, a common mistake: the tools alone are below the model's minimum
  cacheable length, so as sent nothing is ever cached. Turns follow each other within seconds; one
  conversation in five has a human pause of 6-12 minutes in the middle.
* `qa` — questions over a shared product handbook placed in the system prompt, without any `cache_control`
  (the app never turned prompt caching on). Questions come from a pool of FAQs (Zipf again) asked by many
  people, minutes apart.

Nothing here uses the network or the clock: the same seed writes the same bytes. The model is
`claude-sonnet-4-6` (a current model; `claude-sonnet-4-5` retires on 2026-11-30 and the SDK warns about it).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

MODEL = "claude-sonnet-4-6"
START = 1_795_262_400  # 2026-11-21 09:00:00 UTC: a fixed origin, so the file never depends on today's date
HOURS = 4.0

_VOCABULARY = """
account access billing invoice refund order shipment delivery warehouse carrier tracking label
customer support agent escalation priority policy warranty return exchange replacement damaged
missing payment card charge subscription renewal plan upgrade downgrade discount coupon credit
balance statement password login device session security alert notification email address phone
region store catalog product feature setting dashboard report export import integration webhook
token limit quota error timeout outage incident status maintenance release version update migration
backup restore archive
"""
WORDS = tuple(_VOCABULARY.split())


def sentence(rng: random.Random, lo: int = 8, hi: int = 18) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


def zipf_index(rng: random.Random, n: int, s: float) -> int:
    """An index in [0, n) drawn with P(i) proportional to 1/(i+1)^s: a fat head and a long tail."""
    weights = [1.0 / (i + 1) ** s for i in range(n)]
    return rng.choices(range(n), weights=weights)[0]


# --- classifier -------------------------------------------------------------------------------------------

LABELS = ("billing", "shipping", "account", "technical", "returns", "security", "other")


def classifier_traffic(rng: random.Random) -> list[dict[str, Any]]:
    rules = "\n".join(f"- {label}: {paragraph(rng, 4)}" for label in LABELS)
    examples = "\n\n".join(f"Ticket: {paragraph(rng, 2)}\nLabel: {rng.choice(LABELS)}" for _ in range(8))
    system = [
        {
            "type": "text",
            "text": (
                "You triage customer support tickets. Answer with exactly one label from the list below and "
                f"nothing else.\n\nLabels:\n{rules}\n\nExamples:\n\n{examples}"
            ),
            "cache_control": {"type": "ephemeral"},
        }
    ]
    pool = [paragraph(rng, rng.randint(1, 3)) for _ in range(220)]
    out: list[dict[str, Any]] = []
    t = START + rng.uniform(0, 60)
    end = START + HOURS * 3600
    while t < end:
        # bursts of activity separated by quiet spells; some spells outlast the 5-minute cache
        for _ in range(rng.randint(6, 30)):
            ticket = pool[zipf_index(rng, len(pool), 1.15)]
            request = {
                "model": MODEL,
                "max_tokens": 8,
                "system": system,
                "messages": [{"role": "user", "content": ticket}],
            }
            out.append({"ts": round(t, 3), "request": request, "scope": "support", "output_tokens": 2})
            t += rng.expovariate(1 / 12.0)
        t += rng.choice((rng.uniform(60, 240), rng.uniform(360, 1500)))
    return [dict(line, tag="classifier") for line in out]


# --- agent ------------------------------------------------------------------------------------------------


def agent_tools(rng: random.Random) -> list[dict[str, Any]]:
    def tool(name: str, description: str, props: dict[str, str]) -> dict[str, Any]:
        return {
            "name": name,
            "description": description,
            "input_schema": {
                "type": "object",
                "properties": {key: {"type": "string", "description": text} for key, text in props.items()},
                "required": list(props),
            },
        }

    tools = [
        tool("get_order", "Look up an order by id. " + paragraph(rng, 3), {"order_id": "The order id, e.g. A-10023."}),
        tool("get_customer", "Look up a customer. " + paragraph(rng, 3), {"email": "The customer's email address."}),
        tool(
            "issue_refund",
            "Refund part or all of an order. " + paragraph(rng, 3),
            {"order_id": "The order id.", "amount": "Amount in USD, as a decimal string.", "reason": "Why."},
        ),
        tool(
            "send_email",
            "Email the customer. " + paragraph(rng, 3),
            {"to": "Recipient address.", "subject": "Subject line.", "body": "Plain-text body."},
        ),
    ]
    tools[-1]["cache_control"] = {"type": "ephemeral"}  # the app's only marker: tools alone are too short
    return tools


def agent_traffic(rng: random.Random) -> list[dict[str, Any]]:
    tools = agent_tools(rng)
    system = (
        "You are an order-support agent for an online store. Use the tools to look things up before you act, "
        "never refund more than the order total, and always tell the customer what you did.\n\n"
        + "\n\n".join(paragraph(rng, 6) for _ in range(6))
    )
    out: list[dict[str, Any]] = []
    names = ["get_customer", "get_order", "issue_refund", "send_email"]
    for conv in range(34):
        t = START + rng.uniform(0, HOURS * 3600 - 1800)
        order = f"A-{rng.randint(10000, 99999)}"
        email = f"user{rng.randint(100, 999)}@example.com"
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": f"Customer {email} says order {order} arrived damaged. {sentence(rng)}"}
        ]
        turns = rng.randint(3, 6)
        pause_at = rng.randint(1, turns - 1) if rng.random() < 0.2 else -1
        for turn in range(turns):
            last = turn == turns - 1
            request = {"model": MODEL, "max_tokens": 1024, "system": system, "tools": tools, "messages": messages}
            if last:
                reply: list[dict[str, Any]] = [{"type": "text", "text": paragraph(rng, 3)}]
            else:
                name = names[turn % len(names)]
                reply = [
                    {"type": "text", "text": sentence(rng, 6, 12)},
                    {
                        "type": "tool_use",
                        "id": f"toolu_{conv:02d}{turn:02d}{rng.getrandbits(48):012x}",
                        "name": name,
                        "input": {"order_id": order, "email": email},
                    },
                ]
            out_tokens = sum(len(json.dumps(block)) for block in reply) // 4
            line = {"ts": round(t, 3), "request": json.loads(json.dumps(request)), "scope": "agents"}
            out.append(dict(line, output_tokens=out_tokens, tag="agent"))
            if last:
                break
            result = {
                "order_id": order,
                "status": rng.choice(["delivered", "in transit", "returned"]),
                "notes": paragraph(rng, rng.randint(2, 6)),
            }
            messages = [
                *messages,
                {"role": "assistant", "content": reply},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": reply[1]["id"], "content": json.dumps(result)}],
                },
            ]
            # model time + tool time; now and then the agent waits for a human for longer than 5 minutes
            t += rng.uniform(3, 25) + (rng.uniform(360, 720) if turn == pause_at else 0.0)
    return out


# --- qa ---------------------------------------------------------------------------------------------------


def qa_traffic(rng: random.Random) -> list[dict[str, Any]]:
    chapters = "\n\n".join(f"## Chapter {i + 1}\n\n{paragraph(rng, 9)}" for i in range(10))
    system = [
        {"type": "text", "text": "Answer questions about the product handbook below. Quote the chapter you used."},
        {"type": "text", "text": f"# Product handbook\n\n{chapters}"},
    ]
    questions = [f"{sentence(rng, 6, 14)[:-1]}?" for _ in range(45)]
    out: list[dict[str, Any]] = []
    t = START + rng.uniform(0, 300)
    end = START + HOURS * 3600
    while t < end:
        question = questions[zipf_index(rng, len(questions), 1.0)]
        request = {
            "model": MODEL,
            "max_tokens": 512,
            "system": system,
            "messages": [{"role": "user", "content": question}],
        }
        out.append({"ts": round(t, 3), "request": request, "scope": "support", "output_tokens": rng.randint(120, 380)})
        t += rng.expovariate(1 / 150.0)
    return [dict(line, tag="qa") for line in out]


def make_trace(seed: int = 20261121) -> list[dict[str, Any]]:
    """All three applications' requests, merged in time order (ties broken by application, then arrival)."""
    lines = classifier_traffic(random.Random(seed)) + agent_traffic(random.Random(seed + 1))
    lines += qa_traffic(random.Random(seed + 2))
    return sorted(lines, key=lambda line: line["ts"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).with_name("trace.jsonl"))
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args()
    lines = make_trace(args.seed)
    with args.output.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    apps: dict[str, int] = {}
    for line in lines:
        apps[line["tag"]] = apps.get(line["tag"], 0) + 1
    size = args.output.stat().st_size
    print(f"wrote {len(lines)} requests ({', '.join(f'{k} {v}' for k, v in apps.items())}), {size:,} bytes")


if __name__ == "__main__":
    main()
