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


# ------------------------------------------------------------------ photos, naturalness
def test_photo_crops_are_seeded_in_range_and_keep_their_pixel_scale():
    from bench.datasets.demo_photos import PHOTOS, photo_bank, photo_crop

    assert len(photo_bank()) == len(PHOTOS)
    a, b = photo_crop(np.random.default_rng(4), 96), photo_crop(np.random.default_rng(4), 96)
    assert a.shape == (96, 96) and np.array_equal(a, b) and 0 <= a.min() < a.max() <= 1
    assert not np.array_equal(a, photo_crop(np.random.default_rng(5), 96))

    def detail(size):  # fine texture left after a 1 px blur, over many crops
        crops = [photo_crop(np.random.default_rng(i), size) for i in range(40)]
        return np.median([(c - ndimage.gaussian_filter(c, 1)).std() for c in crops])

    # a smaller image crops less of the photo, so its texture is as fine as at 256 px
    assert detail(64) == pytest.approx(detail(256), rel=0.3)


def test_spec_record_names_the_photos_and_other_photos_regenerate(tmp_path, monkeypatch):
    out = tmp_path / "demo"
    generate_demo(out, SMALL, progress=False)
    assert json.loads((out / "spec.json").read_text())["photos"] == dg.bank_digest()
    monkeypatch.setattr(dg, "bank_digest", lambda: "other-photos")
    calls = []
    monkeypatch.setattr(dg, "_render_row", lambda row, spec: calls.append(row) or np.zeros(
        (spec.image_size, spec.image_size, 3), np.uint8))
    generate_demo(out, SMALL, progress=False)
    assert len(calls) == SMALL.n_prompts * len(SMALL.generators)


@pytest.mark.parametrize("background", list(dg.BACKGROUNDS))
def test_clean_backgrounds_are_textured_and_near_neutral(background):
    # Flat areas made the clean renders of version 1 look *less* natural to NIQE than
    # noisy ones; a photo under every background gives texture nearly everywhere.
    flat = []
    for i in range(6):
        parts = {"object": "circle", "colour": "red", "count": 1, "background": background,
                 "style": "flat"}
        image = render(parts, np.random.default_rng(i), 256).astype(float)
        corner = image[:64, :64]  # the object sits in the centre
        assert (corner.max(2) - corner.min(2)).max() < 0.1 * 255
        grey = image.mean(2)
        detail = (grey - ndimage.gaussian_filter(grey, 1)).reshape(8, 32, 8, 32).std(axis=(1, 3))
        flat.append((detail < 0.5).mean())  # 32 px tiles with < 0.5 grey levels of detail
    assert np.mean(flat) < 0.05  # version 1: 0.8 on plain backgrounds, 0.06 on stripes


@pytest.fixture(scope="module")
def rendered_subset() -> pd.DataFrame:
    """The first 12 prompts of the default demo (72 images, 256 px), rendered in memory."""
    spec = DemoSpec(n_prompts=12)
    df = plan_demo(spec)
    df["pixels"] = [dg._render_row(row, spec) for row in df.to_dict("records")]
    return df


def test_sisblim_ranks_demo_quality_not_alignment(rendered_subset):
    from methods.features import sisblim

    score = [sisblim.score(image) for image in rendered_subset.pixels]
    assert spearmanr(score, rendered_subset.mos_quality)[0] > 0.4
    assert abs(spearmanr(score, rendered_subset.mos_align)[0]) < 0.15


def test_niqe_is_not_inverted_on_the_demo(rendered_subset, shared):
    # version 1 (flat synthetic images): sign-adjusted SRCC about -0.5
    from scipy.io import loadmat

    from methods.features import niqe

    params = loadmat(shared / "assets" / "niqe" / "niqe_modelparameters.mat")
    score = [-niqe.score(image, params["mu_prisparam"], params["cov_prisparam"])
             for image in rendered_subset.pixels]
    assert spearmanr(score, rendered_subset.mos_quality)[0] > 0.4
    assert abs(spearmanr(score, rendered_subset.mos_align)[0]) < 0.15
