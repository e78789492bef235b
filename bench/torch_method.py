"""``TorchMethod``: the Method contract for trainable torch networks, on ``bench.training``.

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

import inspect
import io

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.method import Method
from bench.training import (
    IMAGENET_MEAN_STD,
    ImageDataset,
    TrainConfig,
    carve_validation,
    default_config,
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
TRAIN_PARAMS = ("epochs", "batch_size", "lr", "lr_schedule", "image_size", "train_crop", "selection", "num_workers",
                "amp", "seed", "image_cache", "channels_last", "compile")
CHECKPOINT_FORMAT = 1
DEMO_TRAINING = {"image_size": 64, "epochs": 5, "lr": 3e-4, "batch_size": 16}


class TorchMethod(Method):
    mean_std: tuple | None = IMAGENET_MEAN_STD
    # False where a frozen part (e.g. CLIP in CLIP-IQA+) is left out of the state dict and
    # rebuilt from the method's initialisation when a checkpoint is loaded.
    state_covers_model: bool = True

    def __init__(self, epochs=None, batch_size=None, lr=None, lr_schedule=None, image_size=None, train_crop=None,
                 selection=None, device="auto", num_workers=None, amp=None, seed=None, image_cache=None,
                 channels_last=None, compile=None):
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.image_size = image_size
        self.train_crop = train_crop
        self.selection = selection
        self.device = device
        self.num_workers = num_workers
        self.amp = amp
        self.seed = seed
        self.image_cache = image_cache
        self.channels_last = channels_last
        self.compile = compile

    @classmethod
    def dataset_preset(cls, dataset: str) -> dict:
        # The demo is a miniature: 256-px synthetic images, ~480 training images a split, on
        # a CPU. The paper's 100 epochs at 512 px would take hours, so the demo trains small
        # and briefly (recorded in each run's manifest; CLI overrides still win).
        return dict(DEMO_TRAINING) if dataset == "demo" else {}

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

    # ----------------------------------------------------------------- config

    def train_config(self) -> TrainConfig:
        overrides = {name: getattr(self, name, None) for name in TRAIN_PARAMS}
        return default_config(self.method_name).with_overrides(**overrides)

    def get_config(self) -> dict:
        """Every constructor argument along the class chain, training defaults filled in."""
        config = {}
        for cls in reversed(type(self).__mro__):
            init = cls.__dict__.get("__init__")
            if init is None or cls is object:
                continue
            for name, param in inspect.signature(init).parameters.items():
                if name != "self" and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD) \
                        and hasattr(self, name):
                    config[name] = getattr(self, name)
        train = self.train_config()
        config.update({name: getattr(train, name) for name in TRAIN_PARAMS})
        return config

    @property
    def selects_on_test(self) -> bool:
        """True when the runner must hand ``fit`` the test side (``best-on-test`` selection)."""
        return self.train_config().selection == "best-on-test"

    def _pretrained(self) -> bool:
        return bool(getattr(self, "pretrained", False))

    def _target_groups(self, targets: list[str]) -> list[list[str]]:
        return [list(targets)] if getattr(self, "joint_targets", False) else [[t] for t in targets]

    # ----------------------------------------------------------------- fit / predict

    def fit(self, train: pd.DataFrame, targets: list[str], test: pd.DataFrame | None = None) -> "TorchMethod":
        from bench.devices import resolve_device

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
        for group in self._target_groups(targets):
            with seeded(config.seed, deterministic=device == "cpu"):
                model = self.build_model(len(group), self._pretrained())
                loader = self._loader(fit_frame, config, device, train=True, targets=self._scaled(fit_frame, group))
                select = None
                if select_frame is not None:
                    eval_loader = self._eval_loader(select_frame, config, device)
                    truth = select_frame[group].to_numpy(dtype=float)

                    def select(m, eval_loader=eval_loader, truth=truth):
                        return selection_score(self._predict(m, eval_loader, config, device), truth)

                self.report_["models"][",".join(group)] = train_model(
                    model, self.forward, self.param_groups(model, config.lr), loader, config, device, select,
                    desc=f"{self.method_name} [{','.join(group)}]")
            self.models_.append((group, model))
        return self

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        from bench.devices import resolve_device

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
        """"image-cache" when the method's input is the standard resize (+ flip/crop) + normalise
        and the cache is on; "files" (decode every sample) otherwise."""
        standard = type(self).transform is TorchMethod.transform
        return "image-cache" if config.image_cache and standard else "files"

    def _loader(self, frame, config: TrainConfig, device: str, train: bool, targets=None):
        if self.loader_path(config) == "files":
            data = ImageDataset(frame, self.transform(config, train), targets)
            batch = config.batch_size if train else eval_batch_size(config, device)
            return make_loader(data, batch, config, shuffle=train, device=device)
        from bench.cached_data import CachedImageDataset, make_cached_loader
        from bench.image_cache import ImageCache

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
        import torch

        try:
            saved = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise BenchError(f"not a {self.method_name} checkpoint: {exc}") from None
        if not isinstance(saved, dict) or saved.get("method") != self.method_name:
            found = saved.get("method") if isinstance(saved, dict) else None
            raise BenchError(f"checkpoint was written by {found or 'something else'}, not {self.method_name}")
        for name, value in saved["config"].items():
            if name != "device":  # where it runs now is the caller's choice
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
