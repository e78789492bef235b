"""The demo's stand-in CLIP, for methods other than IP-IQA (CLIPScore on the demo): the one
place they reach it through, so none depends on how the stand-in is built or stored."""

from __future__ import annotations


def demo_clip_version(standin: str | None = None) -> str:
    """Changes whenever the stand-in is retrained differently (cached scores go stale);
    ``standin``: its name (methods.ipiqa.standin.standin_spec)."""
    from methods.ipiqa.standin_files import STANDIN_VERSION, standin_spec  # no torch: listings call it

    return STANDIN_VERSION if standin in (None, "full") else standin_spec(standin).key("clip")


def load_demo_clip(device, standin: str | None = None):
    """(network, tokenizer): the stand-in CLIP ``standin`` (its name) in float32, eval mode,
    on ``device``; built and cached on first use (its CLIP stage alone: the Image2Prompt stage
    is IP-IQA's, and a run builds only what its methods use)."""
    from methods.ipiqa.base_clip import load_base_clip
    from methods.ipiqa.model import get_tokenizer
    from methods.ipiqa.standin import ensure_standin

    network = load_base_clip("small", ensure_standin(standin, image2prompt=False).clip).model.float().eval().to(device)
    return network, get_tokenizer(network)


def demo_clip_state(standin: str | None = None, image2prompt: bool = True) -> str:
    """"cached", or "built on first use" (minutes on a CPU), for listings; ``standin``: its name."""
    from methods.ipiqa.standin_files import standin_built

    return "cached" if standin_built(standin, image2prompt) else "built on first use"
