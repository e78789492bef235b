"""IP-IQA's throughput on an accelerator and what the paper's protocol would cost: one command.

    python scripts/gpu_throughput.py [--root AGIQA-3k folder] [--device cuda] [--steps 10]
                                     [--out results/gpu_throughput]
    python scripts/gpu_throughput.py --dry-run      # the CPU, tiny settings: checks this script in seconds

Runs ``ipiqa-bench speed`` for IP-IQA with the RN50 CLIP (random weights, which cost the same
as OpenAI's) at 512 px, batch 40, in each variant: fp32 (``--no-amp``), mixed precision (bf16
where the GPU supports it, else fp16) and mixed precision with ``--compile``. Each variant
prints the loader alone (from 1024-px JPEG files and from the image cache), the model step
alone and the two together, in images/s, and writes its figures to ``<out>/<variant>.json``.
Then the paper's row is projected from the "together" rate: 10 splits x 100 epochs on
AGIQA-3k's training side (inference, a few seconds a split, not counted).

Without ``--root``, the images are a stand-in: ``(steps + 1) x batch`` generated 1024-px JPEGs
(q95, decoded as slowly as photographs) named as AGIQA-3k's, in ``<out>/standin``. The
variants run one after the other, each in its own process, so run nothing else on the device.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
AGIQA3K_IMAGES = 2982
VARIANTS = {"fp32": ["--no-amp"], "amp": ["--amp"], "amp-compile": ["--amp", "--compile"]}
STAGES = ("loader (files)", "loader (cache)", "model step", "together")


def write_standin(folder: Path, n: int, size: int) -> Path:
    """An AGIQA-3k-shaped folder: data.csv and ``n`` generated JPEGs (kept for a rerun)."""
    sys.path.insert(0, str(REPO / "scripts"))
    from loader_throughput import write_jpegs

    labels = folder / "data.csv"
    if labels.exists() and len(pd.read_csv(labels)) == n:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    # <model>_<variant>_<prompt index>.jpg, as AGIQA-3k names them: the loader groups by prompt
    names = [f"standin_{'abcdefghij'[i // 300]}_{i % 300:03d}.jpg" for i in range(n)]
    write_jpegs(folder, n, size, names)
    frame = pd.DataFrame({"name": names, "prompt": "a stand-in prompt", "adj1": "", "adj2": "", "style": "",
                          "mos_quality": rng.uniform(0, 5, n), "std_quality": 0.5,
                          "mos_align": rng.uniform(0, 5, n), "std_align": 0.5})
    frame.to_csv(labels, index=False)
    return folder


def run_variant(name: str, args, root: Path) -> dict | None:
    out = args.out / f"{name}.json"
    command = [sys.executable, "-m", "bench", "speed", "--method", args.method, "--dataset", "agiqa3k",
               "--root", str(root), "--image-size", str(args.image_size), "--batch-size", str(args.batch_size),
               "--steps", str(args.steps), "--device", args.device, "--random-init", "--json", str(out),
               *VARIANTS[name]]
    if args.num_workers is not None:
        command += ["--num-workers", str(args.num_workers)]
    print(f"\n== {name}: {' '.join(command[1:])}", flush=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    if subprocess.run(command, env=env, check=False).returncode != 0:
        print(f"{name}: failed (above); the other variants go on", flush=True)
        return None
    return json.loads(out.read_text())


def projection_hours(figures: dict, splits: int, epochs: int, train_fraction: float) -> float:
    """Hours of training for ``splits`` x ``epochs`` on AGIQA-3k's training side at the measured
    rate of training steps fed by the loader."""
    samples = splits * epochs * round(AGIQA3K_IMAGES * train_fraction)
    return samples / figures["stages"]["together"]["images_per_s"] / 3600


def _rate(images_per_s: float) -> str:
    return f"{images_per_s:.1f}" if images_per_s >= 10 else f"{images_per_s:.3g}"


def summary(results: dict, args) -> str:
    from tabulate import tabulate

    rows = []
    for name, figures in results.items():
        if figures is None:
            rows.append([name, "failed"] + [""] * (len(STAGES) + 2))
            continue
        rates = [_rate(figures["stages"][s]["images_per_s"]) for s in STAGES]
        hours = projection_hours(figures, args.splits, args.epochs, 1 - args.test_size)
        compute = " + ".join([figures["precision"]] + ["channels_last"] * figures.get("channels_last", False)
                             + ["compiled"] * figures["compiled"])
        rows.append([name, compute, *rates, figures["bottleneck"], f"{hours:,.1f}"])
    headers = ["variant", "compute", *(f"{s} img/s" for s in STAGES), "bottleneck",
               f"hours for {args.splits} splits x {args.epochs} epochs"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="an AGIQA-3k folder (default: a generated stand-in)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--method", default="ipiqa")
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=40)
    parser.add_argument("--steps", type=int, default=10, help="batches timed per stage")
    parser.add_argument("--num-workers", type=int, help="loader processes (default: sized from the machine)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--source-size", type=int, default=1024, help="the stand-in JPEGs' size")
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=Path("results/gpu_throughput"))
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU, 64 px, batch 2, 1 step, 128-px stand-ins, no compile: checks the script")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.device, args.image_size, args.batch_size, args.steps, args.source_size = "cpu", 64, 2, 1, 128
        args.num_workers = 0
        if args.variants == parser.get_default("variants"):
            args.variants = "fp32,amp"  # compiling RN50 on a CPU takes minutes
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    root = args.root or write_standin(args.out / "standin", (args.steps + 1) * args.batch_size, args.source_size)
    results = {name: run_variant(name, args, root) for name in variants}
    table = summary(results, args)
    print(f"\n{args.method}, {args.image_size} px, batch {args.batch_size}, {args.device}; projection: "
          f"{args.splits} splits x {args.epochs} epochs x {round(AGIQA3K_IMAGES * (1 - args.test_size))} "
          f"AGIQA-3k training images at the 'together' rate, inference not counted\n\n{table}")
    (args.out / "summary.md").write_text(table + "\n")
    if any(r is None for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
