"""`promptkey key`: print the response-cache key of a Messages request read as JSON.

    promptkey key request.json
    promptkey key - < request.json --namespace tenant-a --secret-file key.bin
    promptkey key request.json --material     # the canonical key material instead of its key

The JSON is read with every integer exact (beyond 2^53 too), so the key is the one `make_key` gives
for the same request built in Python.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from promptkey import PromptKeyError, make_key
from promptkey._core import _key_material_json


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "key",
        help="print the cache key of a request (JSON)",
        description="Print the response-cache key of a Messages request given as JSON (a file, or - for stdin).",
    )
    parser.add_argument("file", nargs="?", default="-", help="the request as JSON; - (default) reads stdin")
    parser.add_argument("--namespace", default="llmcache", help="key prefix (default: llmcache)")
    parser.add_argument("--secret-file", type=Path, help="HMAC the key with this file's bytes")
    parser.add_argument("--material", action="store_true", help="print the canonical key material instead")
    parser.set_defaults(func=run)


def _fail(source: str, message: str) -> int:
    print(f"promptkey key: {source}: {message}", file=sys.stderr)
    return 1


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid json")


def run(args: argparse.Namespace) -> int:
    source = "<stdin>" if args.file == "-" else args.file
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(source, str(exc))
    try:
        request = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        return _fail(source, f"not json: {exc}")
    secret = None
    if args.secret_file is not None:
        try:
            secret = args.secret_file.read_bytes()
        except OSError as exc:
            return _fail(str(args.secret_file), str(exc))
    try:
        if args.material:
            sys.stdout.write(_key_material_json(request).decode() + "\n")
        else:
            print(make_key(request, namespace=args.namespace, secret=secret))
    except PromptKeyError as exc:
        return _fail(source, str(exc))
    return 0
