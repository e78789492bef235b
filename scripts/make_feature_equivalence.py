"""Record the handcrafted extractors' outputs as the equivalence fixture of their tests.

    PYTHONPATH=<checkout> python scripts/make_feature_equivalence.py --source <commit>

Runs the extractors importable from PYTHONPATH (e.g. an export of the commit before an
optimisation) on the images of ``tests/feature_equivalence_images.py`` and the reference
images of ``tests/data/reference/images``, and writes ``tests/data/equivalence/features.npz``
of THIS repository: one array per ``<image>/<extractor>`` (NIQE: its per-block feature
matrix and its score with the shipped pristine model), plus ``source``, the commit recorded.
``tests/test_feature_equivalence.py`` then checks the current extractors against it.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "data" / "equivalence" / "features.npz"
PRISTINE = REPO / "bench" / "assets" / "shipped" / "niqe_pris_params.npz"
MODULES = ("gmlf", "higrade", "ceiq", "cpbd", "sisblim")


def all_images() -> dict[str, np.ndarray]:
    sys.path.insert(0, str(REPO / "tests"))
    from feature_equivalence_images import equivalence_images

    images = equivalence_images()
    for path in sorted((REPO / "tests" / "data" / "reference" / "images").glob("*.png")):
        images[f"reference_{path.stem}"] = np.asarray(Image.open(path).convert("RGB"))
    return images


def outputs(image: np.ndarray) -> dict[str, np.ndarray]:
    from methods.features import niqe
    from methods.features._common import rgb2gray

    found = {name: importlib.import_module(f"methods.features.{name}").extract(image) for name in MODULES}
    found["niqe_blocks"] = niqe.block_feature_matrix(rgb2gray(image))
    found["niqe_score"] = np.array([niqe.score(image, *niqe.read_pristine(PRISTINE))])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="the commit whose extractors PYTHONPATH holds")
    args = parser.parse_args()
    import methods.features

    print(f"extractors from {Path(methods.features.__file__).resolve().parents[2]}", file=sys.stderr)
    arrays = {"source": np.array(args.source)}
    for name, image in all_images().items():
        for key, value in outputs(image).items():
            arrays[f"{name}/{key}"] = np.asarray(value, dtype=np.float64)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {len(arrays) - 1} arrays to {OUT.relative_to(REPO)}", file=sys.stderr)


if __name__ == "__main__":
    main()
