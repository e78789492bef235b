"""``TrainResult``: what ``bench.train.loop.train_model`` reports about one training."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class TrainResult:
    """One training's report; ``as_dict`` is what the run's manifest records (bench.train.torch_method)."""

    epoch_loss: list[float] = field(default_factory=list)
    """The mean training loss of each epoch."""
    amp: bool = False
    """Whether mixed precision was used."""
    precision: str = "float32"
    """The precision the step ran in (float32, float16, bfloat16)."""
    channels_last: bool = False
    """Whether the images were in channels-last memory layout."""
    compile: bool = False
    """Whether the model was compiled (torch.compile)."""
    loader_workers: int = 0
    """The training loader's processes."""
    resumed_at_epoch: int | None = None
    """The epoch a saved epoch state was continued from (None: started afresh)."""
    stopped_at_step: int | None = None
    """The step ``max_steps`` stopped training at (None: it ran every batch of every epoch)."""
    lr_end: list[float] = field(default_factory=list)
    """The learning rate each parameter group ended at."""
    train_s: float = 0.0
    """Seconds the whole training took."""
    train_images_per_s: float | None = None
    """Training images per second, overall."""
    speed: dict = field(default_factory=dict)
    """Where the time went: images, steps (optimisation steps), data_wait_s, step_s, select_s, step_images_per_s, data_wait_share."""
    selection_scores: list[float] | None = None
    """With a selection: each epoch's score (higher is better); None without one."""
    selected_epoch: int = 0
    """The epoch whose weights were kept (1-based; the last without a selection)."""
    epoch_test: list[dict] | None = None
    """With an ``observe`` hook: what it recorded after each epoch (the test side's metrics,
    bench.train.epoch_metrics); None without one. It chooses nothing."""

    def as_dict(self) -> dict:
        """The report as plain values, without the fields that do not apply (None)."""
        return {k: v for k, v in asdict(self).items()
                if v is not None or k not in ("resumed_at_epoch", "stopped_at_step", "selection_scores", "epoch_test")}
