"""Images on which the handcrafted extractors are pinned to their recorded outputs.

Built from scikit-image's bundled photographs with exact integer operations only (crops,
2x2 integer means, integer noise from a seeded PCG64), so the pixels do not depend on the
versions of PIL or SciPy. Odd and non-multiple sizes reach the partial-block and odd-length
code paths; the flat ramp reaches the near-flat blocks where NIQE is most fragile.
"""
from __future__ import annotations

import numpy as np


def _mean2x2(a: np.ndarray) -> np.ndarray:
    a = a[: a.shape[0] // 2 * 2, : a.shape[1] // 2 * 2].astype(np.int64)
    return ((a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2] + 2) // 4).astype(np.uint8)


def _flat_ramp() -> np.ndarray:
    y, x = np.mgrid[0:200, 0:264]
    v = 60 + y // 4 + x // 6
    v[40:120, 150:230] = 200  # a flat patch with hard edges
    return np.repeat(v[..., None], 3, axis=2).astype(np.uint8) + np.array([0, 3, 7], dtype=np.uint8)


def equivalence_images() -> dict[str, np.ndarray]:
    from skimage import data

    rng = np.random.default_rng(31)
    chelsea = data.chelsea().astype(np.int64)  # 300x451
    noisy = np.clip(chelsea + rng.integers(-20, 21, chelsea.shape), 0, 255).astype(np.uint8)
    return {
        "astronaut": data.astronaut(),                       # 512x512
        "astronaut_odd_crop": data.astronaut()[5:298, 17:420],  # 293x403
        "chelsea_noisy": noisy,
        "coffee_half": _mean2x2(data.coffee()),              # 200x300, smoothed
        "flat_ramp": _flat_ramp(),
    }
