"""Per-method feature throughput (images/s) on 512×512 images, read from the run manifests.

    python scripts/feature_speed.py [--methods handcrafted,svr] [--prompts 10]

Generates a small demo-style dataset at 512×512 (``--prompts`` × 6 images) in a temporary
folder, runs the methods through the ordinary runner with one split and a cold feature
cache, and prints the ``features.images_per_s`` that each run.json records.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.datasets import Dataset
from bench.datasets.demo_generator import DemoSpec, generate_demo
from bench.registry import resolve_method_names
from bench.results.manifest import RunManifest
from bench.run.executors import LocalExecutor
from bench.run.runner import RunOptions, run_benchmark
from bench.splits import SplitConfig


def run_at_512(methods: str, prompts: int, tmp: Path, overrides: dict | None = None):
    """Run ``methods`` on a fresh 512x512 demo-style dataset in ``tmp`` with one split and a cold
    feature cache (``overrides``: config values, e.g. ``pretrained=False``): (outcomes, results
    folder, the dataset's frame)."""
    root = tmp / "demo512"
    labels = generate_demo(root, DemoSpec(n_prompts=prompts, image_size=512), progress=False)
    frame = labels.assign(path=[str(root / "images" / name) for name in labels["image"]])
    dataset = Dataset("demo512", frame, ("mos_quality", "mos_align", "mos"), root)
    results = tmp / "results"
    options = RunOptions(results_dir=results, splits=SplitConfig(n_splits=1), overrides=overrides or {})
    return run_benchmark(resolve_method_names(methods), dataset, options, LocalExecutor()), results, frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="handcrafted,svr")
    parser.add_argument("--prompts", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        outcomes, results, frame = run_at_512(args.methods, args.prompts, Path(tmp))
        print(f"{'method':<12} {'images':>6} {'images/s':>9}  (512x512, one process)")
        for outcome in outcomes:
            manifest = RunManifest.read(results / "demo512" / outcome.method)
            features = (manifest.features if manifest else None) or {}
            speed = features.get("images_per_s")
            shared = "" if features.get("computed") else " (shares a cache computed by another method)"
            print(f"{outcome.method:<12} {len(frame):>6} {speed if speed else '-':>9}{shared} {outcome.status} {outcome.message}")


if __name__ == "__main__":
    main()
