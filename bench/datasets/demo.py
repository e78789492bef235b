"""The offline demo dataset: generated deterministically into the cache on first use."""

from __future__ import annotations

from pathlib import Path

from bench.assets import cache_dir
from bench.datasets.base import Dataset, register_dataset
from bench.datasets.demo_generator import GENERATOR_VERSION, DemoSpec, generate_demo

TARGETS = ("mos_quality", "mos_align", "mos")


def demo_dir(spec: DemoSpec = DemoSpec()) -> Path:
    return cache_dir() / "demo" / f"v{GENERATOR_VERSION}-seed{spec.seed}"


def demo_location(spec: DemoSpec = DemoSpec()) -> tuple[Path, bool]:
    """(the demo's images folder, whether it is generated): the generator renames a
    finished dataset into place, spec.json included, so its presence means complete."""
    out = demo_dir(spec)
    return out / "images", (out / "spec.json").is_file()


@register_dataset("demo", "synthetic AGIQA-like images, generated offline (bench/datasets/demo_generator.py)",
                  needs_root=False, generated=demo_location)
def load_demo(root: Path | None = None) -> Dataset:
    spec = DemoSpec()
    out = Path(root) if root else demo_dir(spec)
    labels = generate_demo(out, spec)
    # The generator's ground truth (generator, drawn_*, quality_true...) stays in labels.csv
    # for diagnostics: no method may read it.
    frame = labels[["image", "prompt", "group", *TARGETS]].assign(
        path=[str(out / "images" / name) for name in labels["image"]])
    return Dataset("demo", frame, TARGETS, out, labels=out / "labels.csv")
