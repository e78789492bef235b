"""Measure the reference cost per image that methods declare (``Method.reference_cost``), from
which the first run's plan estimates every row before anything has run.

    python scripts/reference_costs.py [--methods niqe,ceiq,dsiqa,sisblim,gmlf,higrade] [--prompts 4]
    python scripts/reference_costs.py --random-init --methods clipscore,hps,pyiqa:piqe
    python scripts/reference_costs.py --trainable [--methods cnniqa,resnet50] [--steps 2]

Feature and training-free rows: runs them through the ordinary runner on a fresh 512×512
demo-style dataset (``--prompts`` × 6 images, one split, cold feature cache;
scripts/feature_speed.py) and prints each row's ``cost`` from its run.json (its features'
seconds per image, else its prediction's). ``--random-init``: with ``pretrained=False`` (a
scorer's cost does not depend on its weights), for the rows whose weights are not here; a row
that cannot be built without its files fails, and its line says so.

``--trainable``: each trainable torch row's network alone, with random weights (no download),
at its recipe's config (``--preset default``) or, where that is too slow for a CPU, at the
smaller size and batch in ``MEASURED_AT`` below: ``steps`` training steps and ``steps``
inference passes on synthetic batches after one warm-up each, in this process
(bench.train.speed.measure_model_cost, ``ipiqa-bench speed``'s machinery). A row that cannot
be built offline is printed with its error, and gets no figure.

Prints the literals to paste into methods/_reference_costs.py, with this machine's
description, its load average and today's date.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date
from pathlib import Path

from feature_speed import run_at_512

from bench.datasets import load_dataset
from bench.registry import create_method, get_method_info, list_methods
from bench.results.cost import cpu_model
from bench.results.manifest import RunManifest
from bench.run.runner import RunOptions, method_config
from bench.train.speed import measure_model_cost
from bench.train.torch_method import TorchMethod

# Departures from a row's recipe config for the measurement on a 2-core CPU: a smaller image
# (or crop) and batch where a few steps at the recipe's would take minutes. The plan scales
# the figures by the square of the side the network sees (TorchMethod.input_pixels).
MEASURED_AT = {
    "clipiqa": {"image_size": 224, "batch_size": 4},
    "cnniqa": {"image_size": 256, "batch_size": 16},
    "cnniqa-kang": {"batch_size": 32, "eval_batch_size": 2},
    "dbcnn": {"image_size": 160, "train_crop": 128, "batch_size": 4},
    "hypernet": {"image_size": 224, "batch_size": 4, "test_crops": 4, "eval_batch_size": 2},
    "ipce": {"batch_size": 2, "eval_batch_size": 2},
    "resnet50": {"image_size": 128, "batch_size": 8},
    "resnet50-imagenet": {"image_size": 128, "batch_size": 8},
    "topiq-nr": {"image_size": 160, "train_crop": 128, "batch_size": 4},
}
IPIQA_AT = {"image_size": 128, "batch_size": 4}


def machine() -> str:
    return f"{os.cpu_count()}-core CPU ({cpu_model()}, shared), {date.today().isoformat()}"


def trainable_rows(methods: str | None) -> list[str]:
    names = methods.split(",") if methods else [
        info.name for info in list_methods() if info.trains and issubclass(info.cls, TorchMethod)]
    return names


def measure_trainable(names: list[str], steps: int) -> None:
    data = load_dataset("demo")
    print(f"# {machine()}; load average before: {os.getloadavg()[0]:.1f}")
    for name in names:
        info = get_method_info(name)
        at = MEASURED_AT.get(name, IPIQA_AT if info.family == "ipiqa" else {})
        overrides = {**at, "pretrained": False, "num_workers": 0}
        start = time.perf_counter()
        try:
            config = method_config(info, RunOptions(device="cpu", preset="default", overrides=overrides), data.name)
            cost = measure_model_cost(create_method(name, **config), data.frame, 1, steps)  # one target: every row takes it
        except Exception as exc:  # noqa: BLE001  (one row's failure is reported, the others measured)
            print(f"# {name}: not measured offline: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            continue
        entry = {"train_s_per_image": round(cost["train_s_per_image"], 4),
                 "predict_s_per_image": round(cost["predict_s_per_image"], 4),
                 "train_pixels": cost["train_pixels"], "predict_pixels": cost["predict_pixels"],
                 "batch_size": cost["batch_size"], "eval_batch_size": cost["eval_batch_size"]}
        departs = ", ".join(f"{k} {v}" for k, v in at.items())
        print(f"    {name!r}: {entry!r},  # {departs or 'recipe config'}; "
              f"{time.perf_counter() - start:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)


def measure_by_running(methods: str, prompts: int, random_init: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        overrides = {"pretrained": False} if random_init else None
        outcomes, results, frame = run_at_512(methods, prompts, Path(tmp), overrides)
        for outcome in outcomes:
            manifest = RunManifest.read(results / "demo512" / outcome.method)
            cost = (manifest.cost if manifest else None) or {}
            if not cost.get("seconds_per_image"):
                print(f"# {outcome.method}: no timing ({outcome.status} {outcome.message})")
                continue
            entry = {"seconds_per_image": cost["seconds_per_image"], "measured_on": cost["measured_on"],
                     "machine": machine(), "image_size": 512, "images": len(frame)}
            print(f"    {outcome.method!r}: {entry!r},")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=None)
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--trainable", action="store_true", help="Time the trainable torch rows' networks.")
    parser.add_argument("--steps", type=int, default=2, help="--trainable: steps timed after one warm-up.")
    parser.add_argument("--random-init", action="store_true",
                        help="Run the rows with pretrained=False (their cost, not their scores; no download).")
    args = parser.parse_args()
    if args.trainable:
        measure_trainable(trainable_rows(args.methods), args.steps)
    else:
        measure_by_running(args.methods or "niqe,ceiq,dsiqa,sisblim,gmlf,higrade", args.prompts, args.random_init)


if __name__ == "__main__":
    main()
