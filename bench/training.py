"""The one training loop for every trainable torch method.

* ``TrainConfig`` (``bench.train_config``): optimiser, learning rate, batch size, epochs,
  image size... Its defaults are the IP-IQA paper's protocol; a method's departures are
  declared beside its class (``defaults``, ``presets``), and ``bench.config`` resolves them
  with the run's overrides, recording the source of every value.
* ``ImageDataset`` / ``make_loader``: images, prompts and targets of a frame, batched.
* ``train_model``: the loop (mixed precision on CUDA, seeded, deterministic on CPU) with an
  epoch-selection hook; ``predict_model``: inference.
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
import os
import time
from typing import Callable

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.images import load_pil
from bench.train_config import (  # noqa: F401  (re-exported: the public names of the training loop)
    LOSSES,
    LR_SCHEDULES,
    OPTIMIZERS,
    PAPER,
    SELECTIONS,
    TRAIN_FIELDS,
    TrainConfig,
)

log = logging.getLogger("ipiqa_bench")

IMAGENET_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def default_config(method: str) -> TrainConfig:
    """The training config a registered method uses by default (its declared departures from PAPER)."""
    from bench.registry import create_method

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


class ImageDataset:
    """Rows of a frame as {"image", "prompt", "target"}; targets are zeros when not given."""

    def __init__(self, frame: pd.DataFrame, transform, targets: np.ndarray | None = None):
        self.paths = frame["path"].tolist()
        self.prompts = frame["prompt"].fillna("").astype(str).tolist() if "prompt" in frame else [""] * len(frame)
        self.targets = np.zeros((len(frame), 1), np.float32) if targets is None else np.asarray(targets, np.float32)
        self.transform = transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        import torch

        return {"image": self.transform(load_pil(self.paths[i])), "prompt": self.prompts[i],
                "target": torch.from_numpy(self.targets[i])}


def make_loader(dataset: ImageDataset, batch_size: int, config: TrainConfig, shuffle: bool, device: str):
    import torch

    workers = min(config.num_workers, os.cpu_count() or 1)
    generator = torch.Generator().manual_seed(config.seed)
    # A lone sample in a training batch breaks BatchNorm over 1x1 maps (e.g. DBCNN's S-CNN).
    drop_last = shuffle and len(dataset) > batch_size
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, num_workers=workers,
        generator=generator, persistent_workers=workers > 0 and shuffle, pin_memory=device.startswith("cuda"))


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


def _lr_schedule(optimizer, config: TrainConfig, steps_per_epoch: int):
    import torch

    if config.lr_schedule == "cosine":
        total = max(1, config.epochs * steps_per_epoch)
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def autocast(device: str, enabled: bool):
    """fp16 autocast on CUDA when enabled; nothing elsewhere (shared with Image2Prompt)."""
    import torch

    if enabled and device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


Forward = Callable[["object", dict], "object"]


def train_model(model, forward: Forward, param_groups: list[dict], loader, config: TrainConfig, device: str,
                select: Callable[[object], float] | None = None, desc: str = "train") -> dict:
    """Train in place; with ``select`` (epoch -> score, higher is better) the best epoch's
    weights are restored at the end. Returns the report: losses, images/s, the lr each group
    ended at, selected epoch."""
    import torch
    from tqdm import tqdm

    amp = config.amp and device.startswith("cuda")
    model.to(device)
    optimizer = _optimizer(param_groups, config)
    schedule = _lr_schedule(optimizer, config, steps_per_epoch=len(loader))
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    loss_fn = torch.nn.MSELoss() if config.loss == "mse" else torch.nn.L1Loss()
    report = {"epoch_loss": [], "amp": amp}
    scores, best_state, best_epoch, seen, start = [], None, None, 0, time.perf_counter()
    for epoch in tqdm(range(config.epochs), desc=desc, unit="epoch", leave=False):
        model.train()
        losses = []
        for batch in loader:
            batch = {**batch, "image": batch["image"].to(device, non_blocking=True)}
            target = batch["target"].to(device, non_blocking=True)
            with autocast(device, amp):
                pred = forward(model, batch)
            loss = loss_fn(pred.float(), target)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            losses.append(loss.item())
            seen += len(target)
        report["epoch_loss"].append(float(np.mean(losses)) if losses else float("nan"))
        if select is not None:
            scores.append(select(model))
            if best_epoch is None or scores[-1] > scores[best_epoch - 1]:
                best_epoch = epoch + 1
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    seconds = time.perf_counter() - start
    report["lr_end"] = [group["lr"] for group in optimizer.param_groups]
    report["train_s"] = round(seconds, 3)
    report["train_images_per_s"] = round(seen / seconds, 2) if seconds > 0 else None
    if select is None:
        report["selected_epoch"] = config.epochs
    else:
        report["selection_scores"] = [round(s, 6) for s in scores]
        report["selected_epoch"] = best_epoch
        model.load_state_dict(best_state)
    return report


def predict_model(model, forward: Forward, loader, device: str, amp: bool = True) -> np.ndarray:
    import torch

    model.to(device).eval()
    out = []
    with torch.inference_mode():
        for batch in loader:
            batch = {**batch, "image": batch["image"].to(device, non_blocking=True)}
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
