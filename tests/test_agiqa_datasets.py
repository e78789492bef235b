"""The AGIQA loaders on the real label files (../shared) and the split protocol on them."""

import shutil
import subprocess
import sys

import pandas as pd
import pytest
from agiqa_helpers import SHARED_DATASETS, write_placeholder_images

from bench.datasets import load_dataset
from bench.datasets.agiqa1k import load_agiqa1k, prompt_from_name
from bench.datasets.agiqa3k import load_agiqa3k
from bench.errors import BenchError
from bench.splits import SplitConfig, ensure_splits, make_splits, split_columns


@pytest.fixture
def labels(shared):
    return SHARED_DATASETS


def test_agiqa1k_xlsx(labels):
    data = load_agiqa1k(labels / "agiqa1k")
    frame = data.frame
    assert data.labels.name == "AIGC_MOS_Zscore.xlsx" and data.targets == ("mos",)
    assert len(frame) == 1080 and frame["group"].nunique() == 180
    xlsx = pd.read_excel(labels / "agiqa1k" / "AIGC_MOS_Zscore.xlsx")
    assert frame["prompt"].tolist() == xlsx["Prompt"].tolist()  # the prompts IP-IQA reads, unchanged
    assert frame["mos"].tolist() == xlsx["MOS"].tolist()
    assert frame.loc[0, "group"] == "bird, driving aircraft" and frame.loc[0, "label_line"] == 2
    assert data.label_problems == []  # its problems are rows and files: see test_check.py
    # every prompt agrees with the code tables, the model-specific dreamStudio ones included
    assert all(prompt_from_name(n) == p for n, p in zip(frame["image"], frame["prompt"]))


def test_agiqa1k_csv_rebuilds_the_xlsx_prompts(labels):
    data = load_agiqa1k(labels / "agiqa1k", labels / "agiqa1k" / "AIGC_all.csv")
    xlsx = load_agiqa1k(labels / "agiqa1k").frame
    both = data.frame.merge(xlsx, on="image", suffixes=("", "_xlsx"))
    assert len(both) == 1078  # all but the xlsx's duplicated name and the csv's malformed one and 8_5_0_0
    assert (both["prompt"] == both["prompt_xlsx"]).all() and (both["group"] == both["group_xlsx"]).all()
    assert [(p.kind, p.image, p.row) for p in data.label_problems] == [("malformed_name", "dreamStudio_8_9_1_.jpg", 115)]
    assert data.frame.loc[115, "group"] == "" and data.frame.loc[115, "label_line"] == 117


def test_agiqa1k_file_name_codes():
    assert prompt_from_name("deepai_11_14_1_1.jpg") == "witch, wearing shirt, wild, realistic style"
    assert prompt_from_name("dreamStudio_6_0_0_0.jpg") == "man, having pizza, city, anime style"
    for bad in ("dreamStudio_9_0_0_0.jpg", "deepai_0_15_0_0.jpg", "deepai_0_0_2_0.jpg", "deepai_0_0_0_0.png",
                "midjourney_0_0_0_0.jpg", "deepai_0_0_0_.jpg", " deepai_0_0_0_0.jpg"):
        assert prompt_from_name(bad) is None, bad


def test_agiqa3k(labels):
    data = load_agiqa3k(labels / "agiqa3k")
    frame = data.frame
    assert data.targets == ("mos_quality", "mos_align") and len(frame) == 2982
    assert {"std_quality", "std_align", "adj1", "adj2", "style"} <= set(frame.columns)
    assert frame["group"].nunique() == 300 and (frame["group"] == frame["image"].str[-7:-4]).all()
    assert (frame.groupby("group")["prompt"].nunique() == 1).all()
    assert data.label_problems == []


def test_label_file_found_in_a_sub_folder(labels, tmp_path):
    (tmp_path / "AGIQA-3k-Database-main").mkdir()
    shutil.copy(labels / "agiqa3k" / "data.csv", tmp_path / "AGIQA-3k-Database-main")
    write_placeholder_images(tmp_path / "AGIQA-3K" / "sub", ["AttnGAN_normal_000.jpg"])
    data = load_dataset("agiqa3k", tmp_path)
    assert data.labels == tmp_path / "AGIQA-3k-Database-main" / "data.csv"
    assert data.frame.loc[0, "path"] == str(tmp_path / "AGIQA-3K" / "sub" / "AttnGAN_normal_000.jpg")
    assert data.frame.loc[1, "path"] == str(tmp_path / "AttnGAN_normal_001.jpg")  # absent: check reports it
    (tmp_path / "copy").mkdir()
    shutil.copy(labels / "agiqa3k" / "data.csv", tmp_path / "copy")
    with pytest.raises(BenchError, match="2 files named data.csv"):
        load_dataset("agiqa3k", tmp_path)


def test_no_label_file(tmp_path):
    with pytest.raises(BenchError, match="no AIGC_MOS_Zscore.xlsx or AIGC_all.csv under"):
        load_dataset("agiqa1k", tmp_path)


@pytest.mark.parametrize("name", ["agiqa1k", "agiqa3k"])
def test_missing_default_root_is_one_line(name, tmp_path, monkeypatch):
    monkeypatch.delenv("IPIQA_DATA", raising=False)
    result = subprocess.run([sys.executable, "-m", "bench", "check", "--dataset", name],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"ipiqa-bench: error: dataset {name}: folder datasets/{name} does not exist "
        "(pass --root, or set $IPIQA_DATA); see datasets/README.md"]


def test_data_root_from_environment(labels, tmp_path, monkeypatch):
    shutil.copytree(labels / "agiqa3k", tmp_path / "agiqa3k")
    monkeypatch.setenv("IPIQA_DATA", str(tmp_path))
    assert load_dataset("agiqa3k").root == tmp_path / "agiqa3k"


def _real_frames(labels):
    one = load_agiqa1k(labels / "agiqa1k").frame
    return {"agiqa1k": one.drop_duplicates("image", keep=False),  # what --drop-invalid leaves
            "agiqa3k": load_agiqa3k(labels / "agiqa3k").frame}


def test_splits_on_the_real_datasets(labels, tmp_path):
    for name, frame in _real_frames(labels).items():
        path = ensure_splits(tmp_path / name / "0", frame["image"], frame["group"], SplitConfig(seed=0))
        splits = pd.read_csv(path, dtype=str)
        assert len(split_columns(splits)) == 10 and len(splits) == len(frame)
        for column in split_columns(splits):
            assert (splits.groupby("group")[column].nunique() == 1).all(), f"{name} {column} not group-disjoint"
            share = (splits[column] == "test").mean()
            assert abs(share - 0.2) <= 0.03, f"{name} {column}: test share {share:.3f}"
        again = ensure_splits(tmp_path / name / "again", frame["image"][::-1], frame["group"][::-1], SplitConfig(seed=0))
        other = ensure_splits(tmp_path / name / "1", frame["image"], frame["group"], SplitConfig(seed=1))
        assert path.read_bytes() == again.read_bytes()
        assert path.read_bytes() != other.read_bytes()


def test_agiqa1k_groups_are_object_pairs_across_models(labels):
    """Both models' images of one object pair share a group, so neither leaks across a split."""
    frame = _real_frames(labels)["agiqa1k"]
    splits = make_splits(frame["image"], frame["group"], SplitConfig(n_splits=3))
    pair = splits[splits["group"] == "cat, having pizza"]
    assert sorted(pair["image"].str.split("_").str[0].unique()) == ["deepai", "dreamStudio"]
    assert len(pair) == 8 and (pair[split_columns(splits)].nunique() == 1).all()
