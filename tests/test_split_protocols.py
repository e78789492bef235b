"""Split protocols (image-level, the official IP-IQA code's) and importing published folds."""

import json
import random

import numpy as np
import pandas as pd
import pytest
from agiqa_helpers import SHARED_DATASETS
from helpers import run_cli

from bench import api
from bench.datasets.agiqa1k import load_agiqa1k
from bench.datasets.agiqa3k import load_agiqa3k
from bench.errors import BenchError
from bench.splits import SplitConfig, load_splits, split_columns
from bench.splits.importing import import_splits
from bench.splits.protocols import image_level_splits, ipiqa_code_splits, leakage, protocol_note


def _frame(n_groups=20, per_group=5):
    images = pd.Series([f"g{g:02d}_{i}.png" for g in range(n_groups) for i in range(per_group)])
    return images, pd.Series([str(g) for g in range(n_groups) for _ in range(per_group)])


def test_image_level_splits_leak_content_and_say_how_much():
    images, groups = _frame()
    splits = image_level_splits(images, groups, SplitConfig(n_splits=4, seed=1))
    assert split_columns(splits) == [f"split_{k}" for k in range(4)]
    assert all((splits[c] == "test").sum() == 20 for c in split_columns(splits))
    assert splits["split_0"].tolist() != splits["split_1"].tolist()
    report = leakage(splits)
    assert report["leaked_group_share"] > 0.5  # 20 random images of 100 in 20 groups of 5
    assert image_level_splits(images, groups, SplitConfig(n_splits=4, seed=1)).equals(splits)


# --- the official IP-IQA code's first three folds, re-derived here from its logic -----------
# Coobiw/IP-IQA@b486be5: seeded once (train_agiqa1k.py:142), then each of the README's
# `--num_cv 10` folds (README.md:71, 82) calls the split function again (train_agiqa1k.py:149-150,
# 69-102; train_agiqa3k.py:69-90) on the same global generator.
FOLDS = 3


def _official_agiqa3k_train_images(names, seed=42, folds=FOLDS):
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        out = []
        for _ in range(folds):
            indices = np.random.permutation(300)
            count = int(0.8 * 300)
            out.append({n for n in names if int(n[:-4].split("_")[-1]) in indices[:count]})
        return out
    finally:
        np.random.set_state(state)


def _official_agiqa1k_train_images(xlsx: pd.DataFrame, seed=42, folds=FOLDS):
    state = random.getstate()
    try:
        random.seed(seed)
        out = []
        for _ in range(folds):
            train_rec, val_rec, train = set(), set(), set()
            for i in range(xlsx.shape[0]):
                parts = xlsx.iloc[i, 0][:-4].split("_")
                code1, code2 = int(parts[1]), int(parts[2])
                if xlsx.iloc[i, 0].startswith("dream"):
                    code1 = code1 + 1 if code1 > 5 else code1
                    code2 += 5
                code = f"{code1}_{code2}"
                if code not in train_rec and code not in val_rec:
                    (train_rec if random.random() < 0.8 else val_rec).add(code)
                if code in train_rec:
                    train.add(xlsx.iloc[i, 0])
            out.append(train)
        return out
    finally:
        random.setstate(state)


def _train_images(splits, k):
    return set(splits.loc[splits[f"split_{k}"] == "train", "image"])


def test_ipiqa_code_first_three_folds_agiqa3k(shared):
    data = load_agiqa3k(SHARED_DATASETS / "agiqa3k")
    splits = ipiqa_code_splits(data, data.frame["image"], data.frame["group"], n_splits=FOLDS)
    expected = _official_agiqa3k_train_images(pd.read_csv(SHARED_DATASETS / "agiqa3k" / "data.csv")["name"])
    for k in range(FOLDS):
        assert _train_images(splits, k) == expected[k], k
        assert splits.groupby("group")[f"split_{k}"].nunique().eq(1).all()
        assert splits.loc[splits[f"split_{k}"] == "train", "group"].nunique() == 240
    assert len({frozenset(e) for e in expected}) == FOLDS  # the stream goes on: three different folds


def test_ipiqa_code_first_three_folds_agiqa1k(shared):
    data = load_agiqa1k(SHARED_DATASETS / "agiqa1k")
    kept = data.frame.drop_duplicates("image")  # the xlsx lists one name twice; a run drops it
    splits = ipiqa_code_splits(data, kept["image"], kept["group"], n_splits=FOLDS)
    expected = _official_agiqa1k_train_images(pd.read_excel(SHARED_DATASETS / "agiqa1k" / "AIGC_MOS_Zscore.xlsx"))
    for k in range(FOLDS):
        assert _train_images(splits, k) == expected[k], k
        assert 0.4 < (splits[f"split_{k}"] == "train").mean() < 0.95
        assert splits.groupby("group")[f"split_{k}"].nunique().eq(1).all()
    assert len({frozenset(e) for e in expected}) == FOLDS


def test_ipiqa_code_labels_folds_1_to_9_as_the_official_stream():
    from bench.splits.protocols import ipiqa_code_labels

    labels = ipiqa_code_labels(42, 12)
    assert labels["exact_splits"] == [0] and labels["official_stream_splits"] == list(range(1, 10))
    assert "folds 1-9: the official `--num_cv 10` stream, read in the code; not confirmed by running it" \
        in labels["note"] and "past the official 10" in labels["note"]
    assert ipiqa_code_labels(42, 3)["official_stream_splits"] == [1, 2]
    other = ipiqa_code_labels(7, 10)
    assert other["exact_splits"] == other["official_stream_splits"] == [] and "not its folds" in other["note"]


def test_ipiqa_code_needs_the_xlsx_order_and_a_known_dataset(shared):
    data = load_agiqa1k(SHARED_DATASETS / "agiqa1k", SHARED_DATASETS / "agiqa1k" / "AIGC_all.csv")
    with pytest.raises(BenchError, match="follows the row order of AIGC_MOS_Zscore.xlsx"):
        ipiqa_code_splits(data, data.frame["image"], data.frame["group"], 1)


def test_ipiqa_code_refuses_other_datasets(tiny_dataset, results_dir):
    with pytest.raises(BenchError, match="agiqa1k and agiqa3k only"):
        api.splits("tinyfiles", protocol="ipiqa-code", results_dir=results_dir)
    assert not (results_dir / "tinyfiles").exists()


def test_splits_cli_image_protocol_records_provenance(tiny_dataset, results_dir):
    result = run_cli("splits", "--dataset", "tinyfiles", "--protocol", "image", "--splits", "3",
                     "--results-dir", str(results_dir))
    assert result.exit_code == 0, result.output
    meta = json.loads((results_dir / "tinyfiles" / "splits.json").read_text())
    assert meta["protocol"] == "image" and meta["n_splits"] == 3 and meta["leakage"]["leaked_image_share"] > 0
    assert "image-level random splits" in protocol_note(results_dir / "tinyfiles")
    # another protocol never replaces it
    again = run_cli("splits", "--dataset", "tinyfiles", "--splits", "3", "--results-dir", str(results_dir),
                    "--protocol", "image", "--seed", "4")
    assert again.exit_code == 2 and "already exists (protocol image)" in again.output
    grouped = run_cli("splits", "--dataset", "tinyfiles", "--splits", "3", "--results-dir", str(results_dir))
    assert grouped.exit_code == 2 and "already exists (protocol image)" in grouped.output


# --- importing published folds --------------------------------------------------------------

def _two_folds(frame):
    """Two content-grouped folds of the tiny dataset: groups 0-1 test, then 2-3 test."""
    return [(frame[~frame["group"].isin(t)]["image"].tolist(), frame[frame["group"].isin(t)]["image"].tolist())
            for t in (["0", "1"], ["2", "3"])]


def _write_ipce(folder, folds, start=1, header=True):
    for k, (train, test) in enumerate(folds, start):
        (folder / str(k)).mkdir(parents=True)
        for name, images in (("train.csv", train), ("val.csv", test)):
            rows = (["image,mos"] if header else []) + [f"images/{n},3.0" for n in images]
            (folder / str(k) / name).write_text("\n".join(rows) + "\n")


def _write_qalign(folder, folds):
    folder.mkdir(parents=True)
    for k, (train, test) in enumerate(folds):
        for side, images in (("train", train), ("test", test)):
            entries = [{"img_path": f"agiqa3k/{n}", "gt_score": "3.0"} for n in images]
            (folder / f"{side}_split_{k}.json").write_text(json.dumps(entries))


def _write_csv(path, frame, folds):
    table = pd.DataFrame({"image": frame["image"]})
    for k, (train, test) in enumerate(folds):
        table[f"fold{k}"] = table["image"].map(lambda n: "train" if n in train else "test" if n in test else "")
    table.to_csv(path, index=False)


@pytest.mark.parametrize("fmt", ["ipce", "qalign", "csv"])
def test_import_each_format(fmt, tiny_dataset, results_dir, tmp_path):
    folds = _two_folds(tiny_dataset)
    source = tmp_path / "folds"
    if fmt == "ipce":
        _write_ipce(source, folds)
        paths = [source]
    elif fmt == "qalign":
        _write_qalign(source, folds)
        paths = sorted(source.iterdir())
    else:
        source.mkdir()
        _write_csv(source / "folds.csv", tiny_dataset, folds)
        paths = [source / "folds.csv"]
    result = run_cli("splits", "import", "--dataset", "tinyfiles", "--format", fmt,
                     "--results-dir", str(results_dir), *map(str, paths))
    assert result.exit_code == 0, result.output
    splits = load_splits(results_dir / "tinyfiles" / "splits.csv")
    for k, (train, test) in enumerate(folds):
        assert set(splits.loc[splits[f"split_{k}"] == "test", "image"]) == set(test)
        assert set(splits.loc[splits[f"split_{k}"] == "train", "image"]) == set(train)
    meta = json.loads((results_dir / "tinyfiles" / "splits.json").read_text())
    assert meta["protocol"] == f"imported:{fmt}" and meta["leakage"]["leaked_group_share"] == 0
    assert all(len(f["sha256"]) == 64 for f in meta["source"]["files"])
    assert "no test content occurs in training" in protocol_note(results_dir / "tinyfiles")
    # a run uses them as they are
    assert run_cli("run", "--methods", "test-lap-var", "--dataset", "tinyfiles", "--splits", "2",
                   "--results-dir", str(results_dir)).exit_code == 0
    assert (results_dir / "tinyfiles" / "test-lap-var" / "split_1.csv").exists()


def test_import_reports_leakage_and_refuses_images_on_neither_side(tiny_dataset, tmp_path):
    images, groups = tiny_dataset["image"], tiny_dataset["group"]
    train, test = images[:32].tolist(), images[32:].tolist()
    test.append(train.pop())  # group 7's last image moved to test: content leaks
    _write_ipce(tmp_path / "f", [(train, test)], start=0, header=False)
    splits, provenance, report = import_splits("ipce", [tmp_path / "f" / "0"], images, groups)
    assert report.folds == [{"name": "0", "train": 31, "test": 9}]
    assert leakage(splits)["per_split"][0] == {"test_groups": 3, "leaked_groups": 1, "test_images": 9,
                                               "leaked_images": 1}
    _write_ipce(tmp_path / "g", [(train[:-2], test)], start=0)  # two images on neither side
    with pytest.raises(BenchError, match="fold 0 .*: 2 dataset image\\(s\\) on neither side"):
        import_splits("ipce", [tmp_path / "g" / "0"], images, groups)


@pytest.mark.parametrize("problem, message", [
    ("unknown", "name 1 image(s) the dataset lacks (nowhere.png)"),
    ("overlap", "on both the train and the test side"),
    ("empty", "its test side is empty"),
])
def test_bad_folds_write_nothing(problem, message, tiny_dataset, results_dir, tmp_path):
    train, test = _two_folds(tiny_dataset)[0]
    if problem == "unknown":
        test = [*test, "nowhere.png"]
    elif problem == "overlap":
        test = [*test, train[0]]
    else:
        test = []
    _write_qalign(tmp_path / "q", [(train, test)])
    result = run_cli("splits", "import", "--dataset", "tinyfiles", "--format", "qalign",
                     "--results-dir", str(results_dir), str(tmp_path / "q"))
    assert result.exit_code == 2 and message in result.output, result.output
    assert len([line for line in result.output.splitlines() if "error" in line]) == 1
    assert not (results_dir / "tinyfiles").exists()


def test_unknown_names_can_be_dropped_with_a_warning(tiny_dataset, tmp_path):
    train, test = _two_folds(tiny_dataset)[0]
    _write_qalign(tmp_path / "q", [(train, [*test, "nowhere.png"])])
    _, provenance, report = import_splits("qalign", [tmp_path / "q"], tiny_dataset["image"], tiny_dataset["group"],
                                          ignore_unknown=True)
    assert report.unknown == ["nowhere.png"] and provenance["import"]["unknown_images"] == 1


def test_unknown_format_and_foreign_files(tmp_path):
    images, groups = _frame()
    with pytest.raises(BenchError, match="unknown split format 'nope'"):
        import_splits("nope", [tmp_path], images, groups)
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(BenchError, match="not a Q-Align split file"):
        import_splits("qalign", [tmp_path / "x.json"], images, groups)
    (tmp_path / "x.csv").write_text("name,fold\n")
    with pytest.raises(BenchError, match="no column 'image'"):
        import_splits("csv", [tmp_path / "x.csv"], images, groups)


def test_tables_name_the_split_protocol(tiny_dataset, results_dir):
    assert run_cli("splits", "--dataset", "tinyfiles", "--protocol", "image", "--splits", "2",
                   "--results-dir", str(results_dir)).exit_code == 0
    assert run_cli("run", "--methods", "test-lap-var", "--dataset", "tinyfiles", "--splits", "2",
                   "--results-dir", str(results_dir)).exit_code == 0
    output = run_cli("table", "--results-dir", str(results_dir)).output
    assert "Splits — tinyfiles splits: image-level random splits (seed 0); " in output
    assert "% of test images share content with training" in output
    frame = api.table(results_dir)
    assert frame["split_protocol"].str.startswith("image-level").all()
