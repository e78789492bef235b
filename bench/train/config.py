"""``TrainConfig``: every training option, declared once, with its help text and constraint.

Its defaults are the IP-IQA paper's protocol (Sec. 4.1.2: Adam, batch 40, lr 1e-5 constant,
100 epochs, images at their native 512x512). A method departs from them by declaring
``defaults`` beside its class (``bench.method``); the CLI generates one ``run`` option per
field that has a ``help`` (``bench.cli``), and the run's manifest records where each value
came from (``bench.config``). Adding an option: a field here, and the code that uses it.

This module imports no third-party package, so the CLI can read it at start-up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from bench.errors import BenchError

SELECTIONS = ("final", "val", "best-on-test")
OPTIMIZERS = ("adam", "adamw", "sgd")
# constant: the paper's (lr fixed for all epochs); cosine: annealed to 0 once over the run, per step;
# step: multiplied by a factor at given epochs (per group); cosine-periodic: torch's
# CosineAnnealingLR with T_max in epochs, stepped per epoch and continuing past T_max.
LR_SCHEDULES = ("constant", "cosine", "step", "cosine-periodic")
EPOCH_SCHEDULES = ("step", "cosine-periodic")  # stepped once per epoch, not per batch
# mse+nin: MSE plus the Norm-in-Norm loss (Li et al., ACM MM 2020), as TOPIQ's authors train.
LOSSES = ("mse", "l1", "mse+nin")


def option(default, help: str | None = None, *, choices: tuple | None = None, low=None, high=None,
           low_open: bool = False, high_open: bool = False):
    """A field with its constraint (checked in ``__post_init__``) and, with ``help``, a CLI option."""
    return field(default=default, metadata={"help": help, "choices": choices, "low": low, "high": high,
                                            "low_open": low_open, "high_open": high_open})


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = option("adam", "Optimizer.", choices=OPTIMIZERS)
    lr: float = option(1e-5, "Learning rate.", low=0, low_open=True)
    lr_schedule: str = option("constant", "constant (the paper's); cosine: annealed to 0 once over the run (per "
                                          "step); step: x lr-step-factor at each of lr-milestones (per epoch); "
                                          "cosine-periodic: CosineAnnealingLR with T_max lr-period epochs, stepped "
                                          "per epoch (down over lr-period epochs, back up over the next).",
                              choices=LR_SCHEDULES)
    lr_milestones: str = option("", "step: comma-separated 0-based epochs from which the lr is multiplied by the "
                                    "factor once more (MultiStepLR's milestones), e.g. 10,20,30.")
    lr_step_factor: str = option("0.1", "step: the factor at each milestone; comma-separated, one per parameter "
                                        "group of the method (e.g. 1,0.1: the first group keeps its lr).")
    lr_period: int = option(50, "cosine-periodic: T_max in epochs.", low=1)
    lr_skip_zero: bool = option(False, "cosine-periodic: at an epoch's start, step the schedule once more when "
                                       "the lr is exactly 0 (IPCE's training code), so no epoch trains at lr 0.")
    weight_decay: float = option(0.0, low=0)
    momentum: float = option(0.9, low=0)  # sgd only
    batch_size: int = option(40, "Training batch size.", low=1)
    epochs: int = option(100, "Training epochs (trainable methods).", low=1)
    image_size: int = option(512, "Training/inference image size (images are resized to it, square).", low=16)
    train_crop: int | None = option(None, "Train on random crops of this size (after resizing); inference "
                                          "sees the whole image.", low=16)
    hflip: bool = option(True)
    loss: str = option("mse", "Training loss: mse, l1, or mse+nin (MSE plus Norm-in-Norm, p=1 q=2).",
                       choices=LOSSES)
    selection: str = option("final", "Epoch selection policy (best-on-test selects on the test set and is "
                                     "labelled so).", choices=SELECTIONS)
    record_epoch_metrics: str = option("auto", "Record every epoch's test SRCC/PLCC beside the chosen epoch (never "
                                               "changes the choice): auto when a test pass has at most half an epoch's "
                                               "training pixels (bench/train/epoch_metrics.py).",
                                       choices=("auto", "on", "off"))
    # of the training side's content groups, for selection="val"
    val_fraction: float = option(0.1, low=0, high=1, low_open=True, high_open=True)
    eval_batch_size: int | None = option(None, low=1)  # None: batch_size on the CPU, twice that on an accelerator
    amp: bool = option(True, "Mixed precision on CUDA: bf16 autocast where the GPU supports it, else fp16 with "
                             "gradient scaling (the report records which); the CPU always computes in fp32.")
    num_workers: int | None = option(None, "Loader processes (default: sized from the machine; see "
                                           "bench.train.loop.loader_workers).", low=0)
    seed: int = option(0)
    image_cache: bool = option(True, "Decode and resize each image once into the shared image cache "
                                     "(bench.train.image_cache) and train from it; off: decode every sample every epoch. "
                                     "Methods with their own transform never use it.")
    channels_last: bool | None = option(None, "channels_last memory format for model and input (default: on "
                                              "CUDA only).")
    compile: bool = option(False, "torch.compile the model for training.")
    max_steps: int | None = option(None, "Stop each training (per model and stage) after this many optimisation "
                                         "steps, ending the epoch there: a rehearsal or timing run, not the "
                                         "protocol (rows show it as an override).", low=1)
    micro_batch: int | None = option(None, "Compute each training batch in near-equal chunks of at most this "
                                           "many images, accumulating gradients, so a recipe's batch fits in "
                                           "memory (one optimiser step per batch; BatchNorm and mse+nin see the "
                                           "chunks).",
                                     low=1)

    def __post_init__(self):
        for f in fields(self):
            problem = _violation(f.name, getattr(self, f.name), f.metadata)
            if problem:
                raise BenchError(problem)
        milestones_and_factors(self)  # refuses malformed lists at once, not at the first epoch

    def with_overrides(self, **overrides) -> "TrainConfig":
        """A copy with every override that is not None."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def as_dict(self) -> dict:
        return asdict(self)


def _violation(name: str, value, spec) -> str:
    if value is None:
        return ""
    if spec.get("choices") and value not in spec["choices"]:
        return f"unknown {name} {value!r}; expected one of {', '.join(spec['choices'])}"
    low, high = spec.get("low"), spec.get("high")
    too_low = low is not None and (value <= low if spec.get("low_open") else value < low)
    too_high = high is not None and (value >= high if spec.get("high_open") else value > high)
    if too_low or too_high:
        return f"{name} must be in {_interval(spec)}, got {value}"
    return ""


def _interval(spec) -> str:
    left = "(" if spec.get("low_open") else "["
    right = ")" if spec.get("high_open") else "]"
    low = "-inf" if spec.get("low") is None else spec["low"]
    high = "inf" if spec.get("high") is None else spec["high"]
    return f"{left}{low}, {high}{right}"


def milestones_and_factors(config: "TrainConfig") -> tuple[list[int], list[float]]:
    """``lr_milestones`` and ``lr_step_factor`` as numbers (a clear error for anything else)."""
    try:
        milestones = [int(m) for m in config.lr_milestones.split(",") if m.strip()]
        factors = [float(f) for f in config.lr_step_factor.split(",") if f.strip()]
    except ValueError:
        raise BenchError(f"lr_milestones must be whole epochs and lr_step_factor numbers, comma-separated; got "
                         f"{config.lr_milestones!r} and {config.lr_step_factor!r}") from None
    if any(m < 0 for m in milestones) or milestones != sorted(milestones) or not factors \
            or any(f < 0 for f in factors):
        raise BenchError(f"lr_milestones must be increasing epochs >= 0 and lr_step_factor factors >= 0; got "
                         f"{config.lr_milestones!r} and {config.lr_step_factor!r}")
    return milestones, factors


PAPER = TrainConfig()
TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig))


def cli_options() -> list:
    """The fields the CLI exposes: (name, type, default=None, help, spec)."""
    return [f for f in fields(TrainConfig) if f.metadata.get("help")]
