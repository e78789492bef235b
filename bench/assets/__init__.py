"""One resolver for every pretrained file: cache directory, official URL, checksum.

A file is found by its official file name in ``<cache>/assets/``, so users (and tests) can
place it by hand; one with a pinned checksum also anywhere under the cache directory. Failing
that, an asset the package ships a copy of (``shipped``: small published parameter sets whose
licence allows it, in ``bench/assets/shipped/``) resolves to that copy, verified against its
own checksum. Online, a missing file is downloaded once and verified; offline, resolving fails
with a message naming the file, the URL and where to put it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from bench.bars import progress_bar
from bench.errors import AssetMissing

CACHE_ENV = "IPIQA_BENCH_CACHE"
OFFLINE_ENV = "IPIQA_BENCH_OFFLINE"


@dataclass(frozen=True)
class Asset:
    name: str
    filename: str
    url: str
    sha256: str | None = None  # None: the publisher gives no stable checksum
    description: str = ""
    # The publisher shares it only through a web page (OneDrive, Google Drive): never
    # fetched automatically, since the URL would return an HTML page, not the file.
    manual: bool = False
    # A whole Hugging Face repository (``org/name``) that a library reads through the Hugging
    # Face cache itself (transformers' ``from_pretrained``): found and fetched there, not here.
    hub_repo: str | None = None
    # A copy shipped inside the package (a file name in bench/assets/shipped/) and its sha256;
    # it may be another format than the official file, with the same values.
    shipped: str | None = None
    shipped_sha256: str | None = None


_ASSETS: dict[str, Asset] = {}


def register_asset(asset: Asset) -> Asset:
    if asset.shipped and not asset.shipped_sha256:
        raise ValueError(f"asset {asset.name!r}: a shipped copy needs its sha256 (shipped_sha256)")
    _ASSETS[asset.name] = asset
    return asset


def get_asset(name: str) -> Asset:
    try:
        return _ASSETS[name]
    except KeyError:
        raise KeyError(f"unknown asset {name!r}") from None


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ipiqa-bench")


def find_cached(asset: Asset) -> Path | None:
    """``<cache>/assets/<official name>``; an asset with a pinned checksum is also found
    anywhere under the cache directory (``resolve`` verifies it), one without only there,
    so no stray file of the same name elsewhere in the cache is ever taken for it."""
    if asset.hub_repo:
        return _cached_hub_repo(asset.hub_repo)
    root = cache_dir()
    direct = root / "assets" / asset.filename
    if direct.is_file():
        return direct
    if asset.sha256 is None or not root.is_dir():
        return None
    return next((p for p in sorted(root.rglob(asset.filename)) if p.is_file()), None)


def shipped_path(asset: Asset) -> Path | None:
    """The package's own copy of ``asset``, if it ships one (and the install has it)."""
    if asset.shipped is None:
        return None
    path = Path(str(resources.files("bench.assets").joinpath("shipped", asset.shipped)))
    return path if path.is_file() else None


def needs_download(name: str) -> bool:
    """Whether the asset is a file to download (the package ships no copy of it)."""
    return get_asset(name).shipped is None


def availability(name: str) -> str:
    """``present`` (in the cache), ``shipped`` (the package's copy will be used) or ``missing``."""
    asset = get_asset(name)
    if find_cached(asset) is not None:
        return "present"
    return "shipped" if shipped_path(asset) is not None else "missing"


def is_present(name: str) -> bool:
    return availability(name) != "missing"


def resolve(name: str, download: bool = True) -> Path:
    """Path of a verified local copy of asset ``name``: the cache's, else the package's
    shipped copy, else a download if allowed."""
    asset = get_asset(name)
    path = find_cached(asset)
    if path is None and shipped_path(asset) is not None:
        path = shipped_path(asset)
        _verify(path, asset.shipped_sha256)
        return path
    if path is None:
        if not download or os.environ.get(OFFLINE_ENV):
            raise AssetMissing(_missing_message(asset, "downloads are disabled"))
        if asset.manual:
            raise AssetMissing(_missing_message(asset, "it has no direct download link"))
        path = _download_hub_repo(asset) if asset.hub_repo else _download(asset)
    _verify(path, asset.sha256)
    return path


def provenance(name: str) -> dict:
    """What a run used for asset ``name`` (resolving it): the file, its sha256 where pinned,
    and its source: ``cache`` (the official file) or ``shipped`` (the package's copy)."""
    asset = get_asset(name)
    path = resolve(name)
    shipped = shipped_path(asset)
    source = "shipped" if shipped is not None and path == shipped else "cache"
    record = {"file": path.name, "source": source}
    sha = asset.shipped_sha256 if source == "shipped" else asset.sha256
    if sha:
        record["sha256"] = sha
    return record


def _missing_message(asset: Asset, reason: str) -> str:
    if asset.hub_repo:
        return (f"Hugging Face repository {asset.hub_repo!r} ({asset.name}) is not in the Hugging Face cache "
                f"({reason}); fetch it from {asset.url} with `huggingface-cli download {asset.hub_repo}`")
    target = cache_dir() / "assets" / asset.filename
    return (
        f"pretrained file {asset.filename!r} ({asset.name}) is not available ({reason}); "
        f"download it from {asset.url} and put it at {target}"
    )


def _download(asset: Asset) -> Path:
    target = cache_dir() / "assets" / asset.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{asset.filename}.")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(asset.url, timeout=30) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with progress_bar(total=total, unit="B", unit_scale=True, desc=asset.filename) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
        _verify(Path(tmp), asset.sha256)
        os.replace(tmp, target)
    except OSError as exc:  # URLError, timeouts and DNS failures are OSErrors
        raise AssetMissing(_missing_message(asset, f"download failed: {exc}")) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _cached_hub_repo(repo: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(repo, "config.json")
    return Path(config).parent if isinstance(config, str) else None


def _download_hub_repo(asset: Asset) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(asset.hub_repo))
    except OSError as exc:
        raise AssetMissing(_missing_message(asset, f"download failed: {exc}")) from None


def _verify(path: Path, sha256: str | None) -> None:
    if sha256 is None:
        return
    stat = path.stat()
    actual = cached_sha256(str(path), stat.st_size, stat.st_mtime_ns)
    if actual != sha256:
        raise AssetMissing(f"{path} has sha256 {actual}, expected {sha256}: delete it and retry")


@lru_cache(maxsize=None)
def cached_sha256(path: str, size: int, mtime_ns: int) -> str:  # size/mtime make the memo safe
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_into_cache(src: Path) -> Path:
    """Place a file by hand (used by tests and by users with a manual download)."""
    target = cache_dir() / "assets" / Path(src).name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    return target
