"""The `promptkey` command. Each subcommand lives in its own module exposing
`add_parser(subparsers) -> None` (which sets `func=run` on its parser) and `run(args) -> int`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Subcommand modules, in the order `promptkey --help` lists them.
SUBCOMMANDS: tuple[str, ...] = ("key", "diff", "plan", "emulator", "replay")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promptkey", description="Never pay twice for the same LLM work.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"promptkey.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except ModuleNotFoundError as exc:  # an optional extra is missing: one line, no traceback
        extra = {"redis": "redis", "anthropic": "anthropic", "rich": "cli", "matplotlib": "cli"}.get(
            (exc.name or "").split(".")[0]
        )
        if extra is None:
            raise
        print(f"promptkey: this needs the '{extra}' extra: pip install 'promptkey[{extra}]'", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
