"""Fault injection for the results store: kill -9 a run at every file-system step, corrupt
files, rerun, and check the results are byte-identical to an uninterrupted run's with no
orphan files.

A child process runs the real runner (``bench.run.runner.run_benchmark``) on a small generated
dataset with two cheap methods (``ceiq``: training-free; ``ceiq-svr``: trained, writes
checkpoints, shares ceiq's feature cache). It counts every fsync, rename, link and unlink
under the results folder and SIGKILLs itself just before or just after the n-th one: the
windows "temporary file half written", "checkpoint written, record not", "record saved,
prediction file not", "moved aside, new manifest not" are all among those steps.

Scenarios: ``fresh`` (kill a first run), ``force`` (kill a ``--force`` rerun with the same
config), ``force-changed`` (kill a ``--force`` rerun with another config, then rerun with the
old config: it must either finish identical to the old results or refuse, and never mix),
and corruptions of a finished folder (truncated, garbage and deleted split files, deleted
checkpoint and run.json, shuffled feature-cache rows, stale temporary files).

    python scripts/fault_injection.py                    # full size: every step, both sides
    python scripts/fault_injection.py --every 7 --splits 2 --images 24
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # runs are forked: no thread pools to inherit
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
METHODS = ["ceiq", "ceiq-svr"]
OTHER_CONFIG = {"epsilon": 0.5}  # ceiq-svr's SVR margin: another identity


# --- the child: one run, killed at a step ----------------------------------------------------


@dataclass
class Outcome:
    returncode: int
    output: str

    @property
    def steps(self) -> int:
        return json.loads(self.output.strip().splitlines()[-1])["steps"]


def child(spec: dict) -> int:
    _install_kill(Path(spec["results"]).resolve(), spec.get("kill_at"), spec.get("kill_when", "after"))
    import pandas as pd

    frame = pd.read_csv(Path(spec["data"]) / "labels.csv", dtype={"group": str})
    frame["path"] = [str(Path(spec["data"]) / name) for name in frame["image"]]
    dataset = Dataset("faults", frame, ("mos",), Path(spec["data"]))
    options = RunOptions(results_dir=Path(spec["results"]), splits=SplitConfig(spec["splits"], 0, 0.2),
                         force=spec.get("force", False), device="cpu", overrides=spec.get("overrides", {}))
    outcomes = run_benchmark(METHODS, dataset, options, LocalExecutor())
    print(json.dumps({o.method: [o.status, o.message] for o in outcomes}))
    print(json.dumps({"steps": _steps[0]}), flush=True)
    return 1 if any(o.status == "failed" for o in outcomes) else 0


_steps = [0]


def _install_kill(results: Path, kill_at: int | None, when: str) -> None:
    """Wrap the os calls that change files: count those under ``results``, die at one."""

    def wrap(name, path_of):
        real = getattr(os, name)

        def step(*args, **kwargs):
            try:
                path = Path(path_of(args)).resolve()
            except (TypeError, ValueError, OSError):
                return real(*args, **kwargs)
            if results not in path.parents:
                return real(*args, **kwargs)
            _steps[0] += 1
            if _steps[0] == kill_at and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            out = real(*args, **kwargs)
            if _steps[0] == kill_at and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return out

        setattr(os, name, step)

    for name in ("replace", "rename", "link", "unlink"):
        wrap(name, lambda args: args[0])
    wrap("fsync", lambda args: os.readlink(f"/proc/self/fd/{args[0]}"))


sys.path.insert(0, str(ROOT))
from bench.datasets import Dataset  # noqa: E402 - imported once, before the runs are forked
from bench.registry import get_method_info  # noqa: E402
from bench.run.executors import LocalExecutor  # noqa: E402
from bench.run.runner import RunOptions, run_benchmark  # noqa: E402
from bench.splits import SplitConfig  # noqa: E402

for _name in METHODS:
    get_method_info(_name)  # registers the methods before forking


# --- the driver ----------------------------------------------------------------------------


def make_data(folder: Path, n_images: int) -> None:
    from PIL import Image
    from scipy import ndimage

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    rows = []
    for i in range(n_images):
        base = ndimage.zoom(rng.uniform(0, 255, (4, 4, 3)), (8, 8, 1), order=1)
        blur = rng.uniform(0, 3)
        img = ndimage.gaussian_filter(base + rng.normal(0, 40, base.shape), sigma=(blur, blur, 0))
        name = f"img_{i:03d}.png"
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / name)
        rows.append(f"{name},prompt {i // 3},{i // 3},{5 - blur:.6f}")
    (folder / "labels.csv").write_text("image,prompt,group,mos\n" + "\n".join(rows) + "\n")


class Harness:
    def __init__(self, work: Path, n_images: int, n_splits: int):
        self.work, self.n_splits = work, n_splits
        self.data = work / "data"
        make_data(self.data, n_images)
        self.counts = {"kills": 0, "points": set(), "identical": 0, "refused_then_identical": 0, "orphans": 0,
                       "corruptions": 0, "set_aside": 0}
        self.failures: list[str] = []

    def run(self, results: Path, kill_at=None, when="after", **spec) -> Outcome:
        """One run in a forked child (the parent has imported everything: a run starts at once)."""
        spec = {"results": str(results), "data": str(self.data), "splits": self.n_splits,
                "kill_at": kill_at, "kill_when": when, **spec}
        with tempfile.TemporaryFile("w+") as out:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the child
                code = 1
                try:
                    os.dup2(out.fileno(), 1)
                    os.dup2(out.fileno(), 2)
                    sys.stdout = sys.stderr = open(1, "w", closefd=False)  # also under pytest's capture
                    code = child(spec)
                except BaseException as exc:  # noqa: BLE001 - reported to the parent as text
                    print(f"{type(exc).__name__}: {exc}", flush=True)
                finally:
                    sys.stdout.flush()
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            out.seek(0)
            text = out.read()
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        return Outcome(-signal.SIGKILL if killed else os.waitstatus_to_exitcode(status), text)

    def reference(self, name: str, **spec) -> tuple[Path, int]:
        results = self.work / name
        done = self.run(results, **spec)
        if done.returncode != 0:
            raise SystemExit(f"reference run failed:\n{done.output[-3000:]}")
        return results, done.steps

    def check(self, label: str, results: Path, reference: Path) -> bool:
        problems = compare(results, reference) + orphans(results)
        self.counts["orphans"] += len(orphans(results))
        if problems:
            self.failures.append(f"{label}: " + "; ".join(problems[:4]))
            return False
        self.counts["identical"] += 1
        return True

    def killed(self, label, start: Path | None, kill_at, when, rerun_spec=None, reference=None, **spec) -> None:
        results = self.work / "case"
        shutil.rmtree(results, ignore_errors=True)
        if start is not None:
            shutil.copytree(start, results)
        done = self.run(results, kill_at, when, **spec)
        if done.returncode != -signal.SIGKILL:
            return  # the run ended before that step (fewer steps this time): not a kill
        self.counts["kills"] += 1
        self.counts["points"].add((label, kill_at, when))
        rerun = self.run(results, **(rerun_spec or {}))
        if rerun.returncode != 0:
            self.failures.append(f"{label} kill {when} step {kill_at}: rerun failed: {rerun.output.strip()[-300:]}")
            return
        self.check(f"{label} kill {when} step {kill_at}", results, reference)

    def killed_force_changed(self, start: Path, other: Path, kill_at: int, when: str) -> None:
        """A --force with another config killed, then a plain rerun with the old config."""
        results = self.work / "case"
        shutil.rmtree(results, ignore_errors=True)
        shutil.copytree(start, results)
        done = self.run(results, kill_at, when, force=True, overrides=OTHER_CONFIG)
        if done.returncode != -signal.SIGKILL:
            return
        self.counts["kills"] += 1
        self.counts["points"].add(("force-changed", kill_at, when))
        label = f"force-changed kill {when} step {kill_at}"
        rerun = self.run(results)
        if rerun.returncode == 0 and "different config" not in rerun.output:
            self.check(label, results, start)
            return
        if "different config" not in rerun.output:
            self.failures.append(f"{label}: rerun failed: {rerun.output.strip()[-300:]}")
            return
        again = self.run(results, overrides=OTHER_CONFIG)  # finishing the new config instead
        if again.returncode != 0:
            self.failures.append(f"{label}: finishing the new config failed: {again.output.strip()[-300:]}")
        elif self.check(label, results, other):
            self.counts["refused_then_identical"] += 1

    def corrupted(self, label: str, reference: Path, damage, **rerun_spec) -> None:
        from bench.errors import BenchError
        from bench.results.loading import load_results

        results = self.work / "case"
        shutil.rmtree(results, ignore_errors=True)
        shutil.copytree(reference, results)
        damage(results / "faults")
        self.counts["corruptions"] += 1
        if label in REFUSED_BY_TABLE:  # what `table` and `report` read
            try:
                load_results(results)
                self.failures.append(f"{label}: read without complaint")
            except BenchError as exc:
                if "split_" not in str(exc):
                    self.failures.append(f"{label}: the refusal does not name the file: {exc}")
        rerun = self.run(results, **rerun_spec)
        if rerun.returncode != 0:
            self.failures.append(f"{label}: rerun failed: {rerun.output.strip()[-300:]}")
            return
        if (results / "faults" / ".replaced").exists():
            self.counts["set_aside"] += 1
        self.check(label, results, reference)


REFUSED_BY_TABLE = {"truncated split file", "garbage split file", "empty split file"}


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 4 // 10])


def _shuffle_cache(folder: Path) -> None:
    import io

    path = next((folder / ".cache" / "features").glob("*.npz"))
    with np.load(path) as data:
        arrays = dict(data)
    arrays["features"] = arrays["features"][::-1].copy()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


CORRUPTIONS = {
    "truncated split file": lambda d: _truncate(d / "ceiq-svr" / "split_1.csv"),
    "garbage split file": lambda d: (d / "ceiq" / "split_0.csv").write_bytes(os.urandom(300)),
    "empty split file": lambda d: (d / "ceiq" / "split_1.csv").write_bytes(b""),
    "deleted split file": lambda d: (d / "ceiq-svr" / "split_0.csv").unlink(),
    "deleted checkpoint": lambda d: (d / "ceiq-svr" / "checkpoints" / "split_0.pt").unlink(),
    "truncated checkpoint": lambda d: _truncate(d / "ceiq-svr" / "checkpoints" / "split_1.pt"),
    "deleted run.json": lambda d: (d / "ceiq-svr" / "run.json").unlink(),
    "shuffled feature-cache rows": _shuffle_cache,
    "stale temporary files": lambda d: [(d / "ceiq" / ".split_0.csv.abc.tmp").write_bytes(b"x"),
                                        (d / "ceiq-svr" / "checkpoints" / ".split_1.pt.x.tmp").write_bytes(b"y")],
}


# --- comparing folders ---------------------------------------------------------------------


def compare(results: Path, reference: Path) -> list[str]:
    """What differs between two results folders, apart from times, versions and set-aside folders."""
    problems = []
    mine, theirs = _result_files(results), _result_files(reference)
    for rel in sorted(set(mine) | set(theirs)):
        if rel not in mine or rel not in theirs:
            problems.append(f"{rel} {'missing' if rel not in mine else 'extra'}")
        elif rel.endswith("run.json"):
            if _manifest_core(mine[rel]) != _manifest_core(theirs[rel]):
                problems.append(f"{rel} records differ")
        elif rel.endswith(".npz"):
            if _cache_rows(mine[rel]) != _cache_rows(theirs[rel]):
                problems.append(f"{rel} rows differ")
        elif mine[rel].read_bytes() != theirs[rel].read_bytes():
            problems.append(f"{rel} bytes differ")
    return problems


def orphans(results: Path) -> list[str]:
    """Files no reader accounts for: temporaries, and split files or checkpoints without a record."""
    found = []
    base = results / "faults"
    for path in base.rglob("*"):
        rel = path.relative_to(base)
        if not path.is_file() or rel.parts[0] == ".replaced":
            continue
        if path.name.endswith(".tmp"):
            found.append(str(rel))
        elif path.suffix in (".csv", ".pt") and len(rel.parts) > 1:
            manifest = json.loads((base / rel.parts[0] / "run.json").read_text()) if (
                base / rel.parts[0] / "run.json").exists() else {}
            k = path.stem.removeprefix("split_")
            if k not in manifest.get("splits", {}):
                found.append(str(rel))
    return found


def _result_files(results: Path) -> dict[str, Path]:
    base = results / "faults"
    return {str(p.relative_to(base)): p for p in base.rglob("*")
            if p.is_file() and p.relative_to(base).parts[0] != ".replaced" and p.name != ".lock"}


def _manifest_core(path: Path) -> dict:
    data = json.loads(path.read_text())
    splits = {k: {f: r.get(f) for f in ("sha256", "rows", "checkpoint_sha256", "n_test")}
              for k, r in data.get("splits", {}).items()}
    keep = ("method", "dataset", "targets", "config", "splits_hash", "dataset_size", "n_splits", "schema")
    return {**{k: data.get(k) for k in keep}, "splits": splits}


def _cache_rows(path: Path) -> dict:
    with np.load(path) as data:
        return {k: row.tobytes() for k, row in zip(data["keys"].tolist(), data["features"])}


# --- main ----------------------------------------------------------------------------------


def sweep(work: Path, n_images: int, n_splits: int, every: int = 1, corruptions: bool = True) -> dict:
    h = Harness(work, n_images, n_splits)
    fresh, steps = h.reference("reference")
    other, _ = h.reference("reference-other", overrides=OTHER_CONFIG)
    force_start = work / "force-start"
    shutil.copytree(fresh, force_start)
    force_steps = h.run(force_start, force=True).steps
    shutil.rmtree(force_start)
    points = range(1, max(steps, force_steps) + 1, every)
    for n in points:
        for when in ("before", "after"):
            if n <= steps:
                h.killed("fresh", None, n, when, reference=fresh)
            if n <= force_steps:
                h.killed("force", fresh, n, when, reference=fresh, force=True)
                h.killed_force_changed(fresh, other, n, when)
    if corruptions:
        for label, damage in CORRUPTIONS.items():
            # cached features are read only when something is computed: force it
            h.corrupted(label, fresh, damage, force=label == "shuffled feature-cache rows")
    counts = {**h.counts, "points": len(h.counts["points"]), "steps_fresh_run": steps, "steps_force_run": force_steps,
              "failures": h.failures}
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--every", type=int, default=1, help="Kill at every n-th step only (1: all).")
    parser.add_argument("--keep", type=Path, default=None, help="Work folder to keep (default: a temporary one).")
    args = parser.parse_args()
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="ipiqa-faults-") as tmp:
        work = args.keep or Path(tmp)
        counts = sweep(work, args.images, args.splits, args.every)
    counts["seconds"] = round(time.time() - start, 1)
    print(json.dumps(counts, indent=2))
    return 1 if counts["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
