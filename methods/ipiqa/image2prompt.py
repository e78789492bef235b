"""Image2Prompt incremental pretraining (paper Sec. 3.3 and 4.1.2), as a resumable pipeline.

1. filter: CLIP cosine similarity of every image-prompt pair, appended batch by batch to
   per-process files in the work folder (a killed run resumes where it stopped); the pairs
   at or above the threshold are written to ``kept.csv`` (the paper: 560K of DiffusionDB's
   2M at 0.35);
2. train: the image tower learns to map each kept image onto its prompt's embedding from
   the frozen text tower, loss 1 - cosine; one resumable state per epoch;
3. write the checkpoint that the ``ipiqa*-i2p*`` methods load (``load_checkpoint``).

Runs on one process, or on several under ``torchrun`` (DistributedDataParallel). The paper
gives no optimiser settings for this stage; the defaults here (AdamW, lr 1e-5 constant,
no weight decay, like the fine-tuning) are ours and recorded in the checkpoint.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import open_clip
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from bench.assets.safe_load import CheckpointError, load_torch
from bench.bars import progress_bar
from bench.errors import BenchError
from bench.files import atomic_write_bytes, atomic_write_text
from bench.images import ImageReadError, load_pil
from bench.train.loop import autocast
from methods.ipiqa.base_clip import BaseClip
from methods.ipiqa.distributed import DistContext
from methods.ipiqa.model import (
    Image2PromptModel,
    get_tokenizer,
    i2p_state_dict,
    image2prompt_loss,
    resize_pool_pos_embed,
)

log = logging.getLogger("ipiqa_bench")
CHECKPOINT_FORMAT = "ipiqa-image2prompt"
CHECKPOINT_VERSION = 1
KEPT_FILE = "kept.csv"
FILTER_RECORD = "filter.json"
SCORES_RECORD = "scores.json"
TRAIN_STATE = "train-state.pt"


@dataclass
class I2PConfig:
    threshold: float = 0.35
    epochs: int = 1
    batch_size: int = 64  # per process
    lr: float = 1e-5
    weight_decay: float = 0.0
    image_size: int | None = None  # None: the CLIP's own resolution
    filter_batch_size: int = 256
    workers: int = 4
    seed: int = 0
    amp: bool = True  # mixed precision, CUDA only


# --------------------------------------------------------------------------- data


class PairImages(Dataset):
    """(image tensor, prompt tokens, ok) for each pair; an unreadable image gives ok=False."""

    def __init__(self, paths: list[str], prompts: list[str], tokenizer, transform, image_size: int):
        self.paths, self.prompts = paths, prompts
        self.tokenizer, self.transform, self.image_size = tokenizer, transform, image_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        tokens = self.tokenizer([self.prompts[i]])[0]
        try:
            return self.transform(load_pil(self.paths[i])), tokens, True
        except ImageReadError as exc:
            log.warning("%s", exc)
            return torch.zeros(3, self.image_size, self.image_size), tokens, False


def image_transform(image_size: int, train: bool):
    """CLIP's evaluation transform (bicubic resize, centre crop, CLIP normalisation);
    training adds a random horizontal flip."""
    from torchvision import transforms

    base = open_clip.image_transform(image_size, is_train=False)
    return transforms.Compose([transforms.RandomHorizontalFlip(), base]) if train else base


def _loader(dataset, batch_size, workers, sampler=None, shuffle=False, drop_last=False, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, shuffle=shuffle and sampler is None,
                      num_workers=workers, drop_last=drop_last, generator=generator,
                      persistent_workers=False, pin_memory=torch.cuda.is_available())


# --------------------------------------------------------------------------- filter


def _read_scores(work: Path) -> dict[str, float]:
    """Similarities already computed, from every process's file; a line cut off by a kill
    (no final newline) is ignored and recomputed."""
    scores = {}
    for path in sorted(work.glob("similarity-rank*.csv")):
        lines = path.read_text().split("\n")[:-1]  # the last piece has no newline
        for row in csv.reader(lines):
            if len(row) == 2:
                try:
                    scores[row[0]] = float(row[1])
                except ValueError:
                    continue
    return scores


def _open_for_append(path: Path):
    """Append to a scores file, first cutting a partial last line left by a killed run."""
    if path.exists():
        data = path.read_bytes()
        cut = data.rfind(b"\n") + 1
        if cut != len(data):
            with open(path, "r+b") as f:
                f.truncate(cut)
    return open(path, "a", newline="")


def _check_scores_record(work: Path, record: dict, context: DistContext) -> None:
    path = work / SCORES_RECORD
    if path.exists():
        existing = json.loads(path.read_text())
        if existing != record:
            raise BenchError(f"{work} holds similarities computed with another CLIP or resolution "
                             f"({existing} vs {record}); use another --work-dir or delete it")
    context.barrier()  # every process has checked before the main one writes
    if context.is_main and not path.exists():
        atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")


@torch.no_grad()
def score_pairs(base: BaseClip, pairs: pd.DataFrame, work: Path, config: I2PConfig, device: str,
                context: DistContext) -> dict[str, float]:
    """CLIP cosine similarity of every pair (resumable); returns all similarities."""
    clip = base.model
    size = clip.visual.image_size
    size = size[0] if isinstance(size, tuple) else int(size)
    _check_scores_record(work, {"clip": base.config, **base.identity, "image_size": size}, context)
    done = _read_scores(work)
    todo = pairs[~pairs["image_name"].isin(done.keys())]
    mine = todo.iloc[context.rank::context.world_size]
    if context.is_main:
        log.info("similarity: %d pairs, %d already scored, %d to score on %d process(es)",
                 len(pairs), len(pairs) - len(todo), len(todo), context.world_size)
    if len(mine):
        clip.eval().to(device)
        dataset = PairImages(mine["path"].tolist(), mine["prompt"].tolist(), get_tokenizer(clip),
                             image_transform(size, train=False), size)
        names = mine["image_name"].tolist()
        loader = _loader(dataset, config.filter_batch_size, config.workers)
        bar = progress_bar(total=len(dataset), desc="CLIP similarity", unit="pair", disable=not context.is_main)
        position = 0
        with _open_for_append(work / f"similarity-rank{context.rank}.csv") as out:
            for images, tokens, ok in loader:
                with autocast(device, config.amp):
                    img = clip.encode_image(images.to(device), normalize=True)
                    txt = clip.encode_text(tokens.to(device), normalize=True)
                sims = (img.float() * txt.float()).sum(-1).cpu().numpy()
                sims[~ok.numpy()] = np.nan  # unreadable image: never kept
                batch = names[position:position + len(sims)]
                out.write("".join(f"{n},{s:.6f}\n" for n, s in zip(batch, sims)))
                out.flush()
                position += len(sims)
                bar.update(len(sims))
        bar.close()
    context.barrier()
    return _read_scores(work)


def filter_pairs(base: BaseClip, pairs: pd.DataFrame, work: Path, config: I2PConfig, device: str,
                 context: DistContext) -> pd.DataFrame:
    """The kept pairs (similarity >= threshold), also written to ``work/kept.csv``."""
    start = time.perf_counter()
    scores = score_pairs(base, pairs, work, config, device, context)
    similarity = pairs["image_name"].map(scores)
    kept = pairs.assign(similarity=similarity)[similarity >= config.threshold]
    if context.is_main:
        atomic_write_text(work / KEPT_FILE, kept[["image_name", "prompt", "similarity"]].to_csv(
            index=False, lineterminator="\n", float_format="%.6f"))
        record = {
            "threshold": config.threshold, "clip": base.config, **base.identity,
            "pairs": len(pairs), "scored": int(similarity.notna().sum()),
            "unreadable": int(similarity.isna().sum()), "kept": len(kept),
            "kept_fraction": round(len(kept) / len(pairs), 6),
            "similarity_quantiles": {str(q): round(float(similarity.quantile(q)), 4)
                                     for q in (0.05, 0.25, 0.5, 0.75, 0.95)},
            "seconds": round(time.perf_counter() - start, 3),
        }
        atomic_write_text(work / FILTER_RECORD, json.dumps(record, indent=2) + "\n")
        log.info("kept %d of %d pairs with CLIP similarity >= %.3f (%.1f%%); list: %s", len(kept), len(pairs),
                 config.threshold, 100 * len(kept) / len(pairs), work / KEPT_FILE)
    context.barrier()
    return kept.reset_index(drop=True)


# --------------------------------------------------------------------------- train


def _train_identity(base: BaseClip, config: I2PConfig, n_kept: int, context: DistContext) -> dict:
    """What a resumable training state must match to be continued."""
    keys = ("threshold", "batch_size", "lr", "weight_decay", "image_size", "seed", "epochs")
    return {"clip": base.config, **base.identity, "kept": n_kept, "world_size": context.world_size,
            **{k: getattr(config, k) for k in keys}}


def train_image2prompt(base: BaseClip, kept: pd.DataFrame, work: Path, config: I2PConfig, device: str,
                       context: DistContext) -> dict:
    """Train the image tower (in place) on the kept pairs; returns the per-epoch losses."""
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DistributedSampler

    if len(kept) < config.batch_size * context.world_size:
        raise BenchError(f"{len(kept)} kept pairs are fewer than one batch ({config.batch_size} x "
                         f"{context.world_size} process(es)); lower --batch-size or --threshold")
    model = Image2PromptModel(base.model).to(device)
    visual = model.visual
    size = config.image_size
    pos = visual.attnpool.positional_embedding
    visual.attnpool.positional_embedding = torch.nn.Parameter(resize_pool_pos_embed(pos.data, size // 32))
    visual.image_size = size
    net = visual
    if context.distributed:
        net = DistributedDataParallel(visual, device_ids=[context.local_rank] if device.startswith("cuda") else None)
    params = [p for p in visual.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=config.amp and device.startswith("cuda"))

    identity = _train_identity(base, config, len(kept), context)
    losses, start_epoch = [], 0
    state_path = work / TRAIN_STATE
    if state_path.exists():
        try:
            state = load_torch(state_path, "Image2Prompt training state")
        except CheckpointError as exc:
            log.warning("%s; starting over", exc)
            state = None
        if isinstance(state, dict) and state.get("identity") == identity:
            visual.load_state_dict(state["visual"])
            optimizer.load_state_dict(state["optimizer"])
            losses, start_epoch = state["losses"], state["epoch"]
            log.info("resuming Image2Prompt training after epoch %d of %d", start_epoch, config.epochs)
        elif state is not None:
            log.info("%s belongs to another training configuration; starting over", state_path)

    dataset = PairImages(kept["path"].tolist(), kept["prompt"].tolist(), get_tokenizer(base.model),
                         image_transform(size, train=True), size)
    sampler = (DistributedSampler(dataset, context.world_size, context.rank, shuffle=True, seed=config.seed,
                                  drop_last=True) if context.distributed else None)
    loader = _loader(dataset, config.batch_size, config.workers, sampler, shuffle=True, drop_last=True,
                     seed=config.seed)
    start = time.perf_counter()
    seen = 0
    for epoch in range(start_epoch, config.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        else:
            loader.generator.manual_seed(config.seed + epoch)
        model.train()
        total, batches = 0.0, 0
        bar = progress_bar(loader, desc=f"Image2Prompt epoch {epoch + 1}/{config.epochs}", unit="batch",
                   disable=not context.is_main, leave=False)
        for images, tokens, ok in bar:
            if not ok.any():
                continue
            images, tokens = images[ok].to(device), tokens[ok].to(device)
            with autocast(device, config.amp):
                image_emb = net(images)
                prompt_emb = model.prompt_embeddings(tokens)
            loss = image2prompt_loss(image_emb.float(), prompt_emb.float())
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total, batches, seen = total + loss.item(), batches + 1, seen + len(images)
            bar.set_postfix(loss=f"{total / batches:.4f}")
        losses.append(round(context.mean(total / max(batches, 1), device), 6))
        if context.is_main:
            log.info("Image2Prompt epoch %d/%d: loss %.4f", epoch + 1, config.epochs, losses[-1])
            _save_torch(state_path, {"identity": identity, "visual": visual.state_dict(),
                                     "optimizer": optimizer.state_dict(), "losses": losses, "epoch": epoch + 1})
        context.barrier()
    seconds = time.perf_counter() - start
    images_per_s = context.world_size * seen / seconds if seconds > 0 and seen else None
    return {"losses": losses, "seconds": round(seconds, 3),
            "images_per_s": round(images_per_s, 2) if images_per_s else None}


# --------------------------------------------------------------------------- checkpoint


def _save_torch(path: Path, obj) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def save_checkpoint(path: Path, base: BaseClip, config: I2PConfig, record: dict) -> None:
    _save_torch(Path(path), {
        "format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION,
        "clip": base.config, "image_size": config.image_size, "random_init": base.random_init,
        "base_clip": base.identity, "config": asdict(config),
        "visual": i2p_state_dict(base.model),
        **record,
    })


def load_checkpoint(path: str | Path, clip_config: str) -> dict:
    """An Image2Prompt checkpoint's contents, checked to belong to a ``clip_config`` CLIP."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"Image2Prompt checkpoint {path} does not exist; "
                         "`ipiqa-bench pretrain image2prompt` produces it")
    data = load_torch(path, "Image2Prompt checkpoint")  # a truncated or foreign file: names it
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise BenchError(f"{path} is not an Image2Prompt checkpoint written by `ipiqa-bench pretrain image2prompt`")
    if data["clip"] != clip_config:
        raise BenchError(f"{path} was pretrained from a {data['clip']} CLIP, not {clip_config}")
    return data


# --------------------------------------------------------------------------- pipeline


def run_image2prompt(base: BaseClip, pairs_root: Path, out: Path, work: Path, config: I2PConfig,
                     device: str, context: DistContext, filter_only: bool = False,
                     pairs: pd.DataFrame | None = None) -> dict:
    """Read pairs (unless the caller already read ``pairs_root`` into ``pairs``), filter them,
    train, write the checkpoint; returns the run's record."""
    from methods.ipiqa.pairs import read_pairs

    if config.image_size is None:
        size = base.model.visual.image_size
        config.image_size = size[0] if isinstance(size, tuple) else int(size)
    if config.image_size % 32:
        raise BenchError(f"--image-size must be a multiple of 32, got {config.image_size}")
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    pairs = read_pairs(pairs_root) if pairs is None else pairs
    kept = filter_pairs(base, pairs, work, config, device, context)
    filter_record = json.loads((work / FILTER_RECORD).read_text())
    if filter_only:
        return {"filter": filter_record}
    if kept.empty:
        raise BenchError(f"no pair reaches CLIP similarity {config.threshold}; lower --threshold")
    kept = kept.sort_values("image_name", kind="stable").reset_index(drop=True)
    training = train_image2prompt(base, kept, work, config, device, context)
    record = {"pairs_root": str(pairs_root), "filter": filter_record, "training": training,
              "world_size": context.world_size, "device": device}
    if context.is_main:
        save_checkpoint(out, base, config, record)
        (work / TRAIN_STATE).unlink(missing_ok=True)  # finished: nothing left to resume
        log.info("Image2Prompt checkpoint written to %s", out)
    context.barrier()
    return record
