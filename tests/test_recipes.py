"""`run --recipe authors|paper`: each method's declared training recipe, or the IP-IQA paper's for all."""

import json
from dataclasses import replace

import numpy as np
import pytest
from helpers import run_cli

from bench.config import RECIPE_KEYS, resolve_config
from bench.errors import BenchError
from bench.registry import create_method, list_methods
from bench.results.manifest import RunManifest
from bench.train.config import PAPER
from bench.train.torch_method import TorchMethod


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
    assert (values["image_size"], values["epochs"], values["loss"]) == (256, 8, "mse")
    values = resolve_config("cnniqa-kang", "demo", preset="full", overrides={"recipe": "paper"}).values
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
    assert RunManifest.from_dict(manifest).label == "CNNIQA [paper recipe]"
    assert "CNNIQA [paper recipe]" in run_cli("table", "--results-dir", str(results_dir)).output


def test_dbcnn_authors_recipe_is_two_stages_and_the_paper_recipe_one():
    authors = resolve_config("dbcnn").values
    assert {k: authors[k] for k in ("optimizer", "lr", "weight_decay", "batch_size", "epochs", "fc_epochs", "fc_lr")} \
        == {"optimizer": "adam", "lr": 1e-5, "weight_decay": 5e-4, "batch_size": 8, "epochs": 50,
            "fc_epochs": 50, "fc_lr": 1e-3}
    paper = resolve_config("dbcnn", overrides={"recipe": "paper"}).values
    assert paper["fc_epochs"] == 0 and (paper["batch_size"], paper["epochs"]) == (40, 100)

    from torch import nn

    method = create_method("dbcnn", pretrained=False, fc_epochs=2)
    model = nn.Module()  # the stages need only a model with an `fc` layer (DBCNN's VGG-16 is slow to build)
    model.features, model.fc = nn.Conv2d(3, 4, 3), nn.Linear(4, 1)
    stages = method.training_stages(model, method.train_config())
    name, config, groups = next(stages)  # the first stage: fc alone, branches frozen
    fc = {id(p) for p in model.fc.parameters()}
    assert name == "fc" and {id(p) for g in groups for p in g["params"]} == fc
    assert all(p.requires_grad == (id(p) in fc) for p in model.parameters())
    assert (config.optimizer, config.lr, config.momentum, config.epochs) == ("sgd", 1e-3, 0.9, 2)
    name, config, groups = next(stages)  # then every layer, at the method's own recipe
    assert name == "all" and all(p.requires_grad for p in model.parameters())
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    assert (config.optimizer, config.lr, config.epochs) == ("adam", 1e-5, 50)
    assert next(stages, None) is None


class _TwoStages(TorchMethod):
    """A tiny network trained in two stages: its head alone, then everything (as DBCNN)."""

    def build_model(self, n_outputs, pretrained):
        from torch import nn

        return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, n_outputs))

    def training_stages(self, model, config):
        yield "head", replace(config, lr=1e-2, epochs=2, selection="final"), [{"params": list(model[3].parameters()),
                                                                               "lr": 1e-2}]
        yield from super().training_stages(model, config)


def test_fit_runs_every_stage_on_one_model_and_reports_each(tmp_path):
    from bench.testing.images import write_image_set

    frame = write_image_set(tmp_path, n_groups=3, per_group=4)
    method = _TwoStages(epochs=1, batch_size=4, image_size=32, num_workers=0, device="cpu", selection="val",
                        val_fraction=0.34)
    method.fit(frame, ["mos"])
    report = method.report_["models"]["mos"]
    head = report["stages"]["head"]
    assert head["lr_end"] == [1e-2] and len(head["epoch_loss"]) == 2 and head["selected_epoch"] == 2
    assert "selection_scores" not in head  # the head stage fixes "final"; the run's selection is the last stage's
    assert report["lr_end"] == [1e-5] and len(report["selection_scores"]) == 1
    assert method.predict(frame)["mos"].notna().all()


def test_the_demo_scales_dbcnns_first_stage_and_the_paper_recipe_has_none():
    assert resolve_config("dbcnn", "demo").values["fc_epochs"] == 5
    assert resolve_config("dbcnn", "demo", overrides={"recipe": "paper"}).values["fc_epochs"] == 0


# The audited recipes (docs/protocols.md, "Training recipes"): each method's authors' values and
# the class they are declared in; under `--recipe paper` every one of these keys is TrainConfig's
# or the constructor's, except input handling (crops, flips), which stays the method's.
AUTHORS = {
    "hypernet": ("HyperNet", {"optimizer": "adam", "lr": 2e-5, "weight_decay": 5e-4, "batch_size": 96, "epochs": 16,
                              "loss": "l1", "train_crop": 224, "train_patches": 25}),
    "dbcnn": ("DBCNN", {"optimizer": "adam", "lr": 1e-5, "weight_decay": 5e-4, "batch_size": 8, "epochs": 50,
                        "train_crop": 448, "fc_epochs": 50, "fc_lr": 1e-3}),
    "clipiqa": ("CLIPIQA", {"optimizer": "sgd", "lr": 2e-3, "momentum": 0.0, "batch_size": 64,
                            "lr_schedule": "cosine"}),
    "cnniqa": ("CNNIQA", {"optimizer": "adam", "lr": 1e-3, "batch_size": 64, "lr_schedule": "cosine"}),
    "cnniqa-kang": ("CNNIQAKang", {"optimizer": "adam", "lr": 1e-4, "weight_decay": 0.0, "batch_size": 128,
                                   "epochs": 500, "loss": "l1", "hflip": False, "train_patches": 256}),
    "topiq-nr": ("TopiqNR", {"optimizer": "adamw", "lr": 3e-5, "weight_decay": 1e-5, "batch_size": 16,
                             "train_crop": 384, "lr_schedule": "cosine"}),
    "ipce": ("IPCE", {"optimizer": "adamw", "lr": 5e-6, "weight_decay": 1e-3, "batch_size": 16, "epochs": 30,
                      "loss": "l1", "lr_schedule": "cosine"}),
}
INPUT_HANDLING = ("train_crop", "hflip")


@pytest.mark.parametrize("name", sorted(AUTHORS))
def test_each_method_defaults_to_its_audited_authors_recipe(name):
    owner, expected = AUTHORS[name]
    authors = resolve_config(name)
    assert {k: authors.values[k] for k in expected} == expected
    assert {authors.origins[k] for k in expected} == {f"{owner}.defaults"}
    paper = resolve_config(name, overrides={"recipe": "paper"})
    for key, value in expected.items():
        if key in INPUT_HANDLING:
            assert paper.values[key] == value, key
        elif key in RECIPE_KEYS:
            assert paper.values[key] == getattr(PAPER, key), key
        else:  # the method's own recipe keys fall back to its constructor's (no fc stage, one draw)
            assert paper.origins[key].endswith(".__init__"), key


def test_resnet50_rows_have_no_authors_recipe_and_train_as_the_paper_under_both():
    for name in ("resnet50", "resnet50-imagenet"):
        authors, paper = resolve_config(name).values, resolve_config(name, overrides={"recipe": "paper"}).values
        assert {k: authors[k] for k in RECIPE_KEYS} == {k: paper[k] for k in RECIPE_KEYS} \
            == {k: getattr(PAPER, k) for k in RECIPE_KEYS}


def test_list_config_names_where_each_recipe_value_is_declared():
    out = run_cli("list", "--config", "hypernet").output
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["lr"][1:] == ["2e-05", "default", "HyperNet.defaults"]
    assert rows["train_patches"][1:] == ["25", "default", "HyperNet.defaults"]
    assert rows["lr_schedule"][-1] == "protocol)"  # the authors' per-epoch lr steps are not declared


def test_each_training_image_is_drawn_train_patches_times_an_epoch(tmp_path):
    from bench.testing.images import write_image_set

    frame = write_image_set(tmp_path, n_groups=2, per_group=3)
    method = create_method("cnniqa-kang", train_patches=4, num_workers=0, image_cache=False, device="cpu")
    config = method.train_config()
    targets = np.arange(len(frame), dtype=float)[:, None]
    train = method._loader(frame, config, "cpu", train=True, targets=targets)
    assert len(train.dataset) == 4 * len(frame)
    assert sorted(train.dataset.targets[:, 0]) == sorted(np.repeat(targets[:, 0], 4))
    assert len(method._eval_loader(frame, config, "cpu").dataset) == len(frame)  # testing sees each image once
