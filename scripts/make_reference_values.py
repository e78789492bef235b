"""Regenerate tests/data/reference/: fixture images and the original MATLAB code's outputs.

The original releases are not part of this repository; pass the folders that hold them:

    python scripts/make_reference_values.py \
        --gmlf DIR      # Grad_LOG_CP_TIP.m (Xue et al., TIP 2014)
        --higrade DIR   # higrade_1.m, higrade_grad_log.m, higrade_spatial.m, imgradient.m,
                        # nakafit.m (github.com/utlive/higrade)
        --desique DIR   # gaussian_para_esti.m (DESIQUE helper that HIGRADE calls, not in its release)
        --niqe DIR      # computequality.m, computefeature.m, estimateaggdparam.m,
                        # modelparameters.mat (NIQE release, Mittal et al.)
        [--ceiq DIR]    # CEIQ release (github.com/mtobeiyf/CEIQ): data/model.mat, images/1-3.png
                        # and README.md, whose table gives MATLAB's scores of those images

With ``--ceiq`` it also prints the harness's CEIQ (``ceiq-release``) beside the scores that
the CEIQ README reports from MATLAB (no Octave needed: the release's SVR is linear).

It runs them under GNU Octave (packages image and statistics) with
``scripts/reference_values/matlab_shims`` first on the path. Octave is not MATLAB
everywhere; each shim is MATLAB's documented definition of a function where Octave differs
or lacks it:

* ``fspecial``: Octave's 'log' kernel uses another formula (centre -3.15 vs MATLAB's -4.90
  at size 5, sigma 0.5); the shim also carries 'gaussian' and 'sobel' as documented;
* ``rgb2gray``: Octave truncates the weights to 6 decimals; MATLAB's are inv(NTSC)'s first row;
* ``imgradientxy``: Octave convolves with zero padding; MATLAB filters double input with
  replicate padding;
* ``makecform``/``applycform`` ('srgb2lab', uint8), ``blkproc``, ``nanmean``, ``nancov``:
  absent in Octave 7 / statistics 1.5.

The built-ins used unshimmed (filter2, imfilter 'replicate', hist3 with centres, circshift,
std, imresize(., 0.5) bicubic with antialiasing, fspecial 'gaussian') are checked first
against MATLAB's documented definitions (``reference_values/octave_checks/check.m``); the
script stops if one disagrees. The colour conversion shim and the harness follow the same
documented definition, so HIGRADE's sRGB->Lab step is checked against that document, not
against MATLAB itself.
"""
from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

HERE = Path(__file__).resolve().parent / "reference_values"
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference"
SIZE = (192, 256)  # rows, columns: two by one NIQE blocks of 96 px, not square


def _texture(rng: np.random.Generator) -> np.ndarray:
    """Sinusoids, a step edge and 1/f noise: natural-scene-like statistics, in colour."""
    h, w = SIZE
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.zeros((h, w, 3))
    for _ in range(6):
        fx, fy, phase = rng.uniform(1, 14, 2).tolist() + [rng.uniform(0, 2 * np.pi)]
        img += rng.uniform(0.2, 1.0, 3) * np.sin(2 * np.pi * (fx * x + fy * y) + phase)[..., None]
    img += (x > 0.55)[..., None] * rng.uniform(-1, 1, 3)
    spectrum = np.fft.fft2(rng.standard_normal((h, w)))
    fy_, fx_ = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    pink = np.real(np.fft.ifft2(spectrum / np.maximum(np.hypot(fx_, fy_), 1 / max(h, w))))
    img += 1.5 * (pink / pink.std())[..., None] * rng.uniform(0.5, 1.0, 3)
    return _to_uint8(img)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    img = (img - img.min()) / np.ptp(img)
    return np.round(img * 255).astype(np.uint8)


def fixture_images() -> dict[str, np.ndarray]:
    """Six varied RGB images: texture, natural photo, gradient, noise, blur, JPEG."""
    from skimage.data import chelsea  # a photograph shipped with scikit-image

    rng = np.random.default_rng(20240518)
    texture = _texture(rng)
    h, w = SIZE
    y, x = np.mgrid[0:h, 0:w]
    ramp = np.stack([x / w, y / h, 1 - (x + y) / (w + h)], -1) + 0.01 * rng.standard_normal((h, w, 3))
    noisy = np.clip(texture + rng.normal(0, 30, texture.shape), 0, 255).astype(np.uint8)
    blurred = np.round(ndimage.gaussian_filter(texture.astype(float), (2.5, 2.5, 0))).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(texture).save(buffer, format="JPEG", quality=8)
    jpeg = np.asarray(Image.open(buffer).convert("RGB"))
    return {"texture": texture, "photo": chelsea()[40:40 + h, 120:120 + w], "gradient": _to_uint8(ramp),
            "noise": noisy, "blur": blurred, "jpeg": jpeg}


def _octave(code: str, cwd: Path) -> str:
    result = subprocess.run(["octave", "--no-gui", "--quiet", "--norc", "--eval", code], cwd=cwd,
                            capture_output=True, text=True, timeout=1800, check=False)
    if result.returncode != 0 and "ignoring const execution_exception" not in result.stderr:
        sys.exit(f"octave failed:\n{result.stderr[-3000:]}")
    return result.stdout


def check_octave_builtins(cwd: Path) -> None:
    out = _octave(f"pkg load image; pkg load statistics; addpath('{HERE / 'octave_checks'}'); check", cwd)
    print(out, end="")
    diffs = [float(v) for v in re.findall(r"max diff ([0-9.eE+-]+)", out)]
    if len(diffs) != 5 or max(diffs) > 1e-9 or "circshift ok 1" not in out:
        sys.exit("an Octave built-in disagrees with MATLAB's documented definition; add a shim")


def check_ceiq(release: Path) -> None:
    """The harness's CEIQ with the release's model.mat against the README's MATLAB scores."""
    import os

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, run from a checkout
    from methods.handcrafted import CEIQRelease

    os.environ["IPIQA_BENCH_CACHE"] = str(release / "data")  # model.mat is found under it
    method = CEIQRelease()
    readme = (release / "README.md").read_text()
    for image, score in re.findall(r"images/(\d+\.png)[^|]*\|\s*([0-9.]+)", readme):
        ours = method.score(np.asarray(Image.open(release / "images" / image).convert("RGB")), "")
        print(f"ceiq {image}: MATLAB (README) {score}, harness {ours:.6f}, |diff| {abs(ours - float(score)):.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("gmlf", "higrade", "desique", "niqe"):  # required
        parser.add_argument(f"--{name}", type=Path, required=True, help=f"folder with the original {name} code")
    parser.add_argument("--ceiq", type=Path, help="folder with the CEIQ release (optional)")
    args = parser.parse_args()
    if args.ceiq:
        check_ceiq(args.ceiq)
    images_dir = OUT / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    for name, image in fixture_images().items():
        Image.fromarray(image).save(images_dir / f"{name}.png", optimize=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        check_octave_builtins(tmp)
        listing = tmp / "images.txt"
        listing.write_text("\n".join(str(p) for p in sorted(images_dir.glob("*.png"))) + "\n")
        # pkg load first, then the releases, then the shims: addpath prepends, so the shims win.
        dirs = [args.gmlf, args.higrade, args.desique, args.niqe, HERE, HERE / "matlab_shims"]
        code = "pkg load image; pkg load statistics; " + " ".join(
            f"addpath('{d.resolve()}');" for d in dirs)
        code += f" reference_features('{listing}', '{OUT}', '{(args.niqe / 'modelparameters.mat').resolve()}');"
        _octave(code, tmp)
    for name in ("gmlf", "higrade", "niqe"):
        rows = (OUT / f"{name}.csv").read_text().splitlines()
        print(f"{name}: {len(rows)} images x {len(rows[0].split(',')) - 1} values")


if __name__ == "__main__":
    main()
