"""A full-size rehearsal (issue #31): every offline row and every trainable row on a generated
AGIQA-3k at its native image sizes, timed per row and stage, and each row's full protocol
projected from what was measured.

    PYTHONPATH=. python scripts/rehearsal.py --work /tmp/rehearsal              # the full rehearsal
    PYTHONPATH=. python scripts/rehearsal.py --work /tmp/medium --limit 120 --splits 2
    PYTHONPATH=. python scripts/rehearsal.py --work /tmp/r1024 --size 1024 --rows offline

1. Dataset. Every row of AGIQA-3k's real ``data.csv`` (``--labels``, default
   ``../shared/datasets/agiqa3k/data.csv``; 2,982 rows) gets a generated JPEG (q95) named as
   the real file, in ``<work>/agiqa3k/`` beside a copy of the labels, so ``--dataset agiqa3k
   --root <work>/agiqa3k`` reads it as it reads the real dataset. Pictures: textured, seeded by
   row (``bench.testing.images.textured_image``, plus noise). Size: the generator's native
   size (``NATIVE_SIZES``; the file name's prefix is the generator), or ``--size N`` for all.
   ``--limit N``: N rows spread evenly over the file (every generator, deterministic).
2. Rows, each in its own ``python -m bench run`` process (cold caches: ``IPIQA_BENCH_CACHE``
   is ``<work>/cache``, new unless reused): the offline rows (``offline`` less the torch
   families: handcrafted, SVR, weight-free pyiqa) over ``--splits`` splits; the trainable rows
   (families deep and ipiqa) with ``--random-init`` at their recipe's image size and batch,
   each training stopped after ``--steps`` optimisation steps (``--max-steps``), computed in
   chunks of ``--micro-batch`` images (``--micro-batch``: the recipe's batch, one update,
   less memory), and evaluated on the whole test side. Before them, the decoded-image cache
   is built at each recipe image size, timed as its own stage.
3. Measured, per row: wall and CPU time (user + system, the process and its children, from
   ``os.wait4``), peak resident memory, disk used by its results folder and what it added to
   the cache; per stage, from its ``run.json``: feature extraction, fit and predict per split,
   training steps (step and data wait) and evaluation.
4. Projected, per row: the full protocol (10 splits of the real 2,982 images, the recipe's
   epochs x steps per epoch per model and stage, the test side evaluated after training and,
   where the recipe records every epoch's test metrics, after each epoch) in CPU hours on this
   machine, from the measured rates, and as counts (training steps, images evaluated) that a
   GPU user multiplies by their own step and inference times: no GPU was measured, and no
   CPU-to-GPU factor is assumed. CPU hours: an offline row's CPU time (process and feature
   workers) scaled linearly in images from a ``--limit`` run (the SVR's fit grows faster than
   that: there the projection is a lower bound); a trainable row's wall-clock rates times the
   CPU seconds it used per wall second. ``--reproject`` rebuilds the table of an earlier
   ``--work`` folder from its files, without running anything.

Output: ``<work>/rehearsal.md`` and ``<work>/rehearsal.json``; progress a line per stage on stderr.

Native sizes (``NATIVE_SIZES``). Neither the dataset's repository (github.com/lcysyzxdxc/
AGIQA-3k-Database at 30ded2b: README.md and data.csv only) nor the paper's text that could be
read here (arXiv 2306.04717, abstract and front matter) states the image sizes, so every size is
UNVERIFIED: it is the generator's default output size, from the generator's own documentation
where one was found (listed beside each), an assumption the full images would correct.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from bench.testing.images import textured_image

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO.parent / "shared" / "datasets" / "agiqa3k" / "data.csv"
FULL_IMAGES = 2982  # AGIQA-3k's images (data.csv's rows)
TEST_SIZE = 0.2  # the shared split protocol's test fraction
FULL_SPLITS = 10
TRAINABLE_FAMILIES = ("deep", "ipiqa")

# generator (the file name's prefix) -> (side in px, where that size comes from). All unverified
# for AGIQA-3k itself (see the module docstring).
NATIVE_SIZES = {
    "AttnGAN": (256, "AttnGAN's last stage generates 256x256 (Xu et al., CVPR 2018, arXiv 1711.10485)"),
    "DALLE2": (1024, "the OpenAI image API's default and largest size for DALL-E 2, 1024x1024"),
    "glide": (256, "GLIDE's base model and its upsampler: 64 -> 256x256 (Nichol et al., arXiv 2112.10741)"),
    "midjourney": (1024, "Midjourney V5's 1:1 grid image, 1024x1024 (docs.midjourney.com, May 2023, as copied "
                         "in gist.github.com/IvanCampos/94576c9746be280cf5b64083c8ea5b4d); V4 upscales to 1024"),
    "sd1.5": (512, "Stable Diffusion 1.5's training and default size, 512x512"),
    "xl2.2": (1024, "SDXL's 1024x1024; the 2023 SDXL beta v2.2.2 API may have defaulted to 512 (assumed "
                    "1024: the larger, so costs are not under-estimated)"),
}


def say(message: str) -> None:
    print(f"[rehearsal {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the dataset


def generator_of(name: str) -> str:
    generator = name.split("_", 1)[0]
    if generator not in NATIVE_SIZES:
        raise SystemExit(f"error: {name}: no native size for generator {generator!r} (NATIVE_SIZES)")
    return generator


def subset(labels: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """``limit`` rows spread evenly over the file (so every generator is in), or all."""
    if limit is None or limit >= len(labels):
        return labels
    return labels.iloc[np.unique(np.linspace(0, len(labels) - 1, limit).round().astype(int))]


def image_for(row: int, size: int) -> np.ndarray:
    rng = np.random.default_rng([31, row])
    image = textured_image(rng, size).astype(np.float32)
    image += rng.normal(0, rng.uniform(1, 6), image.shape)  # sensor-like noise, its level varied per image
    return np.clip(image, 0, 255).astype(np.uint8)


def _write_one(job: tuple[int, str, int]) -> None:
    row, path, size = job
    Image.fromarray(image_for(row, size)).save(path, quality=95)


def write_dataset(labels: pd.DataFrame, folder: Path, size: int | None) -> dict:
    """The labels and one JPEG per row; images already there at the right size are kept."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    labels.to_csv(folder / "data.csv", index=False)
    jobs = []
    for row, name in zip(labels.index, labels["name"]):
        side = size or NATIVE_SIZES[generator_of(name)][0]
        path = images / name
        if path.exists():
            with Image.open(path) as kept:
                if kept.size == (side, side):
                    continue
        jobs.append((int(row), str(path), side))
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(_write_one, jobs, chunksize=8))
    sizes = labels["name"].map(lambda n: size or NATIVE_SIZES[generator_of(n)][0])
    return {"images": len(labels), "written": len(jobs), "seconds": round(time.perf_counter() - start, 1),
            "sizes": {str(k): int(v) for k, v in sizes.value_counts().sort_index().items()},
            "mb": round(du(images) / 2**20, 1)}


# --------------------------------------------------------------------------- measuring


def du(path: Path) -> int:
    """Bytes of the files under ``path`` (0 if absent)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def measured(command: list[str], env: dict, log: Path) -> dict:
    """Run ``command``; its wall and CPU time (with its children) and peak resident memory."""
    start = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return {"returncode": process.returncode, "wall_s": round(time.perf_counter() - start, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def bench_env(work: Path) -> dict:
    env = dict(os.environ, IPIQA_BENCH_CACHE=str(work / "cache"), PYTHONPATH=str(REPO))
    return env


def row_config(method: str) -> dict:
    from bench import api

    return dict(api.config(method, dataset="agiqa3k", overrides={"pretrained": False}).values)


# --------------------------------------------------------------------------- one row


def run_row(method: str, trainable: bool, args, data: Path, results: Path) -> dict:
    command = [sys.executable, "-m", "bench", "run", "--methods", f"method:{method}", "--dataset", "agiqa3k",
               "--root", str(data), "--splits", str(args.splits), "--results-dir", str(results), "--device", "cpu",
               "--jobs", str(args.jobs)]
    if trainable:
        command += ["--random-init", "--max-steps", str(args.steps), "--micro-batch", str(args.micro_batch)]
        if args.image_size:
            command += ["--image-size", str(args.image_size)]
    cache_before = du(args.work / "cache")
    process = measured(command, bench_env(args.work), args.work / "logs" / f"{method.replace(':', '_')}.log")
    folder = results / "agiqa3k" / method
    row = {"row": method, "kind": "trainable" if trainable else "offline", **process,
           "results_mb": round(du(folder) / 2**20, 2),
           "cache_added_mb": round((du(args.work / "cache") - cache_before) / 2**20, 2)}
    manifest_path = folder / "run.json"
    if process["returncode"] != 0 or not manifest_path.exists():
        row["error"] = _last_line(args.work / "logs" / f"{method.replace(':', '_')}.log")
        return row
    manifest = json.loads(manifest_path.read_text())
    row.update(stages(manifest))
    row.update(project(manifest, row, trainable, args.images))
    return row


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def _models(report: dict) -> dict:
    """stage reports of every model of a split: {"<group>/<stage>": report}."""
    out = {}
    for group, model in (report.get("models") or {}).items():
        for stage, earlier in (model.get("stages") or {}).items():
            out[f"{group}/{stage}"] = earlier
        out[f"{group}/last"] = model
    return out


def stages(manifest: dict) -> dict:
    """Seconds per stage from run.json: extraction, fit and predict (all splits), training steps."""
    splits = list(manifest["splits"].values())
    features = manifest.get("features") or {}
    out = {"splits": len(splits), "n_train": splits[0].get("n_train"), "n_test": splits[0].get("n_test"),
           "extract_s": features.get("seconds", 0.0), "extracted": features.get("computed", 0),
           "features_cached": bool(manifest.get("feature_version")) and not features.get("computed"),
           "fit_s": round(sum(s.get("fit_s") or 0 for s in splits), 2),
           "predict_s": round(sum(s.get("predict_s") or 0 for s in splits), 2),
           "predicted": sum(s.get("n_test") or 0 for s in splits)}
    trained = [m for s in splits for m in _models(s.get("report") or {}).values()]
    if trained:
        speed = [m.get("speed") or {} for m in trained]
        out.update(steps=sum(s.get("steps", 0) for s in speed),
                   step_s=round(sum(s.get("step_s", 0) for s in speed), 2),
                   data_wait_s=round(sum(s.get("data_wait_s", 0) for s in speed), 2),
                   models=len((splits[0].get("report") or {}).get("models") or {}))
    return out


def project(manifest: dict, row: dict, trainable: bool, images: int) -> dict:
    """The full protocol (FULL_SPLITS splits of FULL_IMAGES images) from this run's rates."""
    scale = FULL_IMAGES / images
    n_test = round(FULL_IMAGES * TEST_SIZE)
    n_train = FULL_IMAGES - n_test
    fit_predict = row["fit_s"] + row["predict_s"]
    if not trainable:  # CPU time (process and feature workers): extraction linear in images, the
        # fits and predictions (one thread) linear in images and splits
        seconds = (max(row["cpu_s"] - fit_predict, 0.0) * scale
                   + fit_predict * scale * FULL_SPLITS / max(row["splits"], 1))
        return {"full_cpu_h": round(seconds / 3600, 3), "full_steps": 0, "full_eval_images": FULL_SPLITS * n_test,
                "note": "features computed by an earlier row" if row.get("features_cached") else ""}
    import methods  # noqa: F401  (registers the adapters)
    from bench.registry import create_method

    config = manifest["config"]
    method = create_method(manifest["method"], **{**config, "max_steps": None})
    work = method.planned_work(n_train, n_test, manifest["targets"])  # what the plan prices, uncapped
    train_config = method.train_config()
    s_per_step = (row["step_s"] + row["data_wait_s"]) / max(row["steps"], 1)
    eval_s_per_image = row["predict_s"] / max(row["predicted"] * row["models"], 1)  # one model's pass
    steps = work.models * work.epochs * max(work.n_train * work.draws // train_config.batch_size, 1)
    # the rest of fit (model build, cache reads, epoch bookkeeping) scaled per split as measured
    other = max(row["fit_s"] - row["step_s"] - row["data_wait_s"], 0.0) / max(row["splits"], 1)
    wall = FULL_SPLITS * (steps * s_per_step + other + work.predicted_images * eval_s_per_image)
    seconds = wall * row["cpu_s"] / row["wall_s"]  # the rates are wall clock: CPU seconds per wall second, as run
    draws, every_epoch = work.draws, work.test_passes > 1
    return {"s_per_step": round(s_per_step, 3), "eval_s_per_image": round(eval_s_per_image, 4),
            "full_steps": FULL_SPLITS * steps, "full_eval_images": FULL_SPLITS * work.predicted_images,
            "full_cpu_h": round(seconds / 3600, 1),
            "note": f"batch {train_config.batch_size} at {train_config.image_size} px"
                    + (f", crops {train_config.train_crop}" if train_config.train_crop else "")
                    + (f", {draws} draws/image" if draws > 1 else "")
                    + (", test metrics every epoch" if every_epoch else "")}


# --------------------------------------------------------------------------- the cache stage


def build_cache(size: int, data: Path, args) -> dict:
    code = ("import sys; from bench.datasets import load_dataset; from bench.train.image_cache import ImageCache; "
            f"ImageCache({size}).rows(load_dataset('agiqa3k', sys.argv[1]).frame['path'].tolist())")
    before = du(args.work / "cache")
    process = measured([sys.executable, "-c", code, str(data)], bench_env(args.work),
                       args.work / "logs" / f"image-cache-{size}.log")
    row = {"row": f"image cache {size} px", "kind": "cache", **process,
           "cache_added_mb": round((du(args.work / "cache") - before) / 2**20, 2), "results_mb": 0.0}
    if process["returncode"] != 0:
        row["error"] = _last_line(args.work / "logs" / f"image-cache-{size}.log")
    elif args.images:
        # built once for every row at this size; the full dataset's build scales with its images
        row["full_cpu_h"] = round(process["cpu_s"] * FULL_IMAGES / args.images / 3600, 3)
    return row


# --------------------------------------------------------------------------- the table


COLUMNS = [("row", "row"), ("kind", "kind"), ("wall_s", "wall s"), ("cpu_s", "CPU s"),
           ("peak_rss_mb", "peak RSS MB"), ("results_mb", "results MB"), ("cache_added_mb", "cache +MB"),
           ("extract_s", "extract s"), ("fit_s", "fit s"), ("predict_s", "predict s"), ("steps", "steps"),
           ("s_per_step", "s/step"), ("eval_s_per_image", "eval s/img"), ("full_steps", "full: steps"),
           ("full_eval_images", "full: images evaluated"), ("full_cpu_h", "full: CPU h"), ("note", "note")]


def markdown(rows: list[dict], head: str) -> str:
    lines = [head, "", "| " + " | ".join(title for _, title in COLUMNS) + " |",
             "|" + "|".join("---" if key in ("row", "kind", "note") else "---:" for key, _ in COLUMNS) + "|"]
    for row in rows:
        cells = [row.get("error", "") if key == "note" and row.get("error") else row.get(key, "") for key, _ in COLUMNS]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


# --------------------------------------------------------------------------- main


def select_rows(selection: str) -> tuple[list[str], list[str]]:
    """(offline rows, trainable rows) of ``selection``: 'offline', 'trainable', 'all' and row names,
    comma-separated."""
    import methods  # noqa: F401  (registers the adapters)
    from bench.assets import needs_download
    from bench.registry import create_method, get_method_info, list_methods, resolve_method_names

    offline = [n for n in resolve_method_names("offline", report=False, needs_download=lambda info: any(
        map(needs_download, create_method(info.name).required_assets())))
        if get_method_info(n).family not in TRAINABLE_FAMILIES]
    trainable = [m.name for m in list_methods() if m.family in TRAINABLE_FAMILIES]
    groups = {"all": offline + trainable, "offline": offline, "trainable": trainable}
    wanted = [name for word in selection.split(",") if word.strip()
              for name in groups.get(word.strip(), [word.strip()])]
    unknown = [n for n in wanted if n not in offline + trainable]
    if unknown:
        raise SystemExit(f"error: not an offline or trainable row: {', '.join(unknown)}")
    return [n for n in offline if n in wanted], [n for n in trainable if n in wanted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="Folder for the dataset, caches, results, tables.")
    parser.add_argument("--labels", type=Path, default=LABELS, help="AGIQA-3k's data.csv (default: %(default)s).")
    parser.add_argument("--limit", type=int, default=None, help="Only N rows, spread evenly (default: all).")
    parser.add_argument("--size", type=int, default=None, help="One square size for every image (default: native).")
    parser.add_argument("--splits", type=int, default=FULL_SPLITS, help="Splits per row (default: %(default)s).")
    parser.add_argument("--steps", type=int, default=2, help="Training steps per model and split (default: 2).")
    parser.add_argument("--micro-batch", type=int, default=4,
                        help="Trainable rows: images per forward/backward chunk of a batch (default: 4).")
    parser.add_argument("--image-size", type=int, default=None,
                        help="Trainable rows at this size instead of their recipe's (a quick check only).")
    parser.add_argument("--jobs", type=int, default=1,
                        help="Each row's run --jobs: its splits and feature chunks on N processes (default: 1).")
    parser.add_argument("--rows", default="all", help="all, offline, trainable, or method names, comma-separated.")
    parser.add_argument("--reproject", action="store_true",
                        help="Rebuild <work>/rehearsal.md from that folder's rehearsal.json and results; run nothing.")
    args = parser.parse_args(argv)
    args.work = args.work.resolve()
    if args.reproject:
        return reproject(args.work)
    (args.work / "logs").mkdir(parents=True, exist_ok=True)
    if not args.labels.is_file():
        raise SystemExit(f"error: no label file {args.labels}; pass --labels AGIQA-3k's data.csv")
    offline, trainable = select_rows(args.rows)
    labels = subset(pd.read_csv(args.labels, keep_default_na=False), args.limit)
    args.images = len(labels)
    data, results = args.work / "agiqa3k", args.work / "results"
    say(f"writing {len(labels)} images into {data}")
    dataset = write_dataset(labels, data, args.size)
    say(f"dataset: {dataset}")
    shutil.rmtree(args.work / "cache", ignore_errors=True)  # cold caches, every run
    shutil.rmtree(results, ignore_errors=True)
    rows, start = [], time.perf_counter()
    for size in sorted({args.image_size or row_config(m)["image_size"] for m in trainable}):
        say(f"image cache at {size} px")
        rows.append(build_cache(size, data, args))
        say(f"  {rows[-1]['wall_s']} s")
    for method in offline + trainable:
        say(f"{method}: {args.splits} split(s)" + (f", {args.steps} step(s) per training" if method in trainable else ""))
        rows.append(run_row(method, method in trainable, args, data, results))
        say(f"  {rows[-1]['wall_s']} s wall, {rows[-1]['cpu_s']} s CPU, {rows[-1]['peak_rss_mb']} MB"
            + (f"; FAILED: {rows[-1]['error']}" if "error" in rows[-1] else ""))
    saved_args = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    write_outputs(args.work, dataset, saved_args, rows, round(time.perf_counter() - start, 1))
    return 1 if any("error" in r for r in rows) else 0


def write_outputs(work: Path, dataset: dict, args: dict, rows: list[dict], wall_s: float) -> None:
    """rehearsal.md and rehearsal.json, with a total row over ``rows``."""
    total = {"row": "total", "kind": "", "wall_s": wall_s,
             **{k: round(sum(r.get(k) or 0 for r in rows), 2) for k in ("cpu_s", "results_mb", "cache_added_mb",
                                                                       "full_cpu_h", "full_steps")},
             "peak_rss_mb": max((r["peak_rss_mb"] for r in rows), default=0)}
    resized = f", trainable rows at {args['image_size']} px (not their recipe)" if args["image_size"] else ""
    head = (f"Rehearsal: {args['images']} images ({'all' if args['limit'] is None else 'limit ' + str(args['limit'])}"
            f"; sizes {dataset['sizes']}), {args['splits']} split(s), {args['steps']} training step(s) per model "
            f"and stage, micro-batch {args['micro_batch']}, --jobs {args.get('jobs', 1)}"
            f"{resized}; "
            f"{os.cpu_count()} CPU(s). 'full': 10 splits of {FULL_IMAGES} images "
            "projected from these rates (CPU hours here; steps and images evaluated for any device).")
    (work / "rehearsal.md").write_text(markdown([*rows, total], head))
    (work / "rehearsal.json").write_text(json.dumps({"dataset": dataset, "args": args, "rows": rows,
                                                     "wall_s": wall_s}, indent=2) + "\n")
    say(f"done in {wall_s} s: {work / 'rehearsal.md'}")


def reproject(work: Path) -> int:
    """The table of an earlier rehearsal, its projections recomputed from the rows' files."""
    saved = json.loads((work / "rehearsal.json").read_text())
    rows = [r for r in saved["rows"] if r["row"] != "total"]  # files written before the total moved out
    for row in rows:
        manifest = work / "results" / "agiqa3k" / row["row"] / "run.json"
        if row["kind"] in ("offline", "trainable") and "error" not in row and manifest.exists():
            manifest = json.loads(manifest.read_text())
            row.update(stages(manifest))
            row.update(project(manifest, row, row["kind"] == "trainable", saved["args"]["images"]))
    wall = saved.get("wall_s") or next((r["wall_s"] for r in saved["rows"] if r["row"] == "total"), 0)
    write_outputs(work, saved["dataset"], saved["args"], rows, wall)
    return 0


if __name__ == "__main__":
    sys.exit(main())
