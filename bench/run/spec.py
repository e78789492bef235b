"""``RunSpec``: every option of a benchmark run and its default, documented once. ``bench.api.run``
takes one; the CLI's ``run`` builds one from its options (``RunSpec.from_cli``)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from bench.errors import BenchError

EVALUATIONS = ("splits", "all")


@dataclass
class RunSpec:
    """What to run, on what, and how. Field docstrings are the reference (the CLI's help repeats them)."""

    methods: str | list[str] = "all"
    """A selection as on the CLI (``all``, ``offline``, families, names, ``method:NAME``, ``-X``
    removes what ``X`` selects), or a list of names."""
    dataset: str = "demo"
    """The dataset's name (demo, agiqa1k, agiqa3k, ...)."""
    root: str | Path | None = None
    """The dataset's folder (default: datasets/<name> or $IPIQA_DATA/<name>)."""
    splits: int = 10
    """Number of splits of the shared split protocol."""
    seed: int = 0
    """The splits' seed."""
    test_size: float = 0.2
    """The test fraction of each split, in (0, 1)."""
    results_dir: str | Path = "results"
    """Where results go: <results_dir>/<dataset>/<method>/."""
    device: str = "auto"
    """auto, cpu, cuda or mps."""
    force: bool = False
    """Recompute splits that are already done."""
    drop_invalid: bool = False
    """Drop the rows ``ipiqa-bench check`` reports instead of refusing the dataset."""
    executor: str = "local"
    """What runs the work: local, ray, or an executor a plugin registers."""
    jobs: int | None = None
    """Parallel workers (None: 1 locally; with ray, every CPU of the local Ray)."""
    ray_address: str | None = None
    """An existing Ray cluster (None: $RAY_ADDRESS or a local Ray)."""
    preset: str | None = None
    """A named config preset of the methods that declare it (None: the one named after the dataset)."""
    overrides: dict = field(default_factory=dict)
    """Config values every method that takes them uses (e.g. ``{"epochs": 3}``; any ``TrainConfig``
    field for trainable methods); a None value is not given."""
    random_init: bool = False
    """Build pretrained networks with random weights (smoke tests; rows say [random init])."""
    evaluate: str = "splits"
    """``splits``, or ``all``: training-free methods scored once over every image, no split (kept apart)."""
    train_on: str | None = None
    """Cross-dataset: fit trainable methods on all of this dataset, test on all of ``dataset``."""
    train_root: str | Path | None = None
    """``train_on``'s dataset folder."""
    recipe: str | None = None
    """Trainable methods: ``authors`` (None: each method's declared recipe) or ``paper`` (the IP-IQA
    paper's protocol for every trainable method; rows say [paper recipe])."""
    summary: bool = True
    """Print the SRCC/PLCC of what finished at the end (splits evaluation only)."""

    def __post_init__(self):
        if isinstance(self.methods, (list, tuple)):
            self.methods = ",".join(self.methods)
        if self.evaluate not in EVALUATIONS:
            raise BenchError(f"unknown evaluation {self.evaluate!r}; expected splits or all")
        self.overrides = dict(self.overrides or {})

    def method_config(self) -> dict:
        """The config values the run gives every method: the overrides, and what
        ``random_init`` and ``recipe`` stand for."""
        given = dict(self.overrides)
        if self.random_init:
            given["pretrained"] = False
        if self.recipe is not None:  # trainable methods: authors (their declared defaults) or paper (TrainConfig's)
            given["recipe"] = self.recipe
        return given

    @classmethod
    def from_cli(cls, n_splits: int, **options) -> RunSpec:
        """The spec of ``ipiqa-bench run``'s options: its own names, the rest are ``TrainConfig``
        overrides (None: not given)."""
        own = {f.name for f in fields(cls)}
        train = {k: options.pop(k) for k in list(options) if k not in own}
        return cls(splits=n_splits, overrides=train, **options)

