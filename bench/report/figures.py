"""The report's figures (matplotlib, Agg backend), sized for a paper: one column is 3.5 in,
text 7–8 pt, written as 300 dpi PNGs. matplotlib is imported lazily (the ``report`` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.results.metrics import fit_logistic

COLUMN_WIDTH = 3.5  # inches: one column of a two-column paper
PAGE_WIDTH = 7.16  # both columns
DPI = 300
STYLE = {
    "font.size": 7, "axes.titlesize": 7.5, "axes.labelsize": 7, "xtick.labelsize": 6.5,
    "ytick.labelsize": 6.5, "legend.fontsize": 6.5, "axes.spines.top": False,
    "axes.spines.right": False, "savefig.dpi": DPI, "savefig.bbox": "tight",
    "savefig.pad_inches": 0.03, "axes.linewidth": 0.6, "lines.linewidth": 1.0,
}
TARGET_NAMES = {"mos": "MOS", "mos_quality": "quality MOS", "mos_align": "alignment MOS"}


def target_name(target: str) -> str:
    return TARGET_NAMES.get(target, target)


def cost_title(dataset: str, target: str) -> str:
    """The SRCC-against-cost figure's title (the PNG and the page's SVG): the target it plots."""
    return f"{dataset}: {target_name(target)}, SRCC against cost"


def unique_labels(methods, labels) -> dict[str, str]:
    """method -> display label, with the method name added where two labels coincide."""
    pairs = dict(zip(methods, labels))
    counts = pd.Series(list(pairs.values())).value_counts()
    return {m: label if counts[label] == 1 else f"{label} ({m})" for m, label in pairs.items()}


def require_matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise BenchError("figures need matplotlib: pip install 'ipiqa-bench[report]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def scatter_with_logistic(path: Path, pred: np.ndarray, mos: np.ndarray, sign: int, label: str,
                          dataset: str, target: str, srcc_note: str) -> Path:
    """Predicted score against MOS over every test side, with the 4-parameter logistic
    (bench.results.metrics.fit_logistic) fitted on all of them at once."""
    plt = require_matplotlib()
    pred, mos = np.asarray(pred, float), np.asarray(mos, float)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 2.9), layout="constrained")
        ax.scatter(pred, mos, s=4, alpha=0.35, linewidths=0, color="tab:blue",
                   label=f"test images, all splits (n = {len(pred)})")
        finite = np.isfinite(pred) & np.isfinite(mos)
        curve, reason = logistic_curve(pred, mos, sign)
        if curve is not None:
            ax.plot(*curve, color="tab:red", label="4-parameter logistic fit")
        else:
            ax.plot([], [], " ", label=f"no logistic fit ({reason})")
        notes = ["lower = better"] if sign < 0 else []
        if _skewed(pred[finite]):
            ax.set_xscale("log")
            notes.append("log scale")
        ax.set_xlabel(f"{label} score" + (f" ({', '.join(notes)})" if notes else ""))
        ax.set_ylabel(target_name(target))
        ax.set_title(f"{label} on {dataset}: {target_name(target)}\n{srcc_note}")
        legend = fig.legend(loc="outside lower center", ncol=2 if curve is not None else 1, frameon=False,
                            markerscale=2.5, handletextpad=0.3)
        for handle in legend.legend_handles:
            handle.set_alpha(1)
        return _save(fig, path)


def logistic_curve(pred: np.ndarray, mos: np.ndarray, sign: int) -> tuple[tuple[np.ndarray, np.ndarray] | None, str]:
    """((raw predictions sorted, the logistic fitted to MOS at them), "") over the finite
    pairs, or (None, why there is no fit)."""
    pred, mos = np.asarray(pred, float), np.asarray(mos, float)
    finite = np.isfinite(pred) & np.isfinite(mos)
    fittable = finite.sum() > 4 and np.ptp(pred[finite]) > 0 and np.ptp(mos[finite]) > 0
    mapped = fit_logistic(sign * pred[finite], mos[finite]) if fittable else None
    if mapped is None:
        return None, "did not converge" if fittable else "constant predictions"
    order = np.argsort(pred[finite])
    return (pred[finite][order], mapped[order]), ""


def _skewed(values: np.ndarray) -> bool:
    """Positive scores spanning orders of magnitude read better on a log axis."""
    if len(values) < 2 or values.min() <= 0:
        return False
    low, high = np.percentile(values, [5, 95])
    return high / low > 100


def srcc_per_split(path: Path, per_split: pd.DataFrame, dataset: str, target: str) -> Path:
    """Every method's SRCC on every split (points) over a box plot, best mean on top."""
    plt = require_matplotlib()
    names = unique_labels(per_split["method"], per_split["label"])
    srcc = per_split.pivot(index="split", columns="method", values="srcc").rename(columns=names)
    labels = list(srcc.mean().sort_values(na_position="first").index)  # matplotlib draws bottom-up
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 1.0 + 0.32 * len(labels)), layout="constrained")
        values = [srcc[label].dropna().to_numpy() for label in labels]
        ax.boxplot(values, orientation="horizontal", widths=0.55, showfliers=False, whis=(0, 100),
                   medianprops={"color": "black", "linewidth": 0.8},
                   boxprops={"linewidth": 0.6, "color": "0.4"}, whiskerprops={"linewidth": 0.6, "color": "0.4"},
                   capprops={"linewidth": 0.6, "color": "0.4"})
        jitter = np.random.default_rng(0)
        legend = {"label": "one split"}, {"label": "mean over splits"}
        for i, v in enumerate(values, start=1):
            if not len(v):
                ax.text(0.01, i, "no finite SRCC", transform=ax.get_yaxis_transform(), va="center", color="0.4")
                continue
            ax.scatter(v, i + jitter.uniform(-0.15, 0.15, len(v)), s=7, color="tab:blue", alpha=0.8,
                       linewidths=0, zorder=3, **legend[0])
            ax.scatter([v.mean()], [i], marker="D", s=12, color="tab:red", zorder=4, **legend[1])
            legend = {}, {}  # one legend entry each
        ax.set_yticks(range(1, len(labels) + 1), labels)
        ax.set_xlabel("SRCC on the test side of each split")
        n = int(srcc.notna().sum().max()) if len(srcc) else 0
        ax.set_title(f"{dataset}: {target_name(target)}, SRCC over {n} splits")
        ax.grid(axis="x", linewidth=0.4, alpha=0.5)
        if np.nanmin(srcc.to_numpy(), initial=0) < 0:
            ax.axvline(0, color="0.3", linewidth=0.6, zorder=1)  # below zero: worse than no prediction
        fig.legend(loc="outside lower center", ncol=2, frameon=False, handletextpad=0.2)
        return _save(fig, path)


def significance_matrix(path: Path, pairs: pd.DataFrame, dataset: str, target: str) -> Path:
    """Methods × methods: colour is the mean SRCC difference (row − column), text the
    Wilcoxon p over splits; '*' marks pairs whose bootstrap 95% interval excludes 0."""
    plt = require_matplotlib()
    labels, delta, text = significance_grid(pairs)
    n = len(labels)
    limit = max(np.nanmax(np.abs(delta)) if np.isfinite(delta).any() else 0.0, 1e-3)
    width = COLUMN_WIDTH if n <= 6 else PAGE_WIDTH
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(width, 0.9 + width * 0.7), layout="constrained")
        colours = plt.get_cmap("RdBu_r").with_extremes(bad="0.88")  # the diagonal
        image = ax.imshow(delta, cmap=colours, vmin=-limit, vmax=limit)
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                dark = np.isfinite(delta[i, j]) and abs(delta[i, j]) > 0.6 * limit
                ax.text(j, i, text[i][j] or "n/a", ha="center", va="center", fontsize=6 if n <= 6 else 5.5,
                        color="white" if dark else "black")
        ax.set_xticks(range(n), labels, rotation=35, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(n), labels)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
        bar.set_label("mean SRCC difference (row − column)")
        bar.ax.tick_params(labelsize=6)
        splits = int(pairs["n_splits"].max())
        ax.set_title(f"{dataset}: {target_name(target)}, Wilcoxon p over {splits} paired splits\n"
                     "(* bootstrap 95% interval of the difference excludes 0)", fontsize=7)
        return _save(fig, path)


def significance_grid(pairs: pd.DataFrame) -> tuple[list[str], np.ndarray, list[list[str]]]:
    """(labels, mean SRCC difference row − column, cell text) of the methods in ``pairs``
    (bench.report.significance.compare_methods), best mean SRCC first. The text is the
    Wilcoxon p, with '*' where the bootstrap 95% interval of the difference excludes 0."""
    names = unique_labels([*pairs["method_a"], *pairs["method_b"]], [*pairs["label_a"], *pairs["label_b"]])
    means = pd.concat([pairs.set_index("method_a")["srcc_a"], pairs.set_index("method_b")["srcc_b"]])
    methods = list(means.groupby(level=0).first().sort_values(ascending=False).index)
    index = {m: i for i, m in enumerate(methods)}
    n = len(methods)
    delta = np.full((n, n), np.nan)
    text = [["" for _ in methods] for _ in methods]
    for row in pairs.itertuples():
        i, j = index[row.method_a], index[row.method_b]
        delta[i, j], delta[j, i] = row.delta_srcc, -row.delta_srcc
        star = "*" if row.ci_low > 0 or row.ci_high < 0 else ""
        text[i][j] = text[j][i] = f"{_p_text(row.wilcoxon_p)}{star}"
    return [names[m] for m in methods], delta, text


def _p_text(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    return f"{p:.3f}" if p >= 0.001 else "<0.001"


def srcc_against_cost(path: Path, points: pd.DataFrame, dataset: str, target: str) -> Path:
    """Mean SRCC against seconds per image (log x), one labelled point per row: what each
    method's quality costs. ``points``: label, seconds_per_image, srcc_mean."""
    plt = require_matplotlib()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 2.6), layout="constrained")
        ax.scatter(points["seconds_per_image"], points["srcc_mean"], s=10, color="tab:blue", zorder=3)
        labels = [ax.annotate(row["label"], (row["seconds_per_image"], row["srcc_mean"]), xytext=(3, 2),
                              textcoords="offset points", fontsize=5.5,
                              arrowprops={"arrowstyle": "-", "linewidth": 0.3, "color": "0.6", "shrinkA": 0,
                                          "shrinkB": 2})  # a leader line, visible where a label moved
                  for _, row in points.sort_values("srcc_mean", ascending=False).iterrows()]
        ax.set_xscale("log")
        ax.set_xlabel("seconds per image (features or prediction; log scale)")
        ax.set_ylabel(f"mean SRCC, {target_name(target)}")
        ax.set_title(cost_title(dataset, target))
        ax.grid(True, which="major", linewidth=0.3, alpha=0.5)
        separate_labels(fig, labels)
        return _save(fig, path)


def separate_labels(fig, labels) -> None:
    """Move each label (highest point first) down below any earlier label it would overlap:
    rows sharing an extractor share its seconds per image, and their labels would print over
    one another."""
    from matplotlib.text import Text  # the text's own box: an Annotation's includes its leader line

    fig.canvas.draw()  # the layout settles first: boxes are measured where they will be drawn
    fig.set_layout_engine("none")
    renderer = fig.canvas.get_renderer()
    placed = []
    for label in labels:
        for _ in range(len(placed) + 1):
            box = Text.get_window_extent(label, renderer)
            hit = next((b for b in placed if box.overlaps(b)), None)
            if hit is None:
                break
            x, y = label.xyann
            label.xyann = (x, y - (box.y1 - hit.y0) * 72 / fig.dpi - 0.5)  # display pixels to points
        placed.append(Text.get_window_extent(label, renderer))


def selection_gap_plot(path: Path, gap: pd.DataFrame) -> Path:
    """Per trained row and target: SRCC of the run's epoch choice (honest) and of the epoch an
    oracle picks on the test set, mean ± std over splits (bench.report.selection_gap)."""
    plt = require_matplotlib()
    rows = gap[gap["n_splits"] > 0].sort_values(["dataset", "label", "target"], ascending=False)
    names = [f"{r.label} ({r.selection}) – {r.dataset} {target_name(r.target)}" for r in rows.itertuples()]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 1.0 + 0.3 * len(rows)), layout="constrained")
        y = np.arange(len(rows))
        for offset, prefix, color, label in ((0.12, "", "tab:blue", "honest (the run's choice)"),
                                             (-0.12, "best_", "tab:red", "best epoch on test set")):
            ax.errorbar(rows[f"{prefix}srcc_mean"], y + offset, xerr=rows[f"{prefix}srcc_std"].fillna(0), fmt="o",
                        markersize=3, color=color, elinewidth=0.6, capsize=1.5, label=label)
        ax.set_yticks(y, names)
        ax.set_xlabel("SRCC (mean ± std over splits)")
        ax.set_title("Selection gap: same training, epoch chosen honestly or on the test set")
        fig.legend(loc="outside lower center", ncol=2, frameon=False)
        return _save(fig, path)
