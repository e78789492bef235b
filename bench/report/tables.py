"""Tables rendered from the result files: Table 1 (quality), Table 2 (alignment), and the
targets neither shows (e.g. the demo's combined ``mos``).

Cells are mean ± standard deviation over splits. Every row carries its protocol
(bench.results.protocol): splits done out of the split file's total, the PLCC kind (one per
table), the epoch selection, the preset and the user's overrides; CSV has them as
columns, markdown and LaTeX as a splits column and lettered notes. ``paper=True`` adds the
published numbers (package data transcribed from the IP-IQA paper) and our difference.
"""

from __future__ import annotations

import string
from importlib import resources

import numpy as np
import pandas as pd
from tabulate import tabulate

from bench.registry import family_tables, get_method_info, list_families
from bench.report.cost import CSV_COST
from bench.report.contamination import contamination_of
from bench.results.metrics import METRICS, TABLE_METRICS, summarise
from bench.targets import target_column_kinds

SUMMARY_METRICS = TABLE_METRICS  # the metrics shown as columns (bench.results.metrics.register_metric adds one)
FORMATS = ("markdown", "latex", "csv")
# Which target each dataset's Table 1 column shows (AGIQA-1k has only the combined MOS).
TABLE1_TARGET = {"agiqa1k": "mos"}
TABLE1_DEFAULT_TARGETS = ("mos_quality", "mos")
TABLE2_TARGET = "mos_align"
SIGN_NOTE = ("Correlations of lower-is-better methods (NIQE) are computed on negated scores, so a "
             "working method is positive; their paper values are shown as published and Δ "
             "compares with the paper's magnitude.")
PLCC_TITLES = {"logistic": "PLCC after a 4-parameter logistic (sign kept)", "raw": "PLCC = plain Pearson (raw)",
               "logistic-cv": "PLCC after a 4-parameter logistic fitted out of fold (5-fold, sign kept)"}
# The paper does not say; the official IP-IQA code computes plain Pearson on raw predictions.
PAPER_PLCC = "raw"
PAPER_PLCC_NOTE = ("The paper does not say which PLCC it reports; the official IP-IQA code computes plain "
                   "Pearson on raw predictions, so the paper's PLCCs are compared with ours as PLCC (raw).")
# Images in the datasets as the paper used them: a row on much less data is flagged.
PAPER_DATASET_SIZE = {"agiqa1k": 1080, "agiqa3k": 2982}
SMALL_DATA_SHARE = 0.9
PAPER_SPLITS = 10  # the paper's protocol: 10 random 80/20 splits
PROTOCOL_COLUMNS = ("n_splits_total", "plcc_kind", "selection", "preset", "miniature", "overrides", "images",
                    "dropped")
TABLE2_EMPTY = ("Table 2 (text-to-image alignment): no rows. It needs alignment or IP-IQA results on a dataset "
                "with an alignment MOS, e.g. `ipiqa-bench run --dataset agiqa3k --methods alignment,ipiqa`.")
LATEX_PACKAGES = "% needs \\usepackage{booktabs} (and amssymb for \\checkmark)"


def summarise_splits(per_split: pd.DataFrame) -> pd.DataFrame:
    rows = []
    keys = ["method", "dataset", "target"]
    for (method, dataset, target), part in per_split.groupby(keys, sort=False):
        row = {"method": method, "dataset": dataset, "target": target, "n_splits": len(part),
               "family": part["family"].iloc[0], "label": part["label"].iloc[0]}
        row.update({c: part[c].iloc[0] for c in PROTOCOL_COLUMNS if c in part})
        for metric in METRICS:
            row[f"{metric}_mean"], row[f"{metric}_std"] = summarise(part[metric])
        reasons = sorted(set(r for r in part.get("reason", []) if r))
        row["note"] = "; ".join(reasons)
        row["contamination"] = contamination_of(method, dataset)
        rows.append(row)
    return pd.DataFrame(rows)


def paper_numbers() -> pd.DataFrame:
    with resources.files("bench.data").joinpath("paper_tables.csv").open() as f:
        return pd.read_csv(f)


def paper_columns(paper: pd.DataFrame) -> pd.DataFrame:
    """The paper's numbers as ``paper_<metric>`` columns, one per shown metric; a metric the
    paper does not report (a registered extra one) gets an empty column."""
    paper = paper.rename(columns={m: f"paper_{m}" for m in SUMMARY_METRICS if m in paper.columns})
    return paper.assign(**{f"paper_{m}": float("nan") for m in SUMMARY_METRICS if f"paper_{m}" not in paper})


def paper_datasets() -> set[str]:
    return set(paper_numbers()["dataset"])


def with_paper(summary: pd.DataFrame, signs: dict[str, int]) -> pd.DataFrame:
    paper = paper_columns(paper_numbers()).drop_duplicates(["method", "dataset", "target"])
    base_label = summary["label"].str.replace(r" \[.*\]$", "", regex=True)
    # A registered method is matched under its row name now (results written before a rename,
    # e.g. Kang's CNNIQA as "CNNIQA (Kang et al.)", get the figure of the name it has now).
    current = summary["method"].map(_registered_display)
    merged = summary.assign(_paper_method=current.fillna(base_label)).merge(
        paper[["method", "dataset", "target", *[f"paper_{m}" for m in SUMMARY_METRICS]]].rename(
            columns={"method": "_paper_method"}),
        on=["_paper_method", "dataset", "target"], how="left").drop(columns="_paper_method")
    # A row whose method is now declared not the published one (an approximation renamed since
    # its results were written under the paper's name) gets no paper figure.
    unpublished = merged["method"].map(_not_the_published_method).astype(bool)
    for metric in SUMMARY_METRICS:
        merged[f"paper_{metric}"] = merged[f"paper_{metric}"].mask(unpublished)
    for metric in SUMMARY_METRICS:
        reference = merged[f"paper_{metric}"].where(merged["method"].map(signs).fillna(1) > 0,
                                                    merged[f"paper_{metric}"].abs())
        merged[f"delta_{metric}"] = merged[f"{metric}_mean"] - reference
    return compare_like_with_like(merged)


def _registered_display(method: str) -> str | None:
    try:
        return get_method_info(method).display
    except Exception:  # not registered here: judged by its recorded name
        return None


def _not_the_published_method(method: str) -> bool:
    try:
        return get_method_info(method).fidelity_kind in ("approximation", "variant")
    except Exception:  # not registered here: judged by its recorded name alone
        return False


def compare_like_with_like(rows: pd.DataFrame) -> pd.DataFrame:
    """No PLCC difference to the paper unless ours is the paper's kind."""
    if "delta_plcc" in rows and "plcc_kind" in rows:
        rows = rows.assign(delta_plcc=rows["delta_plcc"].where(rows["plcc_kind"] == PAPER_PLCC))
    return rows


def table1_target(dataset: str, targets: set[str]) -> str | None:
    if dataset in TABLE1_TARGET:
        return TABLE1_TARGET[dataset] if TABLE1_TARGET[dataset] in targets else None
    return next((t for t in TABLE1_DEFAULT_TARGETS if t in targets), None)


def layout_rows(summary: pd.DataFrame, table: int | str) -> pd.DataFrame:
    """The (method, dataset, target) rows a Table shows; ``"other"``: every row neither
    Table 1 nor Table 2 shows, so that each row with results appears in some table (e.g. an
    alignment row scored on AGIQA-1k's combined MOS, which Table 1 leaves to its families)."""
    picked = []
    for dataset, part in summary.groupby("dataset", sort=True):
        target = table1_target(dataset, set(part["target"]))
        shown = part["family"].map(lambda family: 1 in family_tables(family)).astype(bool)
        in_table1 = (part["target"] == target) & shown
        # every row scored on an alignment column (a deep row that predicts it: IPCE), whatever its name
        in_table2 = part["target"].map(lambda t: t == TABLE2_TARGET or _kind(t) == "alignment").astype(bool) & ~in_table1
        picked.append(part[{1: in_table1, 2: in_table2}.get(table, ~(in_table1 | in_table2))])
    return pd.concat(picked) if picked else summary.iloc[0:0]


def _kind(target: str) -> str | None:
    return target_column_kinds().get(target)


def plcc_kind(rows: pd.DataFrame) -> str:
    """The one PLCC kind of a table's rows; a table never mixes them."""
    kinds = set(rows["plcc_kind"].dropna()) if "plcc_kind" in rows else set()
    if len(kinds) > 1:
        raise ValueError(f"a table would mix PLCC kinds {sorted(kinds)}")
    return kinds.pop() if kinds else "logistic"


def render(summary: pd.DataFrame, fmt: str = "markdown", paper: bool = False, table: int | str = 1,
           rmse: bool = False) -> str:
    rows = layout_rows(summary, table)
    if rows.empty:
        return ""
    kind = plcc_kind(rows)
    datasets = sorted(rows["dataset"].unique())
    with_paper = {d for d in datasets if paper and d in paper_datasets()}
    order = {f.name: f.order for f in list_families()}
    index = rows[["family", "method", "label"]].drop_duplicates("method")
    index = index.sort_values(["family", "method"], key=lambda s: s.map(order) if s.name == "family" else s)
    marks = protocol_marks(rows, index["method"], paper)
    metrics = [*SUMMARY_METRICS, *(["rmse"] if rmse else [])]
    headers = ["Family", "Method"]
    for dataset in datasets:
        targets = ", ".join(dict.fromkeys(rows.loc[rows["dataset"] == dataset, "target"]))
        headers.append(f"{dataset} splits")
        for metric in metrics:
            headers.append(f"{dataset} {targets} {metric_title(metric, kind)}")
            if dataset in with_paper and metric != "rmse":
                headers += ["paper", "Δ"] + (["paper in CI"] if f"{metric}_ci_low" in rows else [])
    body = []
    for _, item in index.iterrows():
        mark = marks.get(item["method"], ("", ""))[0]
        cells = rows[rows["method"] == item["method"]]
        for target, cell in (cells.groupby("target", sort=False) if table == "other" else [(None, cells)]):
            line = [item["family"], item["label"] + (f" ({mark})" if mark else "") + (f" – {target}" if target else "")]
            for dataset in datasets:
                here = cell[cell["dataset"] == dataset]
                line.append(splits_cell(here))
                for metric in metrics:
                    line.append(mean_std_cell(here, metric))
                    if dataset in with_paper and metric != "rmse":
                        line += [number_cell(here, f"paper_{metric}"), number_cell(here, f"delta_{metric}", signed=True)]
                        line += [inside_cell(here, metric)] if f"{metric}_ci_low" in rows else []
            body.append(line)
    title = {1: "Table 1: perceptual quality", 2: "Table 2: text-to-image alignment",
             "other": "Other targets"}[table]
    title += f" (mean ± std over each row's splits; {PLCC_TITLES[kind]}"
    if "srcc_ci_low" in rows:
        title += "; [95% t-interval of the mean]"
    title += ")"
    notes = [f"({mark}) {text}" for mark, text in marks.values()]
    notes += table_notes(rows, datasets, with_paper, paper, kind, rmse)
    return assemble_table(fmt, title, body, headers, notes)


def metric_title(metric: str, kind: str) -> str:
    if metric == "plcc":
        return f"PLCC ({kind})"
    return "RMSE (logistic)" if metric == "rmse" else metric.upper()


def protocol_marks(rows: pd.DataFrame, methods, paper: bool = False) -> dict[str, tuple[str, str]]:
    """method -> (letter, note) for every method whose rows depart from a plain run."""
    marks = {}
    for method in methods:
        parts = []
        for _, row in rows[rows["method"] == method].drop_duplicates("dataset").iterrows():
            text = protocol_text(row, paper)
            if text:
                parts.append(f"{row['dataset']}: {text}")
        if parts:
            letter = string.ascii_lowercase[len(marks) % 26]
            marks[method] = (letter, f"{rows.loc[rows['method'] == method, 'label'].iloc[0]} — " + "; ".join(parts))
    return marks


def protocol_text(row: pd.Series, paper: bool = False) -> str:
    parts = []
    if _present(row, "selection"):
        parts.append(f"epoch selection {row['selection']}")
    if _present(row, "miniature"):
        parts.append(row["miniature"])
    elif _present(row, "preset"):
        parts.append(f"preset {row['preset']}")
    if _present(row, "overrides"):
        parts.append(f"overrides {row['overrides']}")
    if _present(row, "contamination"):
        parts.append(contamination_text(row["contamination"], row["dataset"]))
    if paper and _present(row, "images") and row["dataset"] in PAPER_DATASET_SIZE:
        size = PAPER_DATASET_SIZE[row["dataset"]]
        if row["images"] < SMALL_DATA_SHARE * size:
            parts.append(f"WARNING: {int(row['images'])} images, the paper used {size}")
    return ", ".join(parts)


def table_notes(rows: pd.DataFrame, datasets, with_paper: set, paper: bool, kind: str, rmse: bool) -> list[str]:
    notes = []
    for dataset in datasets:
        here = rows[rows["dataset"] == dataset]
        if "dropped" in here and here["dropped"].fillna(0).max() > 0:
            row = here.sort_values("dropped").iloc[-1]
            notes.append(f"{dataset}: {int(row['images'])} images used, {int(row['dropped'])} dropped by --drop-invalid.")
    if paper:
        uncovered = [d for d in datasets if d not in with_paper]
        if uncovered:
            notes.append(f"The paper reports no numbers on {', '.join(uncovered)}: no paper columns for it.")
        if with_paper:
            notes.append(PAPER_PLCC_NOTE + ("" if kind == PAPER_PLCC else
                                            " This table shows PLCC (logistic): no Δ PLCC; use --plcc raw."))
        few = rows.loc[rows["dataset"].isin(with_paper), "n_splits"] if "srcc_ci_low" in rows else []
        if len(few) and few.min() < PAPER_SPLITS:
            notes.append(interval_note(few))
    if rmse:
        notes.append("RMSE is after the 4-parameter logistic mapping, in MOS units.")
    return notes


def _present(row: pd.Series, column: str) -> bool:
    value = row.get(column)
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and value != ""


def splits_cell(cell: pd.DataFrame) -> str:
    if cell.empty:
        return "–"
    done, total = int(cell["n_splits"].max()), cell["n_splits_total"].max() if "n_splits_total" in cell else np.nan
    if pd.isna(total):
        return str(done)
    return f"{done}/{int(total)}" + (" incomplete" if done < total else "")


def assemble_table(fmt: str, title: str, body: list, headers: list, notes: list[str]) -> str:
    if fmt == "markdown":
        text = tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)
        return f"### {title}\n\n{text}\n" + ("".join(f"\n{n}\n" for n in notes) if notes else "")
    text = latex_safe(tabulate(body, headers=headers, tablefmt="latex_booktabs", disable_numparse=True))
    out = f"% {latex_safe(title)}\n{LATEX_PACKAGES}\n{text}\n"
    if notes:
        out += "{\\footnotesize\n" + "\\\\\n".join(latex_safe(latex_escape(n)) for n in notes) + "\\par}\n"
    return out


def latex_escape(text: str) -> str:
    """Plain text (a note) as LaTeX source."""
    special = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
               "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(special.get(c, c) for c in text)


def latex_safe(text: str) -> str:
    """Symbols pdfLaTeX does not take as UTF-8 text, written as math."""
    return text.replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("−", "-").replace("✓", r"$\checkmark$")


def contamination_text(contamination: str, dataset: str) -> str:
    if contamination == "unknown":
        return f"weights trained on data no source names: they may have seen {dataset}"
    return f"CONTAMINATED: its pretrained weights were trained on {contamination}"


def mean_std_cell(cell: pd.DataFrame, metric: str) -> str:
    if cell.empty:
        return "–"
    mean, std = cell[f"{metric}_mean"].iloc[0], cell[f"{metric}_std"].iloc[0]
    if pd.isna(mean):  # the cell says why (e.g. the logistic fit did not converge on any split)
        why = cell["note"].iloc[0] if "note" in cell and isinstance(cell["note"].iloc[0], str) else ""
        return f"n/a ({why})" if why else "n/a"
    text = f"{mean:.4f}" if pd.isna(std) else f"{mean:.4f} ± {std:.4f}"
    if f"{metric}_ci_low" in cell and pd.notna(cell[f"{metric}_ci_low"].iloc[0]):  # table --ci
        text += f" [{cell[f'{metric}_ci_low'].iloc[0]:.4f}, {cell[f'{metric}_ci_high'].iloc[0]:.4f}]"
    return text


def interval_note(n_splits: pd.Series) -> str:
    """What a 95% t-interval means when rows have fewer splits than the paper's."""
    return (f"The intervals are 95% t-intervals of each row's mean over its own {_counts(n_splits)} splits "
            f"(t with n−1 degrees of freedom), not over the paper's {PAPER_SPLITS}: with fewer splits they are "
            "wider, and 'paper in CI' says only that these splits cannot tell our mean from the paper's figure.")


def paper_inside(rows: pd.DataFrame, metric: str) -> pd.Series:
    """Whether the paper's figure, in our working direction (mean − Δ), lies in the row's 95%
    t-interval; NaN where there is no Δ or no interval."""
    reference = rows[f"{metric}_mean"] - rows[f"delta_{metric}"]
    inside = (rows[f"{metric}_ci_low"] <= reference) & (reference <= rows[f"{metric}_ci_high"])
    known = reference.notna() & rows[f"{metric}_ci_low"].notna()
    return inside.astype(object).where(known, np.nan)


def inside_cell(cell: pd.DataFrame, metric: str) -> str:
    if cell.empty:
        return "–"
    inside = paper_inside(cell, metric).iloc[0]
    return "–" if pd.isna(inside) else ("yes" if inside else "no")


def _counts(values: pd.Series) -> str:
    values = sorted(set(int(v) for v in values))
    return str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"


def number_cell(cell: pd.DataFrame, column: str, signed: bool = False) -> str:
    if cell.empty or column not in cell or pd.isna(cell[column].iloc[0]):
        return "–"
    return f"{cell[column].iloc[0]:+.4f}" if signed else f"{cell[column].iloc[0]:.4f}"


CSV_PROTOCOL = ("label", "n_splits_total", "plcc", "selection", "preset", "miniature", "overrides", "images",
                "dropped", "contamination", "note")


def csv_table(summary: pd.DataFrame, paper: bool = False) -> str:
    """One row per method, dataset and target, its protocol in columns; RMSE after the mapping."""
    summary = summary.assign(plcc=summary.get("plcc_kind", "logistic"))
    columns = ["method", "dataset", "target", "n_splits"]
    for metric in (*SUMMARY_METRICS, "rmse"):
        columns += [f"{metric}_mean", f"{metric}_std"]
    columns += [c for c in CSV_PROTOCOL if c in summary]
    if paper:
        columns += [f"paper_{m}" for m in SUMMARY_METRICS] + [f"delta_{m}" for m in SUMMARY_METRICS]
    columns += [c for m in SUMMARY_METRICS for c in (f"{m}_ci_low", f"{m}_ci_high") if c in summary]
    if paper:
        for metric in SUMMARY_METRICS:
            if f"{metric}_ci_low" in summary:
                summary = summary.assign(**{f"paper_in_ci_{metric}": paper_inside(summary, metric)})
                columns.append(f"paper_in_ci_{metric}")
    columns += [c for c in CSV_COST if c in summary]  # table --cost
    return summary[columns].to_csv(index=False, lineterminator="\n", float_format="%.6g")
