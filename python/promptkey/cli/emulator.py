"""`promptkey emulator`: run the Anthropic-compatible emulator in the foreground (docs/emulator.md)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "emulator",
        help="run an Anthropic-compatible API emulator with prompt-cache billing",
        description="Serve /v1/messages (JSON and SSE) and /v1/messages/count_tokens, billed by the "
        "prompt-cache simulator. Point the SDK at it: ANTHROPIC_BASE_URL=http://HOST:PORT.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port (default 8787; 0 picks a free one)")
    parser.add_argument(
        "--faults",
        type=json.loads,
        default=None,
        metavar="JSON",
        help='fault rates, e.g. \'{"529": 0.1, "retry_after": 0.5, "seed": 0}\'',
    )
    parser.add_argument(
        "--latency",
        type=json.loads,
        default=None,
        metavar="JSON",
        help='latency, e.g. \'{"base": 0.2, "per_uncached_token": 1e-5, "per_output_token": 0.01}\'',
    )
    parser.add_argument("--min-tokens", type=int, default=None, help="minimum cacheable prefix for every model")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from promptkey._exceptions import PromptKeyError
    from promptkey.emulator import Emulator

    try:
        emulator = Emulator(
            host=args.host, port=args.port, faults=args.faults, latency=args.latency, min_tokens=args.min_tokens
        )
    except (PromptKeyError, OSError) as exc:
        print(f"promptkey emulator: {exc}", file=sys.stderr)
        return 2
    print(f"promptkey emulator listening on {emulator.base_url}  (export ANTHROPIC_BASE_URL={emulator.base_url})")
    print('  GET /_emulator/stats   POST /_emulator/clock {"advance": seconds}   Ctrl-C stops', flush=True)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.close()
        print(json.dumps(emulator.stats), file=sys.stderr)
    return 0
