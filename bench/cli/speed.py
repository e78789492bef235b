"""``ipiqa-bench speed``: images/s of a trainable method's loader, model step and both together."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bench.cli.group import main
from bench.cli.options import dataset_options
from bench.datasets import load_dataset
from bench.files import atomic_write_text
from bench.registry import create_method, get_method_info
from bench.run.runner import RunOptions, method_config
from bench.targets import TARGET_COLUMN_KINDS
from bench.train.speed import measure_speed


@main.command("speed")
@click.option("--method", required=True, help="A trainable method (see `ipiqa-bench list`).")
@dataset_options
@click.option("--image-size", type=click.IntRange(16), default=None, help="Image size (default: the method's).")
@click.option("--batch-size", type=click.IntRange(1), default=None, help="Batch size (default: the method's).")
@click.option("--steps", type=click.IntRange(1), default=10, show_default=True, help="Batches timed per stage.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or mps.")
@click.option("--num-workers", type=click.IntRange(0), default=None,
              help="Loader processes (default: sized from the machine's cores).")
@click.option("--amp/--no-amp", default=None, help="Mixed precision on CUDA (default on).")
@click.option("--compile", "compile_model", is_flag=True, default=None, help="torch.compile the model.")
@click.option("--random-init", is_flag=True, help="Random weights instead of the pretrained ones (no download).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the figures to this JSON file.")
def speed_command(method, dataset, root, image_size, batch_size, steps, device, num_workers, amp, compile_model,
                  random_init, json_out):
    """Time the loader alone (from files and from the image cache), the model step alone
    (synthetic batches on the device) and both together, in images/s; name the bottleneck."""
    info = get_method_info(method)
    data = load_dataset(dataset, root)
    overrides = {"image_size": image_size, "batch_size": batch_size, "num_workers": num_workers, "amp": amp,
                 "compile": compile_model or None, "pretrained": False if random_init else None}
    instance = create_method(method, **method_config(info, RunOptions(device=device, overrides=overrides), data.name))
    targets = [t for t in data.targets if TARGET_COLUMN_KINDS[t] in info.targets]
    n_outputs = len(targets) if getattr(instance, "joint_targets", False) else 1
    report = measure_speed(instance, data.frame, n_outputs, steps, data.name)
    click.echo(report.render(), nl=False)
    if json_out:
        atomic_write_text(json_out, json.dumps(report.as_dict(), indent=2) + "\n")
