"""A self-contained report folder rendered from the result files and manifests only:

    <out>/report.md              Tables 1–3 (with the paper's numbers), figures, significance
    <out>/index.html             the same as one self-contained web page (bench/report/html_page.py)
    <out>/tables/*.tex           the same tables, ready to \\input (booktabs)
    <out>/figures/*.png          scatter + logistic fit, SRCC per split, significance matrices
    <out>/significance.csv       every compared pair, machine-readable

The folder is built beside ``out`` and swapped in whole, so a report never mixes files
from two runs. Methods made on another splits file, and pairs whose test images differ,
are refused: listed in report.md and on stderr, never compared.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from bench import __version__
from bench.bars import progress_bar
from bench.errors import BenchError
from bench.report import figures, tables
from bench.report.ablation import ablation_summary, render_ablation
from bench.report.cost import cost_frame, render_cost
from bench.report.html_page import PageInput, write_page
from bench.report.ledger import render_ledger
from bench.report.selection_gap import render_selection_gap, selection_gap
from bench.report.significance import (
    DEFAULT_RESAMPLES,
    Comparison,
    compare_methods,
    confidence_intervals,
    smallest_wilcoxon_p,
)
from bench.report.tables import latex_safe
from bench.results.loading import (
    MethodResults,
    load_results,
    missing_methods,
    split_metrics,
)
from bench.results.removed import removed_by_dataset
from bench.run.sanity import read_panel, render_panel
from bench.splits.protocols import protocol_notes

log = logging.getLogger("ipiqa_bench")
REPORT_FILE = "report.md"


@dataclass
class Report:
    folder: Path
    refused: list[str]


def build_report(results_dir: Path, out: Path, dataset: str | None = None,
                 n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0, plcc: str = tables.PAPER_PLCC) -> Report:
    """``plcc``: the PLCC kind every table shows (default: the paper's, as they sit beside it)."""
    out = Path(out)
    _clean_after_kill(out)
    _check_out(out)
    left_out: list[str] = []
    results = load_results(results_dir, dataset, refused=left_out)
    if not results:
        raise BenchError(f"no results under {results_dir}" + (f" for {dataset}" if dataset else "")
                         + "; run `ipiqa-bench run` first")
    figures.require_matplotlib()  # fail before any work when matplotlib is missing
    per_split = split_metrics(results, plcc)
    summary = tables.summarise_splits(per_split)
    signs = {r.method: r.manifest.sign for r in results}
    comparison = compare_methods(results, per_split, n_resamples, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()  # not mkdtemp: that one is private, and a report is meant to be shared
    try:
        gap = selection_gap(results, per_split, plcc)
        written = _write_figures(staging, results, per_split, summary, comparison)
        if (gap.get("n_splits", pd.Series(dtype=int)) > 0).any():
            written.append(figures.selection_gap_plot(staging / "figures" / "selection_gap.png", gap))
        table_files = _write_tex_tables(staging, results, summary, signs, comparison)
        comparison.pairs.to_csv(staging / "significance.csv", index=False, float_format="%.10g")
        text = _markdown(results_dir, results, per_split, summary, signs, comparison, left_out,
                         written, table_files, n_resamples, seed)
        text += _selection_gap_section(gap, {p.name for p in written})
        text += _ledger_section(confidence_intervals(tables.with_paper(summary, signs)))
        (staging / REPORT_FILE).write_text(text)
        _write_page(staging, results_dir, out, results, per_split, summary, signs, comparison, left_out,
                    n_resamples, seed)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Report(out, left_out + comparison.refused)


def _write_page(staging: Path, results_dir, out: Path, results, per_split, summary, signs, comparison, left_out,
                n_resamples: int, seed: int) -> Path:
    """index.html, from the summary `table --paper --ci` prints (bench.report.html_page)."""
    shown = confidence_intervals(tables.with_paper(summary, signs))
    removed = removed_by_dataset(results_dir, (r.dataset for r in results))  # as `table`
    return write_page(staging, PageInput(Path(results_dir), out, results, per_split, shown, comparison, left_out,
                                         missing_methods(results, None, removed), n_resamples, seed))


def render_table3(results: list[MethodResults], summary: pd.DataFrame, fmt: str = "markdown",
                  paper: bool = False) -> str:
    """Table 3 (bench.report.ablation: rows found by the manifests' ablation flags), or "" without them."""
    rows = ablation_summary(summary, {r.method: r.manifest.config for r in results})
    return "" if rows.empty else render_ablation(rows, fmt, paper)


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / REPORT_FILE).exists())):
        raise BenchError(f"{out} exists and is not a report folder; choose another --out")


def _clean_after_kill(out: Path) -> None:
    """Undo what a killed ``report`` left beside ``out``: staging folders of processes that no
    longer run, and the previous report set aside for a swap that never finished."""
    for staging in out.parent.glob(f".{out.name}.building-*") if out.parent.is_dir() else ():
        pid = staging.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _running(int(pid)):
            log.info("removing %s, left by a report that was stopped", staging)
            shutil.rmtree(staging, ignore_errors=True)
    old = out.parent / f".{out.name}.old"
    if old.is_dir():
        if out.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.rename(out)  # stopped mid-swap: the previous report comes back


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a folder with our own pid is from an earlier process that had it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _swap_in(staging: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _slug(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9._-]+", "-", p) for p in parts)


def _srcc_note(summary: pd.DataFrame, dataset: str, method: str, target: str) -> str:
    row = summary[(summary["dataset"] == dataset) & (summary["method"] == method) & (summary["target"] == target)]
    if row.empty or pd.isna(row["srcc_mean"].iloc[0]):
        return "SRCC: NaN"
    mean, std, n = row["srcc_mean"].iloc[0], row["srcc_std"].iloc[0], int(row["n_splits"].iloc[0])
    spread = "" if pd.isna(std) else f" ± {std:.3f}"
    return f"SRCC {mean:.3f}{spread} over {n} split{'s' if n != 1 else ''}"


def _write_figures(folder, results: list[MethodResults], per_split, summary, comparison: Comparison) -> list[Path]:
    jobs = []
    labels = {(d, m): label for d, part in per_split.groupby("dataset")
              for m, label in figures.unique_labels(part["method"], part["label"]).items()}
    for r in results:
        all_sides = pd.concat(r.predictions.values())
        for target, part in all_sides.groupby("target", sort=True):
            path = folder / "figures" / f"{_slug(r.dataset, r.method, target)}_scatter.png"
            jobs.append((figures.scatter_with_logistic, (path, part["pred"].to_numpy(), part["mos"].to_numpy(),
                                                         r.manifest.sign, labels[r.dataset, r.method],
                                                         r.dataset, target,
                                                         _srcc_note(summary, r.dataset, r.method, target))))
    for (dataset, target), part in per_split.groupby(["dataset", "target"], sort=True):
        path = folder / "figures" / f"{_slug(dataset, target)}_srcc_per_split.png"
        jobs.append((figures.srcc_per_split, (path, part, dataset, target)))
    for (dataset, target), pairs in comparison.pairs.groupby(["dataset", "target"], sort=True):
        path = folder / "figures" / f"{_slug(dataset, target)}_significance.png"
        jobs.append((figures.significance_matrix, (path, pairs, dataset, target)))
    costed = summary.merge(cost_frame(results).drop(columns="label"), on=["dataset", "method"])
    costed = costed.dropna(subset=["seconds_per_image", "srcc_mean"])
    for (dataset, target), part in costed.groupby(["dataset", "target"], sort=True):
        part = part.assign(label=[labels.get((dataset, m), m) for m in part["method"]])
        path = folder / "figures" / f"{_slug(dataset, target)}_srcc_vs_cost.png"
        jobs.append((figures.srcc_against_cost, (path, part, dataset, target)))
    return [draw(*args) for draw, args in progress_bar(jobs, desc="figures", unit="fig", leave=False)]


def _significance_table(pairs: pd.DataFrame, fmt: str) -> str:
    body = [[p.label_a, p.label_b, p.n_splits, f"{p.srcc_a:.4f}", f"{p.srcc_b:.4f}", f"{p.delta_srcc:+.4f}",
             _p(p.wilcoxon_p), _p(p.corrected_t_p), f"[{p.ci_low:+.4f}, {p.ci_high:+.4f}]"]
            for p in pairs.itertuples()]
    headers = ["A", "B", "splits", "SRCC A", "SRCC B", "Δ (A−B)", "Wilcoxon p", "corrected t p",
               "bootstrap 95% CI of Δ"]
    return tabulate(body, headers=headers, tablefmt="github" if fmt == "markdown" else "latex_booktabs",
                    disable_numparse=True)


def _p(p: float) -> str:
    return "n/a" if pd.isna(p) else f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


def _write_tex_tables(folder: Path, results, summary, signs, comparison: Comparison) -> list[Path]:
    written = []
    with_paper = tables.with_paper(summary, signs)
    candidates = {"table1.tex": tables.render(summary, "latex", False, 1),
                  "other_targets.tex": tables.render(summary, "latex", False, "other"),
                  "table1_vs_paper.tex": tables.render(with_paper, "latex", True, 1),
                  "table2.tex": tables.render(summary, "latex", False, 2),
                  "table2_vs_paper.tex": tables.render(with_paper, "latex", True, 2),
                  "table3.tex": render_table3(results, summary, "latex", False),
                  "table3_vs_paper.tex": render_table3(results, summary, "latex", True)}
    for (dataset, target), pairs in comparison.pairs.groupby(["dataset", "target"], sort=True):
        title = f"% {dataset} {target}: paired tests over splits (ipiqa-bench report)\n{tables.LATEX_PACKAGES}"
        candidates[f"{_slug(dataset, target)}_significance.tex"] = f"{title}\n{_significance_table(pairs, 'latex')}\n"
    for name, text in candidates.items():
        if text:
            (folder / "tables").mkdir(exist_ok=True)
            (folder / "tables" / name).write_text(latex_safe(text))
            written.append(folder / "tables" / name)
    return written


def _markdown(results_dir, results, per_split, summary, signs, comparison, left_out, figure_paths,
              table_files, n_resamples, seed) -> str:
    figure_names = {p.name for p in figure_paths}
    datasets = sorted({r.dataset for r in results})
    lines = ["# ipiqa-bench report", "",
             f"Rendered by ipiqa-bench {__version__} from the result files under `{results_dir}` "
             f"({len(results)} method result(s) on {', '.join(datasets)}). Every number is recomputed "
             "from the split files; nothing is copied from a run's log.", ""]
    if left_out or comparison.refused:
        lines += ["## Refused", ""]
    if left_out:
        lines += ["Results left out of every table, figure and test below:", ""]
        lines += [f"- {message}" for message in left_out] + [""]
    if comparison.refused:
        lines += ["Left out of the paired tests only (their tables and figures are below):", ""]
        lines += [f"- {message}" for message in comparison.refused] + [""]
    with_paper = tables.with_paper(summary, signs)
    lines += ["## Tables", ""]
    for text in (tables.render(with_paper, "markdown", True, 1), tables.render(with_paper, "markdown", True, 2),
                 tables.render(with_paper, "markdown", True, "other"), render_table3(results, summary, "markdown", True)):
        if text:
            lines += [text]

    lines += [f"Splits — {note}" for note in protocol_notes(results_dir, datasets)] + [""]
    lines += [tables.SIGN_NOTE, "",
              "LaTeX (booktabs) versions: " + ", ".join(f"[`{p.name}`](tables/{p.name})" for p in table_files), ""]
    for dataset in datasets:
        lines += [f"## {dataset}", ""]
        targets = sorted(per_split.loc[per_split["dataset"] == dataset, "target"].unique())
        lines += ["### SRCC per split", "",
                  "Each point is one split's test side; boxes span the splits (whiskers: min–max); "
                  "the diamond is the mean the tables report.", ""]
        lines += _images(figure_names, [f"{_slug(dataset, t)}_srcc_per_split.png" for t in targets])
        n_splits = sorted(comparison.pairs.loc[comparison.pairs["dataset"] == dataset, "n_splits"].unique())
        lines += ["### Paired significance", "", _method_note(n_resamples, seed, n_splits), ""]
        for target in targets:
            pairs = comparison.pairs[(comparison.pairs["dataset"] == dataset) & (comparison.pairs["target"] == target)]
            if pairs.empty:
                continue
            lines += [f"#### {figures.target_name(target)} (`{target}`)", ""]
            lines += _images(figure_names, [f"{_slug(dataset, target)}_significance.png"])
            lines += [_significance_table(pairs, "markdown"), ""]
        lines += ["### Predicted score against MOS", "",
                  "All test sides of all splits pooled, with one 4-parameter logistic fitted on them "
                  "(the tables fit one per split). Lower-is-better methods are plotted on their own scale.", ""]
        names = [f"{_slug(dataset, r.method, t)}_scatter.png" for r in results if r.dataset == dataset for t in targets]
        lines += _images(figure_names, names)
        cost_figures = _images(figure_names, [f"{_slug(dataset, t)}_srcc_vs_cost.png" for t in targets])
        if cost_figures:
            lines += ["### SRCC against cost", "", "Each row's mean SRCC against its seconds per image "
                      "(feature extraction, its own or that of the row whose cached features it used, or prediction "
                      "where it uses no features) as the run.json files record it; timings depend on the machine (the cost table says which device).", ""]
            lines += cost_figures
    cost = render_cost(results)
    if cost:
        lines += ["## Cost", "", cost, ""]
    panels = sanity_section(results_dir, results)
    if panels:
        lines += ["## Sanity panels", "", "Written by `ipiqa-bench sanity --results-dir` beside the results: does "
                  "each score hold when nothing that should matter changes (docs/reproducibility.md)?", "", *panels]
    speed = throughput_table(results)
    if speed:
        lines += ["## Throughput", "",
                  "Measured during each trainable method's runs, averaged over its splits and models: how the "
                  "step computed (precision; channels_last and torch.compile when used), training "
                  "images/s overall and of the training step alone (forward to update, while not waiting for "
                  "data), the share of training time spent waiting for the loader, and inference images/s. "
                  "`ipiqa-bench speed` times each stage alone.", "", speed, ""]
    lines += ["## Provenance", "", _provenance(results), ""]
    return "\n".join(lines)


def sanity_section(results_dir: Path, results: list[MethodResults]) -> list[str]:
    """The sanity panel of every row that has one (``<results>/<dataset>/<method>/sanity.json``)."""
    lines = []
    for r in results:
        panel = read_panel(Path(results_dir) / r.dataset / r.method)
        if panel is not None:
            lines += [f"{r.dataset} / {r.method} (panel of {panel.get('created', '?')}, "
                      f"commit {(panel.get('git_commit') or '–')[:10]}):", "", "```", render_panel(panel), "```", ""]
    return lines


def _ledger_section(rows: pd.DataFrame) -> str:
    """Our figures against the paper's with 95% t-intervals, and the public reports of
    non-reproduction (bench.report.ledger); "" when no row has a paper figure."""
    text = render_ledger(rows)
    if not text:
        return ""
    return "\n".join(["", "## Reproduction ledger", "",
                      "Each row the paper reports: our mean over the splits with its 95% t-interval "
                      "(bench/report/significance.py), the paper's figure as published, the difference and "
                      "whether the figure lies in the interval (both in our working direction: see the sign "
                      "note under the tables).", "", text]) + "\n"


def _selection_gap_section(gap: pd.DataFrame, figure_names: set[str]) -> str:
    """The trained rows' selection gap (bench.report.selection_gap), or "" without trained rows."""
    text = render_selection_gap(gap[gap["selection"] != "–"]) if len(gap) else ""
    if not text:
        return ""
    lines = ["", "## Selection gap", "",
             "What choosing the epoch on the test set would have added to each trained row: the same "
             "training, read at the epoch its selection policy chose and at the epoch with the best "
             "test criterion (recorded every epoch; the recording never changes the choice).", "",
             *_images(figure_names, ["selection_gap.png"]), text]
    return "\n".join(lines) + "\n"


def _images(available: set[str], names: list[str]) -> list[str]:
    return [f"![{name}](figures/{name})\n" for name in names if name in available]


def _method_note(n_resamples: int, seed: int, n_splits=()) -> str:
    floor = "; ".join(f"with {n} splits the smallest attainable p is 2/2^{n} = {smallest_wilcoxon_p(n):.3g}"
                      + (", so no difference can reach p < 0.05" if smallest_wilcoxon_p(n) >= 0.05 else "")
                      for n in n_splits)
    return ("For every pair of methods on the same test images of the same splits: the mean SRCC "
            "difference; a two-sided **Wilcoxon signed-rank** test over the per-split SRCC pairs "
            "(scipy's exact null distribution when no differences tie or are zero; "
            f"{floor or 'its smallest p is 2/2^n for n splits'}; identical methods give p = 1); the "
            "**Nadeau–Bengio corrected t-test**, which accounts for random splits sharing training "
            "images (plain tests over overlapping splits are optimistic); and a "
            f"**paired bootstrap** over test images ({n_resamples} resamples per split, seed {seed}, "
            "the same images drawn for both methods) giving a 95% percentile interval of the mean "
            "difference for fixed predictions. p-values are not adjusted for the number of pairs. "
            "In the matrix, colour is the difference (row − column), text the Wilcoxon p, and * "
            "marks a bootstrap interval that excludes 0.")


def _compute_variant(model_report: dict) -> str:
    """How a model's step computed: precision, then channels_last and torch.compile when used."""
    return " + ".join([model_report.get("precision", "fp32")]
                      + ["channels_last"] * bool(model_report.get("channels_last"))
                      + ["compiled"] * bool(model_report.get("compile")))


def throughput_table(results: list[MethodResults], fmt: str = "markdown") -> str:
    """Per-stage images/s of the trainable methods, from their manifests ("" when none trained)."""
    body = []
    for r in results:
        splits = [s for s in r.manifest.splits.values() if (s.report or {}).get("models")]
        if not splits:
            continue
        models = [m for s in splits for m in s.report["models"].values()]
        share = [m.get("speed", {}).get("data_wait_share") for m in models]
        share = [v for v in share if v is not None]
        body.append([r.dataset, r.method, splits[0].report.get("device", r.manifest.device or ""),
                     ", ".join(sorted({s.report.get("loader", "files") for s in splits})),
                     ", ".join(sorted({_compute_variant(m) for m in models})),
                     _mean(m.get("train_images_per_s") for m in models),
                     _mean(m.get("speed", {}).get("step_images_per_s") for m in models),
                     f"{100 * sum(share) / len(share):.0f}%" if share else "–",
                     _mean(s.predict_images_per_s for s in splits)])
    if not body:
        return ""
    return tabulate(body, headers=["dataset", "method", "device", "loader", "compute", "train img/s",
                                   "step img/s", "waiting for data", "predict img/s"],
                    tablefmt="github" if fmt == "markdown" else fmt, disable_numparse=True)


def _mean(values) -> str:
    values = [v for v in values if v is not None]
    return f"{sum(values) / len(values):.1f}" if values else "–"


def _provenance(results: list[MethodResults]) -> str:
    body = []
    for r in results:
        m = r.manifest
        body.append([r.dataset, r.method, m.display or r.method, f"{len(r.predictions)}/{r.n_splits_total or '?'}",
                     m.device or "", (m.git_commit or "–")[:10], m.updated or ""])
    return tabulate(body, headers=["dataset", "method", "display", "splits", "device", "git commit", "updated"],
                    tablefmt="github", disable_numparse=True)
