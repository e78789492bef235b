"""The registered IP-IQA methods: the full model and every row of the paper's Table 3.

=================  ============  ===============  ==========  ===================
method             Image2Prompt  integral prompt  [QA] token  Table 3 row
=================  ============  ===============  ==========  ===================
ipiqa-base         -             -                -           1 (CLIP RN50 image tower)
ipiqa-i2p          yes           -                -           2
ipiqa-prompt       -             yes              -           3 (frozen text tower)
ipiqa-i2p-prompt   yes           yes              -           4
ipiqa              yes           yes              yes         5 (IP-IQA; Tables 1-2)
=================  ============  ===============  ==========  ===================

All train through the shared loop (bench.torch_method / bench.training): one model per
split with an output per target (AGIQA-1k: mos; AGIQA-3k: mos_quality and mos_align), Adam,
lr 1e-5 with the MLP head at x10, images at 512 px, 100 epochs (paper Sec. 4.1.2; the public
configs' head_scale), dropout 0.5 (public configs).

Backbone (``clip``):

* ``RN50``: OpenAI's CLIP RN50 through the asset resolver (``RN50.pt``); the ``*i2p*``
  rows load an Image2Prompt checkpoint written by ``ipiqa-bench pretrain image2prompt``
  (``i2p_checkpoint``, default ``<cache>/ipiqa/image2prompt-RN50.pt``, that command's
  default output). Either missing is an AssetMissing error naming what to do.
* ``small``: the demo's stand-in (methods.ipiqa.standin): a small CLIP trained
  contrastively on generated pairs and its Image2Prompt stage, both built once and cached;
  their paths and hashes go into each split's report in the run manifest.
* ``auto`` (default): ``small`` on the demo dataset, ``RN50`` everywhere else.

``prompt_mode`` (``ipiqa`` only): ``qa_token`` (the paper's single learnable [QA] vector)
or ``code`` (the public code's trainable token-embedding table, read at end-of-text).
"""

from __future__ import annotations

from pathlib import Path

from bench.errors import AssetMissing, BenchError
from bench.registry import register_method
from bench.torch_method import TorchMethod
from methods.ipiqa.assets import OPENAI_RN50, default_i2p_checkpoint

TARGETS = ("quality", "alignment", "mos")
BACKBONES = ("auto", "RN50", "small")
# open_clip's OPENAI_DATASET_MEAN / _STD, written out so that listing methods imports no torch
CLIP_MEAN_STD = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))


def is_demo_frame(frame) -> bool:
    """True when the images are the generated demo dataset's (its folder holds spec.json)."""
    import json

    if frame.empty:
        return False
    spec = Path(frame["path"].iloc[0]).resolve().parent.parent / "spec.json"
    try:
        return "generator_version" in json.loads(spec.read_text())
    except (OSError, ValueError):
        return False


class IPIQAMethod(TorchMethod):
    """IP-IQA and its ablations; subclasses fix which components they use."""

    mean_std = CLIP_MEAN_STD
    joint_targets = True  # one head with an output per target, as the paper on AGIQA-3k
    IMAGE2PROMPT, USE_PROMPT, PROMPT_MODE = True, True, "qa_token"

    def __init__(self, clip="auto", image2prompt=None, use_prompt=None, prompt_mode=None, i2p_checkpoint=None,
                 clip_weights=None, pretrained=True, dropout=None, **train):
        super().__init__(**train)
        self.clip = clip
        # the ablation flags are config (the Table 3 renderer reads them from the manifest)
        self.image2prompt = self.IMAGE2PROMPT if image2prompt is None else image2prompt
        self.use_prompt = self.USE_PROMPT if use_prompt is None else use_prompt
        self.prompt_mode = (self.PROMPT_MODE if self.use_prompt else "frozen") if prompt_mode is None else prompt_mode
        self.i2p_checkpoint = i2p_checkpoint
        self.clip_weights = clip_weights
        self.pretrained = pretrained
        self.dropout = dropout
