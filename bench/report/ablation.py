"""Table 3: the IP-IQA ablation, rendered from the result files with the paper's numbers.

A result belongs to the ablation when its manifest's config says which of the three
components it used: ``image2prompt`` (Image2Prompt-pretrained image tower), ``use_prompt``
(the integral prompt through the cross-modality branch) and ``prompt_mode`` (``qa_token``:
the paper's [QA] token; ``frozen``: the plain end-of-text read-out; ``code``: the public
code's trainable token table, which is not a row of the paper's table). Rows are matched to
the paper's by those three flags. The paper's Table 3 is on perceptual quality (each
dataset's Table 1 target); datasets that also have an alignment target get a second block,
with no published numbers beside it.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from bench.report.tables import (
    CSV_PROTOCOL,
    PAPER_PLCC,
    PAPER_PLCC_NOTE,
    PLCC_TITLES,
    SUMMARY_METRICS,
    TABLE2_TARGET,
    assemble_table,
    compare_like_with_like,
    mean_std_cell,
    metric_title,
    number_cell,
    paper_columns,
    plcc_kind,
    protocol_marks,
    splits_cell,
    table1_target,
)

FLAGS = ("image2prompt", "integral_prompt", "qa_token")
FLAG_TITLES = {"image2prompt": "Image2Prompt", "integral_prompt": "Integral prompt", "qa_token": "[QA] token"}


def paper_ablation() -> pd.DataFrame:
    with resources.files("bench.data").joinpath("paper_ablation.csv").open() as f:
        return pd.read_csv(f)


def ablation_flags(config: dict) -> dict | None:
    """The three Table 3 flags of a method config ('yes'/'no'; '[QA]' is 'code' for the
    public code's variant), or None for a config that is not an IP-IQA ablation row."""
    if "image2prompt" not in config or "use_prompt" not in config:
        return None
    prompt = bool(config["use_prompt"])
    mode = config.get("prompt_mode", "frozen")
    qa = "code" if prompt and mode == "code" else "yes" if prompt and mode == "qa_token" else "no"
    return {"image2prompt": _yes(config["image2prompt"]), "integral_prompt": _yes(prompt), "qa_token": qa}


def _yes(value) -> str:
    return "yes" if bool(value) else "no"


def ablation_summary(summary: pd.DataFrame, configs: dict[str, dict]) -> pd.DataFrame:
    """Rows of Table 3: one per (ablation method, dataset, target shown), with the paper's row."""
    flags = {m: ablation_flags(c) for m, c in configs.items()}
    rows = summary[summary["method"].map(lambda m: flags.get(m) is not None)].copy()
    if rows.empty:
        return rows
    for flag in FLAGS:
        rows[flag] = rows["method"].map(lambda m: flags[m][flag])
    shown = []
    for dataset, part in rows.groupby("dataset", sort=True):
        targets = set(part["target"])
        wanted = [t for t in (table1_target(dataset, targets), TABLE2_TARGET) if t in targets]
        shown.append(part[part["target"].isin(list(dict.fromkeys(wanted)))])
    rows = pd.concat(shown)
    paper = paper_columns(paper_ablation())
    row_of = {tuple(r[list(FLAGS)]): r["row"] for _, r in paper.iterrows()}  # a row is its three flags
    rows["row"] = pd.array([row_of.get(tuple(r[list(FLAGS)])) for _, r in rows.iterrows()], dtype="Int64")
    rows = rows.merge(paper.drop(columns=list(FLAGS)), on=["row", "dataset", "target"], how="left")
    for metric in SUMMARY_METRICS:
        rows[f"delta_{metric}"] = rows[f"{metric}_mean"] - rows[f"paper_{metric}"]
    rows = compare_like_with_like(rows)
    rows["_alignment"] = rows["target"] == TABLE2_TARGET  # quality block first, as in the paper
    rows = rows.sort_values(["dataset", "_alignment", "row", "method"], na_position="last")
    return rows.drop(columns="_alignment").reset_index(drop=True)


def render_ablation(rows: pd.DataFrame, fmt: str = "markdown", paper_delta: bool = False) -> str:
    kind = plcc_kind(rows)
    if fmt == "csv":
        rows = rows.assign(plcc=kind)
        columns = ["row", "method", *FLAGS, "dataset", "target", "n_splits"]
        columns += [f"{m}_{s}" for m in SUMMARY_METRICS for s in ("mean", "std")]
        columns += [c for c in CSV_PROTOCOL if c in rows]
        columns += [f"paper_{m}" for m in SUMMARY_METRICS] + [f"delta_{m}" for m in SUMMARY_METRICS]
        return rows[columns].to_csv(index=False, lineterminator="\n", float_format="%.6g")
    blocks = []
    for (dataset, target), part in rows.groupby(["dataset", "target"], sort=False):
        marks = protocol_marks(part, part["method"].unique())
        headers = ["Row", "Method", *FLAG_TITLES.values(), "Splits"]
        for metric in SUMMARY_METRICS:
            headers += [metric_title(metric, kind), "paper"] + (["Δ"] if paper_delta else [])
        body = []
        for i in range(len(part)):
            cell = part.iloc[[i]]
            r = cell.iloc[0]
            mark = marks.get(r["method"], ("", ""))[0]
            line = ["–" if pd.isna(r["row"]) else str(r["row"]), r["label"] + (f" ({mark})" if mark else ""),
                    *[_mark(r[f]) for f in FLAGS], splits_cell(cell)]
            for metric in SUMMARY_METRICS:
                line += [mean_std_cell(cell, metric), number_cell(cell, f"paper_{metric}")]
                if paper_delta:
                    line.append(number_cell(cell, f"delta_{metric}", signed=True))
            body.append(line)
        subject = "alignment" if target == TABLE2_TARGET else "perceptual quality"
        title = (f"Table 3: ablation on {subject}, {dataset} {target} (mean ± std over each row's splits; "
                 f"{PLCC_TITLES[kind]})")
        notes = [f"({mark}) {text}" for mark, text in marks.values()]
        notes.append(PAPER_PLCC_NOTE + ("" if kind == PAPER_PLCC or not paper_delta else
                                        " This table shows PLCC (logistic): no Δ PLCC; use --plcc raw."))
        blocks.append(assemble_table(fmt, title, body, headers, notes))
    return "\n".join(blocks)


def _mark(flag: str) -> str:
    return {"yes": "✓", "no": "", "code": "code variant"}[flag]
