"""The run manifest (``run.json``): what produced a method's split files.

``RunManifest`` is the one reader and writer of ``run.json``; every default lives here once.
It records the method config (and where each value came from), the splits file's hash,
seed, device, package versions, the git commit, per-stage timings and images/s, and per
split the sha256 and row count of its prediction file (and checkpoint), so every figure
in a table can be traced and checked. The format is specified in docs/results-format.md.

``schema`` is the format's version. A manifest of any other schema was not written by this
version of ipiqa-bench: it is refused, and ``--force`` recomputes its results (CHANGELOG.md
says when the format changed).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from bench import __version__
from bench.devices import resolve_device
from bench.errors import BenchError
from bench.files import atomic_write_text, sha256
from bench.results.cost import machine, peak_memory, row_cost
from bench.results.store import MANIFEST, count_rows, move_aside

log = logging.getLogger("ipiqa_bench")

SCHEMA = 2
PACKAGES = ("numpy", "scipy", "pandas", "scikit-learn", "scikit-image", "torch", "torchvision",
            "open_clip_torch", "pyiqa", "pillow", "threadpoolctl")
# Keys that define which predictions a manifest describes; a mismatch means the files on
# disk came from something else and must not be mixed with new ones.
IDENTITY = ("method", "dataset", "targets", "config", "splits_hash", "dataset_size")
# Where it ran, and whether each epoch's test metrics were recorded beside the choice
# (bench.train.epoch_metrics), do not change what was computed.
NOT_IDENTITY_CONFIG = ("device", "record_epoch_metrics")


@dataclass
class SplitRecord:
    """One finished split: timings, and what its files must hash to."""

    fit_s: float | None = None
    predict_s: float | None = None
    n_test: int | None = None  # test images
    predict_images_per_s: float | None = None
    finished: str | None = None
    report: dict | None = None  # the method's own notes (epochs, selection scores...)
    sha256: str | None = None  # of split_<k>.csv
    rows: int | None = None  # data rows of split_<k>.csv
    checkpoint_sha256: str | None = None  # of checkpoints/split_<k>.pt, if the method makes one
    peak: dict | None = None  # peak memory of the process that ran the split (bench.results.cost.peak_memory)
    extra: dict = field(default_factory=dict)  # keys this version does not know, kept as read


@dataclass
class RunManifest:
    method: str = ""
    display: str | None = None
    family: str = ""
    dataset: str = ""
    dataset_root: str | None = None
    dataset_labels: str | None = None
    dataset_size: int | None = None
    dropped_rows: list = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    sign: int = 1  # +1: higher predictions mean better quality; -1: lower do
    higher_is_better: bool = True
    uses_prompt: bool = False
    config: dict = field(default_factory=dict)
    config_sources: dict[str, str] = field(default_factory=dict)  # key -> default | preset:<name> | override | unknown
    preset: str | None = None
    plcc_mapping: str = "logistic"
    splits_file: str | None = None
    splits_hash: str | None = None
    seed: int | None = None
    test_size: float = 0.2
    n_splits: int = 0
    splits: dict[int, SplitRecord] = field(default_factory=dict)
    executor: str | None = None
    features: dict | None = None
    # "<feature key>/<feature version>" the predictions come from (feature methods): a changed
    # extractor makes results on disk another method's, never silently "up to date".
    feature_version: str | None = None
    # {asset name: {"file", "source": "cache" | "shipped", "sha256"}}: the pretrained files the
    # run read, and whether it was the official file or the copy shipped with the package.
    assets: dict | None = None
    device: str | None = None
    # What a row cost (bench.results.cost.row_cost): seconds_per_image, train_s_per_split,
    # train_s_per_epoch, peak_rss_mb, peak_gpu_mb, device, threads, image_size.
    cost: dict | None = None
    # What decides a bitwise rerun besides code and versions: CPU, ISA flags, BLAS, threads.
    machine: dict | None = None
    versions: dict = field(default_factory=dict)
    git_commit: str | None = None
    created: str | None = None
    updated: str | None = None
    schema: int = SCHEMA
    extra: dict = field(default_factory=dict)  # keys this version does not know, kept as read

    # --- reading and writing -------------------------------------------------------------

    @classmethod
    def read(cls, directory: Path) -> RunManifest | None:
        """The manifest in ``directory``, or None."""
        path = Path(directory) / MANIFEST
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BenchError(f"{path} is not valid JSON ({exc}); delete it, or rerun with --force") from None
        if not isinstance(data, dict):
            raise BenchError(f"{path} is not a run manifest (a JSON object); delete it, or rerun with --force")
        return cls.from_dict(data, source=path)

    def write(self, directory: Path) -> None:
        atomic_write_text(Path(directory) / MANIFEST, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_dict(cls, data: dict, source: Path | str = "run.json") -> RunManifest:
        check_schema(data, source)
        data = copy.deepcopy(data)
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        try:
            values["splits"] = {int(k): _split_record(v) for k, v in (data.get("splits") or {}).items()}
            manifest = cls(**values, extra={k: v for k, v in data.items() if k not in known})
        except (TypeError, ValueError, AttributeError) as exc:
            raise BenchError(f"{source} is not a valid run manifest ({exc}); delete it, or rerun with --force") from None
        manifest.config = manifest.config or {}
        return manifest

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("extra", "splits")}
        out["splits"] = {str(k): _record_dict(r) for k, r in sorted(self.splits.items())}
        for key in ("executor", "features", "assets", "cost", "machine"):  # absent, not null, when there is none
            if out[key] is None:
                del out[key]
        return copy.deepcopy({**self.extra, **out})

    # --- meaning -------------------------------------------------------------------------

    @property
    def label(self) -> str:
        """The table's row name, marking runs that are not the standard protocol."""
        label = self.display or self.method or "?"
        if self.config.get("selection") == "best-on-test":
            label += " [best epoch on test set]"
        if self.config.get("recipe") == "paper":
            label += " [paper recipe]"
        if self.config.get("pretrained") is False:
            label += " [random init]"
        if self.config.get("max_steps"):
            label += f" [max {self.config['max_steps']} steps]"
        return label

    def identity(self, config_keys: set | None = None) -> dict:
        ident = {k: getattr(self, k) for k in IDENTITY}
        ident["config"] = {k: v for k, v in (self.config or {}).items()
                           if k not in NOT_IDENTITY_CONFIG and (config_keys is None or k in config_keys)}
        return ident

    def changed_identity(self, existing: RunManifest) -> list[str]:
        """What differs between this run (``self``) and the results on disk. Config keys an
        older manifest did not record count only where this run sets them away from the
        method's defaults: a new option at its default computes what the old code did."""
        keys = None
        if self.config_sources:
            keys = set(existing.config) | {k for k, s in self.config_sources.items() if s != "default"}
        mine, theirs = self.identity(keys), existing.identity(keys)
        changed = [k for k in IDENTITY if mine[k] != theirs[k]]
        if self.feature_version != existing.feature_version:
            changed.append("feature_version")
        return sorted(changed)


def check_schema(data: dict, source: Path | str = "run.json") -> None:
    """Refuse a manifest this version did not write, in one line that says what to do."""
    schema = data.get("schema")
    if schema != SCHEMA:
        written = f"manifest schema {schema!r}" if schema is not None else "a manifest without a schema"
        raise BenchError(f"{source} was not written by this version of ipiqa-bench ({written}; this one writes "
                         f"{SCHEMA}); rerun `ipiqa-bench run` with --force to recompute these results")


def _split_record(data: dict) -> SplitRecord:
    known = {f.name for f in dataclasses.fields(SplitRecord)} - {"extra"}
    return SplitRecord(**{k: v for k, v in data.items() if k in known},
                       extra={k: v for k, v in data.items() if k not in known})


def _record_dict(record: SplitRecord) -> dict:
    out = {f.name: getattr(record, f.name) for f in dataclasses.fields(record) if f.name != "extra"}
    for key in ("report", "peak"):
        if not out[key]:
            del out[key]  # absent when there is nothing to say
    return {**record.extra, **out}


# --- the runner's side ---------------------------------------------------------------------


def prepare(out_dir: Path, info, dataset, config: dict, targets: list[str], context: dict, options,
            config_sources: dict[str, str] | None = None, preset: str | None = None,
            feature_version: str | None = None) -> RunManifest:
    """The manifest this run continues. ``--force``, or results without a manifest (whose
    identity cannot be checked), move the folder aside first; results made with another
    identity are refused."""
    new = fresh(info, dataset, config, targets, context, options, config_sources, preset)
    new.feature_version = feature_version
    out_dir = Path(out_dir)
    existing = None if options.force else RunManifest.read(out_dir)
    if existing is None:
        if out_dir.exists() and any(out_dir.iterdir()):
            moved = move_aside(out_dir)
            log.info("%s: earlier results moved to %s", out_dir, moved)
        return new
    changed = new.changed_identity(existing)
    if changed:
        raise BenchError(
            f"{out_dir} holds results made with a different {', '.join(changed)}; "
            "rerun with --force to replace them, or use another --results-dir"
        )
    return resume(existing, new)


def fresh(info, dataset, config: dict, targets: list[str], context: dict, options,
          config_sources: dict[str, str] | None = None, preset: str | None = None) -> RunManifest:
    """The manifest a run of ``info`` on ``dataset`` with ``config`` starts from."""
    return RunManifest(
        method=info.name, display=info.display, family=info.family, dataset=dataset.name,
        dataset_root=str(dataset.root), dataset_labels=str(dataset.labels) if dataset.labels else None,
        dataset_size=len(dataset), dropped_rows=dataset.dropped, targets=list(targets), sign=info.sign,
        higher_is_better=info.higher_is_better, uses_prompt=info.uses_prompt, config=jsonable(config),
        config_sources=dict(config_sources or {}), preset=preset, plcc_mapping=options.plcc_mapping,
        splits_file=context["splits_file"], splits_hash=context["splits_hash"], seed=options.splits.seed,
        test_size=options.splits.test_size, n_splits=options.splits.n_splits,
    )


def resume(existing: RunManifest, new: RunManifest) -> RunManifest:
    """``existing`` carried on by a run that wants ``new`` (same identity)."""
    merged = copy.deepcopy(existing)
    merged.config = new.config  # every key: those an older manifest did not record filled in
    merged.feature_version = new.feature_version or merged.feature_version
    merged.plcc_mapping = new.plcc_mapping
    merged.n_splits = max(existing.n_splits, new.n_splits)
    if new.config_sources:  # provenance of a resolver that knows it beats "unknown"
        merged.config_sources, merged.preset = new.config_sources, new.preset
    return merged


def record_split(manifest: RunManifest, outcome, csv_bytes: bytes, checkpoint: bytes | None) -> None:
    n_test = outcome.predictions["image"].nunique()
    manifest.splits[int(outcome.split)] = SplitRecord(
        fit_s=round(outcome.fit_s, 3), predict_s=round(outcome.predict_s, 3), n_test=int(n_test),
        predict_images_per_s=round(n_test / outcome.predict_s, 2) if outcome.predict_s > 0 else None,
        finished=_now(), report=outcome.report or None, sha256=sha256(csv_bytes), rows=count_rows(csv_bytes),
        checkpoint_sha256=sha256(checkpoint) if checkpoint is not None else None,
        peak=getattr(outcome, "peak", None) or None,
    )


def save(out_dir: Path, manifest: RunManifest) -> None:
    device = manifest.config.get("device")
    manifest.device = resolve_device(device) if device else "cpu"
    manifest.versions = package_versions()
    manifest.cost = row_cost(manifest, peak_memory())
    manifest.machine = machine()
    manifest.git_commit = git_commit()
    manifest.updated = _now()
    manifest.created = manifest.created or manifest.updated
    manifest.write(out_dir)


def save_if_changed(out_dir: Path, manifest: RunManifest) -> None:
    if RunManifest.read(out_dir) != manifest:
        save(out_dir, manifest)


def package_versions() -> dict:
    versions = {"ipiqa-bench": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def jsonable(value):
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
