"""A cross-dataset matrix on two generated datasets, offline.

The first is the demo; the second, ``demo-shifted``, is drawn by the same generator from
another seed with only its clean and optical generators (no noise, no JPEG): a shift in the
defects, as between two real datasets. Each method is run on 3 splits of both (the diagonal),
then fitted on all of one and tested on all of the other, both ways; ``table --cross`` prints
the matrix.

    python scripts/cross_demo.py [--methods svr,cnniqa] [--results-dir results-cross]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.assets import cache_dir
from bench.datasets.base import Dataset, register_dataset
from bench.datasets.demo import TARGETS
from bench.datasets.demo_generator import GENERATOR_VERSION, DemoSpec, generate_demo

SHIFTED = DemoSpec(n_prompts=60, generators=("gen_a", "gen_b", "gen_c", "gen_d"), seed=1)


@register_dataset("demo-shifted", "the demo generator, seed 1, clean and optical generators only",
                  needs_root=False)
def load_demo_shifted(root: Path | None = None) -> Dataset:
    out = Path(root) if root else cache_dir() / "demo" / f"v{GENERATOR_VERSION}-shifted-seed{SHIFTED.seed}"
    labels = generate_demo(out, SHIFTED)
    frame = labels[["image", "prompt", "group", *TARGETS]].assign(
        path=[str(out / "images" / name) for name in labels["image"]])
    return Dataset("demo-shifted", frame, TARGETS, out, labels=out / "labels.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="svr,cnniqa")
    parser.add_argument("--results-dir", default="results-cross")
    args = parser.parse_args()
    from bench.cli import main as cli

    common = ["--methods", args.methods, "--results-dir", args.results_dir, "--preset", "demo"]
    steps = [["run", "--dataset", "demo", "--splits", "3", *common],
             ["run", "--dataset", "demo-shifted", "--splits", "3", *common],
             ["run", "--dataset", "demo-shifted", "--train-on", "demo", *common],
             ["run", "--dataset", "demo", "--train-on", "demo-shifted", *common],
             ["table", "--cross", "--results-dir", args.results_dir]]
    for step in steps:
        try:
            cli.main(step, standalone_mode=False)
        except SystemExit as done:  # `run` exits with its status; go on unless it failed
            if done.code not in (0, None):
                raise


if __name__ == "__main__":
    main()
