"""Scoring single images outside the split protocol (``ipiqa-bench score``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.config import resolve_config
from bench.errors import BenchError
from bench.method import FeatureMethod, ScoreMethod
from bench.registry import create_method, get_method_info
from bench.results.checkpoints import read_checkpoint
from bench.run.tasks import features_naming_the_image


def score_images(method: str, images: list[Path], prompt: str = "", checkpoint: Path | None = None,
                 device: str = "auto") -> pd.DataFrame:
    info = get_method_info(method)
    instance = create_method(method, **resolve_config(info, overrides={"device": device}).values)
    if checkpoint is not None:
        data = read_checkpoint(Path(checkpoint))  # verified against its sidecar
        try:
            instance.load_checkpoint(data)
        except NotImplementedError as exc:
            raise BenchError(str(exc)) from None
        except BenchError as exc:
            raise BenchError(f"{checkpoint}: {exc}") from None
        except Exception as exc:  # a checkpoint of the right format but another network's shapes
            raise BenchError(f"{checkpoint} does not fit {method}: {str(exc).splitlines()[0]}; pass a checkpoint "
                             f"written by `ipiqa-bench run --methods {method}`") from None
    elif info.trains:
        raise BenchError(f"{method} is trained per split: pass --checkpoint "
                         f"results/<dataset>/{method}/checkpoints/split_<k>.pt")
    if getattr(instance, "image_cache", None):
        instance.image_cache = False  # a few images once: decoded directly, the shared cache untouched
    paths = [str(p) for p in images]
    frame = pd.DataFrame({"image": [Path(p).name for p in paths], "path": paths, "prompt": prompt, "group": ""})
    if isinstance(instance, ScoreMethod) and checkpoint is None:
        features = features_naming_the_image(instance, paths, [prompt] * len(paths))
        predicted = pd.DataFrame({"score": features[:, instance.score_column]})
    elif isinstance(instance, FeatureMethod):
        predicted = pd.DataFrame(instance.predict_features(features_naming_the_image(instance, paths,
                                                                                     [prompt] * len(paths))))
    else:
        predicted = instance.predict(frame).reset_index(drop=True)
    columns = {"image": frame["image"]}
    if prompt:
        columns["prompt"] = prompt
    return pd.concat([pd.DataFrame(columns), predicted], axis=1)
