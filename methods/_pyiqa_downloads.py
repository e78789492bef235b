"""Build a pyiqa network with every file it fetches resolved through bench.assets.

pyiqa's networks fetch files in several ways: pyiqa's own ``load_file_from_url`` and
``load_pretrained_network``, its copy of OpenAI's ``clip.load``, ``torch.hub`` (torchvision
ImageNet weights) and timm's ``pretrained=True`` (the Hugging Face hub). Inside
``redirected_downloads`` each of them gets the file from the asset cache instead: found by
its official file name, downloaded there once when downloads are allowed, otherwise an
``AssetMissing`` naming the file, its URL and where to put it. Checkpoints are read with
``torch.load(weights_only=True)``: pyiqa's own loader unpickles anything.

Networks that load whole Hugging Face repositories through ``transformers`` (Q-Align,
Q-ReAlign, Compare2Score) are not single files; with downloads disabled the hub is put
offline, and a repository missing from the Hugging Face cache fails naming it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from urllib.parse import urlparse

from bench.assets import _ASSETS, OFFLINE_ENV, Asset, register_asset, resolve
from bench.errors import AssetMissing, BenchError

HF = "https://huggingface.co"


def asset_for_url(url: str, filename: str | None = None) -> Asset:
    """The registered asset for ``url`` (one declared elsewhere keeps its checksum), or a new one."""
    filename = filename or os.path.basename(urlparse(url).path)
    for asset in _ASSETS.values():
        if asset.url == url or asset.filename == filename:
            if asset.shipped is None:
                return asset
            # pyiqa reads the official file itself, never the package's copy (NIQE's .npz):
            # the same file and checksum, without the shipped fallback
            return _ASSETS.get(f"pyiqa/{asset.filename}") or register_asset(dataclasses.replace(
                asset, name=f"pyiqa/{asset.filename}", shipped=None, shipped_sha256=None))
    return register_asset(Asset(name=f"pyiqa/{filename}", filename=filename, url=url,
                                description="pretrained file fetched by pyiqa"))


def hub_repository(repo: str) -> Asset:
    """A whole Hugging Face repository that transformers reads from the Hugging Face cache."""
    name = f"hf:{repo}"
    return _ASSETS.get(name) or register_asset(Asset(name=name, filename=repo.replace("/", "--"), url=f"{HF}/{repo}",
                                                     hub_repo=repo, description="Hugging Face repository"))


def asset_path(url: str, filename: str | None = None) -> str:
    return str(resolve(asset_for_url(url, filename).name))


def _safe_load(path, map_location="cpu", **_ignored):
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise BenchError(f"{path} is not a plain tensor checkpoint ({type(exc).__name__}); "
                         "refusing to unpickle it") from None


def _load_pretrained_network(net, model_path, strict=True, weight_keys=None):
    """pyiqa's ``load_pretrained_network`` through the asset cache, tensors only."""
    from pyiqa.archs.arch_util import clean_state_dict

    if str(model_path).startswith(("http://", "https://")):
        model_path = asset_path(model_path)
    state = _safe_load(model_path)
    if weight_keys is not None:
        state = state[weight_keys]
    net.load_state_dict(clean_state_dict(state), strict=strict)


def _load_file_from_url(url, model_dir=None, progress=True, file_name=None):
    return asset_path(url, file_name)


def _load_state_dict_from_url(url, model_dir=None, map_location=None, progress=True, check_hash=False,
                              file_name=None, weights_only=True):
    return _safe_load(asset_path(url, file_name), map_location or "cpu")


def _clip_download(url, root=None):
    return asset_path(url)


def _timm_load_pretrained(original):
    """timm's ``load_pretrained`` reading the hub file from the asset cache. The file is saved
    as ``<org>--<model>.safetensors``: every hub repository names its file model.safetensors."""

    def load_pretrained(model, pretrained_cfg=None, *args, **kwargs):
        cfg = dict(pretrained_cfg or getattr(model, "pretrained_cfg", None) or {})
        hub_id = cfg.get("hf_hub_id")
        if hub_id:
            filename = cfg.get("hf_hub_filename") or "model.safetensors"
            url = f"{HF}/{hub_id}/resolve/main/{filename}"
            local = hub_id.replace("/", "--") + os.path.splitext(filename)[1]
            cfg = {k: v for k, v in cfg.items() if k not in ("hf_hub_id", "hf_hub_filename", "url", "source")}
            cfg["file"] = asset_path(url, local)
        elif cfg.get("url"):
            cfg["file"] = asset_path(cfg.pop("url"))
        return original(model, cfg, *args, **kwargs)

    return load_pretrained


_PYIQA_HELPERS = {"load_file_from_url": _load_file_from_url, "load_pretrained_network": _load_pretrained_network,
                  "load_state_dict_from_url": _load_state_dict_from_url}


def _unpatch_modules_imported_inside(originals: dict) -> None:
    """A network module first imported while patched bound our helpers by name: give it pyiqa's."""
    for module in _pyiqa_modules():
        for name, replacement in _PYIQA_HELPERS.items():
            if getattr(module, name, None) is replacement and name in originals:
                setattr(module, name, originals[name])


def _pyiqa_modules():
    return [m for name, m in list(sys.modules.items()) if name.startswith("pyiqa") and m is not None]


@contextlib.contextmanager
def redirected_downloads():
    """Patch every way a pyiqa network fetches a file; restore them afterwards."""
    import huggingface_hub.constants as hub_constants
    import pyiqa.archs.arch_util  # noqa: F401  (the modules patched below must be loaded)
    import pyiqa.archs.clip_model as clip_model
    import timm.models._builder as timm_builder
    import torch
    import torch.hub
    import torchvision.models._api as tv_api

    patches = [(torch.hub, "load_state_dict_from_url", _load_state_dict_from_url),
               (tv_api, "load_state_dict_from_url", _load_state_dict_from_url),
               (clip_model, "_download", _clip_download),
               (timm_builder, "load_pretrained", _timm_load_pretrained(timm_builder.load_pretrained)),
               (torch, "load", _forced_weights_only(torch.load))]
    for module in _pyiqa_modules():
        for name, replacement in _PYIQA_HELPERS.items():
            if callable(getattr(module, name, None)):
                patches.append((module, name, replacement))
    if os.environ.get(OFFLINE_ENV):
        patches.append((hub_constants, "HF_HUB_OFFLINE", True))
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    originals = {name: value for module, name, value in saved if name in _PYIQA_HELPERS}
    try:
        for module, name, value in patches:
            setattr(module, name, value)
        with contextlib.redirect_stdout(sys.stderr):  # pyiqa prints "Loading pretrained model..."
            yield
    except OSError as exc:  # transformers' from_pretrained with the hub offline
        if isinstance(exc, AssetMissing):
            raise
        raise AssetMissing(f"a Hugging Face repository is missing from the Hugging Face cache and downloads are "
                           f"disabled ({str(exc).splitlines()[0]})") from None
    finally:
        for module, name, value in reversed(saved):
            setattr(module, name, value)
        _unpatch_modules_imported_inside(originals)


def _forced_weights_only(original):
    def load(f, *args, weights_only=None, **kwargs):
        return original(f, *args, weights_only=True, **kwargs)

    return load
