"""The typed run manifest: schema, round trip, and results folders this version did not write."""

import json
from pathlib import Path

import pytest
from helpers import run_cli

from bench.errors import BenchError
from bench.results.manifest import SCHEMA, RunManifest

def test_a_manifest_this_version_did_not_write_is_refused_in_one_line(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"method": "ceiq", "config": {}, "splits": {}}))  # c691a59's shape
    with pytest.raises(BenchError, match=r"not written by this version of ipiqa-bench \(a manifest without a "
                                         r"schema; .*rerun `ipiqa-bench run` with --force"):
        RunManifest.read(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"schema": 1, "method": "x"}))
    with pytest.raises(BenchError, match="manifest schema 1"):
        RunManifest.read(tmp_path)


def test_newer_schema_and_garbage_are_one_line_errors(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"schema": SCHEMA + 1, "method": "x"}))
    with pytest.raises(BenchError, match=f"manifest schema {SCHEMA + 1}"):
        RunManifest.read(tmp_path)
    (tmp_path / "run.json").write_bytes(b"\x89PNG\x00\xff")
    with pytest.raises(BenchError, match="not valid JSON"):
        RunManifest.read(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"schema": SCHEMA, "splits": {"0": "done"}}))
    with pytest.raises(BenchError, match="not a valid run manifest"):
        RunManifest.read(tmp_path)


def test_unknown_fields_survive_a_rewrite(tmp_path):
    RunManifest.from_dict({"schema": SCHEMA, "method": "m", "made_by_other_tool": {"x": 1},
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


def test_run_refuses_a_folder_of_an_older_format_and_force_recomputes_it(tiny_dataset, results_dir):
    args = ["run", "--methods", "test-sharpness-svr", "--dataset", "tinyfiles", "--splits", "3",
            "--results-dir", str(results_dir)]
    assert run_cli(*args).exit_code == 0
    method = results_dir / "tinyfiles" / "test-sharpness-svr"
    reference = {p.name: p.read_bytes() for p in method.glob("split_*.csv")}
    _as_schema_1(method)
    refused = run_cli(*args)
    assert refused.exit_code != 0 and "rerun `ipiqa-bench run` with --force" in refused.output
    table = run_cli("table", "--results-dir", str(results_dir))
    assert table.exit_code == 2 and "not written by this version of ipiqa-bench" in table.output
    assert run_cli(*args, "--force").exit_code == 0
    manifest = RunManifest.read(method)
    assert manifest.schema == SCHEMA and sorted(manifest.splits) == [0, 1, 2]
    assert all(r.sha256 for r in manifest.splits.values())
    assert {p.name: p.read_bytes() for p in method.glob("split_*.csv")} == reference


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


def test_results_that_do_not_record_their_extractor_are_refused(tiny_dataset, results_dir):
    args = ["run", "--methods", "test-sharpness-svr", "--dataset", "tinyfiles", "--splits", "2",
            "--results-dir", str(results_dir)]
    assert run_cli(*args).exit_code == 0
    method = results_dir / "tinyfiles" / "test-sharpness-svr"
    data = json.loads((method / "run.json").read_text())
    del data["feature_version"]
    (method / "run.json").write_text(json.dumps(data))
    refused = run_cli(*args)
    assert refused.exit_code != 0 and "different feature_version" in refused.output
    assert run_cli(*args, "--force").exit_code == 0
    assert RunManifest.read(method).feature_version == "test-sharpness-svr/1"
