"""IP-IQA network: shapes (RN50, random init), what trains in the text tower, prompt use,
Image2Prompt checkpoint hand-over, and that the small config learns. CPU, offline."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F

from methods.ipiqa.model import (
    IPIQA,
    Image2PromptModel,
    build_clip,
    clip_contrastive_loss,
    get_tokenizer,
    i2p_state_dict,
    image2prompt_loss,
    load_i2p_state_dict,
)

PROMPTS = ["a red car on a city street, realistic style", "an alien driving an aircraft",
           "a cat in the snow", "portrait of an old man, oil painting"]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def rn50():
    torch.manual_seed(0)
    return build_clip("RN50")


@pytest.fixture(scope="module")
def small_clip():
    torch.manual_seed(0)
    return build_clip("small")


def small_model(small_clip, **kw):
    # IPIQA takes over (and resizes) the CLIP's modules: give each model its own copy
    kw.setdefault("image_size", 64)
    return IPIQA(copy.deepcopy(small_clip), **kw)


def tokens(clip, prompts=PROMPTS):
    return get_tokenizer(clip)(prompts)


def images(n, size=64):
    return torch.randn(n, 3, size, size)


def changed(before: dict, after: dict) -> set:
    return {k for k in before if not torch.equal(before[k], after[k])}


def ids(params) -> set:
    return {id(p) for p in params}


def snapshot(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def step(model, x, tok, lr=1e-2):
    opt = torch.optim.Adam(model.trainable_parameter_groups(lr=lr))
    model.train()
    loss = F.mse_loss(model(x, tok), torch.randn(x.shape[0], model.head[-1].out_features))
    opt.zero_grad()
    loss.backward()
    opt.step()


# --------------------------------------------------------------------------- RN50 shapes


def test_rn50_shapes(rn50):
    model = IPIQA(copy.deepcopy(rn50), image_size=512, n_outputs=2).eval()
    tok = tokens(rn50, PROMPTS[:1])
    with torch.no_grad():
        assert model.image_features(images(1, 224)).shape == (1, 2048, 7, 7)
        assert model.encode_prompt(tok).shape == (1, 1024)
        assert model.visual.attnpool.positional_embedding.shape == (16 * 16 + 1, 2048)
        assert model.cross_pool.positional_embedding.shape == (16 * 16 + 1, 2048)
        assert model.cross_pool.num_heads == 32
        assert model.cross_pool.q_proj.in_features == 1024  # the prompt embedding is the query
        assert model.head[1].in_features == 2048
        assert model(images(1, 512), tok).shape == (1, 2)
        # the same trunk with a one-output head (AGIQA-1k)
        model.head[-1] = torch.nn.Linear(2048, 1)
        assert model(images(1, 512), tok).shape == (1, 1)
        with pytest.raises(ValueError, match="image_size"):
            model(images(1, 224), tok)


def test_rn50_visual_only_head(rn50):
    model = IPIQA(copy.deepcopy(rn50), image_size=512, use_prompt=False)
    assert model.text is None and model.cross_pool is None
    assert model.head[1].in_features == 1024 and model.head[-1].out_features == 1


def test_pos_embed_resize_keeps_mean_token(rn50):
    before = rn50.visual.attnpool.positional_embedding.detach().clone()
    grid = math.isqrt(before.shape[0] - 1)
    model = IPIQA(copy.deepcopy(rn50), image_size=64 * grid)  # twice the native grid
    after = model.visual.attnpool.positional_embedding
    assert after.shape[0] == (2 * grid) ** 2 + 1
    assert torch.equal(after[0], before[0])


# --------------------------------------------------------------------------- what trains


def test_qa_token_mode_trains_only_the_qa_vector_in_text_tower(small_clip):
    model = small_model(small_clip, prompt_mode="qa_token")
    trainable_text = {n for n, p in model.text.named_parameters() if p.requires_grad}
    assert trainable_text == {"qa_token"}
    eot = small_clip.token_embedding.weight[small_clip.vocab_size - 1]
    assert torch.equal(model.text.qa_token.detach(), eot)
    text0, visual0 = snapshot(model.text), snapshot(model.visual)
    step(model, images(4), tokens(small_clip))
    assert changed(text0, snapshot(model.text)) == {"qa_token"}
    assert changed(visual0, snapshot(model.visual))  # the image tower does train


def test_qa_token_replaces_end_of_text_embedding(small_clip):
    model = small_model(small_clip, prompt_mode="qa_token").eval()
    tok = tokens(small_clip)
    with torch.no_grad():
        e0 = model.encode_prompt(tok)
        # initialised from the end-of-text embedding: identical to CLIP's own encode_text
        assert torch.allclose(e0, small_clip.encode_text(tok), atol=1e-5)
        model.text.qa_token.add_(1.0)
        assert not torch.allclose(model.encode_prompt(tok), e0)


def test_code_mode_trains_only_the_token_embedding_table(small_clip):
    model = small_model(small_clip, prompt_mode="code")
    assert not hasattr(model.text, "qa_token")
    trainable_text = {n for n, p in model.text.named_parameters() if p.requires_grad}
    assert trainable_text == {"token_embedding.weight"}
    text0 = snapshot(model.text)
    step(model, images(4), tokens(small_clip))
    assert changed(text0, snapshot(model.text)) == {"token_embedding.weight"}


def test_parameter_groups(small_clip):
    model = small_model(small_clip)
    backbone, head = model.trainable_parameter_groups(lr=1e-5, head_lr_mult=10.0)
    assert backbone["lr"] == 1e-5 and head["lr"] == pytest.approx(1e-4)
    assert ids(head["params"]) == ids(model.head.parameters())
    assert not ids(head["params"]) & ids(backbone["params"])
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert ids(head["params"]) | ids(backbone["params"]) == ids(trainable)
    assert id(model.text.qa_token) in ids(backbone["params"])
    assert id(model.text.transformer.resblocks[0].mlp.c_fc.weight) not in ids(backbone["params"])


def test_frozen_trunk_keeps_weights_and_batch_norm_statistics(small_clip):
    model = small_model(small_clip, n_outputs=2, freeze_trunk=True)
    trunk = {id(p) for p in model.trunk_parameters()}
    assert trunk and not trunk & ids(p for g in model.trainable_parameter_groups() for p in g["params"])
    before = snapshot(model)
    step(model, images(4), tokens(small_clip))
    assert all(not m.training for m in model.trunk_modules()) and model.visual.attnpool.training
    moved = changed(before, snapshot(model))
    assert moved and not {k for k in moved if k.startswith("visual.") and not k.startswith("visual.attnpool.")}
    assert {"visual.attnpool.q_proj.weight", "cross_pool.q_proj.weight", "text.qa_token"} <= moved


def test_forward_is_the_trunk_then_forward_features(small_clip):
    model = small_model(small_clip, n_outputs=2).eval()
    x, tok = images(4), tokens(small_clip)
    with torch.no_grad():
        assert torch.equal(model(x, tok), model.forward_features(model.image_features(x), tok))


# --------------------------------------------------------------------------- prompt use


def test_visual_only_ignores_tokens(small_clip):
    model = small_model(small_clip, use_prompt=False).eval()
    x, tok = images(4), tokens(small_clip)
    with torch.no_grad():
        y = model(x, None)
        assert y.shape == (4, 1)
        assert torch.equal(model(x, tok), y)
        assert torch.equal(model(x, tok.flip(0)), y)


def test_fusion_depends_on_prompt(small_clip):
    model = small_model(small_clip, n_outputs=2).eval()
    x, tok = images(4), tokens(small_clip)
    with torch.no_grad():
        y = model(x, tok)
        assert y.shape == (4, 2)
        assert not torch.allclose(model(x, tok.flip(0)), y)
    with pytest.raises(ValueError, match="tokens"):
        model(x, None)


# --------------------------------------------------------------------------- Image2Prompt


def test_image2prompt_loss_values():
    a = torch.randn(3, 8)
    assert image2prompt_loss(a, 2 * a).item() == pytest.approx(0.0, abs=1e-6)
    assert image2prompt_loss(a, -a).item() == pytest.approx(2.0, abs=1e-6)
    e = torch.eye(2)
    assert image2prompt_loss(e, e.flip(0)).item() == pytest.approx(1.0)


def test_image2prompt_trains_image_tower_only(small_clip):
    i2p = Image2PromptModel(copy.deepcopy(small_clip))
    trainable = {n for n, p in i2p.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("clip.visual.") for n in trainable)
    x, tok = images(4), tokens(small_clip)
    opt = torch.optim.Adam([p for p in i2p.parameters() if p.requires_grad], lr=1e-3)
    text0 = {k: v for k, v in snapshot(i2p.clip).items() if not k.startswith("visual.")}
    losses = []
    for _ in range(5):
        loss = i2p(x, tok)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    after = {k: v for k, v in snapshot(i2p.clip).items() if not k.startswith("visual.")}
    assert not changed(text0, after)


def test_i2p_checkpoint_round_trips_into_ipiqa(small_clip):
    i2p = Image2PromptModel(copy.deepcopy(small_clip))
    with torch.no_grad():  # stand-in for pretraining: move every image-tower weight
        for p in i2p.visual.parameters():
            p.add_(torch.randn_like(p))
    state = i2p_state_dict(i2p)
    model = small_model(small_clip)  # same native resolution
    load_i2p_state_dict(model, state)
    assert not changed(state, snapshot(model.visual))

    bigger = small_model(small_clip, image_size=128)  # pool grid 2x2 -> 4x4: resized on load
    load_i2p_state_dict(bigger, state)
    after, pos = snapshot(bigger.visual), "attnpool.positional_embedding"
    assert changed({k: v for k, v in state.items() if k != pos}, after) == set()
    assert after[pos].shape == (4 * 4 + 1, state[pos].shape[1])
    assert torch.equal(after[pos][0], state[pos][0])  # the mean-token entry is not interpolated


def test_i2p_checkpoint_mismatch_is_a_clear_error(small_clip):
    model = small_model(small_clip)
    state = i2p_state_dict(small_clip)
    with pytest.raises(ValueError, match=r"1 missing keys \['layer1.0.conv1.weight'\]"):
        load_i2p_state_dict(model, {k: v for k, v in state.items() if k != "layer1.0.conv1.weight"})
    with pytest.raises(ValueError, match=r"1 unexpected keys \['extra.weight'\]"):
        load_i2p_state_dict(model, {**state, "extra.weight": torch.zeros(1)})
    bad = {**state, "conv1.weight": torch.zeros(1, 2, 3, 3)}
    with pytest.raises(ValueError, match="conv1.weight"):
        load_i2p_state_dict(model, bad)


# --------------------------------------------------------------------------- loading / training


def test_build_clip_from_local_checkpoints(small_clip, tmp_path):
    ref = snapshot(small_clip)
    plain = tmp_path / "state.pt"
    torch.save(small_clip.state_dict(), plain)
    assert not changed(ref, snapshot(build_clip("small", str(plain))))
    # an OpenAI-style TorchScript archive (RN50.pt is one); open_clip's mask buffer is not in it
    scripted = copy.deepcopy(small_clip).eval()
    del scripted._buffers["attn_mask"]
    jit_path = tmp_path / "jit.pt"
    torch.jit.trace_module(scripted, {"encode_image": images(1)}).save(str(jit_path))
    assert not changed(ref, snapshot(build_clip("small", str(jit_path))))
    with pytest.raises(FileNotFoundError):
        build_clip("small", str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError):
        build_clip("RN50", str(plain))


def test_small_clip_resolution_comes_from_its_checkpoint(tmp_path):
    # the demo's stand-in is pretrained at 96 px (a 3x3 pool grid), the full preset's at 64
    torch.manual_seed(0)
    wide = build_clip("small", image_size=96)
    assert wide.visual.attnpool.positional_embedding.shape[0] == 1 + 3 * 3
    path = tmp_path / "clip96.pt"
    torch.save(wide.state_dict(), path)
    loaded = build_clip("small", str(path))
    assert loaded.visual.image_size == 96
    assert not changed(snapshot(wide), snapshot(loaded))
    assert build_clip("small").visual.image_size == 64
    with pytest.raises(ValueError, match="does not fit"):  # a given size must match the checkpoint's
        build_clip("small", str(path), image_size=64)
    with pytest.raises(ValueError, match="fixed resolution"):
        build_clip("RN50", image_size=96)


def test_small_ipiqa_loss_decreases(small_clip):
    # train-mode loss on one fixed batch, dropout off: BatchNorm then sees the same batch
    # statistics every step (eval-mode running stats lag far behind after a few steps)
    model = small_model(small_clip, dropout=0.0).train()
    x, tok, y = images(8), tokens(small_clip, PROMPTS * 2), torch.randn(8, 1)
    opt = torch.optim.Adam(model.trainable_parameter_groups(lr=1e-4, head_lr_mult=10.0))
    losses = []
    for _ in range(10):
        loss = F.mse_loss(model(x, tok), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0]


def test_small_clip_contrastive_training(small_clip):
    clip = copy.deepcopy(small_clip)
    x, tok = images(4), tokens(clip)
    opt = torch.optim.Adam(clip.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        img_emb, txt_emb, scale = clip(x, tok)
        loss = clip_contrastive_loss(img_emb, txt_emb, scale)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    # matches the symmetric cross-entropy written out
    logits = 10.0 * F.normalize(img_emb, dim=-1) @ F.normalize(txt_emb, dim=-1).T
    target = torch.arange(4)
    manual = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    ours = clip_contrastive_loss(img_emb, txt_emb, torch.tensor(10.0))
    assert ours.item() == pytest.approx(manual.item(), rel=1e-5)
