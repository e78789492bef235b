"""Fitted scikit-learn pipelines as arrays plus JSON (an ``.npz``), never as a pickle.

A checkpoint may come from anyone (``ipiqa-bench score --checkpoint``), and unpickling
runs whatever the file names. Here a pipeline is written as, per step, the estimator's
class (one of ``ESTIMATORS``), its constructor parameters and its fitted attributes:
arrays go into the archive, plain values into a JSON header; reading uses
``allow_pickle=False`` and rebuilds only the listed classes.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from bench.errors import BenchError

FORMAT = "ipiqa-bench sklearn-state 1"
ESTIMATORS = {cls.__name__: cls for cls in (StandardScaler, SVR)}
_PLAIN = (str, int, float, bool, type(None))


def dumps(method: str, models: dict[str, Pipeline]) -> bytes:
    """``{target: pipeline}`` fitted by ``method`` → npz bytes."""
    header = {"format": FORMAT, "method": method, "targets": {}}
    arrays = {}
    for t, (target, pipeline) in enumerate(models.items()):
        steps = []
        for s, estimator in enumerate(pipeline):
            name = type(estimator).__name__
            if ESTIMATORS.get(name) is not type(estimator):
                raise TypeError(f"cannot save a {name} without pickle")
            params = estimator.get_params(deep=False)
            fitted = {}
            for attr, value in vars(estimator).items():
                if attr in params:
                    continue
                if isinstance(value, (np.ndarray, np.generic)):
                    key = f"{t}.{s}.{attr}"
                    arrays[key] = np.asarray(value)
                    fitted[attr] = {"array": key}
                elif isinstance(value, tuple) and all(isinstance(v, _PLAIN) for v in value):
                    fitted[attr] = {"tuple": list(value)}
                elif isinstance(value, _PLAIN):
                    fitted[attr] = {"value": value}
                else:
                    raise TypeError(f"cannot save {name}.{attr} ({type(value).__name__}) without pickle")
            steps.append({"class": name, "params": params, "fitted": fitted})
        header["targets"][target] = steps
    buffer = io.BytesIO()
    np.savez(buffer, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)
    return buffer.getvalue()


def loads(data: bytes, method: str) -> dict[str, Pipeline]:
    """The ``{target: pipeline}`` written by ``dumps`` for ``method``; ``BenchError`` on a
    foreign, damaged or other method's file."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            header = json.loads(archive["header"].tobytes().decode())
            arrays = {key: archive[key] for key in archive.files if key != "header"}
    except (ValueError, OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, EOFError) as exc:
        # (numpy's own message for a pickle suggests loading it unsafely: not repeated here)
        raise BenchError(f"not a {method} checkpoint (an SVR checkpoint is an .npz of arrays and JSON; "
                         f"{type(exc).__name__})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BenchError(f"not a {method} checkpoint: unknown format {header.get('format')!r}"
                         if isinstance(header, dict) else f"not a {method} checkpoint")
    if header.get("method") != method:
        raise BenchError(f"checkpoint was written by {header.get('method')}, not {method}")
    try:
        models = {target: make_pipeline(*(_rebuild(step, arrays) for step in steps))
                  for target, steps in header["targets"].items()}
        for pipeline in models.values():
            _check_shapes(pipeline)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BenchError(f"damaged {method} checkpoint: {exc!r}") from None
    return models


def _rebuild(step: dict, arrays: dict):
    cls = ESTIMATORS.get(step["class"])
    if cls is None:
        raise ValueError(f"estimator {step['class']!r} is not one this bench writes")
    estimator = cls(**step["params"])
    for attr, saved in step["fitted"].items():
        if not attr.isidentifier() or attr.startswith("__"):
            raise ValueError(f"attribute name {attr!r}")
        if "array" in saved:
            value = arrays[saved["array"]]
            value = value[()] if value.ndim == 0 else value  # numpy scalars were saved 0-d
        elif "tuple" in saved:
            value = tuple(saved["tuple"])
        else:
            value = saved["value"]
        setattr(estimator, attr, value)
    return estimator


def _check_shapes(pipeline: Pipeline) -> None:
    """The fitted arrays agree with each other (libsvm indexes them without checking)."""
    width = None
    for estimator in pipeline:
        if isinstance(estimator, StandardScaler):
            width = len(estimator.scale_)
            if len(estimator.mean_) != width:
                raise ValueError("scaler mean and scale differ in length")
        elif isinstance(estimator, SVR):
            n = len(estimator.support_)
            if estimator.support_vectors_.shape[0] != n or estimator._dual_coef_.shape != (1, n) \
                    or estimator._n_support.shape != (2,) \
                    or (width is not None and estimator.support_vectors_.shape[1] != width):
                raise ValueError("support vectors, coefficients and feature count disagree")
