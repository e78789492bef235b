"""Throughput of a trainable method's pipeline, stage by stage (``ipiqa-bench speed``).

* loader (files): decode + resize + augment every sample, as without the image cache;
* image cache build: the one-off decode of the images the measurement uses;
* loader (cache): batches read from the image cache;
* model step: forward, loss, backward and update on synthetic batches already on the device;
* together: training steps fed by the loader the method really uses.

Every stage runs ``steps`` batches after one warm-up batch (worker start-up, first
memory-map, compilation) and reports images/s. The slower of the method's loader and the
model step is the bottleneck.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.devices import resolve_device
from bench.errors import BenchError
from bench.train.image_cache import ImageCache
from bench.train.loop import (
    ImageDataset,
    TrainStep,
    eval_batch_size,
    loader_workers,
    make_loader,
    precision,
    seeded,
    to_model_input,
)
from bench.train.torch_method import TorchMethod


@dataclass
class Stage:
    name: str
    images: int
    seconds: float
    note: str = ""

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class SpeedReport:
    method: str
    dataset: str
    device: str
    image_size: int
    batch_size: int
    loader_path: str
    precision: str
    workers: dict
    compiled: bool = False
    channels_last: bool = False
    stages: list[Stage] = field(default_factory=list)

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    @property
    def bottleneck(self) -> str:
        loader = self.stage("loader (cache)" if self.loader_path == "image-cache" else "loader (files)")
        step = self.stage("model step")
        return loader.name if loader.images_per_s < step.images_per_s else step.name

    def render(self) -> str:
        from tabulate import tabulate

        rows = [[s.name, _rate(s.images_per_s), s.images, f"{s.seconds:.2f}", s.note] for s in self.stages]
        compute = ", ".join([self.precision] + ["channels_last"] * self.channels_last + ["compiled"] * self.compiled)
        head = (f"{self.method} on {self.dataset}: {self.image_size} px, batch {self.batch_size}, {self.device} "
                f"({compute}), loader workers {self.workers['files']} (files) / {self.workers['cache']} (cache); "
                f"training reads from: {self.loader_path}")
        table = tabulate(rows, headers=["stage", "images/s", "images", "seconds", "note"], tablefmt="github",
                         disable_numparse=True)
        return f"{head}\n\n{table}\n\nbottleneck: {self.bottleneck}\n"

    def as_dict(self) -> dict:
        return {"method": self.method, "dataset": self.dataset, "device": self.device, "image_size": self.image_size,
                "batch_size": self.batch_size, "loader_path": self.loader_path, "precision": self.precision,
                "compiled": self.compiled, "channels_last": self.channels_last, "workers": self.workers,
                "bottleneck": self.bottleneck,
                "stages": {s.name: {"images": s.images, "seconds": round(s.seconds, 4),
                                    "images_per_s": round(s.images_per_s, 4)} for s in self.stages}}


def measure_speed(method, frame: pd.DataFrame, n_targets: int, steps: int, dataset: str = "") -> SpeedReport:
    """Time each stage of ``method`` (a TorchMethod, configured) on rows of ``frame``."""
    from bench.train.cached_data import CachedImageDataset, make_cached_loader  # heavy: imports torch

    if not isinstance(method, TorchMethod):
        raise BenchError(f"{method.method_name} does not train a torch network; speed measures those")
    config = method.train_config()
    device = resolve_device(method.device)
    n_images = min(len(frame), (steps + 1) * config.batch_size)
    if n_images < config.batch_size:
        raise BenchError(f"{len(frame)} image(s) make no batch of {config.batch_size}")
    sample = frame.iloc[:n_images]
    targets = np.random.default_rng(0).random((n_images, n_targets), dtype=np.float32)
    workers = {"files": loader_workers(config, device, cached=False),
               "cache": loader_workers(config, device, cached=True)}
    report = SpeedReport(method.method_name, dataset, device, config.image_size, config.batch_size,
                         method.loader_path(config), precision(config, device), workers, config.compile)
    with seeded(config.seed, deterministic=False):
        model = method.build_model(n_targets, method._pretrained())
    step = TrainStep(model, method.forward, method.param_groups(model, config.lr), config, device, steps)
    report.channels_last = step.channels_last
    model.train()

    files = make_loader(ImageDataset(sample, method.transform(config, train=True), targets), config.batch_size,
                        config, shuffle=True, device=device)
    report.stages.append(_time_loader("loader (files)", files, steps, device, step.channels_last))
    start = time.perf_counter()
    cache = ImageCache(config.image_size)
    missing = cache.count_missing(sample["path"].tolist())
    data = CachedImageDataset(sample, cache, targets, method.mean_std, crop=config.train_crop)
    report.stages.append(Stage("image cache build", missing, time.perf_counter() - start,
                               f"{missing} of {len(sample)} image(s) decoded, once; "
                               f"cache folder {cache.nbytes() / 2**20:.1f} MiB"))
    cached = make_cached_loader(data, config.batch_size, True, config.hflip, config.seed, workers["cache"],
                                pin_memory=device.startswith("cuda"))
    report.stages.append(_time_loader("loader (cache)", cached, steps, device, step.channels_last))

    feed = cached if report.loader_path == "image-cache" else files
    synthetic = _synthetic_batch(feed, device, step.channels_last)
    report.stages.append(_time(lambda: step(synthetic), "model step", steps, config.batch_size, device,
                               "synthetic batches already on the device"))
    report.stages.append(_time_steps_fed(step, feed, steps, device))
    return report


def measure_model_cost(method, frame: pd.DataFrame, n_targets: int, steps: int) -> dict:
    """Seconds per training sample and per predicted image of ``method``'s network alone (a
    TorchMethod, configured): ``steps`` training steps (forward, loss, backward, update) on a
    synthetic batch of its training input, then ``steps`` inference passes on a synthetic batch
    of its prediction input (its own test-time views or crops included), each after one
    warm-up, in this process, on random pixels of the shapes its loaders give. What a
    trainable row's reference cost declares (bench.method; scripts/reference_costs.py)."""
    import torch

    if not isinstance(method, TorchMethod):
        raise BenchError(f"{method.method_name} does not train a torch network")
    config = method.train_config()
    device = resolve_device(method.device)
    sample = frame.iloc[:max(config.batch_size, eval_batch_size(config, device))]
    targets = np.random.default_rng(0).random((len(sample), n_targets), dtype=np.float32)
    with seeded(config.seed, deterministic=False):
        model = method.build_model(n_targets, method._pretrained())
    step = TrainStep(model, method.forward, method.param_groups(model, config.lr), config, device, steps)
    model.train()
    train_loader = method._loader(sample, config, device, train=True, targets=targets)
    batch = _synthetic_batch(train_loader, device, step.channels_last)
    train = _time(lambda: step(batch), "model step", steps, len(batch["image"]), device, "")
    model.eval()
    eval_loader = method._eval_loader(sample, config, device)
    batch = _synthetic_batch(eval_loader, device, step.channels_last)

    def infer():
        with torch.inference_mode():
            method.forward(model, batch)

    predict = _time(infer, "prediction", steps, len(batch["image"]), device, "")
    train_pixels, predict_pixels = method.input_pixels(config)
    return {"train_s_per_image": train.seconds / train.images, "predict_s_per_image": predict.seconds / predict.images,
            "train_pixels": train_pixels, "predict_pixels": predict_pixels, "batch_size": config.batch_size,
            "eval_batch_size": predict.images // steps, "device": device}


def _cycle(loader):
    while True:
        yield from loader


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _time(fn, name: str, steps: int, batch_size: int, device: str, note: str) -> Stage:
    fn()  # warm-up
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    _sync(device)
    return Stage(name, steps * batch_size, time.perf_counter() - start, note)


def _time_loader(name, loader, steps, device, channels_last) -> Stage:
    to_model_input(next(iter(loader)), loader, device, channels_last)  # warm-up: workers start, pages load
    _sync(device)
    start = time.perf_counter()  # a fresh pass: what workers fetched ahead in the warm-up is not counted
    images = 0
    for batch in itertools.islice(_cycle(loader), steps):
        images += len(to_model_input(batch, loader, device, channels_last)["target"])
    _sync(device)
    return Stage(name, images, time.perf_counter() - start, f"{loader.num_workers} worker(s), to the device")


def _synthetic_batch(loader, device: str, channels_last: bool) -> dict:
    """A real batch's prompts and targets with random pixels of its input's shape and layout."""
    import torch


    batch = to_model_input(next(iter(loader)), loader, device, channels_last)
    noise = torch.rand(batch["image"].shape, generator=torch.Generator().manual_seed(0)).to(device)
    return {**batch, "image": noise.contiguous(memory_format=torch.channels_last) if channels_last else noise}


def _time_steps_fed(step, loader, steps, device) -> Stage:
    batches = _cycle(loader)

    def one():
        step(to_model_input(next(batches), loader, device, step.channels_last))

    return _time(one, "together", steps, loader.batch_size, device, "training steps fed by the loader it uses")


def _rate(images_per_s: float) -> str:
    return f"{images_per_s:.1f}" if images_per_s >= 10 else f"{images_per_s:.3g}"
