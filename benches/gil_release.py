"""Does releasing the GIL while hashing long strings pay? A multi-threaded measurement.

    python benches/gil_release.py [--seconds 1.0] [--threads 1 2 4]

For requests carrying one long string (a document, a long transcript) of 16 KiB to 4 MiB, N threads key
their own copy in a loop for a fixed time, with the GIL kept throughout (threshold = never) and with it
released for strings at least that long (threshold = 0, i.e. release for the string under test). Printed:
aggregate MB/s of request text keyed, and the speed-up of releasing. The threshold in rust/py_walk.rs
(`DETACH_AT`) is the smallest size where releasing helps with 2+ threads and costs nothing with 1.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

from promptkey import make_key
from promptkey._core import _gil_release_threshold

NEVER = 1 << 62


def request(size: int, seed: int) -> dict[str, Any]:
    # ASCII with the odd newline (escaped), like a pasted document.
    line = f"{seed:04d} the quick brown fox jumps over the lazy dog, again and again and again\n"
    text = (line * (size // len(line) + 1))[:size]
    return {"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": [{"role": "user", "content": text}]}


def run(size: int, threads: int, seconds: float) -> float:
    """Aggregate bytes of string keyed per second by `threads` threads."""
    done = [0] * threads
    stop = threading.Event()
    start_line = threading.Barrier(threads + 1)

    def work(i: int) -> None:
        r = request(size, i)
        make_key(r)  # warm: the UTF-8 view, the allocator
        start_line.wait()
        while not stop.is_set():
            make_key(r)
            done[i] += 1

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    start_line.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    elapsed = time.perf_counter() - t0
    for t in pool:
        t.join()
    return sum(done) * size / elapsed


def run_mixed(size: int, seconds: float) -> tuple[float, float]:
    """One thread keys while another runs pure Python: (bytes keyed per second, Python loops per second)."""
    keyed = [0]
    spins = [0]
    stop = threading.Event()

    def keyer() -> None:
        r = request(size, 0)
        while not stop.is_set():
            make_key(r)
            keyed[0] += 1

    def python_work() -> None:
        n = 0
        while not stop.is_set():
            for _ in range(1000):
                n += 1
            spins[0] += 1

    pool = [threading.Thread(target=keyer), threading.Thread(target=python_work)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    time.sleep(seconds)
    stop.set()
    elapsed = time.perf_counter() - t0
    for t in pool:
        t.join()
    return keyed[0] * size / elapsed, spins[0] / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    old = _gil_release_threshold()
    print("string size  threads  GIL kept MB/s  GIL released MB/s  released ÷ kept")
    try:
        for size in [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20]:
            for n in args.threads:
                _gil_release_threshold(NEVER)
                kept = run(size, n, args.seconds)
                _gil_release_threshold(0)
                released = run(size, n, args.seconds)
                print(
                    f"{size >> 10:>8} KiB  {n:>7}  {kept / 1e6:>13,.0f}  {released / 1e6:>17,.0f}  {released / kept:>14.2f}"
                )
        print("\nkeying next to a pure-Python thread: keying MB/s and the Python thread's loops/s")
        print("string size  kept: keying MB/s  python/s   released: keying MB/s  python/s")
        for size in [16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20]:
            _gil_release_threshold(NEVER)
            k1, p1 = run_mixed(size, args.seconds)
            _gil_release_threshold(0)
            k2, p2 = run_mixed(size, args.seconds)
            print(f"{size >> 10:>8} KiB  {k1 / 1e6:>17,.0f}  {p1:>8,.0f}   {k2 / 1e6:>21,.0f}  {p2:>8,.0f}")
    finally:
        _gil_release_threshold(old)
    print(f"\ncurrent threshold: {old:,} bytes")


if __name__ == "__main__":
    main()
