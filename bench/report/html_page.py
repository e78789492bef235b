"""``index.html``: the report as one self-contained page that opens from file:// offline.

Styles, script, figures (inline SVG, bench.report.svg) and the scatter data (JSON) are all
inside the file; the only links are relative ones to the result files (manifests and
prediction files). It renders the summary ``table --paper --ci`` prints, never a number
computed otherwise: every leaderboard number carries its column name and full value
(``<span class="num" data-col=... data-value=...>``) so tests can check it against
``table --format csv``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from html import escape
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from bench import __version__
from bench.report import leaderboard, svg
from bench.report.figures import (
    cost_title,
    logistic_curve,
    significance_grid,
    target_name,
    unique_labels,
)
from bench.report.leaderboard import Row
from bench.report.significance import Comparison
from bench.report.tables import PAPER_PLCC_NOTE, PLCC_TITLES, SIGN_NOTE, SUMMARY_METRICS
from bench.results.loading import MethodResults
from bench.results.manifest import git_commit
from bench.run.sanity import CHECK_COLUMNS, TOLERANCE_NOTE, check_rows, panel_heading
from bench.splits.protocols import protocol_note, read_provenance

PAGE_FILE = "index.html"
CURVE_POINTS = 120  # points of the fitted logistic drawn per scatter
DIGITS = 5  # significant digits of the scatter data (the page's size, not its numbers, depends on it)
FILTERS = (("family", "Family"), ("fidelity", "Fidelity"), ("trained", "Trained"), ("comparable", "Comparable to the paper"))
CI_NOTE = ("95% interval: Student t over the split values (mean ± t·s/√n), as `table --ci`; it treats the "
           "splits as independent, which random splits sharing training images are not, so read it as a "
           "lower bound on the uncertainty. \"paper in CI\": the paper's figure, in our working direction, "
           "lies inside it.")


@dataclass
class PageInput:
    results_dir: Path
    out: Path  # the report folder the page's relative links start from
    results: list[MethodResults]
    per_split: pd.DataFrame  # bench.results.loading.split_metrics
    summary: pd.DataFrame  # with the paper's columns and the t-intervals (`table --paper --ci`)
    comparison: Comparison
    refused: list[str]  # results left out of everything
    missing: list[str]  # selected methods without results (bench.results.loading.missing_methods)
    n_resamples: int
    seed: int


def write_page(folder: Path, page: PageInput) -> Path:
    rows = leaderboard.leaderboard_rows(page.summary, page.results, page.per_split, page.results_dir, page.out)
    path = Path(folder) / PAGE_FILE
    path.write_text(render_page(page, rows), encoding="utf-8")
    return path


def render_page(page: PageInput, rows: list[Row]) -> str:
    datasets = sorted({r.dataset for r in page.results})
    body = [f"<header><h1>ipiqa-bench report</h1><p>Rendered by ipiqa-bench {escape(__version__)} "
            f"from {len(page.results)} method result(s) on {escape(', '.join(datasets))}. Every number is "
            "recomputed from the split files, as <code>ipiqa-bench table --paper --ci</code> computes it. "
            "Click a row for its protocol, sanity panel and files; click a column header to sort.</p>",
            '<nav><a href="#leaderboard">Leaderboard</a> <a href="#figures">Figures</a> '
            '<a href="#facts">Run facts</a></nav></header>',
            _leaderboard_section(rows), _figures_section(page, rows), _facts_section(page)]
    data = json.dumps(_scatter_data(page), separators=(",", ":")).replace("</", "<\\/")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>ipiqa-bench report: {escape(', '.join(datasets))}</title>"
            f"<style>{_static('page.css')}</style></head><body>{''.join(body)}"
            f'<script type="application/json" id="scatter-data">{data}</script>'
            f"<script>{_static('page.js')}</script></body></html>\n")


def _static(name: str) -> str:
    return resources.files("bench.report").joinpath("page", name).read_text(encoding="utf-8")


# --- leaderboard ---------------------------------------------------------------------------


def _num(column: str, value, text: str | None = None) -> str:
    """A number with its summary column and full value; "–" when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    value = float(value)
    shown = text if text is not None else f"{value:.4f}"
    return f'<span class="num" data-col="{column}" data-value="{value!r}">{shown}</span>'


def _sort_key(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else repr(float(value))


def _cell(content: str, sort=None, cls: str = "") -> str:
    key = sort if isinstance(sort, str) else _sort_key(sort)
    return f'<td data-sort="{escape(key)}"{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{content}</td>'


def _yes_no(value: bool | None) -> str:
    return "–" if value is None else "yes" if value else "no"


def _columns(group: list[Row]) -> list[tuple[str, str]]:
    """(header, type) of one leaderboard's columns; the paper's columns only where it has figures."""
    columns = [("Method", "text"), ("Family", "text"), ("Fidelity", "text"), ("Trained", "text"), ("Splits", "number")]
    for metric in SUMMARY_METRICS:
        name = _metric_title(metric, group)
        columns.append((f"{name} mean ± std [95% CI]", "number"))
        if _has_paper(group, metric):
            columns += [(f"{name} paper", "number"), (f"Δ {name}", "number"), (f"paper in {name} CI", "text")]
    return columns + [("Comparable", "text")]  # to the paper (the filter names it in full)


def _metric_title(metric: str, group: list[Row]) -> str:
    kind = group[0].cells.get("plcc_kind", "logistic")
    return f"PLCC ({kind})" if metric == "plcc" else metric.upper()


def _has_paper(group: list[Row], metric: str) -> bool:
    return any(pd.notna(r.cells.get(f"paper_{metric}")) for r in group)


def _row_cells(row: Row, group: list[Row]) -> list[str]:
    c = row.cells
    total = c.get("n_splits_total")
    splits = _num("n_splits", c["n_splits"], str(int(c["n_splits"]))) + (
        f"/{_num('n_splits_total', total, str(int(total)))}" if pd.notna(total) else "")
    cells = [_cell(f'<span class="label">{escape(row.label)}</span>', row.label.lower()),
             _cell(escape(row.family), row.family), _cell(escape(row.fidelity), row.fidelity),
             _cell(escape(row.trained), row.trained), _cell(splits, c["n_splits"])]
    for metric in SUMMARY_METRICS:
        mean, std = c.get(f"{metric}_mean"), c.get(f"{metric}_std")
        text = _num(f"{metric}_mean", mean) + (f" ± {_num(f'{metric}_std', std)}" if pd.notna(std) else "")
        low, high = c.get(f"{metric}_ci_low"), c.get(f"{metric}_ci_high")
        if pd.notna(low):
            text += f'<br><span class="ci">[{_num(f"{metric}_ci_low", low)}, {_num(f"{metric}_ci_high", high)}]</span>'
        cells.append(_cell(text, mean))
        if _has_paper(group, metric):
            delta = c.get(f"delta_{metric}")
            signed = None if pd.isna(delta) else f"{delta:+.4f}"
            inside = row.paper_in_ci.get(metric)
            cells += [_cell(_num(f"paper_{metric}", c.get(f"paper_{metric}")), c.get(f"paper_{metric}")),
                      _cell(_num(f"delta_{metric}", delta, signed), delta),
                      _cell(_yes_no(inside), _yes_no(inside), "inside" if inside else "outside" if inside is False else "")]
    comparable = "yes" if row.comparable else "no"
    cells.append(_cell(comparable, comparable))
    return cells


def _details(row: Row, width: int) -> str:
    protocol = "".join(f"<dt>{escape(name)}</dt><dd>{escape(value)}</dd>" for name, value in row.protocol)
    reasons = ("<p>Comparable to the paper: yes (a paper figure, the full protocol).</p>" if row.comparable else
               "<p>Not comparable to the paper: " + "; ".join(escape(r) for r in row.not_comparable) + ".</p>")
    per_split = ", ".join(f"split {k}: {v:.4f}" if np.isfinite(v) else f"split {k}: NaN" for k, v in row.split_srcc)
    note = f"<p>Note: {escape(row.cells['note'])}</p>" if row.cells.get("note") else ""
    measured = f", measured on {escape(row.cost_measured_on)}" if row.cost_measured_on else ""
    cost = (f"<p>Cost: {row.seconds_per_image:.3g} s per image{measured} (from run.json, as <code>table --cost</code> "
            "gives it).</p>" if row.seconds_per_image else "")
    files = " ".join(f'<a href="{link}">split_{k}.csv</a>' for k, link in row.prediction_links)
    panel = f' · <a href="{row.sanity_link}">sanity.json</a> (sanity panel)' if row.sanity_link else ""
    return (f'<tr class="details" data-key="{escape(row.key)}" hidden><td colspan="{width}">'
            f'<div class="protocol"><h4>Protocol of {escape(row.label)} <code>{escape(row.method)}</code></h4>'
            f"<dl>{protocol}</dl>{reasons}<p>SRCC per split: {per_split}</p>{note}{cost}"
            f'<p>Files: <a href="{row.manifest_link}">run.json</a> (manifest) · predictions: {files}{panel} · '
            f'<a href="#scatter" class="show-scatter" data-scatter="{escape(row.key)}">its scatter</a></p>'
            f"</div>{_sanity(row)}</td></tr>")


def _sanity(row: Row) -> str:
    """The row's sanity panel: each check's verdict, as report.md shows it (bench.run.sanity.check_rows)."""
    command = f"ipiqa-bench sanity --method {row.method} --dataset {row.dataset} --results-dir RESULTS"
    if row.sanity is None:
        return f'<p class="sanity-none">No sanity panel for this row (<code>{escape(command)}</code> writes one).</p>'
    p = row.sanity
    scored = "; ".join(f"{key.replace('_', ' ')} {p[key]}" for key in ("config_from", "checkpoint") if p.get(key))
    about = ("Does the score hold when nothing that should matter changes? Each check scores a sample of images a "
             f"second way and compares the two score vectors; {TOLERANCE_NOTE}. docs/reproducibility.md describes "
             f"the checks. This panel: {panel_heading(p)}{f' ({scored})' if scored else ''}, written "
             f"{p.get('created', '?')} at commit {(p.get('git_commit') or '–')[:10]} (sanity.json).")
    head = "".join(f"<th>{escape(name)}</th>" for _, name in CHECK_COLUMNS)
    body = "".join(f'<tr data-check="{escape(c["name"])}" data-status="{escape(c["status"])}">'
                   + "".join(f'<td class="{key}">{escape(c[key])}</td>' for key, _ in CHECK_COLUMNS) + "</tr>"
                   for c in check_rows(p))
    return (f'<div class="sanity"><h4>Sanity panel</h4><p class="note">{escape(about)}</p>'
            f'<table class="sanity"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')


def _leaderboard_table(group: list[Row]) -> str:
    columns = _columns(group)
    head = "".join(f'<th data-type="{kind}" tabindex="0" aria-sort="none">{escape(name)}</th>' for name, kind in columns)
    body = []
    for row in group:
        attrs = {"key": row.key, "dataset": row.dataset, "target": row.target, "method": row.method,
                 "family": row.family, "fidelity": row.fidelity, "trained": row.trained,
                 "comparable": "yes" if row.comparable else "no"}
        data = " ".join(f'data-{k}="{escape(v)}"' for k, v in attrs.items())
        body.append(f'<tr class="row" tabindex="0" aria-expanded="false" {data}>{"".join(_row_cells(row, group))}</tr>')
        body.append(_details(row, len(columns)))
    first = group[0]
    notes = [PLCC_TITLES[first.cells.get("plcc_kind", "logistic")] + "."]
    if any(_has_paper(group, m) for m in SUMMARY_METRICS):
        notes += [SIGN_NOTE, PAPER_PLCC_NOTE]
    return (f'<h3>{escape(first.dataset)}: {escape(target_name(first.target))} (<code>{escape(first.target)}</code>)</h3>'
            f'<div class="scroll"><table class="leaderboard" data-dataset="{escape(first.dataset)}" '
            f'data-target="{escape(first.target)}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            "</table></div>" + "".join(f'<p class="note">{escape(n)}</p>' for n in notes))


def _groups(rows: list[Row]) -> dict[tuple[str, str], list[Row]]:
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.dataset, row.target), []).append(row)
    return groups


def _leaderboard_section(rows: list[Row]) -> str:
    controls = []
    for attr, name in FILTERS:
        values = sorted({getattr(r, attr) if attr != "comparable" else ("yes" if r.comparable else "no") for r in rows})
        options = '<option value="">all</option>' + "".join(f'<option value="{escape(v)}">{escape(v)}</option>'
                                                             for v in values)
        controls.append(f'<label>{name} <select class="filter" data-filter="{attr}">{options}</select></label>')
    controls.append('<button type="button" id="expand-all">Expand all</button>'
                    '<button type="button" id="collapse-all">Collapse all</button>')
    tables = "".join(_leaderboard_table(group) for group in _groups(rows).values())
    return (f'<section id="leaderboard"><h2>Leaderboard</h2><div class="controls">{"".join(controls)}'
            f'<span id="shown-count" aria-live="polite"></span></div><p class="note">{escape(CI_NOTE)}</p>'
            f"{tables}</section>")


# --- figures -------------------------------------------------------------------------------


def _strip(per_split: pd.DataFrame, dataset: str, target: str) -> str:
    part = per_split[(per_split["dataset"] == dataset) & (per_split["target"] == target)]
    names = unique_labels(part["method"], part["label"])
    order = part.groupby("method")["srcc"].mean().sort_values(ascending=False, na_position="last").index
    lanes = []
    for method in order:
        values = part[part["method"] == method].sort_values("split")
        finite = values[np.isfinite(values["srcc"])]
        lanes.append(svg.Lane(names[method], finite["srcc"].tolist(),
                              [f"{names[method]}: split {k} SRCC {v:.4f}" for k, v in zip(finite["split"], finite["srcc"])]))
    n = int(part.groupby("method")["split"].nunique().max())
    return svg.strip_chart(lanes, f"{dataset}: {target_name(target)}, SRCC of each of {n} splits",
                           "SRCC on the test side of each split (dots); red diamond: the mean the table reports")


def _heatmap(pairs: pd.DataFrame, dataset: str, target: str) -> str:
    labels, delta, text = significance_grid(pairs)
    splits = int(pairs["n_splits"].max())
    return svg.heatmap(labels, delta, text,
                       f"{dataset}: {target_name(target)}, Wilcoxon signed-rank test over {splits} paired splits",
                       ["colour: mean SRCC difference (row − column); text: Wilcoxon p;",
                        "*: the paired bootstrap 95% interval of the difference excludes 0"])


def _cost(group: list[Row]) -> str:
    points = [(r.label, r.seconds_per_image, float(r.cells["srcc_mean"])) for r in group
              if r.seconds_per_image and pd.notna(r.cells["srcc_mean"])]
    if not points:
        return ""
    first = group[0]
    return svg.log_x_scatter(points, cost_title(first.dataset, first.target),
                             "seconds per image (log scale; as table --cost gives it)", f"mean SRCC, {target_name(first.target)}")


def _figures_section(page: PageInput, rows: list[Row]) -> str:
    parts = ['<section id="figures"><h2>Figures</h2>']
    pairs = page.comparison.pairs
    for (dataset, target), group in _groups(rows).items():
        parts.append(f'<h3>{escape(dataset)}: {escape(target_name(target))}</h3><div class="figrow">')
        parts.append(f'<figure>{_strip(page.per_split, dataset, target)}</figure>')
        here = pairs[(pairs["dataset"] == dataset) & (pairs["target"] == target)]
        if not here.empty:
            parts.append(f"<figure>{_heatmap(here, dataset, target)}<figcaption>{_test_caption(page)}"
                         "</figcaption></figure>")
        cost = _cost(group)
        if cost:
            parts.append(f"<figure>{cost}</figure>")
        parts.append("</div>")
    options = "".join(f'<option value="{escape(r.key)}">{escape(r.dataset)} · {escape(target_name(r.target))} · '
                      f"{escape(r.label)}</option>" for r in rows)
    parts.append('<h3>Predicted score against MOS</h3><p class="note">All test sides of all splits pooled, '
                 "with one 4-parameter logistic fitted on them (the tables fit one per split).</p>"
                 f'<label class="control">Row <select id="scatter-choice">{options}</select></label>'
                 '<figure><svg id="scatter" class="figure" data-kind="scatter" viewBox="0 0 680 420" '
                 'width="680" height="420" font-family="sans-serif" role="img" aria-label="scatter"></svg></figure>')
    return "".join(parts) + "</section>"


def _test_caption(page: PageInput) -> str:
    return escape(f"Wilcoxon signed-rank test (two-sided) over the per-split SRCC pairs; the Nadeau–Bengio "
                  f"corrected t-test and the paired bootstrap ({page.n_resamples} resamples per split, seed "
                  f"{page.seed}) are in significance.csv. p-values are not adjusted for the number of pairs.")


def _rounded(values) -> list:
    return [float(f"{v:.{DIGITS}g}") if np.isfinite(v) else None for v in np.asarray(values, float)]


def _scatter_data(page: PageInput) -> dict:
    """Per row key: the pooled test predictions, MOS and the fitted logistic, for the page's script."""
    summary = page.summary.set_index(["dataset", "target", "method"])
    out = {}
    for r in page.results:
        pooled = pd.concat(r.predictions.values())
        for target, part in pooled.groupby("target", sort=True):
            pred, mos = part["pred"].to_numpy(float), part["mos"].to_numpy(float)
            curve, reason = logistic_curve(pred, mos, r.manifest.sign)
            if curve is not None:
                pick = np.unique(np.linspace(0, len(curve[0]) - 1, min(CURVE_POINTS, len(curve[0]))).astype(int))
                curve = list(zip(_rounded(curve[0][pick]), _rounded(curve[1][pick])))
            cells = summary.loc[(r.dataset, target, r.method)]
            note = (f"SRCC {cells['srcc_mean']:.4f} ± {cells['srcc_std']:.4f} over {int(cells['n_splits'])} splits"
                    if pd.notna(cells["srcc_std"]) else f"SRCC {cells['srcc_mean']:.4f}")
            out[f"{r.dataset}|{target}|{r.method}"] = {
                "title": f"{r.manifest.label} on {r.dataset}: {target_name(target)}", "note": note,
                "x_label": f"{r.manifest.label} score" + (" (lower = better)" if r.manifest.sign < 0 else ""),
                "y_label": target_name(target), "pred": _rounded(pred), "mos": _rounded(mos),
                "curve": curve, "no_fit": reason}
    return out


# --- run facts -----------------------------------------------------------------------------


def _table(headers: list[str], body: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    rows = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in line) + "</tr>" for line in body)
    return f'<div class="scroll"><table class="facts"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _flatten(meta: dict, prefix: str = "") -> list[list[str]]:
    out = []
    for key, value in meta.items():
        if key == "per_split":
            continue  # per-split leakage counts: in splits.json, too long for the page
        if isinstance(value, dict):
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append([f"{prefix}{key}", json.dumps(value) if isinstance(value, (list, bool)) or value is None
                        else str(value)])
    return out


def _facts_section(page: PageInput) -> str:
    parts = ['<section id="facts"><h2>Run facts</h2><h3>Split protocol</h3>']
    for dataset in sorted({r.dataset for r in page.results}):
        folder = Path(page.results_dir) / dataset
        parts.append(f"<p><b>{escape(dataset)}</b>: {escape(protocol_note(folder))}. "
                     f"Provenance (<code>{escape(leaderboard.relative_link(folder / 'splits.json', page.out))}</code>):</p>")
        parts.append(_table(["field", "value"], _flatten(read_provenance(folder))))
    commits = sorted({r.manifest.git_commit or "unknown" for r in page.results})
    harness = sorted({(r.manifest.versions or {}).get("ipiqa-bench", "unknown") for r in page.results})
    parts.append("<h3>Harness</h3>"
                 f"<p>This page: ipiqa-bench {escape(__version__)}, git commit {escape(git_commit() or 'unknown')}. "
                 f"The results: ipiqa-bench {escape(', '.join(harness))}, git commit(s) "
                 f"{escape(', '.join(c[:12] for c in commits))}.</p>")
    machines = [[r.dataset, r.method, r.manifest.device or "–", r.manifest.executor or "–",
                 (r.manifest.versions or {}).get("python", "–"), (r.manifest.versions or {}).get("torch", "–"),
                 (r.manifest.git_commit or "–")[:12], r.manifest.updated or "–"] for r in page.results]
    parts.append("<h3>Machines</h3>" + _table(["dataset", "method", "device", "executor", "python", "torch",
                                               "git commit", "updated"], machines))
    parts.append("<h3>What is missing</h3>" + _missing(page))
    return "".join(parts) + "</section>"


def _missing(page: PageInput) -> str:
    items = [escape(line) for line in page.missing]
    items += [f"Left out of everything: {escape(m)}" for m in page.refused]
    items += [f"Not compared: {escape(m)}" for m in page.comparison.refused]
    for r in page.results:
        if r.manifest.dropped_rows:
            shown = ", ".join(str(d) for d in r.manifest.dropped_rows[:10])
            more = f" and {len(r.manifest.dropped_rows) - 10} more" if len(r.manifest.dropped_rows) > 10 else ""
            items.append(f"{escape(r.dataset)}/{escape(r.method)}: {len(r.manifest.dropped_rows)} image(s) dropped "
                         f"by --drop-invalid: {escape(shown)}{more}")
        incomplete = (r.n_splits_total or 0) - len(r.predictions)
        if incomplete > 0:
            items.append(f"{escape(r.dataset)}/{escape(r.method)}: {incomplete} of {r.n_splits_total} splits "
                         "without results")
    if not items:
        return "<p>Nothing: every selected method has results on every split, and no image was dropped.</p>"
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
