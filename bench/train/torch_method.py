"""``TorchMethod``: the Method contract for trainable torch networks, on ``bench.train.loop``.

An adapter subclasses it and supplies ``build_model(n_outputs, pretrained)``, and where it
differs from the defaults, ``forward(model, batch)`` (e.g. one that reads
``batch["prompt"]``), ``param_groups(model, lr)`` (per-group learning rates) and
``mean_std`` (input normalisation; None when the network normalises its own input).

Targets are min-max scaled to [0, 1] on the training side before training (as pyiqa's
``mos_normalize``: a network that ends in a probability, like CLIP-IQA, can reach every
target) and mapped back when predicting. One model is trained per target, or with
``joint_targets`` one model with an output per target where the network allows it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.assets.safe_load import load_torch
from bench.devices import resolve_device
from bench.errors import BenchError
from bench.method import Method
from bench.train.epoch_metrics import epoch_scores, recording_decision
from bench.train.epoch_state import rows_digest, state_for
from bench.train.image_cache import ImageCache
from bench.train.loop import (
    IMAGENET_MEAN_STD,
    PAPER,
    TRAIN_FIELDS,
    ImageDataset,
    TrainConfig,
    carve_validation,
    eval_batch_size,
    image_transform,
    loader_workers,
    make_loader,
    predict_model,
    seeded,
    selection_score,
    train_model,
    uses_channels_last,
)

# Constructor arguments that are TrainConfig fields: None means the method's default.
TRAIN_PARAMS = TRAIN_FIELDS
CHECKPOINT_FORMAT = 1
# The demo is a miniature: 256-px synthetic images, ~480 training images a split, on a CPU.
# The paper's 100 epochs at 512 px would take hours, so the demo trains small and briefly
# (recorded in each run's manifest; overrides still win).
DEMO_TRAINING = {"image_size": 64, "epochs": 5, "lr": 3e-4, "batch_size": 16}


@dataclass(frozen=True)
class TrainingWork:
    """What one split's fit and predict do, in the units a trainable row's reference cost prices
    (bench.method): training samples (one forward + backward each, of ``train_pixels``) and
    predicted images (of ``predict_pixels``, test-time views or crops included)."""

    models: int
    epochs: int  # one model's, all its stages together (as far as max_steps lets them run)
    n_train: int
    draws: int  # crops or patches drawn from each training image an epoch
    n_test: int
    test_passes: int  # 1, plus one an epoch where every epoch's test metrics are recorded
    train_pixels: int
    predict_pixels: int
    samples: int | None = None  # one model's training samples where max_steps cuts them (None: every epoch's)
    n_select: int = 0  # images the epoch selection predicts after each of its epochs (val part or test side)
    select_passes: int = 0  # epochs whose selection predicts them
    note: str = ""  # how the pricing departs from the work, said with it (DBCNN's frozen fc stage)

    @property
    def train_samples(self) -> int:
        return self.models * (self.epochs * self.n_train * self.draws if self.samples is None else self.samples)

    @property
    def predicted_images(self) -> int:
        return self.models * (self.test_passes * self.n_test + self.select_passes * self.n_select)

    def describe(self) -> str:
        models = f"{self.models} models x " if self.models > 1 else ""
        draws = f" x {self.draws} draws" if self.draws > 1 else ""
        capped = f" (max_steps: {self.samples:,} samples)" if self.samples is not None else ""
        passes = f" x {self.test_passes} passes" if self.test_passes > 1 else ""
        select = f", {self.n_select} selection images x {self.select_passes} passes" if self.select_passes else ""
        return (f"{models}{self.epochs} epochs x {self.n_train} images{draws}{capped} at "
                f"{pixels_text(self.train_pixels)}, {self.n_test} test images{passes}{select} at "
                f"{pixels_text(self.predict_pixels)}" + (f"; {self.note}" if self.note else ""))


def pixels_text(pixels: int) -> str:
    """``64x64 px`` for a square's pixels, else ``12,288 px``."""
    side = round(pixels ** 0.5)
    return f"{side}x{side} px" if side * side == pixels else f"{pixels:,} px"


def _stage_run(config: TrainConfig, per_epoch: int) -> tuple[int, int]:
    """(epochs run, samples trained) of one training of ``per_epoch`` samples an epoch: every
    epoch, or as far as ``max_steps`` batches reach (the loop's cap, bench.train.loop)."""
    full = config.epochs * per_epoch
    if config.max_steps is None or per_epoch <= 0:
        return config.epochs, full
    budget = config.max_steps * config.batch_size
    return min(config.epochs, -(-budget // per_epoch)), min(full, budget)


class TorchMethod(Method):
    mean_std: tuple | None = IMAGENET_MEAN_STD
    # False where a frozen part (e.g. CLIP in CLIP-IQA+) is left out of the state dict and
    # rebuilt from the method's initialisation when a checkpoint is loaded.
    state_covers_model: bool = True
    presets = {"demo": DEMO_TRAINING}
    miniature_presets = {"demo": "training", "full": "training"}

    def __init__(self, device="auto", recipe="authors", **train):
        """``train``: any ``TrainConfig`` field (bench.train.config); left out or None, the
        method's declared default (``defaults``, else the paper's protocol). ``recipe``:
        ``authors`` (the declared ``defaults``) or ``paper`` (TrainConfig's, bench.config.RECIPES)."""
        unknown = sorted(set(train) - set(TRAIN_FIELDS))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected training option(s) {unknown}")
        self.device = device
        self.recipe = recipe
        for name in TRAIN_FIELDS:
            setattr(self, name, train.get(name))

    @classmethod
    def config_keys(cls) -> list[str]:
        return [*super().config_keys(), *TRAIN_FIELDS]

    @classmethod
    def default_layers(cls) -> list[tuple[str, dict]]:
        layers = super().default_layers()
        # The paper's protocol, under the constructors' defaults and any class's ``defaults``.
        return [layers[0], ("TrainConfig (the paper's protocol)", PAPER.as_dict()), *layers[1:]]

    @classmethod
    def smoke_config(cls) -> dict:
        return {"epochs": 1, "batch_size": 2, "image_size": 32, "num_workers": 0, "device": "cpu"}

    # ----------------------------------------------------------------- adapter hooks

    def build_model(self, n_outputs: int, pretrained: bool):
        """The network, with ``n_outputs`` outputs; ``pretrained``: load its initialisation."""
        raise NotImplementedError

    def forward(self, model, batch: dict):
        images = batch["image"]
        return model(images).reshape(len(images), -1)

    def param_groups(self, model, lr: float) -> list[dict]:
        return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": lr}]

    def transform(self, config: TrainConfig, train: bool):
        return image_transform(config, train, self.mean_std)

    def training_stages(self, model, config: TrainConfig):
        """(name, config, parameter groups) of each training stage, run in order on one model
        (an iterable, consumed stage by stage, so a stage may freeze layers before it is
        yielded). One stage by default; a method whose authors train in stages (DBCNN)
        overrides it, and ``stage_configs`` with the same stages (the plan prices those). The
        epoch selection applies to the stages whose config keeps it."""
        return [("all", config, self.param_groups(model, config.lr))]

    def input_pixels(self, config: TrainConfig) -> tuple[int, int]:
        """The pixels the network sees per training sample and per predicted image, which a
        reference cost scales with: the crop (or the image) and the image; a network with
        fixed-size inputs (HyperNet's crops, IPCE's CLIP views) counts those."""
        return (config.train_crop or config.image_size) ** 2, config.image_size ** 2

    def stage_configs(self, config: TrainConfig) -> list[tuple[str, TrainConfig]]:
        """(name, config) of each stage ``training_stages`` runs, without a model: what
        ``planned_work`` prices. One stage by default; a method with stages (DBCNN) overrides both."""
        return [("all", config)]

    def planning_note(self) -> str:
        """How ``planned_work``'s pricing departs from what training does, for the plan's text
        ("" when it does not)."""
        return ""

    def planned_work(self, n_train: int, n_test: int, targets: list[str]) -> TrainingWork:
        """What fitting on ``n_train`` images and predicting ``n_test`` will do (the plan's estimate):
        each stage's epochs and samples as far as ``max_steps`` lets it run, the final test pass,
        and after every epoch the test side where its metrics are recorded and the selection
        side where the epoch is chosen on it (``val``: about ``val_fraction`` of the training
        images, carved off by content group, so the estimate's share is approximate)."""
        config = self.train_config()
        draws = self.samples_per_image()
        n_fit, n_select = n_train, 0
        if config.selection == "val":
            n_select = round(config.val_fraction * n_train)
            n_fit = n_train - n_select
        elif config.selection == "best-on-test":
            n_select = n_test
        recorded = not recording_decision(config, n_fit, n_test, draws)
        epochs = samples = select_passes = 0
        for _, stage in self.stage_configs(config):
            ran, trained = _stage_run(stage, n_fit * draws)
            epochs, samples = epochs + ran, samples + trained
            if stage.selection == config.selection:  # as fit: a stage may fix "final"
                select_passes += ran
        capped = samples < epochs * n_fit * draws
        train_pixels, predict_pixels = self.input_pixels(config)
        return TrainingWork(len(self._target_groups(targets)), epochs, n_fit, draws, n_test,
                            1 + (epochs if recorded else 0), train_pixels, predict_pixels,
                            samples if capped else None, n_select, select_passes if n_select else 0,
                            self.planning_note())

    # ----------------------------------------------------------------- config

    def train_config(self) -> TrainConfig:
        config = self.get_config()
        return TrainConfig(**{name: config[name] for name in TRAIN_FIELDS})

    @property
    def selects_on_test(self) -> bool:
        """True when the epoch is chosen on the test side (``best-on-test`` selection)."""
        return self.train_config().selection == "best-on-test"

    @property
    def takes_test_side(self) -> bool:
        """True when the runner hands ``fit`` the test side: to choose the epoch on it
        (best-on-test), or only to record every epoch's test metrics (bench.train.epoch_metrics)."""
        return self.selects_on_test or self.train_config().record_epoch_metrics != "off"

    def _pretrained(self) -> bool:
        return bool(getattr(self, "pretrained", False))

    def _target_groups(self, targets: list[str]) -> list[list[str]]:
        return [list(targets)] if getattr(self, "joint_targets", False) else [[t] for t in targets]

    # ----------------------------------------------------------------- fit / predict

    def fit(self, train: pd.DataFrame, targets: list[str], test: pd.DataFrame | None = None) -> "TorchMethod":
        config = self.train_config()
        device = resolve_device(self.device)
        fit_frame, select_frame = train, None
        if config.selection == "val":
            fit_frame, select_frame = carve_validation(train, config.val_fraction, config.seed)
        elif config.selection == "best-on-test":
            if test is None:
                raise BenchError("selection 'best-on-test' needs the test side at training time")
            select_frame = test
        self.targets_ = list(targets)
        self.scale_ = {t: (float(fit_frame[t].min()), float(fit_frame[t].max())) for t in targets}
        self.models_ = []
        self.report_ = {"device": device, "selection": config.selection, "train_config": config.as_dict(),
                        "n_train": len(fit_frame), "loader": self.loader_path(config), "models": {}}
        if select_frame is not None:
            self.report_["n_selection"] = len(select_frame)
        not_recorded = recording_decision(config, len(fit_frame), None if test is None else len(test),
                                          self.samples_per_image())
        if not_recorded:
            self.report_["epoch_test_not_recorded"] = not_recorded
        for group in self._target_groups(targets):
            with seeded(config.seed, deterministic=device == "cpu"):
                model = self.build_model(len(group), self._pretrained())
                scaled = self._scaled(fit_frame, group)
                select = None
                if select_frame is not None:
                    eval_loader = self._eval_loader(select_frame, config, device)
                    truth = select_frame[group].to_numpy(dtype=float)

                    def select(m, eval_loader=eval_loader, truth=truth):
                        return selection_score(self._predict(m, eval_loader, config, device), truth)

                observe = None
                if not not_recorded:
                    test_loader = self._eval_loader(test, config, device)
                    test_truth = test[group].to_numpy(dtype=float)

                    def observe(m, test_loader=test_loader, test_truth=test_truth, group=group):
                        return epoch_scores(self._predict(m, test_loader, config, device), test_truth, group)

                reports = {}
                for stage, stage_config, params in self.training_stages(model, config):
                    loader = self._loader(fit_frame, stage_config, device, train=True, targets=scaled)
                    chooses = select if stage_config.selection == config.selection else None  # a stage may fix "final"
                    resume = self._epoch_state(group, stage, stage_config, fit_frame, select_frame,
                                              None if observe is None else test)
                    reports[stage] = train_model(model, self.forward, params, loader, stage_config, device, chooses,
                                                 desc=f"{self.method_name} [{','.join(group)}] {stage}",
                                                 resume=resume, observe=observe).as_dict()
                # the last stage's report, earlier stages' under their names
                last = reports.pop(stage)
                self.report_["models"][",".join(group)] = {**last, **({"stages": reports} if reports else {})}
            self.models_.append((group, model))
        return self

    def _epoch_state(self, group, stage, stage_config: TrainConfig, fit_frame, select_frame, observed_frame=None):
        """Where this training saves its epoch state, bound to all that decides its course and
        to the test side its epochs are recorded on (None outside a run: bench.train.epoch_state)."""
        config = {k: v for k, v in self.get_config().items() if k != "device"}  # where it runs: not identity
        identity = {"method": self.method_name, "config": config, "group": group, "stage": stage,
                    "stage_config": stage_config.as_dict(), "train": rows_digest(fit_frame, ["image", *group]),
                    "select": None if select_frame is None else rows_digest(select_frame, ["image", *group])}
        if observed_frame is not None:  # the test side the epochs are recorded on (absent when none is)
            identity["observed"] = rows_digest(observed_frame, ["image", *group])
        return state_for(f"{'+'.join(group)}-{stage}", identity)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        config = self.train_config()
        device = resolve_device(self.device)
        loader = self._eval_loader(frame, config, device)
        columns = {}
        for group, model in self.models_:
            pred = self._predict(model, loader, config, device)
            for j, target in enumerate(group):
                low, high = self.scale_[target]
                columns[target] = pred[:, j] * ((high - low) or 1.0) + low
        return pd.DataFrame(columns, index=frame.index)

    def _scaled(self, frame: pd.DataFrame, group: list[str]) -> np.ndarray:
        columns = []
        for target in group:
            low, high = self.scale_[target]
            columns.append((frame[target].to_numpy(dtype=float) - low) / ((high - low) or 1.0))
        return np.stack(columns, axis=1)

    def loader_path(self, config: TrainConfig) -> str:
        """What training reads (recorded in the report): the images' source by default; a method
        that feeds its network something computed from them says so (IP-IQA's trunk features)."""
        return self.image_source(config)

    def image_source(self, config: TrainConfig) -> str:
        """"image-cache" when the method's input is the standard resize (+ flip/crop) + normalise
        and the cache is on; "files" (decode every sample) otherwise."""
        standard = type(self).transform is TorchMethod.transform
        return "image-cache" if config.image_cache and standard else "files"

    def samples_per_image(self) -> int:
        """How many times each training image is drawn per epoch (each draw its own random crop
        or patch): 1, or a method's ``train_patches`` (HyperIQA's authors draw 25 crops)."""
        return int(getattr(self, "train_patches", None) or 1)

    def _loader(self, frame, config: TrainConfig, device: str, train: bool, targets=None):
        repeats = self.samples_per_image() if train else 1
        if repeats > 1:
            frame = frame.iloc[np.tile(np.arange(len(frame)), repeats)]
            targets = None if targets is None else np.tile(np.asarray(targets), (repeats, 1))
        if self.image_source(config) == "files":
            data = ImageDataset(frame, self.transform(config, train), targets)
            batch = config.batch_size if train else eval_batch_size(config, device)
            return make_loader(data, batch, config, shuffle=train, device=device)
        from bench.train.cached_data import CachedImageDataset, make_cached_loader  # heavy: imports torch

        data = CachedImageDataset(frame, ImageCache(config.image_size), targets, self.mean_std,
                                  crop=config.train_crop if train else None)
        return make_cached_loader(data, config.batch_size if train else eval_batch_size(config, device), train,
                                  config.hflip, config.seed, loader_workers(config, device, cached=True),
                                  pin_memory=device.startswith("cuda"))

    def _eval_loader(self, frame, config, device):
        return self._loader(frame, config, device, train=False)

    def _predict(self, model, loader, config: TrainConfig, device: str) -> np.ndarray:
        return predict_model(model, self.forward, loader, device, config.amp, uses_channels_last(config, device))

    # ----------------------------------------------------------------- checkpoints

    def checkpoint(self) -> bytes:
        import torch

        buffer = io.BytesIO()
        torch.save({
            "format": CHECKPOINT_FORMAT, "method": self.method_name, "config": self.get_config(),
            "targets": self.targets_, "scale": {t: list(v) for t, v in self.scale_.items()},
            "groups": [group for group, _ in self.models_],
            "states": [{k: v.detach().cpu() for k, v in model.state_dict().items()} for _, model in self.models_],
        }, buffer)
        return buffer.getvalue()

    def load_checkpoint(self, data: bytes) -> "TorchMethod":
        saved = load_torch(data, f"{self.method_name} checkpoint")  # weights_only: runs nothing from the file
        if not isinstance(saved, dict) or saved.get("method") != self.method_name:
            found = saved.get("method") if isinstance(saved, dict) else None
            raise BenchError(f"checkpoint was written by {found or 'something else'}, not {self.method_name}")
        known = self.get_config()
        for name, value in saved["config"].items():
            if name in known and name != "device":  # where it runs now is the caller's choice
                setattr(self, name, value)
        config = self.train_config()
        self.targets_ = saved["targets"]
        self.scale_ = {t: tuple(v) for t, v in saved["scale"].items()}
        # The saved state overwrites every weight, so no pretrained file is needed unless
        # part of the network lives outside the state dict.
        pretrained = self._pretrained() and not self.state_covers_model
        self.models_ = []
        for group, state in zip(saved["groups"], saved["states"]):
            with seeded(config.seed, deterministic=False):  # rebuilds a random-init frozen part identically
                model = self.build_model(len(group), pretrained)
            model.load_state_dict(state)
            self.models_.append((group, model))
        return self
