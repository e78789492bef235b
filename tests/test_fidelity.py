"""Every row says what it is: fidelity and description per method, names that keep
approximations away from the paper's figures, and one rule for the paper's signs."""

import math

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

from bench.registry import (
    FIDELITY_KINDS,
    get_method_info,
    list_methods,
    register_method,
)
from bench.report.paper import paper_delta, paper_method_names, paper_reference, paper_tables
from bench.report.tables import with_paper

BUILT_IN = [m for m in list_methods() if m.cls.__module__.startswith("methods.")]
CLAIMS_PUBLISHED = ("faithful", "reimplementation")


@pytest.mark.parametrize("info", BUILT_IN, ids=lambda m: m.name)
def test_every_built_in_method_declares_a_description_and_a_fidelity(info):
    assert info.description and info.fidelity_kind in FIDELITY_KINDS
    assert len(info.fidelity.split(":", 1)[-1].strip()) > 10  # says how, not only the kind


@pytest.mark.parametrize("info", BUILT_IN, ids=lambda m: m.name)
def test_only_rows_claiming_the_published_method_carry_a_paper_name(info):
    if info.display in paper_method_names():
        assert info.fidelity_kind in CLAIMS_PUBLISHED, info.fidelity
    if info.fidelity_kind not in CLAIMS_PUBLISHED:
        assert info.display not in paper_method_names()


def test_approximations_are_named_as_such():
    assert get_method_info("ceiq").display == "CEIQ (f1)"
    assert get_method_info("sisblim").display == "SISBLIM (approx.)"
    assert get_method_info("ceiq-release").display == "CEIQ"


def _summary(rows):
    return pd.DataFrame([{"method": m, "label": label, "dataset": d, "target": t, "family": "handcrafted",
                          "srcc_mean": 0.5, "plcc_mean": 0.5, "krcc_mean": 0.5} for m, label, d, t in rows])


def test_renamed_rows_get_no_paper_figure_and_published_ones_do():
    rows = [("ceiq", "CEIQ (f1)", "agiqa1k", "mos"), ("sisblim", "SISBLIM (approx.)", "agiqa1k", "mos"),
            ("ceiq-release", "CEIQ", "agiqa1k", "mos"), ("niqe", "NIQE", "agiqa1k", "mos")]
    merged = with_paper(_summary(rows), {"niqe": -1}).set_index("method")
    assert merged.loc[["ceiq", "sisblim"], ["paper_srcc", "delta_srcc"]].isna().all().all()
    assert merged.loc["ceiq-release", "paper_srcc"] == pytest.approx(0.3069)
    assert merged.loc["niqe", "delta_srcc"] == pytest.approx(0.5 - 0.5490)


@pytest.mark.parametrize("value, higher_is_better, expected", [
    (-0.5490, False, 0.5490),   # NIQE on AGIQA-1k: raw correlation of a working lower-is-better score
    (0.5623, False, 0.5623),    # NIQE on AGIQA-3k: every figure of that column is positive
    (-0.3047, True, -0.3047),   # DSIQA on AGIQA-1k: a higher-is-better score anti-correlated
    (0.3069, True, 0.3069),
])
def test_one_paper_sign_rule(value, higher_is_better, expected):
    assert paper_reference(value, higher_is_better) == pytest.approx(expected)
    assert paper_delta(0.4, value, higher_is_better) == pytest.approx(0.4 - expected)
    assert math.isnan(paper_reference(float("nan"), higher_is_better))


def test_the_tables_follow_the_one_sign_rule_for_every_paper_row():
    """Every (method, dataset, target) figure of the paper, lower- and higher-is-better alike."""
    paper = paper_tables().drop_duplicates(["method", "dataset", "target"])
    for sign in (1, -1):
        summary = _summary([(f"m{i}", r.method, r.dataset, r.target) for i, r in enumerate(paper.itertuples())])
        merged = with_paper(summary, {f"m{i}": sign for i in range(len(paper))})
        for metric in ("srcc", "plcc", "krcc"):
            expected = [paper_delta(0.5, v, sign > 0) for v in paper[metric]]
            assert merged[f"delta_{metric}"].tolist() == pytest.approx(expected)


def test_an_unknown_fidelity_kind_is_refused():
    with pytest.raises(ValueError, match="fidelity"):
        register_method("test-bad-fidelity", family="handcrafted", fidelity="close enough")


def test_list_shows_each_methods_row_name_description_and_fidelity():
    result = run_cli("list")
    assert result.exit_code == 0
    table_row = next(line for line in result.output.splitlines() if line.startswith("sisblim "))
    assert "SISBLIM (approx.)" in table_row and "approximation" in table_row
    details = result.output.split("fidelity):", 1)[1]
    assert get_method_info("niqe").description in details and get_method_info("niqe").fidelity in details


def test_results_of_a_row_renamed_an_approximation_lose_the_paper_figure(tmp_path):
    from helpers import write_results  # results written under the paper's name, as before the rename

    from bench.report.summary import summary_of

    write_results(tmp_path, "agiqa3k", "ceiq", "CEIQ", 0.5, family="handcrafted", target="mos_quality")
    summary, _, _ = summary_of(tmp_path, paper=True)
    assert summary.loc[summary["method"] == "ceiq", "paper_srcc"].isna().all()


def test_the_papers_cnniqa_row_is_kangs_and_pyiqas_variant_gets_no_paper_figure(tmp_path):
    from helpers import write_results

    from bench.report.summary import summary_of

    write_results(tmp_path, "agiqa3k", "cnniqa-kang", "CNNIQA", 0.5, family="deep", target="mos_quality")
    write_results(tmp_path, "agiqa3k", "cnniqa", "CNNIQA", 0.5, family="deep", target="mos_quality")  # pre-rename
    summary, _, _ = summary_of(tmp_path, paper=True)
    figure = summary.set_index("method")["paper_srcc"]
    assert figure["cnniqa-kang"] == pytest.approx(0.7478) and np.isnan(figure["cnniqa"])


def test_results_written_before_a_rename_are_matched_under_the_methods_name_now(tmp_path):
    from helpers import write_results

    from bench.report.summary import summary_of

    write_results(tmp_path, "agiqa3k", "cnniqa-kang", "CNNIQA (Kang et al.)", 0.5, family="deep",
                  target="mos_quality")
    write_results(tmp_path, "agiqa3k", "not-registered", "CNNIQA", 0.5, family="deep", target="mos_quality")
    summary, _, _ = summary_of(tmp_path, paper=True)
    figure = summary.set_index("method")["paper_srcc"]
    assert figure["cnniqa-kang"] == pytest.approx(0.7478)
    assert figure["not-registered"] == pytest.approx(0.7478)  # unknown here: judged by its recorded name
