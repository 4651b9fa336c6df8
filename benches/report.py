"""Run the benchmark suites and print one ratio table per suite.

    python benches/report.py            # every benches/test_bench_*.py, full rounds (release build!)
    python benches/report.py --quick    # a smoke run for CI: few rounds, same tables
    python benches/report.py keys       # only benches/test_bench_keys.py
    python benches/report.py --json out.json   # also keep pytest-benchmark's raw JSON
    python benches/report.py --repeat 3 keys   # best of 3 runs per benchmark (noisy, shared machines)

Convention for a suite (any ``benches/test_bench_<name>.py`` plugs in without editing this script): each
benchmark sets

- ``benchmark.group``: one comparison (a row of the table), e.g. ``"keys MEDIUM fresh"``;
- ``benchmark.extra_info``:
  - ``suite``: which table the row goes to (default: the file's ``<name>``);
  - ``case``: the row label (default: the group);
  - ``impl``: the column (default: the test's name);
  - ``role``: ``"subject"`` for the implementation under test (one per group), ``"competitor"`` or
    ``"floor"`` for the others;
  - ``batch`` (optional): calls per timed round; times are divided by it to give per-call times.

Each cell shows the time per call (``--stat``: ``min`` by default, or ``median``) and, for non-subjects,
``subject ÷ this`` (below 1.0×: the subject is faster). The minimum is the default because on a shared
machine interference only ever adds time: the fastest round is the best estimate of each
implementation's own cost, and every implementation is measured the same way in the same run. Suites should honour ``PROMPTKEY_BENCH_QUICK=1`` (set by ``--quick``) if they choose
their rounds themselves with ``benchmark.pedantic``; otherwise ``--quick`` limits pytest-benchmark's rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run_suites(names: list[str], quick: bool, json_out: Path) -> int:
    files = sorted(HERE.glob("test_bench_*.py"))
    if names:
        files = [f for f in files if f.stem.removeprefix("test_bench_") in names]
    if not files:
        print(f"report.py: no benchmark suites match {names}", file=sys.stderr)
        return 2
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--benchmark-json={json_out}"]
    cmd += ["--benchmark-disable-gc", "--benchmark-sort=name", "--benchmark-columns=median"]
    env = dict(os.environ)
    if quick:
        env["PROMPTKEY_BENCH_QUICK"] = "1"
        cmd += ["--benchmark-min-rounds=1", "--benchmark-max-time=0.01", "--benchmark-warmup=off"]
    cmd += [str(f) for f in files]
    # pytest's own table is long and its notes go to stderr; the ratio tables below are the summary.
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
    return done.returncode


def fmt_time(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:,.2f}" if us < 10 else f"{us:,.1f}" if us < 100 else f"{us:,.0f}"


def tables(data: dict[str, Any], stat: str = "min") -> str:
    # suite -> case -> impl -> (median seconds per call, role)
    rows: dict[str, dict[str, dict[str, tuple[float, str]]]] = defaultdict(lambda: defaultdict(dict))
    order: dict[str, list[str]] = defaultdict(list)
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        suite = info.get("suite") or Path(bench["fullname"].split("::")[0]).stem.removeprefix("test_bench_")
        case = info.get("case") or bench.get("group") or bench["name"]
        impl = info.get("impl") or bench["name"]
        per_call = bench["stats"][stat] / float(info.get("batch", 1))
        rows[suite][case][impl] = (per_call, info.get("role", "competitor"))
        if impl not in order[suite]:
            order[suite].append(impl)
    out = []
    for suite, cases in rows.items():
        impls = order[suite]
        subject = next((i for c in cases.values() for i, (_, r) in c.items() if r == "subject"), None)
        if subject in impls:
            impls = [subject] + [i for i in impls if i != subject]
        header = ["case"] + [f"{i} µs" if i == subject else f"{i} µs (ratio)" for i in impls]
        body = []
        for case in sorted(cases, key=_case_key):
            cells = [case]
            base = cases[case].get(subject or "")
            for impl in impls:
                if impl not in cases[case]:
                    cells.append("-")
                    continue
                t, _ = cases[case][impl]
                cell = fmt_time(t)
                if base and impl != subject:
                    cell += f" ({base[0] / t:.2f}×)"
                cells.append(cell)
            body.append(cells)
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        title = f"{suite}: {stat} µs per call; (ratio) = {subject} ÷ that column" if subject else suite
        lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
        out.append("\n".join(lines))
    return "\n\n".join(out)


def _case_key(case: str) -> tuple[int, str]:
    # SMALL < MEDIUM < LARGE < anything else, then the rest of the label.
    sizes = ["SMALL", "MEDIUM", "LARGE"]
    first = case.split()[0] if case else ""
    return (sizes.index(first) if first in sizes else len(sizes), case)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="*", help="suite names (test_bench_<name>.py); default: all")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (few rounds)")
    parser.add_argument("--json", type=Path, help="keep pytest-benchmark's JSON here")
    parser.add_argument("--stat", choices=["min", "median"], default="min", help="which round time to report")
    parser.add_argument("--repeat", type=int, default=1, help="run the suites N times; keep each benchmark's best run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        best: dict[str, Any] = {}
        code = 0
        for n in range(max(1, args.repeat)):
            json_out = Path(tmp) / f"bench{n}.json"
            code = run_suites(args.suites, args.quick, json_out) or code
            if not json_out.exists():
                continue
            for bench in json.loads(json_out.read_text())["benchmarks"]:
                kept = best.get(bench["fullname"])
                if kept is None or bench["stats"][args.stat] < kept["stats"][args.stat]:
                    best[bench["fullname"]] = bench
        if not best:
            print("report.py: the benchmarks produced no results", file=sys.stderr)
            return code or 1
        data = {"benchmarks": list(best.values())}
        if args.json:
            args.json.write_text(json.dumps(data, indent=1))
        print(tables(data, args.stat))
    return code


if __name__ == "__main__":
    sys.exit(main())
