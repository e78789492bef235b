"""Wall time of one benchmark grid under several executors, each with a cold feature cache.

    python scripts/measure_executors.py --methods handcrafted,svr --dataset demo --splits 10 \
        --runs local:1 ray:2

Each run is `ipiqa-bench run` in a subprocess with a fresh results folder (so features are
computed from scratch; the demo images themselves are generated once, before timing). It
prints wall time, the speed-up over the first run and the machine's load average before
each run, and checks that every run wrote byte-identical prediction files.

On a shared machine other work caps any parallel speed-up (Linux shares the CPU fairly
between sessions, so a second process of ours may get little more time), so it also
measures that cap first: the throughput of two busy processes over one.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _spin(counter, seconds: float) -> None:
    end, n = time.time() + seconds, 0
    while time.time() < end:
        sum(range(10_000))
        n += 1
    with counter.get_lock():
        counter.value += n


def parallel_capacity(processes: int, seconds: float = 5.0) -> float:
    """Throughput of ``processes`` busy processes over that of one, on this machine now."""
    def throughput(n: int) -> int:
        counter = multiprocessing.Value("q", 0)
        workers = [multiprocessing.Process(target=_spin, args=(counter, seconds)) for _ in range(n)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return counter.value

    one = throughput(1)
    return throughput(processes) / one


def run_grid(executor: str, jobs: int, args, results: Path) -> dict:
    cmd = [sys.executable, "-m", "bench", "run", "--methods", args.methods, "--dataset", args.dataset,
           "--splits", str(args.splits), "--results-dir", str(results), "--executor", executor, "--jobs", str(jobs)]
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
    files = {p.relative_to(results): p.read_bytes() for p in results.rglob("split_*.csv")}
    return {"run": f"{executor}:{jobs}", "exit": proc.returncode, "wall_s": wall,
            "load_before": load, "files": files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="handcrafted,svr")
    parser.add_argument("--dataset", default="demo")
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--runs", nargs="+", default=["local:1", "ray:2"], help="executor:jobs, in order")
    parser.add_argument("--out", type=Path, default=None, help="Keep the results here (default: a temp folder).")
    args = parser.parse_args()

    from bench.datasets import load_dataset

    load_dataset(args.dataset)  # generate the demo images once, outside the timings
    capacity = parallel_capacity(2)
    out = args.out or Path(tempfile.mkdtemp(prefix="ipiqa-executors-"))
    rows = []
    for i, spec in enumerate(args.runs):
        executor, jobs = spec.split(":")
        row = run_grid(executor, int(jobs), args, out / f"{i}-{executor}-{jobs}")
        rows.append(row)
        print(f"{row['run']}: exit {row['exit']}, {row['wall_s']:.1f} s, load before {row['load_before']:.1f}",
              file=sys.stderr, flush=True)
    capacity_after = parallel_capacity(2)
    base = rows[0]
    print(f"\n{args.methods} on {args.dataset}, {args.splits} splits, cold feature cache; results in {out}")
    print(f"parallel capacity (2 busy processes' work over one's): {capacity:.2f}x before the runs, "
          f"{capacity_after:.2f}x after\n")
    print("| run | exit | wall (s) | speed-up | load avg before | files | identical to first |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        same = row["files"] == base["files"]
        print(f"| {row['run']} | {row['exit']} | {row['wall_s']:.1f} | {base['wall_s'] / row['wall_s']:.2f}x | "
              f"{row['load_before']:.1f} | {len(row['files'])} | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
