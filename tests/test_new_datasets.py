"""AIGIQA-20K, EvalMuse-40K and AGIN loaders on label files written in each release's format
(synthetic rows: no real label file is stored here), with generated images; their `check`
problems; and the official splits imported from the release files."""

import json

import numpy as np
import pandas as pd
import pytest
from agiqa_helpers import write_placeholder_images
from helpers import run_cli

from bench.datasets import load_dataset
from bench.datasets.check import check_dataset
from bench.errors import BenchError

GENERATORS = ("SDXL", "DALLE3", "LCM_SD1.5")


def _aigiqa20k_rows(split: str, start: int, n: int) -> pd.DataFrame:
    names = [f"{GENERATORS[i % 3]}_{i:04d}.png" for i in range(start, start + n)]
    return pd.DataFrame({"name": names, "prompt": [f"a lighthouse at dusk, style {i // 2}" for i in range(start, start + n)],
                         "mos": np.linspace(0.5, 4.9, n).round(4)})


@pytest.fixture
def aigiqa20k_root(tmp_path):
    root = tmp_path / "aigiqa20k"
    train, val = _aigiqa20k_rows("train", 0, 12), _aigiqa20k_rows("val", 12, 4)
    root.mkdir()
    train.to_excel(root / "info_train.xlsx", index=False)
    val.drop(columns="mos").to_excel(root / "info_val.xlsx", index=False)  # the challenge withheld val scores
    write_placeholder_images(root / "images", [*train["name"], *val["name"]])
    return root


def test_aigiqa20k_loads_the_scored_split_files(aigiqa20k_root):
    data = load_dataset("aigiqa20k", aigiqa20k_root)
    assert data.targets == ("mos_quality",) and len(data) == 12 and set(data.frame["official_split"]) == {"train"}
    assert data.frame["group"].nunique() == 6  # two images per identical prompt
    report = check_dataset(data, progress=False)
    assert {p.kind for p in report.problems} == {"unlabelled_image"} and len(report.problems) == 4  # val images


def test_aigiqa20k_headerless_csv_and_its_problems(tmp_path):
    root = tmp_path / "aigiqa20k"
    root.mkdir()
    rows = _aigiqa20k_rows("train", 0, 6)
    rows.loc[1, "mos"], rows.loc[4, "prompt"] = 6.2, ""
    rows.to_csv(root / "info_train.csv", header=False, index=False)  # as the challenge's CSV: no header
    write_placeholder_images(root / "images", rows["name"])
    data = load_dataset("aigiqa20k", root)
    assert list(data.frame["image"]) == list(rows["name"]) and data.frame.at[0, "label_line"] == 1
    problems = {(p.kind, p.image) for p in check_dataset(data, progress=False).problems}
    assert problems == {("bad_score", rows.at[1, "name"]), ("unparseable_prompt", rows.at[4, "name"])}


def test_aigiqa20k_official_split_import(aigiqa20k_root, results_dir):
    _aigiqa20k_rows("val", 12, 4).to_excel(aigiqa20k_root / "info_val.xlsx", index=False)  # a release with val scores
    data = load_dataset("aigiqa20k", aigiqa20k_root)
    assert len(data) == 16 and data.frame.groupby("official_split").size().to_dict() == {"train": 12, "val": 4}
    result = run_cli("splits", "import", "--dataset", "aigiqa20k", "--root", str(aigiqa20k_root), "--format",
                     "aigiqa20k", "--results-dir", str(results_dir), str(aigiqa20k_root))
    assert result.exit_code == 0, result.output
    splits = pd.read_csv(results_dir / "aigiqa20k" / "splits.csv")
    sides = splits.set_index("image")["split_0"]
    assert (sides[data.frame.loc[data.frame["official_split"] == "val", "image"]] == "test").all()
    assert (sides == "train").sum() == 12


def _evalmuse_entries(prompts: int, per_prompt: int, scored: bool = True) -> list[dict]:
    entries = []
    for p in range(prompts):
        for g in range(per_prompt):
            entry = {"prompt_id": f"{1000 + p}", "prompt": f"two cats on a red sofa, take {p}", "type": "real",
                     "img_path": f"images/{1000 + p}_{g}.png"}
            if scored:
                entry |= {"total_score": [1 + (p + g) % 5, 1 + (p * g) % 5, 3],
                          "element_score": {"cats (animal)": [1, 0, 1]}, "promt_meaningless": [0, 0, 0],
                          "split_confidence": [0, 0, 0], "attribute_confidence": [1, 1, 1]}
            entries.append(entry)
    return entries


@pytest.fixture
def evalmuse_root(tmp_path):
    root = tmp_path / "evalmuse"
    root.mkdir()
    train = _evalmuse_entries(4, 3)
    (root / "train_list.json").write_text(json.dumps(train))
    (root / "test.json").write_text(json.dumps(_evalmuse_entries(2, 3, scored=False)))
    write_placeholder_images(root / "images", [e["img_path"].split("/")[1] for e in train])
    return root


def test_evalmuse_mean_of_annotators_grouped_by_prompt_id(evalmuse_root):
    data = load_dataset("evalmuse40k", evalmuse_root)
    assert data.targets == ("mos_align",) and len(data) == 12 and data.frame["group"].nunique() == 4
    first = json.loads((evalmuse_root / "train_list.json").read_text())[0]
    assert data.frame.at[0, "mos_align"] == pytest.approx(np.mean(first["total_score"]))
    assert data.frame.at[0, "image"] == "1000_0.png" and data.frame.at[0, "label_line"] == 1
    assert check_dataset(data, progress=False).clean  # test.json has no scores: not loaded


def test_evalmuse_problems(evalmuse_root):
    entries = json.loads((evalmuse_root / "train_list.json").read_text())
    entries[1]["prompt"] = "a dog"  # prompt_id 1000 now has two prompts
    entries[4]["total_score"] = []  # no annotator score
    (evalmuse_root / "train_list.json").write_text(json.dumps(entries))
    problems = check_dataset(load_dataset("evalmuse40k", evalmuse_root), progress=False).problems
    assert {(p.kind, p.image) for p in problems if p.kind == "bad_score"} == {("bad_score", "1001_1.png")}
    assert {p.image for p in problems if p.kind == "prompt_mismatch"} >= {"1000_0.png", "1000_1.png", "1000_2.png"}


def test_evalmuse_official_split_import(evalmuse_root, results_dir):
    test = _evalmuse_entries(2, 3)
    for e in test:
        e["prompt_id"], e["img_path"] = f"9{e['prompt_id']}", f"images/t{e['img_path'].split('/')[1]}"
        e["prompt"] = "test " + e["prompt"]
    (evalmuse_root / "test.json").write_text(json.dumps(test))
    write_placeholder_images(evalmuse_root / "images", [e["img_path"].split("/")[1] for e in test], seed=2)
    assert len(load_dataset("evalmuse40k", evalmuse_root)) == 18
    result = run_cli("splits", "import", "--dataset", "evalmuse40k", "--root", str(evalmuse_root), "--format",
                     "evalmuse", "--results-dir", str(results_dir), str(evalmuse_root))
    assert result.exit_code == 0, result.output
    splits = pd.read_csv(results_dir / "evalmuse40k" / "splits.csv")
    assert splits.groupby("split_0").size().to_dict() == {"test": 6, "train": 12}
    assert set(splits.loc[splits["split_0"] == "test", "image"]) == {e["img_path"].split("/")[1] for e in test}


def test_official_split_files_refused_when_incomplete(evalmuse_root, results_dir):
    (evalmuse_root / "test.json").unlink()
    result = run_cli("splits", "import", "--dataset", "evalmuse40k", "--root", str(evalmuse_root), "--format",
                     "evalmuse", "--results-dir", str(results_dir), str(evalmuse_root))
    assert result.exit_code == 2 and "need train_list.json and test.json" in result.stderr


def test_agin_three_scores_and_problems(tmp_path):
    root = tmp_path / "agin"
    names = [f"{model}_{i}.png" for model in ("CoCosNet", "Dreaml_coco") for i in range(5)]
    frame = pd.DataFrame({"filename": names, "MOS_nat": np.linspace(1, 4, 10), "MOS_tech": np.linspace(2, 3, 10),
                          "MOS_rat": np.linspace(1.5, 4.5, 10)})
    (root / "labels").mkdir(parents=True)
    frame.to_csv(root / "labels" / "AGIN_mos.csv", index=False)
    (root / "labels" / "notes.csv").write_text("a,b\n1,2\n")  # another CSV: not AGIN's columns
    write_placeholder_images(root / "images", names)
    data = load_dataset("agin", root)
    assert data.targets == ("mos_naturalness", "mos_technical", "mos_rationality") and len(data) == 10
    assert data.frame["group"].nunique() == 10 and check_dataset(data, progress=False).clean
    frame["MOS_tech"] = frame["MOS_tech"].astype(object)
    frame.loc[3, "MOS_tech"] = "n/a"
    frame.to_csv(root / "labels" / "AGIN_mos.csv", index=False)
    problems = check_dataset(load_dataset("agin", root), progress=False).problems
    assert [(p.kind, p.image, p.detail) for p in problems] == [("bad_score", names[3], "mos_technical: missing or not a number")]
    (root / "labels" / "AGIN_mos.csv").unlink()
    with pytest.raises(BenchError, match="expected one CSV under .* with columns filename, MOS_nat"):
        load_dataset("agin", root)
