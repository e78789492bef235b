"""Contamination marks (a row evaluated on a dataset its weights saw) and cells that say why
they are empty; every row with results appears in some markdown table."""

import pandas as pd
from helpers import run_cli, write_results

from bench import api
from bench.registry import get_method_info
from bench.report import tables
from bench.report.contamination import contamination_of


def test_row_evaluated_on_its_training_data_is_marked(tiny_dataset, results_dir):
    api.run("test-saw-tinyfiles,test-lap-var", "tinyfiles", splits=2, results_dir=results_dir, summary=False)
    frame = api.table(results_dir).set_index("method")
    assert frame.loc["test-saw-tinyfiles", "contamination"] == "TinyFiles"  # matched ignoring case
    assert frame.loc["test-lap-var", "contamination"] == ""
    markdown = run_cli("table", "--results-dir", str(results_dir)).output
    line = next(x for x in markdown.splitlines() if "test-saw-tinyfiles" in x and x.startswith("|"))
    mark = line.split("test-saw-tinyfiles (")[1][0]
    assert f"({mark}) test-saw-tinyfiles — tinyfiles: CONTAMINATED: its pretrained weights were trained on TinyFiles" \
        in markdown
    csv = pd.read_csv(pd.io.common.StringIO(run_cli("table", "--results-dir", str(results_dir), "--format",
                                                    "csv").output)).set_index("method")
    assert csv.loc["test-saw-tinyfiles", "contamination"] == "TinyFiles"


def test_trained_on_of_the_pyiqa_zoo_and_unknown_rows():
    assert get_method_info("pyiqa:dbcnn").trained_on == ("koniq10k",)
    assert contamination_of("pyiqa:dbcnn", "koniq-10k") == "koniq10k"
    assert contamination_of("pyiqa:dbcnn", "agiqa3k") == ""
    assert contamination_of("pyiqa:qrealign", "agiqa3k") == "unknown"
    assert "trained_on" in run_cli("list").output.splitlines()[0]


def test_nan_cell_says_why(tiny_dataset, results_dir):
    api.run("test-constant", "tinyfiles", splits=2, results_dir=results_dir, summary=False)
    markdown = run_cli("table", "--results-dir", str(results_dir)).output
    line = next(x for x in markdown.splitlines() if "test-constant" in x and x.startswith("|"))
    assert "n/a (constant predictions)" in line and "NaN" not in line


def test_alignment_row_on_a_combined_mos_appears_in_a_table(results_dir):
    # CLIPScore on AGIQA-1k: scored on "mos", which Table 1 leaves to its own families
    write_results(results_dir, "agiqa1k", "clipscore", "CLIPScore", 0.5, family="alignment", target="mos")
    summary = api.table(results_dir)
    shown = pd.concat([tables.layout_rows(summary, t) for t in (1, 2, "other")])
    assert list(shown["method"]) == ["clipscore"]
    assert "CLIPScore" in run_cli("table", "--results-dir", str(results_dir)).output
