"""The decoded-image cache: build, reuse, invalidation, equivalence with the per-sample PIL
path, augmentations on cached tensors, and the TorchMethod loader choice."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from bench.testing.images import write_image_set
from bench.train import image_cache
from bench.train.cached_data import (
    AugmentingSampler,
    CachedImageDataset,
    make_cached_loader,
)
from bench.train.image_cache import ImageCache, decode_resized
from bench.train.loop import (
    IMAGENET_MEAN_STD,
    ImageDataset,
    TrainConfig,
    image_transform,
    make_loader,
    predict_model,
)


def _images(folder, sizes, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, (w, h) in enumerate(sizes):
        path = folder / f"im{k}.png" if k % 2 else folder / f"im{k}.jpg"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


@pytest.fixture
def decode_count(monkeypatch):
    calls = []
    original = image_cache._decode_into

    def counting(pixels_path, size, jobs):
        calls.extend(path for _, path in jobs)
        return original(pixels_path, size, jobs)

    monkeypatch.setattr(image_cache, "_decode_into", counting)
    return calls


def test_build_reuse_and_only_a_changed_image_decoded_again(tmp_path, offline_cache, decode_count):
    paths = _images(tmp_path / "img", [(40, 30), (17, 50), (64, 64), (100, 20)])
    cache = ImageCache(16)
    assert cache.folder.is_relative_to(offline_cache)  # under $IPIQA_BENCH_CACHE
    rows = cache.rows(paths)
    assert rows.tolist() == [0, 1, 2, 3] and sorted(decode_count) == sorted(paths)
    pixels = cache.pixels()
    assert pixels.shape == (4, 16, 16, 3) and cache.nbytes() == 4 * 16 * 16 * 3
    for row, path in zip(rows, paths):
        assert np.array_equal(pixels[row], decode_resized(path, 16))

    decode_count.clear()
    assert ImageCache(16).rows(paths[::-1]).tolist() == [3, 2, 1, 0]  # a new process reads the index
    assert decode_count == []

    # One image edited: only it is decoded again; the others keep their rows.
    Image.fromarray(np.full((30, 40, 3), 200, np.uint8)).save(paths[0])
    os.utime(paths[0], ns=(1, 1))
    rows = ImageCache(16).rows(paths)
    assert decode_count == [paths[0]] and rows.tolist() == [4, 1, 2, 3]
    assert np.array_equal(ImageCache(16).pixels()[4], np.full((16, 16, 3), 200, np.uint8))

    decode_count.clear()  # another size is another cache
    assert ImageCache(8).rows(paths[:1]).tolist() == [0] and decode_count == [paths[0]]


def test_parallel_build_equals_serial_and_a_killed_build_leaves_nothing_indexed(tmp_path, monkeypatch):
    paths = _images(tmp_path / "img", [(30 + k, 20 + 2 * k) for k in range(image_cache.IN_PROCESS_BELOW + 4)])
    parallel = ImageCache(12, tmp_path / "a").rows(paths, workers=2, progress=False)
    assert np.array_equal(ImageCache(12, tmp_path / "a").pixels()[parallel],
                          np.stack([decode_resized(p, 12) for p in paths]))

    cache = ImageCache(12, tmp_path / "b")
    cache.rows(paths[:2])

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(image_cache, "_decode_into", killed)
    with pytest.raises(KeyboardInterrupt):
        cache.rows(paths[:5])
    monkeypatch.undo()
    assert ImageCache(12, tmp_path / "b").pixels().shape[0] == 2  # the index still says 2 rows
    assert ImageCache(12, tmp_path / "b").rows(paths[:5]).tolist() == [0, 1, 2, 3, 4]
    assert np.array_equal(cache.pixels()[4], decode_resized(paths[4], 12))


def test_an_unreadable_image_fails_with_its_name(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(image_cache.ImageReadError, match="bad.jpg"):
        ImageCache(8).rows([str(bad)])
    with pytest.raises(image_cache.ImageReadError, match="not found"):
        ImageCache(8).rows([str(tmp_path / "absent.png")])


@pytest.mark.parametrize("mean_std", [None, IMAGENET_MEAN_STD])
def test_cached_input_is_bit_identical_to_the_pil_path(tmp_path, mean_std):
    # Up- and down-scaling, odd aspect ratios: torchvision Resize(BICUBIC) on PIL + ToTensor + Normalize.
    paths = _images(tmp_path / "img", [(300, 200), (20, 31), (64, 64), (512, 77)])
    frame = _frame(paths)
    config = TrainConfig(image_size=48, batch_size=3, num_workers=0)
    files = make_loader(ImageDataset(frame, image_transform(config, False, mean_std)), 3, config, False, "cpu")
    cached = make_cached_loader(CachedImageDataset(frame, ImageCache(48), mean_std=mean_std), 3, train=False,
                                flip=True, seed=0, workers=0, pin_memory=False)
    from bench.train.loop import to_model_input

    a = torch.cat([to_model_input(b, files, "cpu", False)["image"] for b in files])
    b = torch.cat([to_model_input(b, cached, "cpu", False)["image"] for b in cached])
    assert a.shape == b.shape == (4, 3, 48, 48) and b.is_contiguous()
    assert torch.equal(a, b)
    last = torch.cat([to_model_input(b, cached, "cpu", True)["image"] for b in cached])
    assert last.is_contiguous(memory_format=torch.channels_last) and torch.equal(a, last)

    torch.manual_seed(0)  # and so are a network's predictions (tolerance 0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(4, 1))

    def forward(model, batch):
        return model(batch["image"])

    assert np.array_equal(predict_model(net, forward, files, "cpu"), predict_model(net, forward, cached, "cpu"))


def test_a_float_batch_reuses_memory_only_once_nothing_holds_the_previous_one(tmp_path):
    # Reuse saves the page faults of a fresh buffer; it must never overwrite a batch still held.
    paths = _images(tmp_path / "img", [(40, 40)] * 4)
    data = CachedImageDataset(_frame(paths), ImageCache(16), mean_std=IMAGENET_MEAN_STD)
    first, second = data.__getitems__([0, 1])["image"], data.__getitems__([2, 3])["image"]
    expected = [data.to_model_input(first).clone(), data.to_model_input(second).clone()]

    kept = data.to_model_input(first)
    view = kept[0]
    address = kept.data_ptr()
    del kept
    held_by_view = data.to_model_input(second)
    assert held_by_view.data_ptr() != address and torch.equal(view, expected[0][0])
    del view

    conv = torch.nn.Conv2d(3, 2, 3)
    graph = conv(held_by_view).sum()  # autograd keeps the input for the weight gradient
    address = held_by_view.data_ptr()
    del held_by_view
    assert data.to_model_input(first).data_ptr() != address  # (dropped at once: the next one reuses it)
    second_input = data.to_model_input(second)
    graph = conv(second_input).sum()
    address = second_input.data_ptr()
    del second_input
    graph.backward()  # frees it: the next batch may take that memory
    reused = data.to_model_input(first)
    assert reused.data_ptr() == address and torch.equal(reused, expected[0])
    array = reused.numpy()
    del reused
    assert data.to_model_input(second).data_ptr() != address and np.array_equal(array, expected[0].numpy())

    last = data.to_model_input(first, channels_last=True)
    assert last.is_contiguous(memory_format=torch.channels_last) and torch.equal(last, expected[0])


def _frame(paths):
    import pandas as pd

    return pd.DataFrame({"image": [os.path.basename(p) for p in paths], "path": paths,
                         "prompt": "", "group": [str(i) for i in range(len(paths))]})


def test_crops_and_flips_are_applied_to_cached_pixels_and_do_not_depend_on_workers(tmp_path):
    paths = _images(tmp_path / "img", [(40, 40)] * 6)
    cache = ImageCache(16)
    data = CachedImageDataset(_frame(paths), cache, crop=8)
    full = cache.pixels()[data.rows[2]]
    assert np.array_equal(data[(2, False, 3, 5)]["image"].numpy(), full[3:11, 5:13])
    assert np.array_equal(data[(2, True, 3, 5)]["image"].numpy(), full[3:11, 5:13][:, ::-1])

    keys = list(AugmentingSampler(6, 16, shuffle=True, flip=True, crop=8, seed=1))
    assert sorted(k[0] for k in keys) == list(range(6))
    assert all(0 <= k[2] <= 8 and 0 <= k[3] <= 8 for k in keys)
    many = [k for _ in range(5) for k in AugmentingSampler(6, 16, True, True, 8, seed=2)]
    assert {k[1] for k in many} == {True, False}
    with pytest.raises(Exception, match="larger than the image size"):
        AugmentingSampler(6, 16, True, True, 17, seed=0)

    def epochs(workers):
        loader = make_cached_loader(data, 4, train=True, flip=True, seed=3, workers=workers, pin_memory=False)
        return [b["image"] for _ in range(2) for b in loader]

    serial, parallel = epochs(0), epochs(2)
    assert len(serial) == 2 and all(torch.equal(x, y) for x, y in zip(serial, parallel))
    assert serial[0].shape == (4, 8, 8, 3)
    assert not all(torch.equal(x, y) for x, y in zip(serial, epochs(0)[::-1]))  # epochs differ


def test_torch_methods_train_from_the_cache_and_predict_as_from_files(tmp_path, one_torch_thread):
    from bench.registry import create_method

    frame = write_image_set(tmp_path / "img", n_groups=4, per_group=3)
    method = create_method("cnniqa", epochs=1, batch_size=4, image_size=32, num_workers=0, device="cpu")
    method.fit(frame, ["mos"])
    assert method.report_["loader"] == "image-cache"
    model_report = method.report_["models"]["mos"]
    assert model_report["precision"] == "fp32" and model_report["channels_last"] is False
    assert model_report["speed"]["images"] == 12 and model_report["speed"]["step_images_per_s"] > 0
    cached = method.predict(frame)
    method.image_cache = False
    assert method.loader_path(method.train_config()) == "files"
    assert np.array_equal(cached.to_numpy(), method.predict(frame).to_numpy())
    assert method.get_config()["image_cache"] is False  # recorded in the manifest's config

    class OwnTransform(type(method)):
        def transform(self, config, train):
            return image_transform(config, train, None)

    assert OwnTransform().loader_path(method.train_config().with_overrides(image_cache=True)) == "files"


def test_speed_command_times_each_stage_and_names_the_bottleneck(tiny_dataset, tmp_path, one_torch_thread):
    import json

    from helpers import run_cli

    out = tmp_path / "speed.json"
    result = run_cli("speed", "--method", "cnniqa", "--dataset", "tinyfiles", "--image-size", "32", "--batch-size", "4",
                     "--steps", "2", "--device", "cpu", "--num-workers", "0", "--json", str(out))
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    stages = figures["stages"]
    assert list(stages) == ["loader (files)", "image cache build", "loader (cache)", "model step", "together"]
    assert stages["loader (cache)"]["images"] == stages["model step"]["images"] == 8
    assert stages["image cache build"]["images"] == 12  # the (steps + 1) batches it reads, decoded once
    assert all(s["images_per_s"] > 0 for s in stages.values())
    slower = min(("loader (cache)", "model step"), key=lambda name: stages[name]["images_per_s"])
    assert figures["bottleneck"] == slower and f"bottleneck: {slower}" in result.stdout
    assert figures["loader_path"] == "image-cache" and figures["compiled"] is False and "| together" in result.stdout
    assert figures["channels_last"] is False and figures["precision"] == "fp32"

    again = run_cli("speed", "--method", "cnniqa", "--dataset", "tinyfiles", "--image-size", "32", "--batch-size", "4",
                    "--steps", "2", "--device", "cpu", "--num-workers", "0")
    assert "0 of 12 image(s) decoded" in again.stdout  # the second run starts from the cache

    refused = run_cli("speed", "--method", "niqe", "--dataset", "tinyfiles")
    assert refused.exit_code == 2 and "does not train a torch network" in refused.stderr


def test_a_run_records_loader_and_stage_speeds_and_report_shows_them(tiny_dataset, results_dir, one_torch_thread):
    from helpers import run_cli

    from bench.report.build import throughput_table
    from bench.results.loading import load_results
    from bench.results.manifest import RunManifest

    result = run_cli("run", "--methods", "cnniqa", "--dataset", "tinyfiles", "--splits", "1", "--results-dir",
                     str(results_dir), "--device", "cpu", "--epochs", "1", "--batch-size", "8", "--image-size", "32",
                     "--num-workers", "0")
    assert result.exit_code == 0, result.output
    manifest = RunManifest.read(results_dir / "tinyfiles" / "cnniqa")
    assert manifest.config["image_cache"] is True and manifest.config["compile"] is False
    report = manifest.splits[0].report
    speed = report["models"]["mos"]["speed"]
    assert report["loader"] == "image-cache" and report["models"]["mos"]["precision"] == "fp32"
    assert speed["step_images_per_s"] > 0 and 0 <= speed["data_wait_share"] <= 1
    table = throughput_table(load_results(results_dir))
    assert "| tinyfiles | cnniqa" in table and "image-cache" in table and "fp32" in table


def test_the_throughput_table_names_how_each_step_computed():
    from bench.report.build import _compute_variant

    assert _compute_variant({"precision": "fp32", "channels_last": False, "compile": False}) == "fp32"
    assert _compute_variant({"precision": "bf16", "channels_last": True, "compile": True}) == \
        "bf16 + channels_last + compiled"
    assert _compute_variant({}) == "fp32"  # a manifest from before precision was recorded


def test_cpu_defaults_change_nothing_and_accelerators_get_more(monkeypatch):
    from bench.train import loop
    from bench.train.loop import (
        eval_batch_size,
        loader_workers,
        precision,
        uses_channels_last,
    )

    monkeypatch.setattr(loop, "usable_cores", lambda: 16)
    config = TrainConfig(batch_size=40)
    assert precision(config, "cpu") == "fp32" and not uses_channels_last(config, "cpu")
    assert eval_batch_size(config, "cpu") == 40 and eval_batch_size(config, "cuda") == 80
    assert eval_batch_size(config.with_overrides(eval_batch_size=4), "cuda") == 4
    assert loader_workers(config, "cpu", cached=True) == 0 and loader_workers(config, "cuda", cached=True) == 4
    assert loader_workers(config, "cpu", cached=False) == 8
    assert loader_workers(config.with_overrides(num_workers=32), "cuda", cached=True) == 16
    assert uses_channels_last(config, "cuda") and not uses_channels_last(config.with_overrides(channels_last=False),
                                                                           "cuda")
    assert precision(config.with_overrides(amp=False), "cuda") == "fp32"
