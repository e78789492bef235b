"""The config resolver (bench.config): declared defaults, presets, overrides, and their sources."""

import json

import pytest
from helpers import run_cli

from bench import api
from bench.errors import BenchError
from bench.registry import create_method, list_methods
from bench.config import resolve_config
from bench.train.config import TRAIN_FIELDS, TrainConfig, cli_options


def test_every_value_has_a_source_and_an_origin():
    hypernet = resolve_config("hypernet", "agiqa3k")
    assert hypernet.values["train_crop"] == 224 and hypernet.origins["train_crop"] == "HyperNet.defaults"
    assert hypernet.values["epochs"] == 16 and hypernet.origins["epochs"] == "HyperNet.defaults"  # its authors'
    assert hypernet.values["image_size"] == 512 and hypernet.origins["image_size"] == "TrainConfig (the paper's protocol)"
    assert set(hypernet.sources.values()) == {"default"} and hypernet.preset is None
    demo = resolve_config("hypernet", "demo", overrides={"epochs": 3, "lr": None, "not_an_option": 1})
    assert demo.preset == "demo" and demo.values["image_size"] == 64 and demo.sources["image_size"] == "preset:demo"
    assert demo.origins["image_size"] == "HyperNet.presets['demo']" and demo.values["train_patches"] == 1
    assert demo.sources["epochs"] == "override" and demo.overrides() == {"epochs": 3}
    assert "not_an_option" not in demo.values and demo.sources["lr"] == "preset:demo"


def test_a_subclass_preset_replaces_its_parents_and_conditional_defaults_follow_the_config():
    resnet = resolve_config("resnet50", "demo")
    assert (resnet.values["image_size"], resnet.values["train_crop"], resnet.values["joint_targets"]) == (256, 64, True)
    assert resnet.origins["train_crop"] == "ResNet50.presets['demo']"
    ipiqa = resolve_config("ipiqa", "demo")
    assert ipiqa.sources["clip"] == "preset:demo" and ipiqa.values["image_size"] == 96
    assert ipiqa.values["freeze_trunk"] and ipiqa.origins["freeze_trunk"].startswith("IPIQAMethod.defaults_when[")
    assert ipiqa.origins["lr"] == "IPIQAMethod.defaults_when[clip='small']" and ipiqa.sources["lr"] == "default"
    full = resolve_config("ipiqa", "demo", preset="full")
    assert full.sources["clip"] == "preset:full" and full.values["image_size"] == 128
    assert full.origins["image_size"] == "IPIQAMethod.defaults_when[clip='small']"
    on_rn50 = resolve_config("ipiqa", "demo", overrides={"clip": "RN50"})
    assert (on_rn50.values["image_size"], on_rn50.values["dropout"]) == (512, 0.5)
    assert resolve_config("ipiqa", "demo", preset="default").values["clip"] == "RN50"


@pytest.mark.parametrize("dataset", [None, "demo"])
def test_every_method_builds_from_its_resolved_config_and_reports_it_back(dataset):
    for info in list_methods():
        resolved = resolve_config(info.name, dataset)
        full = resolve_config(info.name, dataset, preset="full")
        assert create_method(info.name, **full.values).get_config() == full.values, info.name
        assert create_method(info.name, **resolved.values).get_config() == resolved.values, info.name
        assert set(resolved.sources) == set(resolved.values) == set(resolved.origins), info.name


def test_full_is_the_demos_slower_preset_and_falls_back_to_demo_where_a_method_has_one_preset():
    quick, full = resolve_config("resnet50", "demo"), resolve_config("resnet50", "demo", preset="full")
    assert (quick.values["epochs"], full.values["epochs"]) == (4, 20) and full.preset == "full"
    assert full.sources["epochs"] == "preset:full" and full.origins["epochs"] == "ResNet50.presets['full']"
    kang = resolve_config("cnniqa-kang", "demo", preset="full").values
    assert (kang["epochs"], kang["joint_targets"]) == (20, False)
    assert resolve_config("cnniqa-kang", "demo").values["joint_targets"] is True
    cnniqa = resolve_config("cnniqa", "demo", preset="full")
    assert cnniqa.values == resolve_config("cnniqa", "demo").values and cnniqa.sources["epochs"] == "preset:full"
    assert cnniqa.origins["epochs"] == "TorchMethod.presets['demo']"
    assert resolve_config("clipscore", "demo", preset="full").values["standin"] == "full"
    assert resolve_config("clipscore", "demo").values["standin"] == "demo"
    assert resolve_config("ceiq", "demo", preset="full").preset is None  # it declares no preset


def test_direct_construction_takes_the_declared_defaults():
    assert create_method("hypernet").train_config().train_crop == 224
    assert create_method("clipiqa").train_config().optimizer == "sgd"
    assert create_method("ipiqa-base").get_config()["use_prompt"] is False
    assert create_method("ipiqa", clip="small").get_config()["dropout"] == 0.1
    with pytest.raises(TypeError, match="unexpected training option"):
        create_method("cnniqa", epoch=3)


def test_train_config_constraints_are_declared_once():
    with pytest.raises(BenchError, match=r"lr must be in \(0, inf\]"):
        TrainConfig(lr=0)
    with pytest.raises(BenchError, match=r"val_fraction must be in \(0, 1\)"):
        TrainConfig(val_fraction=1.0)
    assert {f.name for f in cli_options()} <= set(TRAIN_FIELDS)


def test_cli_options_are_generated_from_the_train_config():
    help_text = run_cli("run", "--help").output
    for field in cli_options():
        assert f"--{field.name.replace('_', '-')}" in help_text
    refused = run_cli("run", "--dataset", "demo", "--lr", "-1")
    assert refused.exit_code == 2 and "--lr" in refused.output


def test_list_config_prints_values_sources_and_origins():
    out = run_cli("list", "--config", "hypernet", "--dataset", "demo").output
    assert "hypernet on demo (preset: demo)" in out
    line = next(l for l in out.splitlines() if l.startswith("train_crop"))
    assert "224" in line and "default" in line and "HyperNet.defaults" in line
    line = next(l for l in out.splitlines() if l.startswith("image_size"))
    assert "64" in line and "preset:demo" in line




def test_the_manifest_records_config_sources_and_the_preset(tiny_dataset, results_dir):
    outcomes = api.run("test-sharpness-svr,test-lap-var", "tinyfiles", splits=2, results_dir=results_dir,
                       overrides={"epsilon": 0.2, "epochs": 7})
    assert [o.status for o in outcomes] == ["done", "done"]
    manifest = json.loads((results_dir / "tinyfiles" / "test-sharpness-svr" / "run.json").read_text())
    assert manifest["config"]["epsilon"] == 0.2 and manifest["config_sources"]["epsilon"] == "override"
    assert set(manifest["config_sources"].values()) == {"default", "override"} and manifest["preset"] is None
    table = api.table(results_dir=results_dir)
    assert set(table["method"]) == {"test-sharpness-svr", "test-lap-var"} and table["srcc_mean"].notna().all()
    scores = api.score("test-lap-var", [tiny_dataset["path"][0], tiny_dataset["path"][1]])
    assert list(scores.columns) == ["image", "score"] and len(scores) == 2
    assert api.config("test-sharpness-svr", overrides={"epsilon": 0.3}).sources["epsilon"] == "override"


def test_the_feature_cache_key_of_a_run_uses_the_datasets_preset():
    from bench.run.runner import RunOptions, _feature_cache_key

    options = RunOptions()
    on_demo = _feature_cache_key("clipscore", options, "demo")
    assert on_demo != _feature_cache_key("clipscore", options, "agiqa3k")
    assert on_demo == "features:" + create_method("clipscore", **resolve_config("clipscore", "demo").values).feature_key


def test_a_preset_no_selected_method_declares_is_a_one_line_error(tiny_dataset, results_dir):
    refused = run_cli("run", "--methods", "test-lap-var,cnniqa", "--dataset", "tinyfiles", "--preset", "demmo",
                      "--results-dir", str(results_dir))
    assert refused.exit_code == 2 and "no selected method declares preset 'demmo'; declared: demo" in refused.stderr
    assert not results_dir.exists()  # refused before anything was written
    listed = run_cli("list", "--config", "hypernet", "--preset", "demmo")
    assert listed.exit_code == 2 and "declares preset 'demmo'" in listed.stderr
    assert run_cli("list", "--config", "hypernet", "--preset", "default").exit_code == 0


def test_a_run_under_the_full_preset_records_it_and_the_table_row_says_so(tiny_dataset, results_dir):
    result = run_cli("run", "--methods", "cnniqa-kang", "--dataset", "tinyfiles", "--splits", "1", "--preset", "full",
                     "--epochs", "1", "--image-size", "32", "--device", "cpu", "--results-dir", str(results_dir))
    assert result.exit_code == 0, result.output
    manifest = json.loads((results_dir / "tinyfiles" / "cnniqa-kang" / "run.json").read_text())
    assert manifest["preset"] == "full" and manifest["config_sources"]["lr"] == "preset:full"
    assert manifest["config"]["joint_targets"] is False  # full trains a model a target, as before
    assert "preset full" in run_cli("table", "--results-dir", str(results_dir)).output
