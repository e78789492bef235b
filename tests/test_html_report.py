"""The report's index.html without a browser: its structure, that it loads nothing from
elsewhere, and that every leaderboard number is the one `table --format csv` prints."""

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from helpers import run_cli, write_manifest, write_results

from bench.report import leaderboard
from bench.report.build import build_report

# (dataset, method, display, family, target, noise): NIQE and GMLF have paper figures on AGIQA-3k quality
ROWS = (("agiqa3k", "gmlf", "GMLF", "svr", "mos_quality", 0.3),
        ("agiqa3k", "niqe", "NIQE", "handcrafted", "mos_quality", 0.8),
        ("agiqa3k", "mystery", "Mystery", "svr", "mos_quality", 2.0),
        ("synth", "mystery", "Mystery", "alignment", "mos_align", 0.5))
SECONDS_PER_IMAGE = {"gmlf": 0.02, "mystery": 0.5}  # recorded for these only; on agiqa3k, gmlf alone has a cost
SANITY_ROW = ("agiqa3k", "niqe")  # the only row with a sanity panel (sanity.json)
SANITY_CHECKS = [
    {"name": "batch", "status": "holds", "tolerance": 1e-06, "max_abs_diff": 3.25e-09, "score_range": 4.75,
     "spearman": 1.0, "max_rank_shift": 0, "note": "16 images per call vs 1"},
    {"name": "jpeg", "status": "differs", "tolerance": 0.05, "max_abs_diff": 0.4375, "score_range": 4.75,
     "spearman": 0.912345, "max_rank_shift": 3, "note": "decoded images saved as PNG vs JPEG q95"},
    {"name": "rerun", "status": "holds", "tolerance": 0.0, "max_abs_diff": 0.0, "score_range": 4.75,
     "spearman": 1.0, "max_rank_shift": 0, "note": "the same call twice, bitwise"},
    {"name": "threads", "status": "holds", "tolerance": 1e-06, "max_abs_diff": 0.0, "score_range": 4.75,
     "spearman": 1.0, "max_rank_shift": 0, "note": "1 thread vs the default (openblas 2)"},
    {"name": "order", "status": "differs", "tolerance": 1e-06, "max_abs_diff": 0.0123, "score_range": 4.75,
     "spearman": None, "max_rank_shift": 7, "note": "images in reverse order <b>&</b>"},
    {"name": "cpu-gpu", "status": "skipped", "tolerance": 0.001, "max_abs_diff": None, "score_range": None,
     "spearman": None, "max_rank_shift": None, "note": "skipped: no GPU"},
]


def make_report_results(results_dir: Path) -> None:
    for dataset, method, display, family, target, noise in ROWS:
        write_results(results_dir, dataset, method, display, noise, family=family, target=target)
        folder = results_dir / dataset / method
        manifest = {**json.loads((folder / "run.json").read_text()), "dataset_size": 50}
        if method in SECONDS_PER_IMAGE:
            manifest["cost"] = {"seconds_per_image": SECONDS_PER_IMAGE[method]}
        write_manifest(folder, manifest)
    dataset, method = SANITY_ROW
    panel = {"method": method, "dataset": dataset, "n_images": 16, "images": [], "checkpoint": None,
             "config_from": "run.json", "device": "cpu", "created": "2025-01-02T03:04:05+00:00",
             "git_commit": "0123456789abcdef", "checks": SANITY_CHECKS}
    (results_dir / dataset / method / "sanity.json").write_text(json.dumps(panel))


@pytest.fixture(scope="module", name="report")
def report_fixture(tmp_path_factory):
    """(results folder, report folder) built once for the module."""
    base = tmp_path_factory.mktemp("html")
    make_report_results(base / "results")
    build_report(base / "results", base / "report", n_resamples=50)
    return base / "results", base / "report"


class Page(HTMLParser):
    """The parts of index.html the tests read: leaderboard rows and their numbers, details
    rows, tables, links, resource attributes, SVG figures, scripts."""

    def __init__(self, text: str):
        super().__init__()
        self.rows, self.details, self.numbers, self.links, self.sources = [], [], [], [], []
        self.figures, self.tables, self.scripts, self.options = [], [], [], {}
        self.details_text, self.sanity = {}, {}  # details key -> its text; -> its sanity checks' cells
        self._row, self._span, self._script, self._select = None, None, None, None
        self._details, self._depth, self._cell = None, 0, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "table" and "leaderboard" in classes:
            self.tables.append(a)
        if tag == "tr" and "row" in classes:
            self._row = a
            self.rows.append(a)
        if tag == "tr" and "details" in classes:
            self.details.append(a)
            self._details, self._depth = a["data-key"], 0
            self.details_text[self._details] = ""
        if tag == "tr" and self._details is not None:
            self._depth += 1
        if tag == "table" and "sanity" in classes:
            self.sanity[self._details] = []
        if tag == "tr" and self._details in self.sanity:
            self.sanity[self._details].append([])
        if tag == "td" and self._details in self.sanity:
            self._cell = ""
        if tag == "span" and "num" in classes:
            self._span = {**a, "row": self._row, "text": ""}
        if tag == "svg":
            self.figures.append(a)
        if tag == "script":
            self._script = {"attrs": a, "text": ""}
        if tag == "select":
            self._select = a.get("data-filter") or a.get("id")
            self.options[self._select] = []
        if tag == "option":
            self.options[self._select].append(a["value"])
        for name in ("src", "href", "srcset", "action", "data", "poster"):
            if name in a:
                (self.links if name == "href" else self.sources).append(a[name])

    def handle_data(self, data):
        if self._details is not None:
            self.details_text[self._details] += data
        if self._cell is not None:
            self._cell += data
        if self._span is not None:
            self._span["text"] += data
        if self._script is not None:
            self._script["text"] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.sanity[self._details][-1].append(self._cell)
            self._cell = None
        if tag == "tr" and self._details is not None:
            self._depth -= 1
            if self._depth == 0:
                self._details = None
        if tag == "span" and self._span is not None:
            self.numbers.append(self._span)
            self._span = None
        if tag == "script":
            self.scripts.append(self._script)
            self._script = None


def page_of(report_dir: Path) -> tuple[str, Page]:
    text = (report_dir / "index.html").read_text(encoding="utf-8")
    return text, Page(text)


def test_page_structure(report):
    results_dir, out = report
    text, page = page_of(out)
    assert text.startswith("<!DOCTYPE html>") and (out / "report.md").exists()
    assert [(t["data-dataset"], t["data-target"]) for t in page.tables] == [("agiqa3k", "mos_quality"),
                                                                             ("synth", "mos_align")]
    keys = [r["data-key"] for r in page.rows]
    assert sorted(keys) == sorted(f"{d}|{t}|{m}" for d, m, _, _, t, _ in ROWS)
    assert [d["data-key"] for d in page.details] == keys  # each row followed by its details row
    assert all("hidden" in d for d in page.details)  # collapsed until clicked
    first = [r["data-method"] for r in page.rows if r["data-dataset"] == "agiqa3k"]
    assert first == ["gmlf", "niqe", "mystery"]  # best SRCC first (constructed: least noise first)
    assert sorted(page.options["family"]) == ["", "alignment", "handcrafted", "svr"]
    assert sorted(page.options["trained"]) == ["", "trained", "unknown", "zero-shot"]
    assert sorted(page.options["comparable"]) == ["", "no"]  # 50 images, not the paper's 2982
    assert page.options["scatter-choice"] == keys
    # protocol on expansion: every row's details name its splits, PLCC kind, selection, recipe, preset, overrides
    for name in ("splits", "PLCC kind", "epoch selection", "recipe", "preset", "overrides"):
        assert text.count(f"<dt>{name}</dt>") == len(ROWS)
    assert "50 images, the paper used 2982" in text
    data = json.loads(next(s["text"] for s in page.scripts if s["attrs"].get("id") == "scatter-data"))
    assert sorted(data) == sorted(keys)
    gmlf = data["agiqa3k|mos_quality|gmlf"]
    assert len(gmlf["pred"]) == len(gmlf["mos"]) == sum(
        len(pd.read_csv(results_dir / "agiqa3k" / "gmlf" / f"split_{k}.csv")) for k in range(3))
    assert gmlf["curve"] and gmlf["curve"] == sorted(gmlf["curve"])  # the fitted logistic, left to right
    kinds = [f.get("data-kind") for f in page.figures]
    assert kinds.count("strip") == 2 and kinds.count("heatmap") == 1  # synth has one method: nothing to test
    assert kinds.count("cost") == 2 and kinds.count("scatter") == 1
    assert "Wilcoxon signed-rank test over 3 paired splits" in text
    assert all(f"{seconds:.3g} s per image" in text for seconds in SECONDS_PER_IMAGE.values())


def test_a_rows_sanity_panel_is_in_its_details_from_its_sanity_json(report):
    results_dir, out = report
    text, page = page_of(out)
    panel = json.loads(results_dir.joinpath(*SANITY_ROW, "sanity.json").read_text())
    key = f"{SANITY_ROW[0]}|mos_quality|{SANITY_ROW[1]}"
    assert list(page.sanity) == [key]  # one row has a panel; its details hold it
    cells = [row for row in page.sanity[key] if row]  # the header row has no td
    assert [row[:2] for row in cells] == [[c["name"], c["status"]] for c in panel["checks"]]
    for row, check in zip(cells, panel["checks"]):
        _, status, diff, spread, tolerance, rho, shift, note = row
        assert tolerance == f"{check['tolerance']:g}"
        if status == "skipped":
            assert (diff, spread, rho, shift) == ("–",) * 4 and note == check["note"].removeprefix("skipped: ")
            continue
        assert (diff, spread, shift) == (f"{check['max_abs_diff']:.3g}", f"{check['score_range']:.3g}",
                                         str(check["max_rank_shift"]))
        assert rho == ("–" if check["spearman"] is None else f"{check['spearman']:.4f}")
        assert note == check["note"]
    assert [row[2] for row in cells if row[0] in ("jpeg", "order")] == ["0.438", "0.0123"]
    assert "images in reverse order &lt;b&gt;&amp;&lt;/b&gt;" in text and "<b>&" not in text  # escaped
    described = page.details_text[key]
    assert "docs/reproducibility.md" in described and "16 agiqa3k image(s)" in described
    assert "commit 0123456789" in described
    others = [k for k in page.details_text if k != key]
    assert len(others) == len(ROWS) - 1
    assert all("No sanity panel" in page.details_text[k] and "holds" not in page.details_text[k] for k in others)


def test_the_cost_figure_names_its_target(report):
    _, page = page_of(report[1])
    titles = [f["aria-label"] for f in page.figures if f.get("data-kind") == "cost"]
    assert titles == ["agiqa3k: quality MOS, SRCC against cost", "synth: alignment MOS, SRCC against cost"]


def test_links_are_relative_and_reach_the_result_files(report):
    results_dir, out = report
    _, page = page_of(out)
    files = [link for link in page.links if not link.startswith("#")]
    assert len(files) == len(ROWS) * (1 + 3) + 1  # run.json and three prediction files per row, one sanity.json
    for link in files:
        assert not re.match(r"^[a-z]+:", link) and not link.startswith("/"), link
        assert (out / link).resolve().is_file(), link
    assert any(link.endswith("agiqa3k/niqe/run.json") for link in files)
    assert any(link.endswith("synth/mystery/split_2.csv") for link in files)
    assert [link for link in files if link.endswith("sanity.json")] == [
        leaderboard.relative_link(results_dir.joinpath(*SANITY_ROW, "sanity.json"), out)]


def test_page_loads_nothing_from_elsewhere(report):
    text, page = page_of(report[1])
    assert page.sources == []  # no src= at all: scripts, styles and figures are inline
    assert all(link.startswith("#") or not re.match(r"^[a-z][a-z0-9+.-]*:", link) for link in page.links)
    assert not re.search(r"https?://", text)
    assert not re.search(r"@import|url\s*\(|\bfetch\s*\(|XMLHttpRequest|<link\b|<iframe\b|<img\b|<object\b", text)
    assert all(not s["attrs"].get("src") for s in page.scripts)


def test_every_number_is_the_csv_tables_number(report):
    results_dir, out = report
    result = run_cli("table", "--results-dir", str(results_dir), "--format", "csv", "--paper", "--ci",
                     "--plcc", "raw")
    assert result.exit_code == 0, result.output
    csv = pd.read_csv(io.StringIO(result.stdout)).set_index(["dataset", "target", "method"])
    _, page = page_of(out)
    assert len(page.numbers) > 0
    seen = set()
    for number in page.numbers:
        row = number["row"]
        key = (row["data-dataset"], row["data-target"], row["data-method"])
        column, value = number["data-col"], float(number["data-value"])
        expected = csv.loc[key, column]
        assert float(f"{value:.6g}") == pytest.approx(expected, rel=0, abs=0), (key, column)
        shown = number["text"]
        if column.startswith("n_splits"):
            assert shown == str(int(expected))
        elif column.startswith("delta_"):
            assert shown == f"{value:+.4f}"
        else:
            assert shown == f"{value:.4f}"
        seen.add((*key, column))
    # and every number of the CSV's shown columns is on the page
    columns = [c for c in csv.columns if re.match(r"(srcc|plcc|krcc)_(mean|std|ci_low|ci_high)$|paper_(srcc|plcc|krcc)$|delta_|n_splits", c)]
    for key, cells in csv.iterrows():
        for column in columns:
            if pd.notna(cells[column]):
                assert (*key, column) in seen, (key, column)


def test_paper_in_interval_and_comparability(report):
    results_dir, out = report
    summary = pd.read_csv(io.StringIO(run_cli("table", "--results-dir", str(results_dir), "--format", "csv",
                                              "--paper", "--ci", "--plcc", "raw").stdout))
    text, page = page_of(out)
    niqe = summary[summary["method"] == "niqe"].iloc[0]
    assert pd.notna(niqe["paper_srcc"])
    inside = niqe["srcc_ci_low"] <= niqe["paper_srcc"] <= niqe["srcc_ci_high"]  # sign +1: the figure as published
    row = re.search(r'data-key="agiqa3k\|mos_quality\|niqe".*?</tr>', text, re.S).group(0)
    verdicts = re.findall(r'<td data-sort="(yes|no)"(?: class="(?:inside|outside)")?>(yes|no)</td>', row)
    assert verdicts[0][1] == ("yes" if inside else "no")  # SRCC's "paper in CI", the first of the row
    assert all(r["data-comparable"] == "no" for r in page.rows)


def test_contamination_column_is_shown_and_counts_against_comparability():
    cells = pd.Series({"dataset": "agiqa3k", "n_splits": 10, "n_splits_total": 10, "paper_srcc": 0.5,
                       "images": 2982, "contamination": "trained on AGIQA-3k", "trained_on": "agiqa3k"})

    class Manifest:
        config, seed, test_size = {"recipe": "paper"}, 0, 0.2

    class Result:
        manifest = Manifest()

    items = dict(leaderboard.protocol_items(cells, Result()))
    assert items["contamination"] == "trained on AGIQA-3k" and items["trained on"] == "agiqa3k"
    assert items["recipe"] == "paper"
    assert leaderboard.not_comparable(cells) == ["contamination: trained on AGIQA-3k"]
    assert leaderboard.not_comparable(cells.drop(["contamination", "trained_on"])) == []
    assert "contamination" not in dict(leaderboard.protocol_items(cells.drop(["contamination", "trained_on"]),
                                                                   Result()))


def test_an_svr_on_cached_features_sits_at_its_extractors_cost(tmp_path):
    """The page places a row whose features another row extracted (niqe-svr on NIQE's cached
    features: its own run timed only the regressor) at the extraction's seconds per image, as
    ``table --cost`` and the PNG figure do (bench.report.cost.cost_frame)."""
    results = tmp_path / "results"
    costs = {"niqe": ({"seconds_per_image": 0.1, "measured_on": "features"}, {"key": "niqe", "version": "2"}),
             "niqe-svr": ({"seconds_per_image": 1e-5, "measured_on": "prediction"}, {})}
    for method, display, noise in (("niqe", "NIQE", 0.8), ("niqe-svr", "NIQE-SVR", 0.3)):
        write_results(results, "demo", method, display, noise, family="svr", target="mos_quality")
        folder = results / "demo" / method
        cost, features = costs[method]
        write_manifest(folder, {**json.loads((folder / "run.json").read_text()), "cost": cost,
                                "features": features, "feature_version": "niqe/2"})
    build_report(results, tmp_path / "report", n_resamples=20)
    text, page = page_of(tmp_path / "report")
    details = page.details_text["demo|mos_quality|niqe-svr"]
    assert "Cost: 0.1 s per image" in details and "features (niqe)" in details
    assert "1e-05" not in details
    assert re.search(r"<title>NIQE-SVR: 0\.1 s/image,", text) and "1e-05 s/image" not in text
    assert "<title>NIQE: 0.1 s/image," in text
