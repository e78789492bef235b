"""``ipiqa-bench pretrain``: IP-IQA's pretraining stages, attached to the CLI through the
entry-point group ``ipiqa_bench.commands`` (pyproject.toml), as a plugin's commands would be.

``image2prompt`` runs on one process, or on several GPUs under PyTorch's launcher:

    torchrun --nproc_per_node 8 -m bench pretrain image2prompt --pairs DIFFUSIONDB --out i2p.pt
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bench.cli import main

log = logging.getLogger("ipiqa_bench")


@main.group("pretrain")
def pretrain():
    """Pretraining stages of IP-IQA (Image2Prompt; the demo's stand-in CLIP)."""


@pretrain.command("image2prompt")
@click.option("--pairs", required=True, type=click.Path(path_type=Path),
              help="Image-prompt pairs in DiffusionDB's layout (metadata.parquet + images/part-XXXXXX/).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The checkpoint to write (default: <cache>/ipiqa/image2prompt-<clip>.pt, where the "
                   "ipiqa*-i2p* methods look for it).")
@click.option("--threshold", type=float, default=0.35, show_default=True,
              help="Keep pairs whose CLIP image-prompt cosine similarity is at least this.")
@click.option("--filter-only", is_flag=True, help="Stop after writing the kept-pairs list.")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Similarities, kept list and resumable state (default: <out>.work/).")
@click.option("--clip", "clip_config", type=click.Choice(["RN50", "small"]), default="RN50", show_default=True)
@click.option("--clip-weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CLIP checkpoint to start from (default for RN50: OpenAI's RN50.pt via the asset cache).")
@click.option("--random-init", is_flag=True, help="Start from a random CLIP (tests only; recorded in the checkpoint).")
@click.option("--epochs", type=click.IntRange(1), default=1, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True, help="Per process.")
@click.option("--lr", type=float, default=1e-5, show_default=True)
@click.option("--image-size", type=click.IntRange(32), default=None, help="Training resolution (default: the CLIP's own).")
@click.option("--workers", type=click.IntRange(0), default=4, show_default=True, help="Data-loading processes.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda (under torchrun: one GPU per process).")
@click.option("--no-amp", is_flag=True, help="Full precision on CUDA (mixed precision is the default there).")
def image2prompt_command(pairs, out, threshold, filter_only, work_dir, clip_config, clip_weights, random_init,
                         epochs, batch_size, lr, image_size, workers, seed, device, no_amp):
    """Filter pairs by CLIP similarity, then train the image tower onto the frozen prompt embeddings."""
    from bench.devices import resolve_device
    from methods.ipiqa.assets import default_i2p_checkpoint
    from methods.ipiqa.base_clip import load_base_clip
    from methods.ipiqa.distributed import init_distributed, shutdown_distributed
    from methods.ipiqa.image2prompt import I2PConfig, run_image2prompt
    from methods.ipiqa.pairs import read_pairs

    out = out or default_i2p_checkpoint(clip_config)
    pair_frame = read_pairs(pairs)  # a wrong --pairs fails before CLIP is downloaded and loaded
    context, device = init_distributed(resolve_device(device))
    try:
        base = load_base_clip(clip_config, clip_weights, random_init, seed)
        config = I2PConfig(threshold=threshold, epochs=epochs, batch_size=batch_size, lr=lr, image_size=image_size,
                           workers=workers, seed=seed, amp=not no_amp)
        work = work_dir or out.with_name(out.name + ".work")
        record = run_image2prompt(base, pairs, out, work, config, device, context, filter_only, pair_frame)
    finally:
        shutdown_distributed(context)
    if context.is_main:
        click.echo(str(work / "kept.csv") if filter_only else str(out))
        if "training" in record:
            log.info("training: %s", record["training"])


@pretrain.command("demo")
@click.option("--force", is_flag=True, help="Rebuild the cached stages.")
@click.option("--standin", default="demo", show_default=True,
              help="Which stand-in: demo (the demo preset's) or full (the full preset's).")
def demo_command(force, standin):
    """The demo's stand-in stages: a small CLIP trained contrastively on generated pairs, then
    Image2Prompt on further generated pairs (cached; the ipiqa* methods use them on the demo)."""
    import json

    from methods.ipiqa.standin import ensure_standin, stage_records

    paths = ensure_standin(standin, force=force)
    for record in stage_records(standin).values():
        timing = {k: v for k, v in record.items() if k.endswith("_s") or k.endswith("per_s")}
        log.info("%s: retrieval %s, %s", record["stage"], json.dumps(record["retrieval"]), json.dumps(timing))
    click.echo(json.dumps({k: str(v) for k, v in vars(paths).items()}))
