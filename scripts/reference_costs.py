"""Measure the reference cost per image that methods declare (``Method.reference_cost``), from
which the first run's plan estimates every row before anything has run.

    python scripts/reference_costs.py [--methods niqe,ceiq,dsiqa,sisblim,gmlf,higrade] [--prompts 4]

Runs the methods through the ordinary runner on a fresh 512×512 demo-style dataset
(``--prompts`` × 6 images, one split, cold feature cache; scripts/feature_speed.py) and
prints each row's ``cost`` from its run.json as the literal to paste into
methods/_reference_costs.py, with this machine's description and today's date.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import date
from pathlib import Path

from feature_speed import run_at_512

from bench.results.cost import cpu_model
from bench.results.manifest import RunManifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="niqe,ceiq,dsiqa,sisblim,gmlf,higrade")
    parser.add_argument("--prompts", type=int, default=4)
    args = parser.parse_args()
    machine = f"{os.cpu_count()}-core CPU ({cpu_model()}), {date.today().isoformat()}"
    with tempfile.TemporaryDirectory() as tmp:
        outcomes, results, frame = run_at_512(args.methods, args.prompts, Path(tmp))
        for outcome in outcomes:
            manifest = RunManifest.read(results / "demo512" / outcome.method)
            cost = (manifest.cost if manifest else None) or {}
            if cost.get("measured_on") != "features":
                print(f"# {outcome.method}: no feature timing ({outcome.status} {outcome.message})")
                continue
            entry = {"seconds_per_image": cost["seconds_per_image"], "machine": machine, "image_size": 512,
                     "images": len(frame)}
            print(f"    {outcome.method!r}: {entry!r},")


if __name__ == "__main__":
    main()
