"""IPCE trained in place: its views, its score (checked against the public code's all-pairs
computation), a tiny fit from random weights, and the offline error for its CLIP weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from bench.errors import AssetMissing
from bench.registry import create_method, get_method_info

TINY_CLIP = {"embed_dim": 16, "image_resolution": 32, "vision_layers": 1, "vision_width": 64,
             "vision_patch_size": 16, "context_length": 77, "vocab_size": 49408, "transformer_width": 64,
             "transformer_heads": 1, "transformer_layers": 1}
TINY = {"pretrained": False, "clip_config": TINY_CLIP, "patch_stride": 8, "image_size": 64, "epochs": 1,
        "batch_size": 8, "device": "cpu", "num_workers": 0}


def test_registered_for_both_tables_with_the_published_recipe():
    info = get_method_info("ipce")
    assert info.family == "deep" and info.uses_prompt and info.trains
    assert info.targets == ("quality", "alignment", "mos")
    config = create_method("ipce").train_config()
    assert (config.optimizer, config.lr, config.weight_decay, config.batch_size, config.epochs, config.loss,
            config.image_size) == ("adamw", 5e-6, 1e-3, 16, 30, "l1", 512)


def test_views_are_patches_plus_the_whole_image():
    method = create_method("ipce", **TINY)
    config = method.train_config()
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8))
    train = method.transform(config, train=True)(image)
    test = method.transform(config, train=False)(image)
    assert train.shape == (9, 3, 32, 32) and test.shape == (16, 3, 32, 32)
    # 40x50 is enlarged to 64x80 (short side 64): patches at stride 8 -> 5 x 7 = 35, 15 evenly spaced.
    again = method.transform(config, train=False)(image)
    assert torch.equal(test, again)  # testing views are deterministic


def published_scores(model, views, prompts):
    """The public code's do_batch_prompt and score mapping: every view against every prompt
    of the batch, then each image's own five, patch logits averaged, two softmaxes averaged."""
    import clip

    from methods.ipce import LEVELS

    n, v = views.shape[:2]
    texts = [f"a photo that {c} matches '{p}'" for p in prompts for c in LEVELS]
    tokens = torch.cat([clip.tokenize(t, truncate=True) for t in texts])
    logits_per_image, _ = model(views.reshape(-1, *views.shape[2:]), tokens)
    logits = logits_per_image.view(n, v, -1)
    logits = torch.cat((logits[:, :v - 1, :].mean(1).unsqueeze(1), logits[:, -1, :].unsqueeze(1)), 1)
    own = torch.stack([logits[i, :, i * 5:(i + 1) * 5] for i in range(n)])
    p = F.softmax(own, dim=2).mean(1)
    quality = sum((k + 1) * p[:, k] for k in range(5))
    return ((quality - 1) / 4) * 5


def test_score_equals_the_public_code(tiny_dataset):
    torch.manual_seed(0)
    method = create_method("ipce", **TINY)
    model = method.build_model(1, pretrained=False).eval()
    with torch.no_grad():
        model.logit_scale.fill_(4.6052)  # the trained scale, so the softmaxes are far from uniform
    views_of = method.transform(method.train_config(), train=False)
    paths, prompts = tiny_dataset["path"].tolist()[:4], ["a red cat", "two dogs", "", "a castle at night " * 20]
    views = torch.stack([views_of(Image.open(p)) for p in paths])
    with torch.no_grad():
        ours = method.forward(model, {"image": views, "prompt": prompts})[:, 0].numpy()
        theirs = published_scores(model, views, prompts).numpy()
    np.testing.assert_allclose(ours * 5, theirs, atol=1e-5)  # theirs is on AGIQA's 0-5 scale
    assert np.ptp(theirs) > 1e-3


def test_tiny_fit_from_random_weights(tiny_dataset, one_torch_thread):
    train, test = tiny_dataset.iloc[:16], tiny_dataset.iloc[32:]
    method = create_method("ipce", **TINY).fit(train, ["mos"])
    model = method.models_[0][1]
    assert not model.logit_scale.requires_grad
    assert len(method.report_["models"]["mos"]["epoch_loss"]) == 1
    pred = method.predict(test)["mos"].to_numpy()
    assert pred.shape == (8,) and np.all(np.isfinite(pred))
    restored = create_method("ipce", **TINY).load_checkpoint(method.checkpoint())
    np.testing.assert_allclose(restored.predict(test)["mos"].to_numpy(), pred, atol=1e-5)


def test_missing_clip_weights_fail_with_the_offline_message(offline_cache, tiny_dataset):
    with pytest.raises(AssetMissing) as info:
        create_method("ipce", **dict(TINY, pretrained=True, clip_config=None)).fit(tiny_dataset.iloc[:8], ["mos"])
    message = str(info.value)
    assert "ViT-B-32.pt" in message and "https://openaipublic" in message
    assert str(offline_cache / "assets" / "ViT-B-32.pt") in message
