"""Split protocols besides the default content-grouped one (``bench.splits``), and the
provenance every splits file carries in ``splits.json``.

* ``grouped`` (default, ``bench.splits.make_splits``): no content group on both sides.
* ``image``: image-level random splits, as Q-Align's published AGIQA-3K splits are: images of
  one prompt fall on both sides, so a method can match a test image to its training
  siblings. ``splits.json`` records how much: the share of test images whose group is also
  in training (``leakage``).
* ``ipiqa-code``: the procedure of the official IP-IQA code (github.com/Coobiw/IP-IQA),
  seed 42 as its scripts' default.

  - AGIQA-3k (``train_agiqa3k.py``): NumPy's global generator seeded, then
    ``permutation(300)``; the first ``int(0.8 * 300)`` = 240 prompt indices train.
  - AGIQA-1k (``train_agiqa1k.py``): Python's ``random`` seeded; the label file
    (``AIGC_MOS_Zscore.xlsx``) read in row order, each object-code pair (main + second
    object; dreamStudio codes shifted onto deepai's, which is our content group) drawn once
    when first seen: ``random.random() < 0.8`` trains.

  With seed 42, split 0 is exactly the code's first fold (the tests re-derive folds 0-2 from
  the label files), and splits 1-9 are the rest of the stream the README's run command draws
  (``--num_cv 10``, README.md:71, 82 at Coobiw/IP-IQA@b486be5): each fold calls the split
  function again on the same globally seeded generator (train_agiqa1k.py:142, 149-150), and
  the code draws from neither generator during training (its transforms use torch's
  generator). Read in the code, not confirmed by running it: ``splits.json`` says so
  (``exact_splits``, ``official_stream_splits``) and so does every table note.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd

from bench.datasets.agiqa3k import N_PROMPTS
from bench.errors import BenchError
from bench.files import atomic_write_text, file_sha256
from bench.splits import (
    SPLITS_FILE,
    SPLITS_META,
    SplitConfig,
    read_splits_meta,  # one reader of splits.json, one message when it is damaged
    split_columns,
)

PROTOCOLS = ("grouped", "image", "ipiqa-code")
IPIQA_CODE_SEED = 42  # the scripts' --seed default
IPIQA_CODE_TRAIN_SHARE = 0.8
IPIQA_CODE_LABELS = {"agiqa1k": "AIGC_MOS_Zscore.xlsx"}  # the file whose row order the code follows
IPIQA_CODE_FOLDS = 10  # the README's run command: --num_cv 10 (README.md:71, 82 at b486be5)


def ipiqa_code_labels(seed: int, n_splits: int) -> dict:
    """Which splits are the official command's folds: ``exact_splits`` re-derived from the label
    files by the tests, ``official_stream_splits`` read in the code only; a note for tables."""
    if seed != IPIQA_CODE_SEED:
        return {"exact_splits": [], "official_stream_splits": [],
                "note": f"the official code's procedure with seed {seed}: not its folds (the README runs seed "
                        f"{IPIQA_CODE_SEED})"}
    stream = list(range(1, min(n_splits, IPIQA_CODE_FOLDS)))
    note = ("split 0 is the official code's first fold, exactly; folds 1-9: the official `--num_cv 10` stream, "
            "read in the code; not confirmed by running it")
    if n_splits > IPIQA_CODE_FOLDS:
        note += f"; splits {IPIQA_CODE_FOLDS}+ continue the stream past the official 10"
    return {"exact_splits": [0], "official_stream_splits": stream, "note": note}


def _frame(images: pd.Series, groups: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame({"image": images.values, "group": groups.astype(str).values})
    frame = frame.sort_values("image", kind="stable").reset_index(drop=True)
    if frame["image"].duplicated().any():
        raise BenchError("cannot split: duplicated image names (run `ipiqa-bench check`)")
    return frame


def image_level_splits(images: pd.Series, groups: pd.Series, config: SplitConfig) -> pd.DataFrame:
    """Random image-level splits: each holds out the ``test_size`` share of images, whatever their group."""
    frame = _frame(images, groups)
    n_test = min(max(int(round(config.test_size * len(frame))), 1), len(frame) - 1)
    rng = np.random.default_rng(config.seed)
    for k in range(config.n_splits):
        test = np.zeros(len(frame), dtype=bool)
        test[rng.permutation(len(frame))[:n_test]] = True
        frame[f"split_{k}"] = np.where(test, "test", "train")
    return frame


def ipiqa_code_train_groups(dataset: str, label_groups: pd.Series, n_splits: int,
                            seed: int = IPIQA_CODE_SEED) -> list[set[str]]:
    """The training side's content groups of each fold, drawn as the official code draws them.

    ``label_groups``: the group of every row of the label file, in the file's order (rows a
    run drops still take their draw, as in the official code)."""
    if dataset == "agiqa3k":
        state = np.random.RandomState(seed)  # the legacy global generator's stream
        count = int(IPIQA_CODE_TRAIN_SHARE * N_PROMPTS)
        return [{f"{i:03d}" for i in state.permutation(N_PROMPTS)[:count]} for _ in range(n_splits)]
    if dataset == "agiqa1k":
        rng = random.Random(seed)
        folds = []
        for _ in range(n_splits):
            train, seen = set(), set()
            for group in label_groups:
                if group not in seen:
                    seen.add(group)
                    if rng.random() < IPIQA_CODE_TRAIN_SHARE:
                        train.add(group)
            folds.append(train)
        return folds
    raise BenchError(f"the ipiqa-code protocol is defined for agiqa1k and agiqa3k only, not {dataset}")


def ipiqa_code_splits(dataset, images: pd.Series, groups: pd.Series, n_splits: int,
                      seed: int = IPIQA_CODE_SEED) -> pd.DataFrame:
    """The official code's folds over ``images`` (the run's images); ``dataset`` is the
    loaded ``Dataset`` whose label file order the draws follow."""
    needed = IPIQA_CODE_LABELS.get(dataset.name)
    if needed and (dataset.labels is None or dataset.labels.name != needed):
        found = dataset.labels.name if dataset.labels else "no label file"
        raise BenchError(f"ipiqa-code on {dataset.name} follows the row order of {needed}, which the official "
                         f"code reads; this dataset was loaded from {found}")
    folds = ipiqa_code_train_groups(dataset.name, dataset.frame["group"].astype(str), n_splits, seed)
    frame = _frame(images, groups)
    for k, train in enumerate(folds):
        frame[f"split_{k}"] = np.where(frame["group"].isin(train), "train", "test")
    return frame


def leakage(splits: pd.DataFrame) -> dict:
    """How much content the test sides share with training: per split and on average, the
    share of test groups that also occur in training and the share of test images in them."""
    per_split = []
    for column in split_columns(splits):
        train_groups = set(splits.loc[splits[column] == "train", "group"])
        test = splits[splits[column] == "test"]
        leaked = test["group"].isin(train_groups)
        groups = test["group"].nunique()
        per_split.append({"test_groups": groups, "leaked_groups": int(test.loc[leaked, "group"].nunique()),
                          "test_images": len(test), "leaked_images": int(leaked.sum())})
    total = lambda key: sum(s[key] for s in per_split)  # noqa: E731
    return {
        "leaked_group_share": round(total("leaked_groups") / max(total("test_groups"), 1), 4),
        "leaked_image_share": round(total("leaked_images") / max(total("test_images"), 1), 4),
        "per_split": per_split,
    }


def write_splits(dataset_dir: Path, splits: pd.DataFrame, provenance: dict) -> Path:
    """Write splits.csv and its provenance (splits.json), or reuse an identical file.

    An existing file made otherwise is never replaced: the results beside it were made on it."""
    path, meta_path = Path(dataset_dir) / SPLITS_FILE, Path(dataset_dir) / SPLITS_META
    text = splits.to_csv(index=False, lineterminator="\n")
    meta = {**provenance, "n_splits": len(split_columns(splits)), "leakage": leakage(splits)}
    if path.exists():
        if path.read_bytes() == text.encode() and _same_protocol(meta_path, meta):
            return path
        made = read_splits_meta(meta_path).get("protocol", "grouped") if meta_path.exists() else "unknown"
        raise BenchError(f"{path} already exists (protocol {made}) and differs; use another --results-dir, "
                         "or delete it (and the results made with it)")
    Path(dataset_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    atomic_write_text(meta_path, json.dumps(meta, indent=2) + "\n")
    return path


def _same_protocol(meta_path: Path, meta: dict) -> bool:
    return meta_path.exists() and read_splits_meta(meta_path).get("protocol") == meta["protocol"]


def make_protocol_splits(protocol: str, dataset, run_frame: pd.DataFrame, config: SplitConfig,
                         seed_given: bool = True) -> tuple[pd.DataFrame, dict]:
    """(splits, provenance) of ``image`` or ``ipiqa-code`` for the run's images ``run_frame``."""
    images, groups = run_frame["image"], run_frame["group"]
    if protocol == "image":
        return image_level_splits(images, groups, config), {
            "protocol": "image", "protocol_config": {"seed": config.seed, "test_size": config.test_size}}
    if protocol == "ipiqa-code":
        seed = config.seed if seed_given else IPIQA_CODE_SEED
        splits = ipiqa_code_splits(dataset, images, groups, config.n_splits, seed)
        return splits, {"protocol": "ipiqa-code", "protocol_config": {
            "seed": seed, "train_share": IPIQA_CODE_TRAIN_SHARE,
            "source": "github.com/Coobiw/IP-IQA train_agiqa1k.py / train_agiqa3k.py",
            "labels": str(dataset.labels) if dataset.labels else None,
            "labels_sha256": file_sha256(dataset.labels) if dataset.labels else None,
            **ipiqa_code_labels(seed, config.n_splits)}}
    raise BenchError(f"unknown split protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")


def read_provenance(dataset_dir: Path) -> dict:
    path = Path(dataset_dir) / SPLITS_META
    return read_splits_meta(path) if path.exists() else {}


def protocol_note(dataset_dir: Path) -> str:
    """One line naming how a dataset's splits were made, for the tables."""
    meta = read_provenance(dataset_dir)
    protocol = meta.get("protocol", "grouped")
    leaked = meta.get("leakage", {}).get("leaked_image_share")
    share = f"; {100 * leaked:.1f}% of test images share content with training" if leaked else ""
    if protocol == "grouped":
        return f"content-grouped random splits (seed {meta.get('seed', '?')}, test share {meta.get('test_size', '?')})"
    if protocol == "image":
        return f"image-level random splits (seed {meta['protocol_config']['seed']}){share}"
    if protocol == "ipiqa-code":
        seed = meta["protocol_config"]["seed"]
        note = ipiqa_code_labels(seed, meta.get("n_splits", IPIQA_CODE_FOLDS))["note"]
        return f"IP-IQA code's procedure (seed {seed}): {note}{share}"
    if protocol.startswith("imported"):
        source = meta.get("source", {})
        files = ", ".join(Path(f["path"]).name for f in source.get("files", [])[:2])
        more = "…" if len(source.get("files", [])) > 2 else ""
        return (f"imported from {source.get('format', '?')} fold files ({files}{more})"
                + (share or "; no test content occurs in training"))
    return f"protocol {protocol}{share}"


def protocol_notes(results_dir: Path, datasets) -> list[str]:
    return [f"{d} splits: {protocol_note(Path(results_dir) / d)}" for d in sorted(set(datasets))]
