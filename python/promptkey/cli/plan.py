"""`promptkey plan REQUEST.json [--model M]`: where to put cache breakpoints, and what they save."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from promptkey import PromptKeyError
from promptkey.planner import plan


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plan",
        help="plan prompt-cache breakpoints for a request",
        description="Print the request's prefix blocks, the planned cache breakpoints and the expected cost.",
    )
    p.add_argument("request", metavar="REQUEST.json", help="a Messages API request body (JSON); - for stdin")
    p.add_argument("--model", default=None, help="plan for this model instead of the request's")
    p.add_argument("--ttl", default="auto", choices=("auto", "5m", "1h"), help="breakpoint TTL (default: auto)")
    p.add_argument("--rate", type=float, default=None, help="requests per second (for frequency reuse)")
    p.add_argument(
        "--reuse",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="how often a section or block changes: never, daily, hourly, per-request or a probability "
        "(e.g. --reuse system=daily --reuse messages[-1].content[0]=hourly); repeatable",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--apply", action="store_true", help="print the request with the planned markers instead")
    out.add_argument("--json", action="store_true", help="print the plan as JSON instead of a table")
    p.add_argument("--check", action="store_true", help="exit 1 when the plan has warnings (for CI)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.request == "-":
            request = json.load(sys.stdin)
        else:
            with open(args.request, encoding="utf-8") as f:
                request = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"promptkey plan: cannot read {args.request}: {exc}", file=sys.stderr)
        return 2
    reuse: dict[str, float | str] = {}
    for item in args.reuse:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"promptkey plan: --reuse takes KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
        try:
            reuse[key] = float(value)
        except ValueError:
            reuse[key] = value
    try:
        result = plan(request, model=args.model, ttl=args.ttl, rate=args.rate, reuse=reuse or None)
        if args.apply:
            print(json.dumps(result.apply(request), ensure_ascii=False, indent=2))
        elif args.json:
            print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        else:
            print(result.table())
    except PromptKeyError as exc:
        where = f" at {exc.path}" if getattr(exc, "path", None) else ""
        print(f"promptkey plan: {exc}{where}", file=sys.stderr)
        return 2
    return 1 if args.check and result.warnings else 0
