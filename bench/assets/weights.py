"""Pretrained network files that several methods start from, declared once for the resolver.

The names are the publishers' official file names, so a file downloaded by torchvision,
pyiqa or OpenAI's ``clip`` package can be dropped into the cache as it is. Checksums:
OpenAI's URL carries the file's full sha256; torchvision's file names carry the first
8 hex digits of it (checked by ``check_prefix``); pyiqa publishes none.
"""

from __future__ import annotations

from pathlib import Path

from bench.assets import Asset, cached_sha256, register_asset
from bench.errors import AssetMissing

PYIQA_WEIGHTS = "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main"

RESNET50_IMAGENET = register_asset(Asset(
    name="resnet50-imagenet",
    filename="resnet50-0676ba61.pth",
    url="https://download.pytorch.org/models/resnet50-0676ba61.pth",
    description="torchvision ResNet-50 ImageNet weights (ResNet50_Weights.IMAGENET1K_V1)",
))

VGG16_IMAGENET = register_asset(Asset(
    name="vgg16-imagenet",
    filename="vgg16-397923af.pth",
    url="https://download.pytorch.org/models/vgg16-397923af.pth",
    description="torchvision VGG-16 ImageNet weights (VGG16_Weights.IMAGENET1K_V1)",
))

DBCNN_SCNN = register_asset(Asset(
    name="dbcnn-scnn",
    filename="DBCNN_scnn-7ea73d75.pth",
    url=f"{PYIQA_WEIGHTS}/DBCNN_scnn-7ea73d75.pth",
    description="DBCNN's S-CNN branch pretrained on synthetic distortions (pyiqa release)",
))

CLIP_RN50_OPENAI = register_asset(Asset(
    name="clip-rn50-openai",
    filename="RN50.pt",
    url="https://openaipublic.azureedge.net/clip/models/"
        "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762/RN50.pt",
    sha256="afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762",
    description="OpenAI CLIP RN50 (TorchScript archive)",
))


def check_prefix(path: Path, asset: Asset) -> Path:
    """Verify a torchvision-style ``name-<sha256 prefix>.pth`` file against its prefix."""
    prefix = Path(asset.filename).stem.rsplit("-", 1)[-1]
    stat = Path(path).stat()
    if not cached_sha256(str(path), stat.st_size, stat.st_mtime_ns).startswith(prefix):
        raise AssetMissing(f"{path} does not match the sha256 prefix {prefix} in its name: delete it and retry")
    return Path(path)
