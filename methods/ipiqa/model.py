"""The IP-IQA network (arXiv 2403.18714, Sec. 3) as plain torch modules on top of open_clip.

CLIP itself (ModifiedResNet image tower, text transformer, tokenizer, contrastive loss) comes
from open_clip; this module only adds what IP-IQA puts around it:

* the visual branch: the image tower's own attention pool, its positional embedding resized
  to the training resolution;
* the cross-modality branch: a second attention pool over the same feature map whose single
  query is the prompt embedding;
* the MLP head over both branches;
* the frozen text tower with either the paper's learnable [QA] token or the public code's
  trainable token-embedding table;
* Image2Prompt pretraining (1 - cosine between image and frozen prompt embedding) and the
  checkpoint hand-over of its image tower into the fine-tuning model.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
from collections.abc import Iterable

import open_clip
import torch
import torch.nn.functional as F
from open_clip.modified_resnet import ModifiedResNet
from torch import nn

from bench.assets.safe_load import is_torchscript, load_state_dict_file

# qa_token: the paper's learnable [QA] vector; code: the public code's trainable token table;
# frozen: the text tower as is, read at end-of-text (Table 3's "integral prompt" rows 3-4).
PROMPT_MODES = ("qa_token", "code", "frozen")

# OpenAI's RN50 was trained with QuickGELU (open_clip's "RN50" config uses nn.GELU), so the
# "-quickgelu" variant is the architecture that the OpenAI RN50.pt weights belong to.
RN50_NAME = "RN50-quickgelu"

# A tiny CLIP from the same configurable towers, for CPU tests and the from-scratch demo.
# The text side keeps CLIP's vocabulary so open_clip's real tokenizer still applies.
SMALL_CFG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 16, "head_width": 64},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
CONFIGS = ("RN50", "small")
# the image tower's attention-pool positional embedding, its grid the tower's resolution / 32
POOL_POS_KEY = "attnpool.positional_embedding"


# --------------------------------------------------------------------------- CLIP


def build_clip(config: str = "RN50", pretrained_path: str | None = None,
               image_size: int | None = None) -> open_clip.CLIP:
    """An open_clip CLIP: "RN50" (OpenAI architecture) or "small"; random init unless
    `pretrained_path` names a local checkpoint (OpenAI TorchScript RN50.pt or a state dict).

    `image_size` (small only): the image tower's resolution; by default the checkpoint's own
    (its attention pool's grid), else SMALL_CFG's 64 px."""
    if config not in CONFIGS:
        raise ValueError(f"unknown CLIP config {config!r}; expected one of {CONFIGS}")
    if image_size is not None and config != "small":
        raise ValueError(f"the {config} CLIP has a fixed resolution; image_size is for the small one")
    state = None
    if pretrained_path is not None:
        if not os.path.isfile(pretrained_path):
            raise FileNotFoundError(f"CLIP checkpoint not found: {pretrained_path}")
        state = load_state_dict_file(pretrained_path, "CLIP checkpoint")
    if config == "RN50":
        with _quiet_random_init_warning():  # random init is the intent here; weights come next
            model = open_clip.create_model(RN50_NAME, pretrained=None)
    else:
        cfg = copy.deepcopy(SMALL_CFG)
        cfg["vision_cfg"]["image_size"] = image_size or _checkpoint_image_size(state) or cfg["vision_cfg"]["image_size"]
        model = open_clip.CLIP(**cfg, quick_gelu=True)
    if state is not None:
        try:
            load_clip_state(model, state, is_torchscript(pretrained_path))
        except (RuntimeError, AssertionError) as e:  # open_clip asserts on some shape mismatches
            raise ValueError(f"{pretrained_path} does not fit the {config} CLIP: {e}") from e
    return model


def _checkpoint_image_size(state: dict | None) -> int | None:
    """The resolution a ModifiedResNet checkpoint was built for: 32 px a cell of its pool's grid."""
    pos = (state or {}).get(f"visual.{POOL_POS_KEY}")
    grid = pool_grid(pos) if pos is not None and pos.ndim == 2 else None
    return 32 * grid if grid else None


@contextlib.contextmanager
def _quiet_random_init_warning():
    class Quiet(logging.Filter):
        def filter(self, record):
            return "No pretrained weights loaded" not in record.getMessage()

    quiet, root = Quiet(), logging.getLogger()
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)


def load_clip_state(model: open_clip.CLIP, state: dict, torchscript: bool) -> None:
    """Load a CLIP checkpoint's tensors strictly (read as data by bench.assets.safe_load, never
    run); ``torchscript``: they come from an OpenAI release archive."""
    expected = model.state_dict()
    if torchscript:
        # The archive also holds what open_clip keeps out of the state dict (input_resolution,
        # context_length, vocab_size, the non-persistent attention masks).
        state = {k: v for k, v in state.items() if k in expected}
    if "logit_scale" in state and state["logit_scale"].ndim != expected["logit_scale"].ndim:
        state["logit_scale"] = state["logit_scale"].reshape(expected["logit_scale"].shape)
    model.load_state_dict(state, strict=True)


def get_tokenizer(clip: open_clip.CLIP):
    """open_clip's CLIP BPE tokenizer, padded/truncated to the model's context length."""
    return open_clip.SimpleTokenizer(context_length=clip.context_length)


def clip_contrastive_loss(
    image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric InfoNCE via open_clip's ClipLoss. `logit_scale` is the multiplier
    (`clip.logit_scale.exp()`), as ClipLoss expects; embeddings are L2-normalised here."""
    return open_clip.ClipLoss()(
        F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1), logit_scale
    )


# --------------------------------------------------------------------------- pieces


def pool_grid(pos: torch.Tensor) -> int | None:
    """g of an attention-pool positional embedding [1 + g*g, C]; None if it is not one."""
    grid = math.isqrt(max(pos.shape[0] - 1, 0))
    return grid if grid > 0 and grid * grid == pos.shape[0] - 1 else None


def resize_pool_pos_embed(pos: torch.Tensor, grid: int) -> torch.Tensor:
    """Bicubically resize an attention-pool positional embedding [1 + g*g, C] to grid x grid;
    the leading mean-token entry is kept as is."""
    old = pool_grid(pos)
    if old is None:
        raise ValueError(f"positional embedding with {pos.shape[0]} tokens is not 1 + a square grid")
    if old == grid:
        return pos
    spatial = pos[1:].reshape(old, old, -1).permute(2, 0, 1).unsqueeze(0)
    spatial = F.interpolate(spatial, size=(grid, grid), mode="bicubic", align_corners=False)
    return torch.cat([pos[:1], spatial[0].permute(1, 2, 0).reshape(grid * grid, -1)])


def _tokens_with_mean(feat: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, 1 + HW, C]: mean token prepended, positional embedding added,
    as in open_clip's AttentionPool2d."""
    x = feat.flatten(2).transpose(1, 2)
    x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1)
    return x + pos.to(x.dtype)


class CrossModalityAttentionPool(nn.Module):
    """AttentionPool2d whose single query is the prompt embedding (Sec. 3.4, Eq. 4-5).

    Keys/values: the feature map tokens (mean token first) plus its own positional embedding,
    projected by k_proj / v_proj like open_clip's AttentionPool2d. The query is the prompt
    embedding (`query_dim`, e.g. 1024) projected by q_proj into the feature width (e.g. 2048),
    where AttentionPool2d would project the mean visual token instead.
    """

    def __init__(self, grid: int, feat_dim: int, query_dim: int, num_heads: int, output_dim: int):
        super().__init__()
        if feat_dim % num_heads:
            raise ValueError(f"feat_dim {feat_dim} not divisible by num_heads {num_heads}")
        pos = torch.randn(grid * grid + 1, feat_dim) / feat_dim**0.5  # as AttentionPool2d
        self.positional_embedding = nn.Parameter(pos)
        self.q_proj = nn.Linear(query_dim, feat_dim)
        self.k_proj = nn.Linear(feat_dim, feat_dim)
        self.v_proj = nn.Linear(feat_dim, feat_dim)
        self.c_proj = nn.Linear(feat_dim, output_dim)
        self.num_heads = num_heads

    def forward(self, feat: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        x = _tokens_with_mean(feat, self.positional_embedding)  # [B, L, C]
        b, length, c = x.shape
        h = self.num_heads
        q = self.q_proj(query).reshape(b, h, 1, c // h)
        k = self.k_proj(x).reshape(b, length, h, c // h).transpose(1, 2)
        v = self.v_proj(x).reshape(b, length, h, c // h).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(qk^T / sqrt(d_head)) v
        return self.c_proj(out.reshape(b, c))


class PromptEncoder(nn.Module):
    """CLIP's text tower, frozen, reading the prompt embedding at the end-of-text position.

    qa_token: one learnable [QA] vector replaces the end-of-text token embedding (paper).
    code:     the whole token-embedding table is trainable, no new token (public code).
    frozen:   nothing in the text tower trains (Table 3's rows without the [QA] token).

    The public code's ``freeze_module`` leaves the text positional embedding and
    text_projection trainable by mistake; that is not reproduced: in every mode here they
    stay frozen.
    """

    def __init__(self, clip: open_clip.CLIP, prompt_mode: str = "qa_token"):
        super().__init__()
        if prompt_mode not in PROMPT_MODES:
            raise ValueError(f"unknown prompt_mode {prompt_mode!r}; expected one of {PROMPT_MODES}")
        if clip.text_pool_type != "argmax":
            raise ValueError("expected a CLIP text tower that pools at the end-of-text token (argmax)")
        self.prompt_mode = prompt_mode
        self.context_length = clip.context_length  # what get_tokenizer pads to
        self.token_embedding = clip.token_embedding
        self.positional_embedding = clip.positional_embedding
        self.transformer = clip.transformer
        self.ln_final = clip.ln_final
        self.text_projection = clip.text_projection
        self.register_buffer("attn_mask", clip.attn_mask, persistent=False)
        for p in self.parameters():
            p.requires_grad_(False)
        if prompt_mode == "qa_token":
            # CLIP's end-of-text id is the last vocabulary entry (what argmax pooling relies on).
            eot = self.token_embedding.weight[clip.vocab_size - 1]
            self.qa_token = nn.Parameter(eot.detach().clone())
        elif prompt_mode == "code":
            self.token_embedding.weight.requires_grad_(True)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        eot = tokens.argmax(dim=-1)  # end-of-text has the highest id
        x = self.token_embedding(tokens)
        if self.prompt_mode == "qa_token":
            at_eot = F.one_hot(eot, tokens.shape[1]).bool().unsqueeze(-1)
            x = torch.where(at_eot, self.qa_token.to(x.dtype), x)
        x = x + self.positional_embedding.to(x.dtype)
        x = self.transformer(x, attn_mask=self.attn_mask)
        x = self.ln_final(x)[torch.arange(x.shape[0], device=x.device), eot]
        proj = self.text_projection
        return proj(x) if isinstance(proj, nn.Linear) else x @ proj


def _mlp_head(in_dim: int, n_outputs: int, dropout: float) -> nn.Sequential:
    # the public code's MLPHead: dropout -> dense -> tanh -> dropout -> out_proj
    return nn.Sequential(
        nn.Dropout(dropout), nn.Linear(in_dim, in_dim), nn.Tanh(),
        nn.Dropout(dropout), nn.Linear(in_dim, n_outputs),
    )


# --------------------------------------------------------------------------- IP-IQA


class IPIQA(nn.Module):
    """Image tower + (optionally) frozen text tower, visual and cross-modality attention pools,
    MLP head. Takes over the modules of `clip` (the image tower's pool is resized in place)."""

    def __init__(
        self,
        clip: open_clip.CLIP,
        image_size: int = 512,
        n_outputs: int = 1,
        use_prompt: bool = True,
        prompt_mode: str = "qa_token",
        cross_heads: int | None = None,
        dropout: float = 0.5,
        freeze_trunk: bool = False,
    ):
        super().__init__()
        if not isinstance(clip.visual, ModifiedResNet):
            raise TypeError("IP-IQA needs a ModifiedResNet (RN) image tower")
        if image_size % 32:
            raise ValueError(f"image_size must be a multiple of 32, got {image_size}")
        self.image_size, self.use_prompt = image_size, use_prompt
        grid = image_size // 32
        self.visual = clip.visual
        pool = self.visual.attnpool  # the visual branch (mean token as query)
        resized = resize_pool_pos_embed(pool.positional_embedding.data, grid)
        pool.positional_embedding = nn.Parameter(resized)
        self.visual.image_size = image_size
        feat_dim, embed_dim = pool.k_proj.in_features, pool.c_proj.out_features

        self.text = self.cross_pool = None
        if use_prompt:
            self.text = PromptEncoder(clip, prompt_mode)
            # RN50: 2048 / 64 = 32 heads as in the paper; narrower towers scale down.
            heads = cross_heads or max(1, feat_dim // 64)
            self.cross_pool = CrossModalityAttentionPool(grid, feat_dim, embed_dim, heads, embed_dim)
        self.head = _mlp_head(embed_dim * (2 if use_prompt else 1), n_outputs, dropout)
        # A frozen trunk (stem and layers 1-4) keeps its initialisation, batch-norm statistics
        # included; the attention pools, the prompt's trainable part and the head still train.
        self.freeze_trunk = freeze_trunk
        if freeze_trunk:
            for p in self.trunk_parameters():
                p.requires_grad_(False)

    def trunk_modules(self) -> list[nn.Module]:
        """The image tower less its attention pool: the stem's convolutions and layers 1-4."""
        return [m for name, m in self.visual.named_children() if name != "attnpool"]

    def trunk_parameters(self) -> list[nn.Parameter]:
        return [p for m in self.trunk_modules() for p in m.parameters()]

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_trunk:
            for m in self.trunk_modules():
                m.eval()
        return self

    def image_features(self, images: torch.Tensor) -> torch.Tensor:
        """The final feature map [B, C, H/32, W/32] (2048 channels for RN50)."""
        v = self.visual
        x = v.stem(images)
        for layer in (v.layer1, v.layer2, v.layer3, v.layer4):
            x = layer(x)
        return x

    def encode_prompt(self, tokens: torch.Tensor) -> torch.Tensor:
        """Prompt embedding [B, embed_dim] read at the [QA] / end-of-text position."""
        if self.text is None:
            raise RuntimeError("this IPIQA was built with use_prompt=False")
        return self.text(tokens)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_features(self.image_features(images), tokens)

    def forward_features(self, feat: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        """The prediction from the trunk's feature map (``image_features``): what follows the
        trunk, so that a frozen trunk's maps can be computed once per image."""
        _check_grid(feat, self.visual.attnpool.positional_embedding)  # both pools share the grid
        branches = [self.visual.attnpool(feat)]
        if self.use_prompt:
            if tokens is None:
                raise ValueError("use_prompt=True needs prompt tokens")
            branches.append(self.cross_pool(feat, self.encode_prompt(tokens)))
        return self.head(torch.cat(branches, dim=-1))

    def head_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.head.parameters() if p.requires_grad]

    def backbone_parameters(self) -> list[nn.Parameter]:
        head = {id(p) for p in self.head.parameters()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in head]

    def trainable_parameter_groups(self, lr: float = 1e-5, head_lr_mult: float = 10.0) -> list[dict]:
        """Optimizer groups: everything trainable at `lr`, the MLP head at lr * head_lr_mult
        (the public configs' head_scale: 10). Frozen text-tower weights are left out."""
        return [
            {"name": "backbone", "params": self.backbone_parameters(), "lr": lr},
            {"name": "head", "params": self.head_parameters(), "lr": lr * head_lr_mult},
        ]


def _check_grid(feat: torch.Tensor, pos: torch.Tensor) -> None:
    # open_clip's AttentionPool2d would fail with a bare broadcasting error on a wrong size
    if feat.shape[2] * feat.shape[3] + 1 != pos.shape[0]:
        raise ValueError(
            f"feature map {tuple(feat.shape[2:])} does not match the attention pools' "
            f"{pos.shape[0] - 1} positions; feed images at the model's image_size"
        )


# --------------------------------------------------------------------------- Image2Prompt


def image2prompt_loss(image_emb: torch.Tensor, prompt_emb: torch.Tensor) -> torch.Tensor:
    """Eq. 1: mean of 1 - cos(image embedding, prompt embedding)."""
    return (1 - F.cosine_similarity(image_emb, prompt_emb, dim=-1)).mean()


class Image2PromptModel(nn.Module):
    """Image2Prompt incremental pretraining (Sec. 3.3): the text tower (and logit scale) are
    frozen; the image tower learns to map an image onto its prompt's embedding."""

    def __init__(self, clip: open_clip.CLIP):
        super().__init__()
        self.clip = clip
        clip.lock_text_tower()
        clip.logit_scale.requires_grad_(False)
        if clip.logit_bias is not None:
            clip.logit_bias.requires_grad_(False)

    @property
    def visual(self) -> nn.Module:
        return self.clip.visual

    @torch.no_grad()
    def prompt_embeddings(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.clip.encode_text(tokens)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The Image2Prompt loss for a batch."""
        return image2prompt_loss(self.clip.encode_image(images), self.prompt_embeddings(tokens))


def i2p_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The image-tower weights of an Image2Prompt model (or any CLIP / IPIQA): the whole
    ModifiedResNet including its attention pool, keys relative to the tower."""
    return {k: v.detach().clone() for k, v in model.visual.state_dict().items()}


def load_i2p_state_dict(model: IPIQA, state: dict[str, torch.Tensor]) -> None:
    """Load Image2Prompt image-tower weights into an IPIQA model; strict on keys and shapes.
    The attention pool's positional embedding is resized to the model's resolution."""
    own = model.visual.state_dict()
    missing, unexpected = sorted(own.keys() - state.keys()), sorted(state.keys() - own.keys())
    if missing or unexpected:
        raise ValueError(
            "Image2Prompt checkpoint does not match the IPIQA image tower: "
            f"{len(missing)} missing keys {_preview(missing)}, "
            f"{len(unexpected)} unexpected keys {_preview(unexpected)}"
        )
    state = dict(state)
    grid = pool_grid(own[POOL_POS_KEY])
    if state[POOL_POS_KEY].shape[1:] == own[POOL_POS_KEY].shape[1:]:
        state[POOL_POS_KEY] = resize_pool_pos_embed(state[POOL_POS_KEY], grid)
    wrong = [
        f"{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items() if state[k].shape != v.shape
    ]
    if wrong:
        raise ValueError(
            f"Image2Prompt checkpoint shapes differ from the IPIQA image tower "
            f"(checkpoint vs model), {len(wrong)} tensors: {_preview(wrong)}"
        )
    model.visual.load_state_dict(state, strict=True)


def _preview(names: Iterable[str], n: int = 5) -> str:
    names = list(names)
    return str(names[:n])[:-1] + (", ...]" if len(names) > n else "]")


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
