"""The Python API; the ``ipiqa-bench`` CLI only wraps it.

    from bench import api
    outcomes = api.run(methods="handcrafted", dataset="demo", splits=3, results_dir="results")
    frame = api.table(results_dir="results")              # a pandas DataFrame, one row per cell group
    scores = api.score("niqe", ["a.png", "b.png"])         # one row per image
    config = api.config("hypernet", dataset="agiqa3k")     # values and where each came from
    needs = api.needs("demo")                              # what each method needs there, and if it is here
    panel = api.sanity("niqe", dataset="demo", n=16)       # do its scores hold under batch, JPEG, threads...?

Results are files (``results/<dataset>/<method>/``); ``table`` always recomputes from them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.assets import needs_download
from bench.config import ResolvedConfig, check_preset, resolve_config
from bench.datasets import load_dataset
from bench.datasets.loading import dataset_status
from bench.datasets.validation import prepare_for_run
from bench.devices import resolve_device
from bench.errors import BenchError
from bench.files import atomic_write_text
from bench.registry import (
    create_method,
    get_method_info,
    list_methods,
    removed_method_names,
    resolve_method_names,
)
from bench.report import tables
from bench.report.summary import summary_lines, summary_of
from bench.results.locks import dataset_lock
from bench.results.removed import record_removed
from bench.run.executors import make_executor
from bench.run.needs import method_needs
from bench.run.progress import say
from bench.run.runner import MethodOutcome, RunOptions, method_config, run_benchmark
from bench.run.sanity import PANEL_FILE, run_panel
from bench.run.scoring import make_scorer, score_images, score_pairs
from bench.run.spec import RunSpec
from bench.run.whole_dataset import run_whole
from bench.splits import SplitConfig, ensure_splits
from bench.splits.importing import import_splits as read_and_map
from bench.splits.protocols import (
    make_protocol_splits,
    protocol_note,
    read_provenance,
    write_splits,
)

log = logging.getLogger("ipiqa_bench")


def run(spec: RunSpec | str | list[str] | None = None, dataset: str | None = None, **options) -> list[MethodOutcome]:
    """Fit and evaluate methods on every split of a dataset, as ``spec`` (a ``RunSpec``: every
    option and its default) says; returns one outcome per method (``.method``, ``.status`` in
    done / up-to-date / skipped / failed, ``.message``, and ``.stage`` where it failed).

    The keyword form builds the spec: ``run("handcrafted", "demo", splits=3)`` is
    ``run(RunSpec(methods="handcrafted", dataset="demo", splits=3))``.

    On stderr: the plan (each method, its splits to run and an estimate, or why not), a bar
    and ``[k/N]`` lines as splits finish, one line per failure, and with ``spec.summary`` the
    SRCC/PLCC of what finished. Ctrl-C raises ``bench.run.progress.RunInterrupted`` (a
    KeyboardInterrupt) saying what was kept; rerunning the same call resumes.
    """
    if isinstance(spec, RunSpec):
        if dataset is not None or options:
            raise TypeError("api.run: give a RunSpec or keyword options, not both")
    else:
        if spec is not None:
            options["methods"] = spec
        if dataset is not None:
            options["dataset"] = dataset
        spec = RunSpec(**options)
    # an unknown method, preset or device, or a missing dataset, fails before anything is resolved
    check_preset(spec.preset, [get_method_info(n) for n in resolve_method_names(spec.methods, report=False)])
    resolve_device(spec.device)
    data = prepare_for_run(load_dataset(spec.dataset, spec.root), spec.drop_invalid)
    options = RunOptions(results_dir=Path(spec.results_dir), splits=SplitConfig(spec.splits, spec.seed, spec.test_size),
                         force=spec.force, device=spec.device, overrides=spec.method_config(), preset=spec.preset)
    names = resolve_method_names(spec.methods, needs_download=lambda info: any(map(needs_download, create_method(
        info.name, **method_config(info, options, data.name)).required_assets())))
    record_removed(options.results_dir / data.name, removed_method_names(spec.methods), names)
    train = prepare_for_run(load_dataset(spec.train_on, spec.train_root), spec.drop_invalid) if spec.train_on else None
    pool = make_executor(spec.executor, spec.jobs, spec.ray_address)
    try:
        if spec.evaluate == "all" or train is not None:
            outcomes = run_whole(names, data, options, pool, train)
        else:
            if read_provenance(options.results_dir / data.name):  # a splits file exists: say which
                log.info("%s splits: %s", data.name, protocol_note(options.results_dir / data.name))
            outcomes = run_benchmark(names, data, options, pool)
    finally:
        pool.close()
    log.info("%d method(s): %d done, %d up to date, %d skipped, %d failed", len(outcomes),
             *(sum(o.status == s for o in outcomes) for s in ("done", "up-to-date", "skipped", "failed")))
    if spec.summary and spec.evaluate == "splits" and train is None:
        for line in summary_lines(outcomes, options.results_dir, data.name, spec.splits):
            say(line)
    return outcomes


def splits(dataset: str, *, root: str | Path | None = None, protocol: str = "grouped", splits: int = 10,
           seed: int | None = None, test_size: float = 0.2, results_dir: str | Path = "results",
           drop_invalid: bool = False) -> Path:
    """Write (or reuse) ``<results>/<dataset>/splits.csv`` made by ``protocol`` (grouped, image,
    ipiqa-code; bench.splits.protocols); ``seed`` None: 0, or 42 for ipiqa-code. Returns its path."""
    loaded = load_dataset(dataset, root)
    data = prepare_for_run(loaded, drop_invalid)  # the images `run` will use
    config = SplitConfig(splits, 0 if seed is None else seed, test_size)
    out = Path(results_dir) / data.name
    if protocol == "grouped":
        made = read_provenance(out).get("protocol", "grouped")
        if made != "grouped":  # ensure_splits would reuse it: the file is not what was asked for
            raise BenchError(f"{out / 'splits.csv'} already exists (protocol {made}); use another "
                             "--results-dir, or delete it (and the results made with it)")
        with dataset_lock(out):  # one writer per dataset folder, as `run`
            return ensure_splits(out, data.frame["image"], data.frame["group"], config)
    # made (and refused, if it must be) before anything is written
    frame, provenance = make_protocol_splits(protocol, loaded, data.frame, config, seed_given=seed is not None)
    with dataset_lock(out):
        return write_splits(out, frame, provenance)


def import_splits(dataset: str, fmt: str, paths: list[str | Path], *, root: str | Path | None = None,
                  results_dir: str | Path = "results", drop_invalid: bool = False, ignore_unknown: bool = False):
    """Import published fold files (``fmt``: ipce, qalign, csv; bench.splits.importing) as the
    dataset's splits.csv. Returns (path, report); nothing is written if a fold is invalid."""
    data = prepare_for_run(load_dataset(dataset, root), drop_invalid)
    frame, provenance, report = read_and_map(fmt, paths, data.frame["image"], data.frame["group"], ignore_unknown)
    with dataset_lock(Path(results_dir) / data.name):
        return write_splits(Path(results_dir) / data.name, frame, provenance), report


def table(results_dir: str | Path = "results", dataset: str | None = None, *, which: str | int = "all",
          paper: bool = False, ci: bool = False, plcc: str = "logistic", methods: str | None = None) -> pd.DataFrame:
    """Every (method, dataset, target) row of Tables 1 and 2 (``which``: 1, 2 or "all"):
    mean and std of each metric over the splits, recomputed from the split files, and each
    row's protocol (splits done of the total, PLCC kind, selection, preset, overrides).
    ``plcc``: "logistic" (after the 4-parameter mapping, sign kept) or "raw" (Pearson)."""
    summary, _, _ = summary_of(results_dir, dataset, methods=methods, plcc=plcc, paper=paper, ci=ci)
    if str(which) != "all":
        summary = tables.layout_rows(summary, int(which))

    notes = {d: protocol_note(Path(results_dir) / d) for d in summary["dataset"].unique()}
    return summary.assign(split_protocol=summary["dataset"].map(notes)).reset_index(drop=True)


def score(method: str | None, images: list[str | Path] | None = None, prompt: str = "", *,
          prompts: list[str] | None = None, pairs: str | Path | None = None, checkpoint: str | Path | None = None,
          from_dir: str | Path | None = None, split: int | None = None, device: str = "auto"):
    """Score images with ``method``: one row per image (``prompts``: one per image, or ``prompt``
    for all; the first image that fails raises). ``pairs``: a CSV of image, prompt (and other
    columns, carried through; images relative to its folder): returns a ``Scored`` whose frame has
    one row per pair, a failed row's score empty and its ``error`` set, and ``failures`` (CSV
    line, message). A trained method needs ``checkpoint`` (one split's) or ``from_dir``
    (``<results>/<dataset>/<method>``: every split's checkpoint averaged, with a ``_std`` column,
    or only ``split``'s)."""
    from_dir = Path(from_dir) if from_dir else None
    checkpoint = Path(checkpoint) if checkpoint else None
    if pairs is not None:
        return score_pairs(method, Path(pairs), checkpoint=checkpoint, from_dir=from_dir, split=split, device=device)
    scorer = make_scorer(method, checkpoint=checkpoint, from_dir=from_dir, split=split, device=device)
    return score_images(scorer, [Path(p) for p in images or []], prompt, prompts=prompts)


@dataclass(frozen=True)
class Needs:
    dataset: str | None  # whether the dataset is here, in words (None: no dataset asked about)
    methods: dict[str, list[str]]  # method -> "<file> (<state>)" for each file it needs


def needs(dataset: str | None = None, *, root: str | Path | None = None, preset: str | None = None,
          family: str | None = None) -> Needs:
    """What each method (of ``family``) needs, on ``dataset`` if given (the config its preset
    there gives), and whether each file and the dataset are here. Loads no dataset."""
    infos = [m for m in list_methods() if family is None or m.family == family]
    check_preset(preset, infos)
    status = dataset_status(dataset, root) if dataset is not None else None
    return Needs(status, {m.name: method_needs(get_method_info(m.name), dataset, preset) for m in infos})


def config(method: str, dataset: str | None = None, preset: str | None = None,
           overrides: dict | None = None) -> ResolvedConfig:
    """The config ``method`` would run with, and the source and origin of every value."""
    return resolve_config(method, dataset, preset, overrides)


def sanity(method: str, *, dataset: str = "demo", n: int = 16, root: str | Path | None = None,
           checkpoint: str | Path | None = None, device: str = "cpu", results_dir: str | Path | None = None) -> dict:
    """The sanity panel of ``method`` on ``n`` images of ``dataset`` (bench/run/sanity.py): batch
    1 vs N, PNG vs JPEG q95, a bitwise rerun, 1 vs N threads, reversed order, CPU vs GPU. The
    method is scored with the config ``run`` would give it on ``dataset`` (its preset); with
    ``results_dir``, as its row ran there (the config in its run.json, split 0's checkpoint, else
    the first split's that has one, when trained and no ``checkpoint`` is given), and the panel is written beside it,
    ``<results_dir>/<dataset>/<method>/sanity.json``, where ``report`` shows it."""
    panel = run_panel(method, dataset, n, root, checkpoint, device, results_dir)
    if results_dir is not None:
        atomic_write_text(Path(results_dir) / dataset / method / PANEL_FILE, json.dumps(panel, indent=2) + "\n")
    return panel
