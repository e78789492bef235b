"""Tests of the offline demo dataset generator (bench/datasets/demo_generator.py)."""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import ndimage
from scipy.stats import spearmanr

from bench.datasets import demo_generator as dg
from bench.datasets.demo_generator import (
    DemoSpec,
    generate_demo,
    generate_pairs,
    plan_demo,
    render,
)

SMALL = DemoSpec(n_prompts=8, image_size=64, seed=1)
MEDIUM = DemoSpec(n_prompts=100, image_size=64, seed=0)  # 600 images, ~2 s
DEFECTS = ["blur", "noise", "jpeg_quality", "colour_artefact"]
WORD_COUNTS = {w: n for n, w in dg.COUNT_WORDS.items()}


@pytest.fixture(scope="module")
def medium(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("demo") / "medium"
    return out, generate_demo(out, MEDIUM, progress=False)


def _dir_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _objects(image: np.ndarray) -> tuple[int, np.ndarray]:
    """Count coloured blobs (backgrounds are near-neutral) and return their median RGB."""
    rgb = image.astype(float) / 255
    mask = rgb.max(2) - rgb.min(2) > 0.1
    labels, n = ndimage.label(mask)
    sizes = ndimage.sum(mask, labels, range(1, n + 1))
    return int((sizes > 15).sum()), np.median(rgb[mask], axis=0)


def _nearest_colour(rgb: np.ndarray) -> str:
    def cos(name):
        ref = np.asarray(dg.COLOURS[name])
        return rgb @ ref / (np.linalg.norm(rgb) * np.linalg.norm(ref))
    return max(dg.COLOURS, key=cos)


# ------------------------------------------------------------------ determinism, caching
def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path):
    a = generate_demo(tmp_path / "a", SMALL, progress=False)
    generate_demo(tmp_path / "b", SMALL, progress=False)
    generate_demo(tmp_path / "c", DemoSpec(n_prompts=8, image_size=64, seed=2), progress=False)
    da, db, dc = (_dir_digest(tmp_path / k) for k in "abc")
    assert da == db and len(da) == len(a) + 2  # images + labels.csv + spec.json
    assert da["labels.csv"] != dc["labels.csv"]
    assert all(da[k] != dc[k] for k in da if k.startswith("images/"))


def test_smaller_spec_is_a_prefix_of_larger():
    small = plan_demo(DemoSpec(n_prompts=8))
    large = plan_demo(DemoSpec(n_prompts=100))
    pd.testing.assert_frame_equal(small, large[large.group < 8].reset_index(drop=True))


def test_existing_dataset_is_reused_and_outdated_one_replaced(tmp_path, monkeypatch):
    out = tmp_path / "demo"
    first = generate_demo(out, SMALL, progress=False)
    monkeypatch.setattr(dg, "_render_row", lambda *a: pytest.fail("regenerated"))
    pd.testing.assert_frame_equal(generate_demo(out, SMALL, progress=False), first)
    monkeypatch.undo()
    other = DemoSpec(n_prompts=4, image_size=64, seed=3)
    second = generate_demo(out, other, progress=False)
    assert len(second) == 4 * len(other.generators)
    assert json.loads((out / "spec.json").read_text())["spec"]["seed"] == 3
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(second.image)
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # no temp dirs left


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def boom(row, spec):
        calls.append(row)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return np.zeros((spec.image_size, spec.image_size, 3), np.uint8)

    monkeypatch.setattr(dg, "_render_row", boom)
    with pytest.raises(KeyboardInterrupt):
        generate_demo(tmp_path / "demo", SMALL, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite_a_foreign_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate_demo(tmp_path, SMALL, progress=False)


def test_unknown_generator_is_an_error():
    with pytest.raises(ValueError, match="gen_zz"):
        plan_demo(DemoSpec(n_prompts=2, generators=("gen_a", "gen_zz")))


# ------------------------------------------------------------------------------ labels
def test_labels_columns_ranges_and_groups(medium):
    root, df = medium
    required = {"image", "prompt", "group", "generator", "mos_quality", "mos_align", "mos",
                *DEFECTS, "colour_mismatch", "object_mismatch", "count_mismatch",
                "drawn_object", "drawn_colour", "drawn_count"}
    assert required <= set(df.columns)
    assert df.equals(pd.read_csv(root / "labels.csv"))
    assert len(df) == MEDIUM.n_prompts * len(MEDIUM.generators) and df.image.is_unique
    for target in ("mos_quality", "mos_align", "mos"):
        assert df[target].between(1, 5).all()
    assert np.allclose(df.mos, (df.mos_quality + df.mos_align) / 2, atol=1e-3)
    assert df.mos_quality.std() > 0.7 and df.mos_quality.nunique() > 500  # continuous
    # one prompt per group, one group per prompt, every generator renders every prompt
    assert (df.groupby("group").prompt.nunique() == 1).all()
    assert (df.groupby("prompt").group.nunique() == 1).all()
    assert (df.groupby("group").generator.nunique() == len(MEDIUM.generators)).all()
    assert all(name.endswith(f"_{g:03d}.png") for name, g in df[["image", "group"]].values)
    assert ((df.drawn_colour != df.colour) == df.colour_mismatch.astype(bool)).all()
    assert ((df.drawn_object != df.object) == df.object_mismatch.astype(bool)).all()
    assert ((df.drawn_count != df["count"]) == df.count_mismatch.astype(bool)).all()


def test_every_image_exists_and_is_readable(medium):
    root, df = medium
    for name in df.image:
        with Image.open(root / "images" / name) as im:
            assert im.format == "PNG" and im.mode == "RGB"
            assert im.size == (MEDIUM.image_size, MEDIUM.image_size)


def test_clean_images_show_what_the_labels_say_was_drawn(medium):
    root, df = medium
    clean = df[(df.blur == 0) & (df.noise == 0) & (df.jpeg_quality == 100)
               & (df.colour_artefact == 0)]
    assert clean.n_mismatch.gt(0).sum() > 30  # mismatched ones are among them
    for row in clean.itertuples():
        n, rgb = _objects(np.asarray(Image.open(root / "images" / row.image)))
        assert (n, _nearest_colour(rgb)) == (row.drawn_count, row.drawn_colour), row.image


# -------------------------------------------------------------------------- independence
@functools.cache
def _plan(n_prompts: int) -> pd.DataFrame:
    return plan_demo(DemoSpec(n_prompts=n_prompts))  # labels only: no pixels, fast


@pytest.mark.parametrize("n_prompts, bound", [(100, 0.15), (1000, 0.05)])
def test_quality_defects_are_independent_of_alignment(n_prompts, bound):
    df = _plan(n_prompts)
    for col in [*DEFECTS, "quality_true", "mos_quality"]:
        assert abs(spearmanr(df[col], df.mos_align)[0]) < bound, col


def test_drawn_content_does_not_depend_on_mismatch():
    # a wrong attribute is drawn uniform over the other values and prompts are balanced,
    # so the drawn content (and every pixel statistic) has the same distribution
    df = _plan(1000)
    for attr in ("count", "object", "colour"):
        shares = pd.crosstab(df[f"{attr}_mismatch"], df[f"drawn_{attr}"], normalize="index")
        assert (shares.max() - shares.min()).max() < 0.04, attr


def test_low_level_statistic_tracks_quality_not_alignment(medium):
    root, df = medium

    def edge_peakiness(name):  # sharp edges vs noise floor of the Laplacian
        grey = np.asarray(Image.open(root / "images" / name).convert("L"), float)
        lap = np.abs(ndimage.laplace(grey))
        return np.log1p(np.percentile(lap, 99)) - np.log1p(np.median(lap))

    stat = [edge_peakiness(name) for name in df.image]
    assert abs(spearmanr(stat, df.mos_quality)[0]) > 0.3
    assert abs(spearmanr(stat, df.mos_align)[0]) < 0.15


# ------------------------------------------------------------------------ render, pairs
@pytest.mark.parametrize("style", dg.STYLES)
@pytest.mark.parametrize("background", list(dg.BACKGROUNDS))
def test_render_draws_exactly_the_parts(style, background):
    rng = np.random.default_rng(7)
    counts = [1, 2, 3, 4, 4, 3, 2, 1]
    for obj, colour, count in zip(dg.OBJECTS, dg.COLOURS, counts, strict=True):
        parts = {"object": obj, "colour": colour, "count": count,
                 "background": background, "style": style}
        image = render(parts, rng, 96)
        assert image.shape == (96, 96, 3) and image.dtype == np.uint8
        n, rgb = _objects(image)
        assert (n, _nearest_colour(rgb)) == (count, colour), parts


def test_generate_pairs_match_are_deterministic_and_disjoint(medium):
    root, df = medium
    pairs = list(generate_pairs(40, seed=MEDIUM.seed, size=64))
    again = list(generate_pairs(40, seed=MEDIUM.seed, size=64))
    other = list(generate_pairs(40, seed=MEDIUM.seed + 1, size=64))
    assert all(p == q and np.array_equal(a, b) for (a, p), (b, q) in zip(pairs, again))
    assert not any(np.array_equal(a, b) for (a, _), (b, _) in zip(pairs, other))
    for image, prompt in pairs:
        words = prompt.split()
        n, rgb = _objects(image)
        assert (n, _nearest_colour(rgb)) == (WORD_COUNTS[words[0]], words[1]), prompt
        parts = {"object": next(o for o in dg.OBJECTS if words[2].startswith(o)),
                 "colour": words[1], "count": WORD_COUNTS[words[0]],
                 "background": next(k for k, v in dg.BACKGROUNDS.items() if v == words[5]),
                 "style": words[7]}
        assert prompt == dg.prompt_text(parts)
    demo = {hashlib.sha256(np.asarray(Image.open(root / "images" / n)).tobytes()).digest()
            for n in df.image}
    assert not demo & {hashlib.sha256(a.tobytes()).digest() for a, _ in pairs}


def test_demo_dataset_frame_holds_no_ground_truth(tmp_path, monkeypatch):
    import bench.datasets.demo as demo

    monkeypatch.setattr(demo, "DemoSpec", lambda: SMALL)
    data = demo.load_demo(tmp_path / "demo")
    assert list(data.frame.columns) == ["image", "prompt", "group", "mos_quality", "mos_align", "mos", "path"]
    assert {"generator", "quality_true", "drawn_object"} <= set(pd.read_csv(data.labels).columns)  # diagnostics
