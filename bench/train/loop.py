"""The one training loop for every trainable torch method.

* ``TrainConfig`` (``bench.train.config``): optimiser, learning rate, batch size, epochs,
  image size... Its defaults are the IP-IQA paper's protocol; a method's departures are
  declared beside its class (``defaults``, ``presets``), and ``bench.config`` resolves them
  with the run's overrides, recording the source of every value.
* ``ImageDataset`` / ``make_loader``: images, prompts and targets of a frame, batched, each
  sample decoded from its file (the path for methods with their own transform; the others
  read the decoded-image cache, ``bench.train.cached_data``). ``loader_workers``, ``precision``,
  ``eval_batch_size``: what the machine and device get when the config leaves them open.
* ``train_model``: the loop (bf16/fp16 autocast on CUDA, seeded, deterministic on CPU) with an
  epoch-selection hook, timing the data wait and the step apart; ``TrainStep``: one step
  (shared with ``ipiqa-bench speed``); ``predict_model``: inference.
* Epoch selection policies (``SELECTIONS``): ``final`` keeps the last epoch; ``val`` keeps
  the best epoch on a validation part carved from the training side (by content group);
  ``best-on-test`` keeps the best epoch on the split's test side, as the public IP-IQA code
  does. That last one selects on the test set and every table labels it so.

The model is pluggable: a method hands over the module, a ``forward(model, batch)`` that
maps a batch (``image`` tensor on the device, ``prompt`` list of strings, ``target``) to
predictions of shape (batch, n_targets), and optimiser parameter groups (per-group lr).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Callable

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.images import load_pil
from bench.registry import create_method
from bench.train.config import (  # noqa: F401  (re-exported: the public names of the training loop)
    LOSSES,
    LR_SCHEDULES,
    OPTIMIZERS,
    PAPER,
    SELECTIONS,
    TRAIN_FIELDS,
    TrainConfig,
)
from bench.train.epoch_state import generators_of, rng_state, set_rng_state
from bench.train.image_cache import usable_cores
from bench.bars import progress_bar
from bench.train.schedules import loss_function, lr_schedule, per_epoch, skip_zero
from bench.train.result import TrainResult

log = logging.getLogger("ipiqa_bench")

IMAGENET_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def default_config(method: str) -> TrainConfig:
    """The training config a registered method uses by default (its declared departures from PAPER)."""
    return create_method(method).train_config()


# --------------------------------------------------------------------------- data


def image_transform(config: TrainConfig, train: bool, mean_std: tuple | None = None):
    """Resize to the square training size; flips and crops only when training."""
    from torchvision import transforms as T

    steps = [T.Resize((config.image_size, config.image_size), interpolation=T.InterpolationMode.BICUBIC)]
    if train and config.hflip:
        steps.append(T.RandomHorizontalFlip())
    if train and config.train_crop:
        steps.append(T.RandomCrop(config.train_crop))
    steps.append(T.ToTensor())
    if mean_std is not None:
        steps.append(T.Normalize(*mean_std))
    return T.Compose(steps)


def prompts_and_targets(frame: pd.DataFrame, targets: np.ndarray | None) -> tuple[list[str], np.ndarray]:
    """A frame's prompts as strings ("" where absent) and its targets as float32 (zeros when not
    given): what every training dataset hands the network beside its input."""
    prompts = frame["prompt"].fillna("").astype(str).tolist() if "prompt" in frame else [""] * len(frame)
    values = np.zeros((len(frame), 1), np.float32) if targets is None else np.asarray(targets, np.float32)
    return prompts, values


class ImageDataset:
    """Rows of a frame as {"image", "prompt", "target"}; targets are zeros when not given."""

    def __init__(self, frame: pd.DataFrame, transform, targets: np.ndarray | None = None):
        self.paths = frame["path"].tolist()
        self.prompts, self.targets = prompts_and_targets(frame, targets)
        self.transform = transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        import torch

        return {"image": self.transform(load_pil(self.paths[i])), "prompt": self.prompts[i],
                "target": torch.from_numpy(self.targets[i])}


def make_loader(dataset: ImageDataset, batch_size: int, config: TrainConfig, shuffle: bool, device: str):
    import torch

    workers = loader_workers(config, device, cached=False)
    generator = torch.Generator().manual_seed(config.seed)
    # A lone sample in a training batch breaks BatchNorm over 1x1 maps (e.g. DBCNN's S-CNN).
    drop_last = shuffle and len(dataset) > batch_size
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, num_workers=workers,
        generator=generator, persistent_workers=workers > 0 and shuffle, pin_memory=device.startswith("cuda"))


def loader_workers(config: TrainConfig, device: str, cached: bool) -> int:
    """Loader processes: ``num_workers`` when given, else sized from the machine's cores.

    From files every core decodes (up to 8), since decoding is the bottleneck. From the cache
    a sample is a memory copy: on the CPU the training step needs every core and the main
    process keeps up alone (0); an accelerator gets a few workers (up to 4) to keep it fed.
    """
    if config.num_workers is not None:
        return min(config.num_workers, usable_cores())
    if not cached:
        return min(usable_cores(), 8)
    return 0 if device == "cpu" else min(usable_cores(), 4)


def eval_batch_size(config: TrainConfig, device: str) -> int:
    """Inference keeps no activations for backward: on an accelerator it batches twice as large."""
    if config.eval_batch_size is not None:
        return config.eval_batch_size
    return config.batch_size if device == "cpu" else 2 * config.batch_size


def precision(config: TrainConfig, device: str) -> str:
    """What the loop computes in: bf16 or fp16 autocast on CUDA (bf16 where supported), else fp32."""
    import torch

    if not (config.amp and device.startswith("cuda")):
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def uses_channels_last(config: TrainConfig, device: str) -> bool:
    return config.channels_last if config.channels_last is not None else device.startswith("cuda")


def to_model_input(batch: dict, loader, device: str, channels_last: bool) -> dict:
    """The batch on the device, its images as the network's input (cached uint8 batches are
    converted and normalised there, after a quarter of the bytes crossed the bus)."""
    import torch

    images = batch["image"].to(device, non_blocking=True)
    finish = getattr(loader.dataset, "to_model_input", None)
    if finish is not None:
        images = finish(images, channels_last)
    elif channels_last and images.dim() == 4:
        images = images.contiguous(memory_format=torch.channels_last)
    return {**batch, "image": images}


def carve_validation(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the training side by content group: (train part, validation part)."""
    groups = np.array(sorted(frame["group"].unique()))
    if len(groups) < 2:
        raise BenchError("selection 'val' needs at least 2 content groups on the training side")
    rng = np.random.default_rng(seed)
    n_val = min(len(groups) - 1, max(1, round(fraction * len(groups))))
    val_groups = set(rng.choice(groups, size=n_val, replace=False))
    is_val = frame["group"].isin(val_groups)
    return frame[~is_val], frame[is_val]


# --------------------------------------------------------------------------- the loop


@contextlib.contextmanager
def seeded(seed: int, deterministic: bool):
    """Seed torch/numpy; on CPU also ask torch for deterministic kernels (restored after)."""
    import random

    import torch

    previous = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        if deterministic:
            torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])


def _optimizer(param_groups: list[dict], config: TrainConfig):
    import torch

    groups = [g for g in param_groups if any(p.requires_grad for p in g["params"])]
    if not groups:
        raise RuntimeError("the model has no trainable parameters")
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=config.lr, weight_decay=config.weight_decay)


def autocast(device: str, enabled: bool):
    """Autocast on CUDA when enabled (bf16 where supported, else fp16); nothing elsewhere
    (shared with Image2Prompt)."""
    import torch

    if enabled and device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    return contextlib.nullcontext()


Forward = Callable[["object", dict], "object"]


def micro_batches(batch: dict, size: int):
    """``batch`` in consecutive chunks of at most ``size`` rows, as few as that allows and of
    near-equal sizes (within one row: 7 rows at 3 are 3 + 2 + 2, not 3 + 3 + 1, so that no chunk
    is a lone image where it can be avoided: BatchNorm cannot train on one). Every tensor and
    list of the batch's length is sliced, anything else passed whole. The batch itself when it
    is no larger."""
    n = len(batch["target"])
    if size >= n:
        yield batch
        return
    chunks = -(-n // size)
    start = 0
    for k in range(chunks):
        stop = start + n // chunks + (k < n % chunks)
        rows = slice(start, stop)
        yield {key: v[rows] if _per_row(v, n) else v for key, v in batch.items()}
        start = stop


def _per_row(value, n: int) -> bool:
    return (isinstance(value, (list, tuple)) or getattr(value, "ndim", 0) >= 1) and len(value) == n


class TrainStep:
    """One optimisation step (forward, loss, backward, update) with the config's precision,
    memory format and compilation; ``train_model`` and ``ipiqa-bench speed`` share it."""

    def __init__(self, model, forward: Forward, param_groups: list[dict], config: TrainConfig, device: str,
                 steps_per_epoch: int):
        import torch

        self.model, self.forward, self.device = model, forward, device
        self.precision = precision(config, device)
        self.channels_last = uses_channels_last(config, device)
        model.to(device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        # The compiled wrapper shares the model's parameters; state dicts are read from the model.
        self.step_model = torch.compile(model) if config.compile else model
        self.optimizer = _optimizer(param_groups, config)
        self.schedule = lr_schedule(self.optimizer, config, steps_per_epoch=steps_per_epoch)
        self.config, self.per_epoch = config, per_epoch(config)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == "fp16")  # bf16 needs no scaling
        self.loss_fn = loss_function(config)
        self.amp = self.precision != "fp32"

    def __call__(self, batch: dict) -> float:
        """``batch`` already on the device (``to_model_input``); returns the loss. With
        ``micro_batch`` the batch goes forward and backward in near-equal chunks of at most that
        many images (``micro_batches``), each chunk's loss weighted by its share of the batch,
        and the optimiser steps once."""
        self.optimizer.zero_grad(set_to_none=True)
        n = len(batch["target"])
        total = 0.0
        for chunk in micro_batches(batch, self.config.micro_batch or n):
            target = chunk["target"].to(self.device, non_blocking=True)
            with autocast(self.device, self.amp):
                pred = self.forward(self.step_model, chunk)
            loss = self.loss_fn(pred.float(), target) * (len(target) / n)
            self.scaler.scale(loss).backward()
            total += loss.item()  # waits for the device: the step's time is then measured whole
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if not self.per_epoch:
            self.schedule.step()
        return total

    def start_epoch(self) -> None:
        skip_zero(self.optimizer, self.schedule, self.config)

    def end_epoch(self) -> None:
        if self.per_epoch:
            self.schedule.step()


def train_model(model, forward: Forward, param_groups: list[dict], loader, config: TrainConfig, device: str,
                select: Callable[[object], float] | None = None, desc: str = "train", resume=None,
                observe: Callable[[object], dict] | None = None) -> TrainResult:
    """Train in place; with ``select`` (epoch -> score, higher is better) the best epoch's
    weights are restored at the end. ``observe`` (model -> dict) is recorded after every epoch
    under ``epoch_test`` and decides nothing: every random state is put back after it.
    ``resume`` (``bench.train.epoch_state.EpochState``): the state is saved there after every epoch, and a saved one is continued from. Returns the
    report (``TrainResult``): losses, precision, images/s (overall, and of the training step
    alone while it was not waiting for data), the lr each group ended at, selected epoch."""

    step = TrainStep(model, forward, param_groups, config, device, steps_per_epoch=len(loader))
    report = TrainResult(amp=step.amp, precision=step.precision, channels_last=step.channels_last,
                         compile=config.compile, loader_workers=loader.num_workers)
    scores, best_state, best_epoch, seen, steps, start = [], None, None, 0, 0, time.perf_counter()
    observed = []
    wait_s = step_s = select_s = 0.0
    generators = generators_of(loader)
    first = 0
    saved = resume.load() if resume is not None else None
    if saved is not None:
        first, progress = _restore(saved, model, step, generators)
        report.epoch_loss, scores, best_epoch, best_state = (progress["epoch_loss"], progress["scores"],
                                                                progress["best_epoch"], progress["best_state"])
        seen, steps, wait_s, step_s, select_s = (progress[k] for k in ("seen", "steps", "wait_s", "step_s", "select_s"))
        observed = progress.get("epoch_test", [])
        report.resumed_at_epoch = first
        log.info("%s: resumed after epoch %d of %d (%s)", desc, first, config.epochs, resume.path)
    last_epoch = first
    for epoch in progress_bar(range(first, config.epochs), desc=desc, unit="epoch", leave=False, initial=first,
                      total=config.epochs):
        model.train()
        losses = []
        step.start_epoch()
        batches = iter(loader)
        epoch_steps, capped = 0, False
        while True:
            if config.max_steps is not None and steps >= config.max_steps:
                capped = epoch_steps < len(loader)  # the cap ended the epoch while batches remained
                break
            t0 = time.perf_counter()
            batch = next(batches, None)
            if batch is None:
                break
            epoch_steps += 1
            batch = to_model_input(batch, loader, device, step.channels_last)
            t1 = time.perf_counter()
            losses.append(step(batch))
            steps += 1
            seen += len(batch["target"])
            wait_s += t1 - t0
            step_s += time.perf_counter() - t1
        step.end_epoch()
        last_epoch = epoch + 1
        report.epoch_loss.append(float(np.mean(losses)) if losses else float("nan"))
        if select is not None:
            t0 = time.perf_counter()
            scores.append(select(model))
            select_s += time.perf_counter() - t0
            if best_epoch is None or scores[-1] > scores[best_epoch - 1]:
                best_epoch = epoch + 1
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        if observe is not None:
            kept = rng_state(generators)
            observed.append(observe(model))
            set_rng_state(kept, generators)
        if resume is not None:
            progress = {"epoch_loss": report.epoch_loss, "scores": scores, "best_epoch": best_epoch,
                        "best_state": best_state, "seen": seen, "steps": steps, "wait_s": wait_s, "step_s": step_s,
                        "select_s": select_s, "epoch_test": observed}
            resume.save(_snapshot(epoch + 1, model, step, generators, progress))
        if config.max_steps is not None and steps >= config.max_steps and (capped or epoch + 1 < config.epochs):
            report.stopped_at_step = steps  # the cap ended training early: this epoch cut short, or epochs left
            if epoch + 1 < config.epochs:
                break
    seconds = time.perf_counter() - start
    report.lr_end = [group["lr"] for group in step.optimizer.param_groups]
    report.train_s = round(seconds, 3)
    report.train_images_per_s = round(seen / seconds, 2) if seconds > 0 else None
    # Per stage: time spent waiting for the loader, and in the step itself (forward to update).
    report.speed = {"images": seen, "steps": steps, "data_wait_s": round(wait_s, 3), "step_s": round(step_s, 3),
                       "select_s": round(select_s, 3),
                       "step_images_per_s": round(seen / step_s, 2) if step_s > 0 else None,
                       "data_wait_share": round(wait_s / (wait_s + step_s), 4) if wait_s + step_s > 0 else None}
    if observe is not None:
        report.epoch_test = observed
    if select is None:
        report.selected_epoch = last_epoch  # config.epochs, unless max_steps stopped it earlier
    else:
        report.selection_scores = [round(s, 6) for s in scores]
        report.selected_epoch = best_epoch
        model.load_state_dict(best_state)
    return report


def _snapshot(epoch: int, model, step: TrainStep, generators: list, progress: dict) -> dict:
    """What the epoch after ``epoch`` needs, as tensors and plain values."""
    return {"epoch": epoch, "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": step.optimizer.state_dict(), "schedule": step.schedule.state_dict(),
            "scaler": step.scaler.state_dict(), "rng": rng_state(generators), "progress": progress}


def _restore(saved: dict, model, step: TrainStep, generators: list) -> tuple[int, dict]:
    """Put a snapshot back (the random states last); returns (epochs done, progress)."""
    model.load_state_dict(saved["model"])
    step.optimizer.load_state_dict(saved["optimizer"])
    step.schedule.load_state_dict(saved["schedule"])
    if saved["scaler"]:
        step.scaler.load_state_dict(saved["scaler"])
    set_rng_state(saved["rng"], generators)
    return int(saved["epoch"]), saved["progress"]


def predict_model(model, forward: Forward, loader, device: str, amp: bool = True,
                  channels_last: bool = False) -> np.ndarray:
    import torch

    model.to(device).eval()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    out = []
    with torch.inference_mode():
        for batch in loader:
            batch = to_model_input(batch, loader, device, channels_last)
            with autocast(device, amp):
                out.append(forward(model, batch).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1))


def selection_score(pred: np.ndarray, truth: np.ndarray) -> float:
    """SRCC + PLCC + KRCC (raw Pearson), averaged over targets: the public IP-IQA code's
    criterion. Constant predictions score -inf."""
    import warnings

    from scipy import stats

    totals = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: NaN, handled below
        for p, t in zip(np.asarray(pred, float).T, np.asarray(truth, float).T):
            totals.append(stats.spearmanr(p, t).statistic + stats.pearsonr(p, t).statistic
                          + stats.kendalltau(p, t).statistic)
    total = float(np.mean(totals))
    return total if np.isfinite(total) else float("-inf")
