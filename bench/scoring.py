"""Scoring single images outside the split protocol (``ipiqa-bench score``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from bench.method import FeatureMethod, ScoreMethod
from bench.registry import create_method, get_method_info


def score_images(method: str, images: list[Path], prompt: str = "", checkpoint: Path | None = None,
                 device: str = "auto") -> pd.DataFrame:
    info = get_method_info(method)
    defaults = info.cls().get_config()
    instance = create_method(method, **({"device": device} if "device" in defaults else {}))
    if checkpoint is not None:
        try:
            instance.load_checkpoint(Path(checkpoint).read_bytes())
        except NotImplementedError as exc:
            raise BenchError(str(exc)) from None
    elif info.trains:
        raise BenchError(f"{method} is trained per split: pass --checkpoint "
                         f"results/<dataset>/{method}/checkpoints/split_<k>.pt")
    if getattr(instance, "image_cache", None):
        instance.image_cache = False  # a few images once: decoded directly, the shared cache untouched
    paths = [str(p) for p in images]
    frame = pd.DataFrame({"image": [Path(p).name for p in paths], "path": paths, "prompt": prompt, "group": ""})
    if isinstance(instance, ScoreMethod) and checkpoint is None:
        features = instance.features_of_rows(paths, [prompt] * len(paths))
        predicted = pd.DataFrame({"score": features[:, instance.score_column]})
    elif isinstance(instance, FeatureMethod):
        predicted = pd.DataFrame(instance.predict_features(instance.features_of_rows(paths, [prompt] * len(paths))))
    else:
        predicted = instance.predict(frame).reset_index(drop=True)
    columns = {"image": frame["image"]}
    if prompt:
        columns["prompt"] = prompt
    return pd.concat([pd.DataFrame(columns), predicted], axis=1)
