"""A labelled folder as a dataset: `dataset init` guesses a card, the card loads into the same
Dataset the built-in loaders build, `check` finds its problems, and a run on it reaches `table`."""

import io

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

from bench.datasets import load_dataset
from bench.datasets.card import infer_card, load_card, read_card, write_card
from bench.datasets.check import check_dataset
from bench.errors import BenchError
from bench.testing.images import write_image_set


@pytest.fixture
def own_folder(tmp_path):
    """Generated images under pictures/ and labels.csv with the owner's own column names:
    a visual score on 0-10 (higher for less blur) and a prompt match on 1-5."""
    root = tmp_path / "my-aigc"
    frame = write_image_set(root / "pictures", n_groups=8, per_group=4, seed=3)
    rng = np.random.default_rng(1)
    labels = pd.DataFrame({"file": frame["image"], "caption": [f"a red fox in scene {g}" for g in frame["group"]],
                           "visual_score": (frame["mos"] * 2).clip(0, 10).round(3),
                           "match_score": rng.uniform(1, 5, len(frame)).round(2)})
    labels.to_csv(root / "labels.csv", index=False)
    return root


def test_infer_card_guesses_columns_kinds_and_scales(own_folder):
    card, guesses = infer_card(own_folder / "labels.csv", own_folder / "pictures")
    assert card["image_column"] == "file" and card["prompt_column"] == "caption"
    assert card["images"] == "pictures" and card["labels"] == "labels.csv" and card["group_rule"] == "prompt"
    assert card["targets"]["visual_score"]["kind"] == "quality"
    assert card["targets"]["match_score"]["kind"] == "alignment"  # "match" wins over "score"
    assert card["targets"]["match_score"]["min"] <= 1 and card["targets"]["match_score"]["max"] == 5
    assert len(guesses) >= 5 and any("visual_score" in g and "quality" in g for g in guesses)


def test_init_then_load_then_check(own_folder):
    result = run_cli("dataset", "init", str(own_folder / "labels.csv"), "--images", str(own_folder / "pictures"))
    assert result.exit_code == 0, result.output
    card_path = own_folder / "dataset.toml"
    assert result.stdout.strip() == str(card_path)
    assert "# target 'match_score': kind alignment" in card_path.read_text()  # the guesses, as comments
    data = load_dataset(str(card_path))
    assert data.name == "my-aigc" and data.targets == ("mos_quality", "mos_align") and len(data) == 32
    assert data.frame["group"].nunique() == 8 and data.score_ranges["mos_align"][1] == 5
    labels = pd.read_csv(own_folder / "labels.csv")
    assert np.allclose(data.frame["mos_quality"], labels["visual_score"])  # the renamed column holds the scores
    assert check_dataset(data, progress=False).clean
    assert run_cli("check", "--dataset", str(card_path)).exit_code == 0
    # a second init refuses to overwrite the card
    again = run_cli("dataset", "init", str(own_folder / "labels.csv"), "--images", str(own_folder / "pictures"))
    assert again.exit_code == 2 and "exists" in again.stderr


def test_check_reports_a_missing_image_and_a_bad_score(own_folder):
    card, _ = infer_card(own_folder / "labels.csv", own_folder / "pictures")
    write_card(own_folder / "dataset.toml", card)
    labels = pd.read_csv(own_folder / "labels.csv")
    labels.loc[2, "match_score"] = 7.5  # above the card's max of 5
    labels.to_csv(own_folder / "labels.csv", index=False)
    (own_folder / "pictures" / labels.loc[5, "file"]).unlink()
    result = run_cli("check", "--dataset", str(own_folder / "dataset.toml"))
    assert result.exit_code == 1
    assert f"{labels.loc[5, 'file']}  [label row 7]" in result.stdout
    assert "mos_align: 7.5 outside [0, 5]" in result.stdout or "mos_align: 7.5 outside [1, 5]" in result.stdout


@pytest.mark.parametrize("edit, fragment", [
    (lambda t: t.replace('kind = "alignment"', 'kind = "faithfulness"'), "targets.match_score.kind: 'faithfulness'"),
    (lambda t: t.replace('image_column = "file"', 'image_column = "filename"'), "image_column: no column 'filename'"),
    (lambda t: t.replace('name = "my-aigc"', 'name = "agiqa3k"'), "name: 'agiqa3k' is a built-in dataset's name"),
    (lambda t: t + 'colour = "red"\n', "colour: unknown key"),
    (lambda t: t.replace("max = 5", 'max = "five"'), "targets.match_score.max: expected a finite number"),
    (lambda t: t.replace('labels = "labels.csv"', 'labels = "nope.csv"'), "labels: no file"),
])
def test_a_bad_card_key_is_a_one_line_error(own_folder, edit, fragment):
    card, _ = infer_card(own_folder / "labels.csv", own_folder / "pictures")
    path = write_card(own_folder / "dataset.toml", card)
    path.write_text(edit(path.read_text()))
    with pytest.raises(BenchError, match="dataset card .*dataset.toml") as caught:
        load_card(path)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
    result = run_cli("check", "--dataset", str(path))
    assert result.exit_code == 2 and fragment in result.stderr and "Traceback" not in result.stderr


def test_card_in_other_label_formats_and_a_group_column(own_folder):
    labels = pd.read_csv(own_folder / "labels.csv").assign(scene=lambda f: f["caption"].str[-1])
    labels.to_json(own_folder / "labels.jsonl", orient="records", lines=True)
    labels.to_csv(own_folder / "labels.tsv", sep="\t", index=False)
    for name in ("labels.jsonl", "labels.tsv"):
        card, _ = infer_card(own_folder / name, own_folder / "pictures")
        card.pop("group_rule")
        card["group_column"] = "scene"
        card["name"] = "mine-" + name.split(".")[1]
        data = load_card(write_card(own_folder / f"{name}.toml", card))
        assert len(data) == 32 and data.frame["group"].nunique() == 8, name
        assert check_dataset(data, progress=False).clean


def test_run_and_table_on_a_card(own_folder, results_dir):
    card, _ = infer_card(own_folder / "labels.csv", own_folder / "pictures")
    card_path = write_card(own_folder / "dataset.toml", card)
    assert read_card(card_path).name == "my-aigc"
    result = run_cli("run", "--methods", "ceiq", "--dataset", str(card_path), "--splits", "3",
                     "--results-dir", str(results_dir))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (results_dir / "my-aigc" / "ceiq").glob("split_*.csv")) == \
        ["split_0.csv", "split_1.csv", "split_2.csv"]
    table = run_cli("table", "--dataset", "my-aigc", "--results-dir", str(results_dir), "--format", "csv")
    assert table.exit_code == 0, table.output
    rows = pd.read_csv(io.StringIO(table.stdout))
    assert set(rows["dataset"]) == {"my-aigc"} and {"mos_quality", "mos_align"} <= set(rows["target"])
    assert rows["srcc_mean"].between(-1, 1).all() and (rows["n_splits"] == 3).all()
    shown = run_cli("table", "--dataset", "my-aigc", "--results-dir", str(results_dir))
    assert shown.exit_code == 0 and "my-aigc" in shown.stdout and "CEIQ (f1)" in shown.stdout


def test_a_guessed_scale_is_the_smallest_common_mos_scale_holding_the_scores():
    from bench.datasets.card import _rounded_scale

    assert _rounded_scale(2.018, 5.027) == (1, 10) and _rounded_scale(2.0, 4.9) == (1, 5)
    assert _rounded_scale(0.1, 0.93) == (0, 1) and _rounded_scale(0.4, 4.2) == (0, 5)
    assert _rounded_scale(12, 97) == (0, 100) and _rounded_scale(-3, 7) == (-3, 7)
