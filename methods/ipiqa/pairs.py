"""Image-prompt pairs in DiffusionDB's published layout (poloclub/diffusiondb, the 2M set).

    <root>/metadata.parquet            one row per image: image_name, prompt, part_id, ...
    <root>/images/part-000001/         1,000 PNG images and part-000001.json
    ...                                (part folders directly under <root> are accepted too)

Without ``metadata.parquet`` the per-part JSON files (``{image_name: {"p": prompt, ...}}``)
are read instead. Parts that were not downloaded are left out: a subset of the parts is
a valid pair set.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from bench.errors import BenchError

log = logging.getLogger("ipiqa_bench")
METADATA = "metadata.parquet"
PAIR_COLUMNS = ("image_name", "prompt", "path")


def part_name(part_id: int) -> str:
    return f"part-{int(part_id):06d}"


def _parts_folder(root: Path) -> Path:
    return root / "images" if (root / "images").is_dir() else root


def read_pairs(root: str | Path) -> pd.DataFrame:
    """Frame with columns image_name, prompt, path: every pair whose image file is present."""
    root = Path(root)
    if not root.is_dir():
        raise BenchError(f"pair folder {root} does not exist")
    folder = _parts_folder(root)
    if (root / METADATA).is_file():
        frame = _from_metadata(root / METADATA, folder)
    else:
        frame = _from_part_json(folder)
    frame = frame.dropna(subset=["prompt"])
    frame = frame[frame["prompt"].str.strip() != ""]
    present = _existing_files(frame["path"])
    if not present.all():
        log.info("%s: %d of %d pairs have no image file (parts not downloaded?); left out",
                 root, int((~present).sum()), len(frame))
    frame = frame[present].drop_duplicates("image_name").reset_index(drop=True)
    if frame.empty:
        raise BenchError(f"{root}: no image-prompt pairs found (expected DiffusionDB's layout: "
                         f"{METADATA} and images/part-XXXXXX/ folders, or part-XXXXXX/part-XXXXXX.json)")
    return frame[list(PAIR_COLUMNS)]


def _from_metadata(path: Path, folder: Path) -> pd.DataFrame:
    try:
        meta = pd.read_parquet(path, columns=["image_name", "prompt", "part_id"])
    except (ValueError, KeyError, OSError) as exc:
        raise BenchError(f"cannot read {path} (needs columns image_name, prompt, part_id): {exc}") from None
    parts = meta["part_id"].astype(int).map(part_name)
    paths = [str(folder / p / n) for p, n in zip(parts, meta["image_name"])]
    return pd.DataFrame({"image_name": meta["image_name"].astype(str), "prompt": meta["prompt"], "path": paths})


def _from_part_json(folder: Path) -> pd.DataFrame:
    rows = []
    for part in sorted(folder.glob("part-*")):
        index = part / f"{part.name}.json"
        if not index.is_file():
            continue
        try:
            entries = json.loads(index.read_text())
        except ValueError as exc:
            raise BenchError(f"{index} is not valid JSON: {exc}") from None
        rows += [(name, entry.get("p"), str(part / name)) for name, entry in entries.items()]
    return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))


def _existing_files(paths: pd.Series) -> pd.Series:
    """Which paths exist, listing each folder once (2M stat calls would be slow)."""
    listing: dict[str, set[str]] = {}
    present = []
    for path in paths:
        folder, name = os.path.split(path)
        if folder not in listing:
            listing[folder] = set(os.listdir(folder)) if os.path.isdir(folder) else set()
        present.append(name in listing[folder])
    return pd.Series(present, index=paths.index)


def write_pairs(root: str | Path, pairs, part_size: int = 1000) -> pd.DataFrame:
    """Write (HxWx3 uint8 image, prompt[, extra metadata columns]) items in DiffusionDB's
    layout; returns the metadata table.

    Used by the demo's Image2Prompt stage and by tests, so they read pairs through exactly
    the code path a real DiffusionDB download takes.
    """
    root = Path(root)
    rows = []
    for i, (image, prompt, *extra) in enumerate(pairs):
        part_id = i // part_size + 1
        name = f"{i:08d}.png"
        folder = root / "images" / part_name(part_id)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(folder / name)
        rows.append({"image_name": name, "prompt": prompt, "part_id": part_id, **(extra[0] if extra else {})})
    meta = pd.DataFrame(rows)
    for part_id, part in meta.groupby("part_id"):
        index = {n: {"p": p} for n, p in zip(part["image_name"], part["prompt"])}
        (root / "images" / part_name(part_id) / f"{part_name(part_id)}.json").write_text(json.dumps(index))
    meta.to_parquet(root / METADATA, index=False)
    return meta
