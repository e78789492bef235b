"""The run manifest (``run.json``): what produced a method's split files.

It records the method config, the splits file's hash, seed, device, package versions,
the git commit, per-stage timings and images/s, so every figure in a table can be traced.
"""

from __future__ import annotations

import copy
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from bench import __version__
from bench.devices import resolve_device
from bench.errors import BenchError
from bench.store import read_manifest, write_manifest

PACKAGES = ("numpy", "scipy", "pandas", "scikit-learn", "scikit-image", "torch", "torchvision",
            "open_clip_torch", "pyiqa", "pillow")
# Keys that define which predictions a manifest describes; a mismatch means the files on
# disk came from something else and must not be mixed with new ones.
IDENTITY = ("method", "dataset", "targets", "config", "splits_hash", "dataset_size")
NOT_IDENTITY_CONFIG = ("device",)  # where it ran does not change what was computed


def _identity(manifest: dict, known_keys=None) -> dict:
    ident = {k: manifest.get(k) for k in IDENTITY}
    ident["config"] = {k: v for k, v in (ident["config"] or {}).items()
                       if k not in NOT_IDENTITY_CONFIG and (known_keys is None or k in known_keys)}
    return ident


def _comparable_keys(existing: dict, sources: dict | None):
    """Config keys an older manifest did not record are compared only if this run sets them
    away from the method's defaults (a new option at its default computes what it did)."""
    old = set((existing.get("config") or {}))
    return None if sources is None else old | {k for k, s in sources.items() if s != "default"}


def prepare(out_dir: Path, info, dataset, config: dict, targets: list[str], context: dict, options,
            sources: dict | None = None) -> dict:
    existing = read_manifest(out_dir)
    fresh = {
        "method": info.name,
        "display": info.display,
        "family": info.family,
        "dataset": dataset.name,
        "dataset_root": str(dataset.root),
        "dataset_labels": str(dataset.labels) if dataset.labels else None,
        "dataset_size": len(dataset),
        "dropped_rows": dataset.dropped,
        "targets": targets,
        "sign": info.sign,
        "higher_is_better": info.higher_is_better,
        "uses_prompt": info.uses_prompt,
        "config": _jsonable(config),
        "plcc_mapping": options.plcc_mapping,
        "splits_file": context["splits_file"],
        "splits_hash": context["splits_hash"],
        "seed": options.splits.seed,
        "test_size": options.splits.test_size,
        "n_splits": options.splits.n_splits,
        "splits": {},
    }
    if existing is None or options.force:
        return fresh
    keys = _comparable_keys(existing, sources)
    if _identity(existing, keys) != _identity(fresh, keys):
        changed = sorted(k for k, v in _identity(fresh, keys).items() if _identity(existing, keys)[k] != v)
        raise BenchError(
            f"{out_dir} holds results made with a different {', '.join(changed)}; "
            "rerun with --force to replace them, or use another --results-dir"
        )
    merged = copy.deepcopy(existing)
    merged["config"] = fresh["config"]  # now with every key, older manifests' missing ones filled in
    merged["plcc_mapping"] = options.plcc_mapping
    merged["n_splits"] = max(existing.get("n_splits", 0), options.splits.n_splits)
    merged.setdefault("splits", {})
    return merged


def record_split(manifest: dict, outcome) -> None:
    n_test = outcome.predictions["image"].nunique()
    manifest["splits"][str(outcome.split)] = {
        "fit_s": round(outcome.fit_s, 3),
        "predict_s": round(outcome.predict_s, 3),
        "n_test": int(n_test),
        "predict_images_per_s": round(n_test / outcome.predict_s, 2) if outcome.predict_s > 0 else None,
        "finished": _now(),
        **({"report": outcome.report} if outcome.report else {}),
    }


def save(out_dir: Path, manifest: dict) -> None:
    device = manifest.get("config", {}).get("device")
    manifest.update({
        "device": resolve_device(device) if device else "cpu",
        "versions": package_versions(),
        "git_commit": git_commit(),
        "updated": _now(),
    })
    manifest.setdefault("created", manifest["updated"])
    write_manifest(out_dir, manifest)


def save_if_changed(out_dir: Path, manifest: dict) -> None:
    if read_manifest(out_dir) != manifest:
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


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
