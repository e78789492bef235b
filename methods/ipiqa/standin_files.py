"""Where the demo's stand-in CLIP and its Image2Prompt stage are cached, and whether they
are built: apart from their training (methods.ipiqa.standin) so that listing what a method
needs imports no torch."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.assets import cache_dir

STANDIN_VERSION = "1"


@dataclass(frozen=True)
class StandinSpec:
    image_size: int = 64  # the small CLIP's own resolution (``full`` fine-tunes at twice it)
    render_size: int = 128  # pairs are rendered larger and resized, like the demo images
    clip_pairs: int = 8000
    clip_epochs: int = 4
    clip_batch_size: int = 128
    clip_lr: float = 1e-3
    i2p_pairs: int = 2000
    i2p_epochs: int = 2
    i2p_batch_size: int = 32
    i2p_lr: float = 1e-4
    # DiffusionDB's prompts often do not describe their image; here a share of the pairs get
    # one attribute of their prompt wrong, so that the similarity filter has work to do. The
    # threshold is on the stand-in's cosine scale, not OpenAI CLIP's (the paper's 0.35).
    i2p_corrupt: float = 0.3
    threshold: float = 0.85
    eval_pairs: int = 300
    seed: int = 1  # pair streams: clip = seed, i2p = seed + 1, evaluation = seed + 2

    def key(self, stage: str) -> str:
        """Cache key of a stage: its own settings and those of the stages before it."""
        fields = [f for f in asdict(self) if not f.startswith(("i2p_", "threshold"))]
        if stage == "i2p":
            fields = list(asdict(self))
        from bench.datasets.demo_generator import GENERATOR_VERSION

        # the generator's version too: its pairs are the training data, so new images retrain
        text = json.dumps({"version": STANDIN_VERSION, "generator": GENERATOR_VERSION,
                           **{f: getattr(self, f) for f in fields}}, sort_keys=True)
        return f"{stage}-v{STANDIN_VERSION}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class StandinCheckpoints:
    clip: Path  # stage 1: a state dict of the small CLIP (build_clip("small", path))
    i2p: Path  # stage 2: an Image2Prompt checkpoint (image2prompt.load_checkpoint)

    def record(self) -> dict:
        """Paths and hashes, for the run manifest."""
        from bench.files import file_sha256

        return {name: {"path": str(path), "sha256": file_sha256(path)}
                for name, path in (("standin_clip", self.clip), ("standin_i2p", self.i2p))}


DEFAULT_SPEC = StandinSpec()  # the ``full`` preset's stand-in, and any use that names none
# The demo's default stand-in (``demo`` preset): pretrained at 96 px, the resolution the demo
# preset fine-tunes at (its frozen trunk then sees objects at the scale it learnt them), on half
# the pairs, with a contrastive lr of 3e-3; held-out trials in docs/decisions.md.
STANDIN_SPECS = {"demo": StandinSpec(image_size=96, clip_pairs=4000, i2p_pairs=1000, clip_lr=3e-3)}


def standin_spec(name: "StandinSpec | str | None" = None) -> StandinSpec:
    """The stand-in a method names in its config (``standin``): None or ``full``, DEFAULT_SPEC."""
    if isinstance(name, StandinSpec):
        return name
    if name is None or name == "full":
        return DEFAULT_SPEC
    if name not in STANDIN_SPECS:
        from bench.errors import BenchError

        raise BenchError(f"unknown stand-in {name!r}; expected full or {', '.join(STANDIN_SPECS)}")
    return STANDIN_SPECS[name]


def standin_dirs(spec: StandinSpec | str | None = None) -> dict[str, Path]:
    """Each stage's cache folder; stage 2's lies in stage 1's, so that changing only the
    Image2Prompt settings reuses the stand-in CLIP."""
    spec = standin_spec(spec)
    clip = cache_dir() / "demo" / "ipiqa-standin" / spec.key("clip")
    return {"clip": clip, "i2p": clip / spec.key("i2p")}


def standin_paths(spec: StandinSpec | str | None = None) -> StandinCheckpoints:
    folders = standin_dirs(spec)
    return StandinCheckpoints(folders["clip"] / "clip.pt", folders["i2p"] / "i2p.pt")


def standin_built(spec: StandinSpec | str | None = None, image2prompt: bool = True) -> bool:
    """Whether the stand-in's stages are cached (``image2prompt=False``: its CLIP alone)."""
    paths = standin_paths(spec)
    return paths.clip.is_file() and (paths.i2p.is_file() or not image2prompt)
