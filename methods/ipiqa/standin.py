"""The demo's stand-in for pretrained CLIP, and its Image2Prompt stage.

No pretrained CLIP can be downloaded here, and a randomly initialised one knows nothing
about prompts, so the demo runs the paper's three stages in miniature on the small
configuration, with the same code paths:

1. ``clip``: the small CLIP trained contrastively (open_clip's ClipLoss) on image-prompt
   pairs from the demo generator (``generate_pairs``: their own seed stream, so never the
   benchmark's images); it stands in for OpenAI's CLIP;
2. ``i2p``: further generated pairs, a share of them with a prompt that gets one attribute
   wrong (as many of DiffusionDB's do), written in DiffusionDB's layout and put through
   ``run_image2prompt`` (the code behind ``pretrain image2prompt``): the similarity filter
   (its record says how many wrong pairs it removed), then the image tower trained onto
   the frozen prompt embeddings;
3. fine-tuning: the ``ipiqa*`` methods on the demo splits (they find stages 1-2 here).

Each stage's checkpoint and a JSON record (timings, and the retrieval accuracy that shows
whether the stand-in learnt colour, object and count from the prompts) are cached under
``<cache>/demo/ipiqa-standin/<spec>/`` and reused.
"""

from __future__ import annotations

import copy
import fcntl
import io
import json
import logging
import time
from contextlib import contextmanager
from dataclasses import asdict
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from bench.bars import progress_bar
from bench.files import atomic_write_bytes, atomic_write_text, file_sha256
from methods.ipiqa.base_clip import BaseClip
from methods.ipiqa.distributed import DistContext
from methods.ipiqa.image2prompt import I2PConfig, image_transform, run_image2prompt
from methods.ipiqa.model import build_clip, clip_contrastive_loss, get_tokenizer
from methods.ipiqa.standin_files import (  # noqa: F401  (the stand-in's names, importable from here)
    DEFAULT_SPEC,
    STANDIN_SPECS,
    STANDIN_VERSION,
    StandinCheckpoints,
    StandinSpec,
    standin_built,
    standin_dirs,
    standin_paths,
    standin_spec,
)

log = logging.getLogger("ipiqa_bench")
ATTRIBUTES = ("colour", "object", "count")


def ensure_standin(spec: StandinSpec | str | None = None, force: bool = False,
                   image2prompt: bool = True) -> StandinCheckpoints:
    """Stages 1 and 2, built once (under a file lock, so concurrent runs wait) and cached;
    ``spec`` a StandinSpec or its name (``standin_spec``). ``image2prompt=False``: stage 1
    alone, for a method that reads only the contrastive CLIP (CLIPScore)."""
    spec = standin_spec(spec)
    folders = standin_dirs(spec)
    folders["i2p"].mkdir(parents=True, exist_ok=True)
    paths = standin_paths(spec)
    with _locked(folders["clip"] / ".lock"):
        if force or not paths.clip.exists():
            _record(folders["clip"] / "clip.json", train_standin_clip(spec, paths.clip))
        if image2prompt and (force or not paths.i2p.exists()):
            _record(folders["i2p"] / "i2p.json", run_standin_i2p(spec, paths.clip, paths.i2p, folders["i2p"]))
    return paths


def stage_records(spec: StandinSpec | str | None = None) -> dict:
    folders = standin_dirs(spec)
    return {name: json.loads((folder / f"{name}.json").read_text())
            for name, folder in folders.items() if (folder / f"{name}.json").exists()}


@contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _record(path: Path, record: dict) -> None:
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")


# --------------------------------------------------------------------------- pairs


def pair_tensors(n: int, seed: int, spec: StandinSpec) -> tuple[torch.Tensor, list[str]]:
    """``n`` generated pairs as CLIP-normalised tensors at the stand-in's resolution."""
    from bench.datasets.demo_generator import generate_pairs

    transform = image_transform(spec.image_size, train=False)
    images, prompts = [], []
    for image, prompt in progress_bar(generate_pairs(n, seed, spec.render_size), total=n, desc="generated pairs",
                              unit="pair", leave=False):
        images.append(transform(Image.fromarray(image)))
        prompts.append(prompt)
    return torch.stack(images), prompts


def _prompt_parts() -> dict[str, dict]:
    """Every prompt of the demo grammar, mapped to its parts."""
    from bench.datasets.demo_generator import BACKGROUNDS, COLOURS, COUNTS, OBJECTS, STYLES, prompt_text

    axes = {"object": OBJECTS, "colour": tuple(COLOURS), "count": COUNTS,
            "background": tuple(BACKGROUNDS), "style": STYLES}
    table = {}
    for values in product(*axes.values()):
        parts = dict(zip(axes, values, strict=True))
        table[prompt_text(parts)] = parts
    return table


def corrupted_pairs(pairs, share: float, seed: int):
    """(image, prompt, {"wrong_attribute": ...}) items: with probability ``share`` one of the
    prompt's colour, object or count is replaced by another value, else None."""
    from bench.datasets.demo_generator import prompt_text

    rng = np.random.default_rng(seed)
    parts_of, values = _prompt_parts(), _attribute_values()
    for image, prompt in pairs:
        wrong = None
        if rng.random() < share:
            parts = parts_of[prompt]
            wrong = ATTRIBUTES[rng.integers(len(ATTRIBUTES))]
            others = [v for v in values[wrong] if v != parts[wrong]]
            prompt = prompt_text({**parts, wrong: others[rng.integers(len(others))]})
        yield image, prompt, {"wrong_attribute": wrong}


def _attribute_values() -> dict:
    from bench.datasets.demo_generator import COLOURS, COUNTS, OBJECTS

    return {"colour": tuple(COLOURS), "object": OBJECTS, "count": COUNTS}


@torch.no_grad()
def retrieval_accuracy(clip, images: torch.Tensor, prompts: list[str], batch_size: int = 100) -> dict:
    """How well image and prompt embeddings match, on held-out pairs:

    * per attribute (colour, object, count): the share of images whose own prompt scores
      higher than every prompt that differs from it in that attribute only;
    * ``top1``: the share of images whose own prompt scores highest among all held-out prompts.
    """
    from bench.datasets.demo_generator import prompt_text

    clip.eval()
    tokenizer = get_tokenizer(clip)
    image_emb = torch.cat([clip.encode_image(images[i:i + batch_size], normalize=True)
                           for i in range(0, len(images), batch_size)])
    text_emb = clip.encode_text(tokenizer(prompts), normalize=True)
    top1 = (image_emb @ text_emb.T).argmax(1).eq(torch.arange(len(prompts))).float().mean().item()
    parts_of, values = _prompt_parts(), _attribute_values()
    wins = {a: [] for a in ATTRIBUTES}
    for i, prompt in enumerate(prompts):
        parts = parts_of[prompt]
        for attribute in ATTRIBUTES:
            variants = [prompt_text({**parts, attribute: v}) for v in values[attribute] if v != parts[attribute]]
            scores = clip.encode_text(tokenizer([prompt, *variants]), normalize=True) @ image_emb[i]
            wins[attribute].append(bool(scores[0] > scores[1:].max()))
    return {"top1": round(top1, 4), "n": len(prompts), **{a: round(float(np.mean(w)), 4) for a, w in wins.items()}}


# --------------------------------------------------------------------------- stage 1


def train_standin_clip(spec: StandinSpec, out: Path) -> dict:
    """Stage 1: the small CLIP trained contrastively on generated pairs; writes ``out``."""
    start = time.perf_counter()
    images, prompts = pair_tensors(spec.clip_pairs, spec.seed, spec)
    generated = time.perf_counter()
    torch.manual_seed(spec.seed)
    clip = build_clip("small", image_size=spec.image_size)
    tokens = get_tokenizer(clip)(prompts)
    optimizer = torch.optim.AdamW(clip.parameters(), lr=spec.clip_lr, weight_decay=0.1)
    steps_per_epoch = len(images) // spec.clip_batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=spec.clip_lr, pct_start=0.1,
                                                   total_steps=spec.clip_epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(spec.seed)
    losses = []
    clip.train()
    for epoch in progress_bar(range(spec.clip_epochs), desc="stand-in CLIP (contrastive)", unit="epoch", leave=False):
        order = torch.randperm(len(images), generator=generator)
        total = 0.0
        for b in range(steps_per_epoch):
            batch = order[b * spec.clip_batch_size:(b + 1) * spec.clip_batch_size]
            x = images[batch]
            flip = torch.rand(len(batch), generator=generator) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            image_emb, text_emb, scale = clip(x, tokens[batch])
            loss = clip_contrastive_loss(image_emb, text_emb, scale)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        losses.append(round(total / steps_per_epoch, 4))
        log.info("stand-in CLIP epoch %d/%d: contrastive loss %.4f", epoch + 1, spec.clip_epochs, losses[-1])
    trained = time.perf_counter()
    buffer = io.BytesIO()
    torch.save(clip.state_dict(), buffer)
    atomic_write_bytes(out, buffer.getvalue())
    held_out = pair_tensors(spec.eval_pairs, spec.seed + 2, spec)
    accuracy = retrieval_accuracy(clip, *held_out)
    log.info("stand-in CLIP held-out retrieval: %s", accuracy)
    settings = {k: v for k, v in asdict(spec).items() if not k.startswith(("i2p_", "threshold"))}
    return {"stage": "stand-in CLIP (contrastive)", "settings": settings, "losses": losses,
            "retrieval": accuracy, "generate_s": round(generated - start, 2),
            "train_s": round(trained - generated, 2), "seconds": round(time.perf_counter() - start, 2),
            "train_images_per_s": round(spec.clip_epochs * steps_per_epoch * spec.clip_batch_size
                                        / (trained - generated), 1)}


# --------------------------------------------------------------------------- stage 2


def run_standin_i2p(spec: StandinSpec, clip_path: Path, out: Path, folder: Path) -> dict:
    """Stage 2: Image2Prompt on generated pairs in DiffusionDB's layout, through the same
    pipeline as ``pretrain image2prompt``; writes ``out``."""
    from bench.datasets.demo_generator import generate_pairs
    from methods.ipiqa.image2prompt import load_checkpoint
    from methods.ipiqa.pairs import write_pairs

    start = time.perf_counter()
    pairs_root = folder / "i2p-pairs"
    if not (pairs_root / "metadata.parquet").exists():
        pairs = corrupted_pairs(generate_pairs(spec.i2p_pairs, spec.seed + 1, spec.render_size),
                                spec.i2p_corrupt, spec.seed + 1)
        write_pairs(pairs_root, progress_bar(pairs, total=spec.i2p_pairs, desc="Image2Prompt pairs", unit="pair", leave=False))
    written = time.perf_counter()
    base = BaseClip(build_clip("small", str(clip_path)), "small",
                    {"weights": str(clip_path), "sha256": file_sha256(clip_path)})
    config = I2PConfig(threshold=spec.threshold, epochs=spec.i2p_epochs, batch_size=spec.i2p_batch_size,
                       lr=spec.i2p_lr, image_size=spec.image_size, workers=0, seed=spec.seed, amp=False)
    record = run_image2prompt(base, pairs_root, out, folder / "i2p.pt.work", config, "cpu", DistContext())
    trained = time.perf_counter()
    clip = copy.deepcopy(base.model)
    clip.visual.load_state_dict(load_checkpoint(out, "small")["visual"])
    held_out = pair_tensors(spec.eval_pairs, spec.seed + 2, spec)
    accuracy = retrieval_accuracy(clip, *held_out)
    log.info("stand-in Image2Prompt held-out retrieval: %s", accuracy)
    meta = pd.read_parquet(pairs_root / "metadata.parquet", columns=["image_name", "wrong_attribute"])
    kept = set(pd.read_csv(folder / "i2p.pt.work" / "kept.csv")["image_name"])
    wrong = meta["wrong_attribute"].notna()
    is_kept = meta["image_name"].isin(kept)
    record["filter"]["wrong_prompts"] = {"total": int(wrong.sum()), "removed": int((wrong & ~is_kept).sum()),
                                         "kept": int((wrong & is_kept).sum()),
                                         "right_prompts_removed": int((~wrong & ~is_kept).sum())}
    return {"stage": "Image2Prompt on generated pairs", "settings": asdict(spec), "filter": record["filter"],
            "training": record["training"], "retrieval": accuracy, "write_pairs_s": round(written - start, 2),
            "pipeline_s": round(trained - written, 2), "seconds": round(time.perf_counter() - start, 2)}

