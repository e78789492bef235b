"""What ``run`` tells its user on stderr: the plan, one bar over every (method, split) task
with ``[k/N]`` lines and what an interrupt kept (the summary of what finished is
bench.report.summary's).

Results stay in files; these lines are for the person waiting. Estimates come from the
per-split times an earlier run of the same method on the same dataset recorded in its
``run.json`` (or the one ``--force`` moved to ``.replaced/``); without one, "unknown".
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from bench.results.manifest import RunManifest
from bench.results.store import REPLACED

PREFIX = "ipiqa-bench: "


def say(line: str) -> None:
    """One line on stderr, above any progress bar (sys.stderr as it is now: a test may swap it)."""
    tqdm.write(PREFIX + line, file=sys.stderr)


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


@dataclass
class Estimate:
    seconds_per_split: float | None
    source: str  # where the figure comes from, said with it


def estimate_split_time(out_dir: Path, manifest) -> Estimate:
    """Mean fit + predict time of the splits recorded for this method on this dataset: in its
    current manifest, else in the newest folder moved aside (``--force``)."""
    candidates = [(manifest, "its finished splits")]
    aside = sorted(Path(out_dir).parent.joinpath(REPLACED).glob(f"{Path(out_dir).name}-*"), reverse=True)
    candidates += [(folder, "its earlier run, moved aside") for folder in aside]  # newest first
    for source, what in candidates:
        if isinstance(source, Path):
            try:
                source = RunManifest.read(source)
            except Exception:  # a damaged old manifest only costs the estimate
                source = None
        records = [r for r in (source.splits.values() if source else [])
                   if r.fit_s is not None and r.predict_s is not None]
        if records:
            mean = sum(r.fit_s + r.predict_s for r in records) / len(records)
            return Estimate(mean, f"{mean:.1f} s/split, the mean of {len(records)} split(s) of {what}; "
                                  "feature extraction not included")
    return Estimate(None, "no earlier run of it on this dataset")


class RunProgress:
    """The bar over every task of the run and the ``[k/N]`` lines (thread-safe: Ray's driver
    threads report too)."""

    def __init__(self, plans: list):
        self.total = sum(len(p.todo) for p in plans if p.runnable)
        self.done = 0
        self.start = time.perf_counter()
        self._lock = threading.Lock()
        # disable=None: no bar when stderr is not a terminal (a log file gets the [k/N] lines)
        self.bar = tqdm(total=self.total, desc="run", unit="split", file=sys.stderr, disable=None, position=0)

    def running(self, method: str) -> None:
        self.bar.set_postfix_str(method, refresh=True)

    def split_done(self, method: str, split: int, seconds: float) -> None:
        with self._lock:
            self.done += 1
            self.bar.update()
            elapsed = time.perf_counter() - self.start
            left = elapsed / self.done * (self.total - self.done)
            say(f"[{self.done}/{self.total}] {method} split {split} done in {seconds:.1f} s "
                f"({duration(elapsed)} elapsed, about {duration(left)} left at this run's pace)")

    def failed(self, line: str, remaining: int) -> None:
        """A method stopped: its failure's line, once, and its remaining tasks leave the total."""
        with self._lock:
            self.total -= remaining
            self.bar.total = self.total
            self.bar.refresh()
            say(f"[{self.done}/{self.total}] {line}")

    def close(self) -> None:
        self.bar.close()


def interrupted_message(kept: dict[str, tuple[int, int, int]]) -> str:
    """``kept``: method -> (splits done before, finished in this run, total)."""
    listed = ", ".join(f"{m} {before + now}/{total}" for m, (before, now, total) in kept.items())
    now = sum(n for _, n, _ in kept.values())
    return (f"interrupted: kept the finished splits ({listed or 'none'}; {now} finished in this run).\n"
            "Rerun the same command to resume: finished splits are not redone, and a training "
            "continues from its last finished epoch.")


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``str()`` says what was kept and how to resume."""


def describe_plan(plans: list, dataset: str, n_splits: int) -> list[str]:
    """The plan's lines: each selected method, what will run and its estimate, or why not."""
    lines = [f"plan on {dataset} ({n_splits} split(s)); estimates are from recorded times, not promises:"]
    total, known, unknown = 0, 0.0, 0
    for p in plans:
        name = p.info.name
        if p.outcome is not None and p.outcome.status == "failed":
            lines.append(f"  {name} failed: {p.outcome.message}; excluded")
        elif p.outcome is not None and p.outcome.status == "skipped":
            lines.append(f"  {name}: excluded, {p.outcome.message}")
        elif not p.todo:
            lines.append(f"  {name}: kept, {len(p.done)}/{p.n_splits} splits done")
        else:
            total += len(p.todo)
            done = f" ({len(p.done)} done, kept)" if p.done else ""
            if p.estimate.seconds_per_split is None:
                unknown += 1
                guess = f"estimate unknown ({p.estimate.source})"
            else:
                known += p.estimate.seconds_per_split * len(p.todo)
                guess = f"estimate {duration(p.estimate.seconds_per_split * len(p.todo))} ({p.estimate.source})"
            lines.append(f"  {name}: {len(p.todo)} of {p.n_splits} split(s) to run{done}; {guess}")
    if total:
        counted = len([p for p in plans if p.todo and p.runnable])
        what = ("estimate unknown" if unknown == counted else f"estimate {duration(known)}"
                + (f" plus {unknown} method(s) of unknown time" if unknown else ""))
        lines.append(f"{total} task(s) (method x split) to run; {what}")
    else:
        lines.append("nothing to run")
    return lines
