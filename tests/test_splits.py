import pandas as pd
import pytest

from bench.errors import BenchError
from bench.splits import SplitConfig, ensure_splits, load_splits, make_splits, split_columns


def _frame(n_groups=30, per_group=5):
    images = pd.Series([f"g{g}_{i}.png" for g in range(n_groups) for i in range(per_group)])
    groups = pd.Series([str(g) for g in range(n_groups) for _ in range(per_group)])
    return images, groups


def test_splits_are_group_disjoint_and_sized():
    images, groups = _frame()
    splits = make_splits(images, groups, SplitConfig(n_splits=10, seed=0))
    assert split_columns(splits) == [f"split_{k}" for k in range(10)]
    for column in split_columns(splits):
        sides = splits.groupby("group")[column].nunique()
        assert (sides == 1).all(), "a content group fell on both sides"
        assert abs((splits[column] == "test").mean() - 0.2) <= 0.03


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    images, groups = _frame()
    a = ensure_splits(tmp_path / "a", images, groups, SplitConfig(seed=0))
    b = ensure_splits(tmp_path / "b", images.sample(frac=1, random_state=3), groups.sample(frac=1, random_state=3),
                      SplitConfig(seed=0))
    c = ensure_splits(tmp_path / "c", images, groups, SplitConfig(seed=1))
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_first_splits_do_not_depend_on_the_count():
    images, groups = _frame()
    one = make_splits(images, groups, SplitConfig(n_splits=1))
    ten = make_splits(images, groups, SplitConfig(n_splits=10))
    assert one["split_0"].equals(ten["split_0"])


def test_existing_file_is_reused_and_checked(tmp_path):
    images, groups = _frame()
    path = ensure_splits(tmp_path, images, groups, SplitConfig(n_splits=3))
    before = path.stat().st_mtime_ns
    assert ensure_splits(tmp_path, images, groups, SplitConfig(n_splits=2)) == path
    assert path.stat().st_mtime_ns == before
    assert len(split_columns(load_splits(path, 2))) == 2
    with pytest.raises(BenchError, match="holds 3 splits, 10 requested"):
        ensure_splits(tmp_path, images, groups, SplitConfig(n_splits=10))
    with pytest.raises(BenchError, match="seed=0, not 5"):
        ensure_splits(tmp_path, images, groups, SplitConfig(n_splits=3, seed=5))
    with pytest.raises(BenchError, match="other images"):
        ensure_splits(tmp_path, images[:-1], groups[:-1], SplitConfig(n_splits=3))


def test_reuse_checks_groups_and_needs_the_meta_file(tmp_path):
    images, groups = _frame()
    path = ensure_splits(tmp_path, images, groups, SplitConfig(n_splits=3))
    regrouped = groups.where(images != "g0_0.png", "29")
    with pytest.raises(BenchError, match=r"groups 1 image\(s\) differently .* g0_0.png: '0' there, '29' now.*delete"):
        ensure_splits(tmp_path, images, regrouped, SplitConfig(n_splits=3))
    (tmp_path / "splits.json").unlink()
    with pytest.raises(BenchError, match=f"{path} has no splits.json beside it.*delete {path}"):
        ensure_splits(tmp_path, images, groups, SplitConfig(n_splits=3))


def test_duplicate_images_are_refused():
    with pytest.raises(BenchError, match="duplicated"):
        make_splits(pd.Series(["a", "a", "b"]), pd.Series(["1", "2", "3"]), SplitConfig(n_splits=1))
