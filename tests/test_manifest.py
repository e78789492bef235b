"""The typed run manifest: schema, round trip, and results folders written by older code."""

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

from bench.errors import BenchError
from bench.results.loading import load_results, split_metrics
from bench.results.manifest import SCHEMA, RunManifest

C691 = Path(__file__).resolve().parent / "data" / "results_c691a59"


@pytest.fixture
def old_results(tmp_path) -> Path:
    shutil.copytree(C691 / "agiqa3k", tmp_path / "results" / "agiqa3k")
    return tmp_path / "results"


def test_c691a59_manifest_upgrades_with_every_field(old_results):
    raw = json.loads((old_results / "agiqa3k" / "niqe" / "run.json").read_text())
    assert "schema" not in raw  # the fixture is the schema-less format
    manifest = RunManifest.read(old_results / "agiqa3k" / "niqe")
    assert manifest.schema == SCHEMA and manifest.read_schema == 1
    assert manifest.sign == -1 and manifest.plcc_mapping == "logistic" and manifest.test_size == 0.2
    assert manifest.config_sources == {"device": "unknown"} and manifest.preset is None
    assert sorted(manifest.splits) == [0, 1] and manifest.splits[0].n_test == 20
    assert not manifest.verified and manifest.splits[0].sha256 is None
    upgraded = manifest.to_dict()
    for key, value in raw.items():  # every field written then still means the same
        if key == "splits":
            for k, record in value.items():
                assert {f: upgraded["splits"][k][f] for f in record} == record
        else:
            assert upgraded[key] == value, key
    assert RunManifest.from_dict(upgraded) == manifest  # and round-trips


def test_c691a59_folder_reads_to_the_numbers_the_old_code_printed(old_results):
    results = load_results(old_results)
    assert sorted(r.method for r in results) == ["ceiq", "ceiq-svr", "niqe"]
    assert not any(r.verified for r in results)  # no hashes then: checked for shape only
    metrics = split_metrics(results)
    assert set(metrics["split"]) == {0, 1}
    for expected_file, extra in (("expected_table.csv", []), ("expected_table_paper_ci.csv", ["--paper", "--ci", "--plcc", "logistic"])):
        result = run_cli("table", "--results-dir", str(old_results), "--format", "csv", *extra)
        assert result.exit_code == 0, result.output
        new = pd.read_csv(io.StringIO(result.stdout))
        old = pd.read_csv(C691 / expected_file)
        # The same numbers in every column the old code printed (the protocol columns are new),
        # except the logistic PLCC of rows with next to no relation: it keeps its sign now
        # (issue 18), where the old fit turned a falling curve into a positive PLCC.
        same = [c for c in old.columns if "plcc" not in c or c == "paper_plcc"]
        # ... and the paper's figures of CEIQ, whose f1 row is named an approximation now (issue 18)
        renamed = new["method"] == "ceiq"
        if "paper_srcc" in old:
            assert new.loc[renamed, [c for c in new if c.startswith(("paper_", "delta_"))]].isna().all().all()
            assert old.loc[renamed, "paper_srcc"].notna().any()
        ours = [c for c in same if not c.startswith(("paper_", "delta_"))]
        pd.testing.assert_frame_equal(new[ours], old[ours], check_exact=False, rtol=1e-5, atol=1e-7)
        pd.testing.assert_frame_equal(new.loc[~renamed, same], old.loc[~renamed, same], check_exact=False,
                                      rtol=1e-5, atol=1e-7)
        related = old["srcc_mean"].abs() > 0.5
        assert related.sum() == 2 and np.allclose(new.loc[related, "plcc_mean"], old.loc[related, "plcc_mean"],
                                                  rtol=1e-4)


def test_c691a59_truncated_split_file_is_refused_even_unverified(old_results):
    path = old_results / "agiqa3k" / "ceiq" / "split_1.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: len(lines) // 2]))
    with pytest.raises(BenchError, match="split_1.csv does not hold one row per test image"):
        load_results(old_results)


def test_newer_schema_and_garbage_are_one_line_errors(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"schema": SCHEMA + 1, "method": "x"}))
    with pytest.raises(BenchError, match="newer ipiqa-bench"):
        RunManifest.read(tmp_path)
    (tmp_path / "run.json").write_bytes(b"\x89PNG\x00\xff")
    with pytest.raises(BenchError, match="not valid JSON"):
        RunManifest.read(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"splits": {"0": "done"}}))
    with pytest.raises(BenchError, match="not a valid run manifest"):
        RunManifest.read(tmp_path)


def test_unknown_fields_survive_a_rewrite(tmp_path):
    RunManifest.from_dict({"method": "m", "made_by_other_tool": {"x": 1},
                           "splits": {"0": {"fit_s": 1.0, "note": "kept"}}}).write(tmp_path)
    again = json.loads((tmp_path / "run.json").read_text())
    assert again["made_by_other_tool"] == {"x": 1} and again["splits"]["0"]["note"] == "kept"
    assert again["schema"] == SCHEMA


def _as_schema_1(method_dir: Path) -> None:
    """Rewrite a run.json as c691a59 wrote it: no schema, provenance or hashes."""
    data = json.loads((method_dir / "run.json").read_text())
    for key in ("schema", "config_sources", "preset"):
        del data[key]
    for record in data["splits"].values():
        for key in ("sha256", "rows", "checkpoint_sha256"):
            del record[key]
    (method_dir / "run.json").write_text(json.dumps(data))


def test_run_adopts_schema_1_splits_that_pass_the_shape_check(tiny_dataset, results_dir):
    args = ["run", "--methods", "test-sharpness-svr", "--dataset", "tinyfiles", "--splits", "3",
            "--results-dir", str(results_dir)]
    assert run_cli(*args).exit_code == 0
    method = results_dir / "tinyfiles" / "test-sharpness-svr"
    reference = {p.name: p.read_bytes() for p in method.glob("split_*.csv")}
    _as_schema_1(method)
    (method / "checkpoints" / "split_2.pt").unlink()  # a schema-1 kill window: the file without its checkpoint
    lines = (method / "split_1.csv").read_text().splitlines(keepends=True)
    (method / "split_1.csv").write_text("".join(lines[:-2]))  # truncated at a row boundary
    assert not RunManifest.read(method).verified
    adopted = (method / "split_0.csv").stat().st_mtime_ns
    assert run_cli(*args).exit_code == 0
    assert (method / "split_0.csv").stat().st_mtime_ns == adopted  # checked and recorded, not recomputed
    manifest = RunManifest.read(method)
    assert manifest.verified and manifest.read_schema == SCHEMA and sorted(manifest.splits) == [0, 1, 2]
    assert set(manifest.config_sources.values()) == {"default"}  # the resolver's provenance replaces "unknown"
    assert {p.name: p.read_bytes() for p in method.glob("split_*.csv")} == reference
    assert (method / "checkpoints" / "split_2.pt").exists()
    assert all(r.verified for r in load_results(results_dir))


def test_a_changed_feature_extractor_makes_results_on_disk_another_methods(tiny_dataset, results_dir, monkeypatch):
    import plugin_fixtures

    args = ["run", "--methods", "test-sharpness-svr", "--dataset", "tinyfiles", "--splits", "2",
            "--results-dir", str(results_dir)]
    assert run_cli(*args).exit_code == 0
    method = results_dir / "tinyfiles" / "test-sharpness-svr"
    assert RunManifest.read(method).feature_version == "test-sharpness-svr/1"
    monkeypatch.setattr(plugin_fixtures.SharpnessSVR, "feature_version", "2")
    refused = run_cli(*args)
    assert refused.exit_code == 1 and "different feature_version" in refused.stderr
    assert run_cli(*args, "--force").exit_code == 0
    assert RunManifest.read(method).feature_version == "test-sharpness-svr/2"


def test_an_older_manifest_names_its_feature_version_from_its_features_record():
    manifest = RunManifest.from_dict({"method": "niqe", "features": {"key": "niqe", "version": "1"}})
    assert manifest.feature_version == "niqe/1"


def test_results_that_do_not_record_their_extractor_are_kept_with_a_warning(tiny_dataset, results_dir, caplog):
    args = ["run", "--methods", "test-sharpness-svr", "--dataset", "tinyfiles", "--splits", "2",
            "--results-dir", str(results_dir)]
    assert run_cli(*args).exit_code == 0
    method = results_dir / "tinyfiles" / "test-sharpness-svr"
    data = json.loads((method / "run.json").read_text())
    del data["feature_version"], data["features"]  # as a method that found every feature cached wrote it
    (method / "run.json").write_text(json.dumps(data))
    assert run_cli(*args).exit_code == 0
    assert "do not record which feature extractor made them" in caplog.text
    assert RunManifest.read(method).feature_version == "test-sharpness-svr/1"  # recorded from now on
