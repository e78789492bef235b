"""ImageReward (Xu et al., NeurIPS 2023): a BLIP-based reward model of human preference
for (prompt, image) pairs, scored as the published ``ImageReward.score(prompt, image)``."""

from __future__ import annotations

from bench.assets import Asset, register_asset
from bench.registry import register_method
from methods.alignment._scorer import PromptScorer, clip_transform, image_batch, load_torch_checkpoint, torch_device

_HF = "https://huggingface.co/THUDM/ImageReward/resolve/main"
CHECKPOINT = register_asset(Asset(
    name="imagereward-v1.0", filename="ImageReward.pt", url=f"{_HF}/ImageReward.pt",
    description="ImageReward v1.0 weights (BLIP ViT-L/16 + BERT + MLP)"))
MED_CONFIG = register_asset(Asset(
    name="imagereward-med-config", filename="med_config.json", url=f"{_HF}/med_config.json",
    description="ImageReward's BLIP text-encoder (BERT) configuration"))
# BLIP's init_tokenizer() loads bert-base-uncased; its vocabulary is the one file it needs.
# Saved under the name pytorch-pretrained-BERT gave it, so it cannot clash with other vocab.txt files.
BERT_VOCAB = register_asset(Asset(
    name="bert-base-uncased-vocab", filename="bert-base-uncased-vocab.txt",
    url="https://huggingface.co/google-bert/bert-base-uncased/resolve/main/vocab.txt",
    description="BERT base uncased WordPiece vocabulary (save vocab.txt under this name)"))


@register_method("imagereward", family="alignment", display="ImageReward", uses_prompt=True,
                 targets=("alignment", "mos"), assets=(CHECKPOINT.name, MED_CONFIG.name, BERT_VOCAB.name),
                 trained_on=("imagerewarddb",),  # Xu et al., NeurIPS 2023 (paper); prompts from DiffusionDB
                 fidelity="faithful: equals the published image-reward package's score (tests/test_alignment.py)")
class ImageReward(PromptScorer):
    """ImageReward (Xu et al., NeurIPS 2023): BLIP reward model of human preference, v1.0 weights."""

    def __init__(self, pretrained=True, med_config=None, vocab=None, vit="large", image_size=224, batch_size=16,
                 device="auto"):
        self.pretrained = pretrained
        self.med_config = med_config  # None: the official file through the asset resolver
        self.vocab = vocab            # None: the official file through the asset resolver
        self.vit = vit
        self.image_size = image_size
        self.batch_size = batch_size
        self.device = device

    def weight_files(self):
        return {"pretrained": (self.pretrained, CHECKPOINT), "med_config": (self.med_config or True, MED_CONFIG),
                "vocab": (self.vocab or True, BERT_VOCAB)}

    def build(self):
        from methods.alignment import blip_reward

        device = torch_device(self.device)
        med_config = blip_reward.read_med_config(self.weight_path("med_config"))
        tokenizer = blip_reward.bert_tokenizer(self.weight_path("vocab"))
        network = blip_reward.BLIPReward(med_config, self.vit, self.image_size)
        path = self.weight_path("pretrained")
        if path is not None:
            blip_reward.load_published_state_dict(network, load_torch_checkpoint(path), path)
        return network.float().eval().to(device), tokenizer, clip_transform(self.image_size), device

    def score_batch(self, model, images, prompts):
        import torch

        from methods.alignment.blip_reward import tokenize

        network, tokenizer, transform, device = model
        input_ids, attention_mask = tokenize(tokenizer, prompts)
        with torch.no_grad():
            reward = network(image_batch(images, transform).to(device), input_ids.to(device), attention_mask.to(device))
        return reward.cpu().numpy()
