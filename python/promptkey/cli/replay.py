"""`promptkey replay TRACE.jsonl [--model M] [--plot FILE.png] [--json]`: what a trace costs under five
caching strategies (none, as-sent, planned, response, both). The engine is `promptkey.replay`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from promptkey._exceptions import PromptKeyError
from promptkey.replay import PLANNERS, STRATEGIES, TOKEN_CLASSES, ReplayReport, parse_lines, read_trace, replay

# Below this many requests a replay finishes before a progress bar would be worth drawing.
PROGRESS_MIN_REQUESTS = 200

DESCRIPTIONS = {
    "none": "no caching",
    "as-sent": "prompt cache, the trace's own markers",
    "planned": "prompt cache, markers from promptkey.plan",
    "response": "response cache only",
    "both": "response cache + planned markers",
}


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="what a trace of requests costs under five caching strategies",
        description=(
            "What a trace of timestamped Messages API requests costs under five strategies: none (no caching), "
            "as-sent (prompt caching with the trace's markers), planned (markers from promptkey.plan), response "
            "(response cache only) and both. Billed offline by the prompt-cache simulator; see docs/replay.md."
        ),
        epilog='trace lines: {"ts": <epoch seconds>, "request": {...}, "scope": "optional", "output_tokens": optional}',
    )
    parser.add_argument(
        "trace",
        metavar="TRACE.jsonl",
        help='one {"ts": epoch seconds, "request": {...}} per line; .gz or - (stdin) too',
    )
    parser.add_argument("--model", help="price every request as this model instead of the trace's")
    parser.add_argument("--plot", metavar="FILE.png", help="write cumulative cost per strategy over time")
    parser.add_argument("--json", action="store_true", help="write only JSON to stdout")
    parser.add_argument(
        "--response-ttl", type=float, default=None, metavar="SECONDS", help="response cache TTL (default: its own)"
    )
    parser.add_argument(
        "--first-token-after",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="seconds before a prompt-cache write becomes readable (default 0: at once)",
    )
    parser.add_argument(
        "--planner",
        choices=PLANNERS,
        default="request",
        help="planned markers: request = plan() per request, as breakpoints='auto' does (default); "
        "learned = Plan.from_trace over the past hour of the same scope and model",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        entries = parse_lines(sys.stdin) if args.trace == "-" else read_trace(args.trace)
    except OSError as exc:
        print(f"promptkey replay: cannot read {args.trace}: {exc.strerror}", file=sys.stderr)
        return 2
    except PromptKeyError as exc:
        print(f"promptkey replay: {args.trace}: {exc}", file=sys.stderr)
        return 2
    if not entries:
        print(f"promptkey replay: {args.trace} holds no requests", file=sys.stderr)
        return 2
    try:
        with _progress(len(entries), enabled=not args.json) as advance:
            report = replay(
                entries,
                model=args.model,
                response_ttl=args.response_ttl,
                first_token_after=args.first_token_after,
                planner=args.planner,
                progress=advance,
            )
    except PromptKeyError as exc:
        print(f"promptkey replay: {exc}", file=sys.stderr)
        return 2
    data = report.as_dict()
    if args.plot:
        write_plot(report, args.plot)
        data["plot"] = args.plot
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_report(data, plot=args.plot)
    return 0


@contextmanager
def _progress(total: int, *, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr for long traces; nothing when rich is missing or output is JSON."""
    if not enabled or total < PROGRESS_MIN_REQUESTS:
        yield None
        return
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    except ModuleNotFoundError:
        yield None
        return
    columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("replay", total=total)
        yield lambda done: bar.update(task, completed=done)


# --- the tables ------------------------------------------------------------------------------------------


def _usd(value: float) -> str:
    return f"${value:,.4f}" if abs(value) < 10 else f"${value:,.2f}"


def _tokens(value: int) -> str:
    """Compact counts (`987k`, `1.23M`) so the tables fit an 80-column terminal."""
    if value >= 10_000_000:
        return f"{value / 1e6:.1f}M"
    if value >= 1_000_000:
        return f"{value / 1e6:.2f}M"
    if value >= 10_000:
        return f"{value / 1e3:.0f}k"
    return f"{value:,}"


Table = tuple[str, list[str], list[list[str]]]  # title, headers, rows


def tables(data: dict[str, Any]) -> list[Table]:
    """The report as plain tables (title, headers, rows), rendered by rich or as text."""
    trace = data["trace"]
    models = ", ".join(f"{name} ({count})" for name, count in trace["models"].items())
    title = f"{trace['requests']} requests over {trace['span_seconds'] / 3600:.1f} h, {models}"
    strategies = data["strategies"]
    cost_rows = [
        [
            name,
            str(s["requests"]),
            str(s["api_calls"]),
            _usd(s["cost"]),
            f"{_usd(s['saving'])} ({s['saving_pct']:.0f}%)",
            f"{100 * s['response_hit_rate']:.1f}%",
            f"{100 * s['prompt_cache_read_rate']:.1f}%",
        ]
        for name, s in ((name, strategies[name]) for name in STRATEGIES)
    ]
    token_rows = [[name, *(_tokens(strategies[name]["tokens"][k]) for k in TOKEN_CLASSES)] for name in STRATEGIES]
    out: list[Table] = [
        (
            title,
            ["strategy", "requests", "API calls", "cost", "saved", "resp hits", "read %"],
            cost_rows,
        ),
        ("tokens by class", ["strategy", "input", "cache read", "write 5m", "write 1h", "output"], token_rows),
    ]
    if data["by_tag"]:
        tag_rows = [
            [tag, str(costs["requests"]), *(_usd(costs[name]) for name in STRATEGIES)]
            for tag, costs in data["by_tag"].items()
        ]
        out.append(("cost by tag", ["tag", "requests", *STRATEGIES], tag_rows))
    causes = data["misses_by_cause"]
    cause_names = sorted({cause for by in causes.values() for cause in by})
    if cause_names:
        cause_rows = [[name, *(str(by.get(cause, 0)) for cause in cause_names)] for name, by in causes.items()]
        out.append(("prompt-cache misses by cause (breakpoints)", ["strategy", *cause_names], cause_rows))
    return out


# What the terse headers mean, printed under the tables.
LEGEND = (
    "saved: vs none; resp hits: requests the response cache answered\n"
    "read %: prompt-cache reads / all input-side tokens of the API calls\n"
    "tokens: input (uncached), cache read, write 5m / 1h (prompt-cache writes), output"
)


def print_report(data: dict[str, Any], *, plot: str | None) -> None:
    report = tables(data)
    try:
        from rich import box
        from rich.console import Console
        from rich.table import Table as RichTable
    except ModuleNotFoundError:
        for title, headers, body in report:
            _print_plain(title, headers, body)
    else:
        console = Console()
        for title, headers, body in report:
            table = RichTable(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
            for index, header in enumerate(headers):
                table.add_column(header, justify="left" if index == 0 else "right", no_wrap=True)
            for row in body:
                table.add_row(*row)
            console.print(table)
    print(LEGEND)
    trace = data["trace"]
    for name in STRATEGIES:
        detail = DESCRIPTIONS[name]
        if name in ("planned", "both") and trace.get("planner") == "learned":
            detail += " (learned from the past hour)"
        print(f"  {name:<9} {detail}")
    if trace.get("plan_failures"):
        print(f"  planner could not read {trace['plan_failures']} requests; they were sent as they came")
    if plot:
        print(f"plot written to {plot}")


def _print_plain(title: str, headers: list[str], body: list[list[str]]) -> None:
    grid = [headers, *body]
    widths = [max(len(row[i]) for row in grid) for i in range(len(headers))]
    print(title)
    for row in grid:
        cells = (
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        print("  " + "  ".join(cells))
    print()


# --- the plot --------------------------------------------------------------------------------------------


def write_plot(report: ReplayReport, path: str) -> None:
    """Cumulative cost per strategy against hours since the trace's first request (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed: the figure only goes to a file
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5), dpi=120)
    for name in STRATEGIES:
        timeline = report.strategies[name].timeline
        hours = [(ts - report.start) / 3600 for ts, _ in timeline]
        ax.step(
            hours, [usd for _, usd in timeline], where="post", label=f"{name} ({_usd(report.strategies[name].cost)})"
        )
    ax.set_xlabel("hours since the first request")
    ax.set_ylabel("cumulative cost (USD)")
    ax.set_title(f"promptkey replay: {report.requests} requests")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
