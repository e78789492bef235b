"""What ``run`` tells its user on stderr: the plan, one bar over every (method, split) task
with ``[k/N]`` lines and what an interrupt kept (the summary of what finished is
bench.report.summary's).

Results stay in files; these lines are for the person waiting. Estimates come from the
per-split times an earlier run of the same method on the same dataset recorded in its
``run.json`` (or the one ``--force`` moved to ``.replaced/``); without one, from the cost per
image the method declares (``Method.reference_cost``, measured on a stated machine, scaled
by the images' pixels; a trainable row's prices its split's planned epochs, training images
and test images); without either, "unknown". As splits finish, the time left is
recomputed from each method's measured split times.
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
from bench.train.torch_method import pixels_text

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
    features_s: float = 0.0  # once, before the splits: extracting the features not cached yet

    def total(self, n_splits: int) -> float | None:
        return None if self.seconds_per_split is None else self.features_s + self.seconds_per_split * n_splits


def reference_estimate(reference: dict | None, n_extract: int, n_test: int, pixels: int | None,
                       features: bool, trains: bool = True, work=None, config: dict | None = None) -> Estimate | None:
    """An estimate from a method's declared reference cost (None without one): a feature
    method extracts ``n_extract`` images once, any other predicts ``n_test`` per split; seconds scale
    with the images' pixels against the reference's image size. A trainable row's reference
    (``train_s_per_image``) prices ``work``, its split's planned training (bench.train.TrainingWork).
    A reference with a ``config`` holds only where the run's ``config`` has those values."""
    differs = {k: v for k, v in (reference or {}).get("config", {}).items() if (config or {}).get(k) != v}
    if differs:
        return Estimate(None, "its reference cost was measured with " + ", ".join(
            f"{k} {v!r}, not {(config or {}).get(k)!r}" for k, v in differs.items()))
    if reference and reference.get("train_s_per_image") is not None:
        return training_estimate(reference, work) if work is not None else None
    if not reference or not reference.get("seconds_per_image"):
        return None
    size = reference.get("image_size")
    scale = pixels / size ** 2 if pixels and size else 1.0
    per_image = reference["seconds_per_image"] * scale
    per_split = float(reference.get("train_s_per_split", 0.0))
    source = (f"reference {reference['seconds_per_image']:g} s/image at {size or '?'} px on "
              f"{reference.get('machine', 'an unstated machine')}"
              + (f", x{scale:.2f} for these images' pixels" if scale != 1.0 else ""))
    if trains and "train_s_per_split" not in reference:
        source += "; regressor fit not included" if features else "; training not included"
    if features:
        return Estimate(per_split, source, features_s=per_image * n_extract)
    return Estimate(per_split + per_image * n_test, source)


def training_estimate(reference: dict, work) -> Estimate:
    """A split of a trainable row: its training samples at the reference's seconds per training
    sample and its predicted images at its seconds per predicted image, each scaled by the
    pixels the network sees against the pixels measured."""
    train_scale = work.train_pixels / reference["train_pixels"]
    predict_scale = work.predict_pixels / reference["predict_pixels"]
    seconds = (work.train_samples * reference["train_s_per_image"] * train_scale
               + work.predicted_images * reference["predict_s_per_image"] * predict_scale)
    source = (f"reference {reference['train_s_per_image']:g} s/training image at {pixels_text(reference['train_pixels'])} "
              f"(batch {reference['batch_size']}), {reference['predict_s_per_image']:g} s/predicted image at "
              f"{pixels_text(reference['predict_pixels'])}, on {reference.get('machine', 'an unstated machine')}; "
              f"for {work.describe()}")
    return Estimate(seconds, source)


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
        # per method: [splits left, planned s/split or None, planned features s, measured split seconds]
        self.left = {p.info.name: [len(p.todo), getattr(p.estimate, "seconds_per_split", None),
                                   getattr(p.estimate, "features_s", 0.0), []]
                     for p in plans if p.runnable and p.todo}
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
            state = self.left.setdefault(method, [1, None, 0.0, []])
            state[0] -= 1
            state[2] = 0.0  # its features are done once its first split is
            state[3].append(seconds)
            say(f"[{self.done}/{self.total}] {method} split {split} done in {seconds:.1f} s "
                f"({duration(elapsed)} elapsed, about {duration(self.seconds_left(elapsed))} left "
                "at each method's measured pace)")

    def seconds_left(self, elapsed: float) -> float:
        """The remaining splits of each method at its own measured mean split time; a method
        with none measured yet at its planned estimate, else at this run's overall pace."""
        pace = elapsed / self.done if self.done else 0.0
        left = 0.0
        for remaining, planned, features_s, measured in self.left.values():
            if remaining <= 0:
                continue
            per_split = sum(measured) / len(measured) if measured else planned if planned is not None else pace
            left += features_s + per_split * remaining
        return left

    def failed(self, method: str, line: str, remaining: int) -> None:
        """A method stopped: its failure's line, once, and its remaining tasks leave the total."""
        with self._lock:
            self.total -= remaining
            self.left.pop(method, None)
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
            seconds = p.estimate.total(len(p.todo))
            if seconds is None:
                unknown += 1
                guess = f"estimate unknown ({p.estimate.source})"
            else:
                known += seconds
                guess = f"estimate {duration(seconds)} ({p.estimate.source})"
            lines.append(f"  {name}: {len(p.todo)} of {p.n_splits} split(s) to run{done}; {guess}")
    if total:
        counted = len([p for p in plans if p.todo and p.runnable])
        what = ("estimate unknown" if unknown == counted else f"estimate {duration(known)}"
                + (f" plus {unknown} method(s) of unknown time" if unknown else ""))
        lines.append(f"{total} task(s) (method x split) to run; {what}")
    else:
        lines.append("nothing to run")
    return lines
