"""Milliseconds per image of each handcrafted feature extractor, one thread, at 512 and 1024 px.

    python scripts/feature_bench.py [--sizes 512 1024] [--repeats 7] [--niqe-mat FILE] [--no-pyiqa]
                                    [--allocator keep|default]

The test image is scikit-image's ``astronaut`` photograph resized with PIL (bicubic) to each
size, so every run times the same pixels. Threads are pinned to one (OMP/BLAS variables set
before numpy and torch load, ``torch.set_num_threads(1)``) so that figures compare across
machines with different core counts. Each extractor runs once to warm up, then ``--repeats``
times; the table gives the median and the best run in ms.

Beside the harness's extractors it times pyiqa's NIQE and BRISQUE on the same images. pyiqa's
NIQE reads the release's pristine model from a ``.mat``: ``--niqe-mat``, else the harness's
asset cache, else a ``.mat`` written from the harness's shipped copy of the same values.
pyiqa's BRISQUE needs its SVM file (a download, unpickled with ``torch.load``), which this
script never fetches: without it, only BRISQUE's features (pyiqa's own functions, no SVM)
are timed, and the row says so.

Run it from the repository root with the repository first on the path
(``PYTHONPATH=. python scripts/feature_bench.py``); pointing PYTHONPATH at another checkout
times that checkout's extractors with the same image and protocol (a checkout from before
bench/run/allocator.py needs ``--allocator default``).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

# Benchmark rows: (label, feature module, what is timed). DSIQA is the cpbd module.
EXTRACTORS = (("NIQE", "niqe", "score"), ("DSIQA (cpbd)", "cpbd", "extract"), ("SISBLIM", "sisblim", "extract"),
              ("CEIQ", "ceiq", "extract"), ("GMLF", "gmlf", "extract"), ("HIGRADE", "higrade", "extract"))


def test_image(size: int) -> np.ndarray:
    """scikit-image's astronaut photograph (512x512 RGB) resized to size x size."""
    from skimage.data import astronaut

    return np.asarray(Image.fromarray(astronaut()).resize((size, size), Image.BICUBIC))


def time_ms(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median, best) wall time of fn() in ms, after one warm-up call."""
    fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs), min(runs)


def _niqe_pristine():
    from bench.assets import get_asset, resolve
    from methods.features import niqe
    from methods.handcrafted import NIQE_PARAMS

    get_asset(NIQE_PARAMS.name)
    return niqe.read_pristine(resolve(NIQE_PARAMS.name, download=False))


def harness_rows(sizes, repeats) -> dict[str, dict[int, tuple[float, float]]]:
    import importlib

    pristine = _niqe_pristine()
    rows = {}
    for label, module_name, what in EXTRACTORS:
        module = importlib.import_module(f"methods.features.{module_name}")
        rows[label] = {}
        for size in sizes:
            image = test_image(size)
            fn = (lambda m=module, im=image: m.score(im, *pristine)) if what == "score" else \
                (lambda m=module, im=image: m.extract(im))
            rows[label][size] = time_ms(fn, repeats)
            print(f"  {label} {size}px: median {rows[label][size][0]:.1f} ms", file=sys.stderr)
    return rows


def _niqe_mat(explicit: str | None, tmp: Path) -> Path:
    """A .mat of NIQE's pristine model for pyiqa (which reads it with scipy's loadmat)."""
    if explicit:
        return Path(explicit)
    from bench.assets import find_cached, get_asset
    from methods.handcrafted import NIQE_PARAMS

    cached = find_cached(get_asset(NIQE_PARAMS.name))
    if cached is not None:
        return cached
    from scipy.io import savemat

    mu, cov = _niqe_pristine()  # the shipped copy: the release's values as an .npz
    path = tmp / "niqe_modelparameters.mat"
    savemat(path, {"mu_prisparam": mu, "cov_prisparam": cov})
    return path


def _brisque_features(x):
    """pyiqa's BRISQUE features at its two scales, as its ``brisque()`` computes them before the SVM."""
    import torch
    from pyiqa.archs.brisque_arch import natural_scene_statistics
    from pyiqa.matlab_utils import imresize
    from pyiqa.utils.color_util import to_y_channel

    x = to_y_channel(x, 255.0)
    feats = []
    for _ in range(2):
        feats.append(natural_scene_statistics(x, 7, 7 / 6))
        x = imresize(x, scale=0.5, antialiasing=True)
    return torch.cat(feats, dim=-1)


def pyiqa_rows(sizes, repeats, niqe_mat: str | None) -> tuple[dict, list[str]]:
    import pyiqa
    import torch
    from pyiqa.utils.download_util import DEFAULT_CACHE_DIR

    torch.set_num_threads(1)
    rows, notes = {}, []
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        mat = _niqe_mat(niqe_mat, Path(tmp))
        metrics = {"pyiqa NIQE": pyiqa.create_metric("niqe", device="cpu", pretrained_model_path=str(mat))}
        svm = Path(DEFAULT_CACHE_DIR) / "brisque_svm_weights.pth"
        if svm.is_file():
            metrics["pyiqa BRISQUE"] = pyiqa.create_metric("brisque", device="cpu")
        else:
            metrics["pyiqa BRISQUE features (no SVM)"] = _brisque_features
            notes.append(f"pyiqa BRISQUE: its SVM file ({svm.name}) is a download that is not in pyiqa's cache "
                         "here, so only its features are timed (pyiqa's own functions; the RBF SVM on "
                         "~36 features is left out).")
        for label, metric in metrics.items():
            rows[label] = {}
            for size in sizes:
                x = torch.from_numpy(test_image(size).copy()).permute(2, 0, 1)[None].double() / 255
                rows[label][size] = time_ms(lambda m=metric, t=x: m(t), repeats)
                print(f"  {label} {size}px: median {rows[label][size][0]:.1f} ms", file=sys.stderr)
    return rows, notes


def markdown(rows: dict, sizes) -> str:
    head = "| extractor | " + " | ".join(f"{s} px median | {s} px best" for s in sizes) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(sizes))]
    for label, by_size in rows.items():
        cells = " | ".join(f"{by_size[s][0]:.1f} | {by_size[s][1]:.1f}" for s in sizes)
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--niqe-mat", help="NIQE pristine model .mat for pyiqa (default: see the docstring)")
    parser.add_argument("--no-pyiqa", action="store_true", help="time the harness's extractors only")
    parser.add_argument("--allocator", choices=("keep", "default"), default="keep",
                        help="keep: glibc keeps freed memory, as the harness's feature workers do "
                             "(bench.run.allocator); default: glibc's own thresholds")
    args = parser.parse_args()
    import methods.features

    if args.allocator == "keep":
        from bench.run.allocator import keep_freed_memory

        print(f"allocator: keep freed memory ({'set' if keep_freed_memory() else 'not glibc: unchanged'})",
              file=sys.stderr)

    print(f"extractors from {Path(methods.features.__file__).resolve().parents[2].name}/, ms per image, "
          f"one thread, median and best of {args.repeats}", file=sys.stderr)
    rows = harness_rows(args.sizes, args.repeats)
    notes = []
    if not args.no_pyiqa:
        extra, notes = pyiqa_rows(args.sizes, args.repeats, args.niqe_mat)
        rows.update(extra)
    print(markdown(rows, args.sizes))
    for note in notes:
        print(f"\n{note}")


if __name__ == "__main__":
    main()
