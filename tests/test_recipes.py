"""`run --recipe authors|paper`: each method's declared training recipe, or the IP-IQA paper's for all."""

import json

import pytest
from conftest import run_cli

from bench.config import RECIPE_KEYS, resolve_config
from bench.errors import BenchError
from bench.registry import create_method, list_methods
from bench.results import row_label
from bench.train_config import PAPER


def test_paper_recipe_drops_each_methods_declared_recipe_keys_only():
    authors = resolve_config("clipiqa").values
    paper = resolve_config("clipiqa", overrides={"recipe": "paper"})
    assert (authors["optimizer"], authors["lr"]) == ("sgd", 2e-3)
    assert (paper.values["optimizer"], paper.values["lr"], paper.values["momentum"]) == ("adam", 1e-5, 0.9)
    assert paper.sources["recipe"] == "override" and paper.origins["lr"] == "TrainConfig (the paper's protocol)"
    # input handling is the method's own: HyperNet keeps its 224-px crops, Kang's CNNIQA its flips off
    assert resolve_config("hypernet", overrides={"recipe": "paper"}).values["train_crop"] == 224
    kang = resolve_config("cnniqa-kang", overrides={"recipe": "paper"}).values
    assert kang["loss"] == "mse" and kang["hflip"] is False
    assert resolve_config("cnniqa-kang").values["loss"] == "l1"


def test_under_the_paper_recipe_every_trainable_method_trains_with_trainconfigs_recipe():
    for info in list_methods():
        if "recipe" not in info.cls.config_keys():
            continue
        values = resolve_config(info.name, overrides={"recipe": "paper"}).values
        assert {k: values[k] for k in RECIPE_KEYS} == {k: getattr(PAPER, k) for k in RECIPE_KEYS}, info.name
        method = create_method(info.name, **values)
        assert method.get_config() == values, info.name  # the recipe survives a round trip (checkpoints)


def test_the_demo_preset_still_applies_and_unknown_recipes_are_refused():
    values = resolve_config("cnniqa-kang", "demo", overrides={"recipe": "paper"}).values
    assert (values["image_size"], values["epochs"], values["loss"]) == (256, 20, "mse")
    with pytest.raises(BenchError, match="unknown recipe 'nope'"):
        resolve_config("cnniqa", overrides={"recipe": "nope"})


def test_run_records_the_recipe_and_the_table_row_says_so(tiny_dataset, results_dir):
    result = run_cli("run", "--methods", "cnniqa-kang", "--dataset", "tinyfiles", "--splits", "1", "--recipe",
                     "paper", "--epochs", "1", "--image-size", "32", "--device", "cpu",
                     "--results-dir", str(results_dir))
    assert result.exit_code == 0, result.output
    manifest = json.loads((results_dir / "tinyfiles" / "cnniqa-kang" / "run.json").read_text())
    assert manifest["config"]["recipe"] == "paper" and manifest["config"]["loss"] == "mse"
    assert manifest["config_sources"]["recipe"] == "override"
    assert row_label(manifest) == "CNNIQA (Kang et al.) [paper recipe]"
    assert "CNNIQA (Kang et al.) [paper recipe]" in run_cli("table", "--results-dir", str(results_dir)).output
