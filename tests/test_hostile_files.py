"""Crafted files never run code: every checkpoint or cache loader is handed a pickle whose
``__reduce__`` would create a marker file, and the marker must never appear."""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_cli

from bench.errors import BenchError
from bench.testing.images import write_image_set

ROOT = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling it calls ``open(marker, "w")``: the file appears iff code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "MARKER"
    yield path
    assert not path.exists(), "loading a crafted file ran code from it"


def torch_pickle(path: Path, marker: Path) -> Path:
    torch.save({"method": "x", "state": Payload(marker), "w": torch.zeros(2)}, path)
    return path


def raw_pickle(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"models": Payload(marker)}))
    return path


def torchscript_archive(path: Path, marker: Path) -> Path:
    """A zip laid out as TorchScript (data.pkl, constants.pkl, code/) whose data.pkl runs code."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("evil/data.pkl", pickle.dumps(Payload(marker), protocol=2))
        zf.writestr("evil/constants.pkl", pickle.dumps((), protocol=2))
        zf.writestr("evil/code/__torch__.py", "class Evil(Module):\n  __parameters__ = []\n  __buffers__ = []\n")
        zf.writestr("evil/version", "3\n")
    return path


def object_npz(path: Path, marker: Path) -> Path:
    with open(path, "wb") as f:  # a file object: savez would append .npz to the name
        np.savez(f, keys=np.array([Payload(marker)], dtype=object), features=np.zeros((1, 2)))
    return path


CRAFTS = {"torch.save": torch_pickle, "pickle": raw_pickle, "torchscript": torchscript_archive, "npz": object_npz}


@pytest.mark.parametrize("craft", CRAFTS)
@pytest.mark.parametrize("method", ["test-sharpness-svr", "gmlf", "cnniqa"])
def test_score_checkpoint_runs_no_code(method, craft, marker, tmp_path):
    image = write_image_set(tmp_path / "imgs", n_groups=1, per_group=1)["path"][0]
    checkpoint = CRAFTS[craft](tmp_path / "split_0.pt", marker)
    result = run_cli("score", "--method", method, "--checkpoint", str(checkpoint), image)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("ipiqa-bench: error: ") and str(checkpoint) in lines[-1], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("craft", CRAFTS)
def test_cache_and_weight_loaders_run_no_code(craft, marker, tmp_path, monkeypatch):
    from bench.assets.safe_load import (
        load_state_dict_file,
        load_torch,
        read_torchscript_state,
    )
    from bench.run.feature_cache import FeatureCache
    from methods import _sklearn_state
    from methods.alignment._scorer import load_torch_checkpoint
    from methods.ipiqa.image2prompt import load_checkpoint as load_i2p
    from methods.ipiqa.model import build_clip

    path = CRAFTS[craft](tmp_path / "file.pt", marker)
    loaders = {
        "torch": lambda: load_torch(path),
        "state dict": lambda: load_state_dict_file(path),
        "torchscript": lambda: read_torchscript_state(path),
        "image2prompt checkpoint": lambda: load_i2p(path, "small"),
        "stand-in / CLIP weights": lambda: build_clip("small", str(path)),
        "alignment weights": lambda: load_torch_checkpoint(str(path)),
        "svr state": lambda: _sklearn_state.loads(path.read_bytes(), "gmlf"),
        "clipscore weights": lambda: __import__("methods.alignment.clipscore", fromlist=["x"])
        .load_open_clip("RN50", str(path), "cpu"),
    }
    for name, load in loaders.items():
        with pytest.raises((BenchError, ValueError)):
            load()
        assert not marker.exists(), name
    npz = object_npz(tmp_path / "feat-v1.npz", marker)
    # numpy refuses object arrays without allow_pickle: the cache is read as unreadable and recomputed
    assert FeatureCache(npz.parent, "feat", "1").missing(["x"]) == [0]
    assert not marker.exists()


def test_pyiqa_weight_files_are_read_without_pickle(marker, offline_cache, monkeypatch):
    """pyiqa's own loader unpickles fully; DBCNN's S-CNN file goes through ours instead."""
    import torchvision

    from bench.assets.safe_load import CheckpointError
    from bench.registry import create_method
    from methods import deep

    (offline_cache / "assets").mkdir()
    torch_pickle(offline_cache / "assets" / "DBCNN_scnn-7ea73d75.pth", marker)
    vgg = torchvision.models.vgg16(weights=None).state_dict()
    monkeypatch.setattr(deep, "_torchvision_state", lambda asset: vgg)
    with pytest.raises(CheckpointError, match="DBCNN_scnn-7ea73d75.pth"):
        create_method("dbcnn").build_model(1, pretrained=True)


def test_image2prompt_training_state_is_refused_and_restarted(marker, tmp_path):
    from methods.ipiqa import image2prompt

    # A crafted resume file in the work folder: read as tensors only, hence refused.
    with pytest.raises(BenchError, match="holds more than tensors"):
        image2prompt.load_torch(torch_pickle(tmp_path / image2prompt.TRAIN_STATE, marker), "state")


def test_no_unsafe_loader_in_the_code():
    """No call that executes a file's content: full unpickling, TorchScript loading, pickled numpy."""
    unsafe = re.compile(r"weights_only\s*=\s*False|pickle\.loads?\(|torch\.jit\.load\(|allow_pickle\s*=\s*True"
                        r"|joblib\.load|load_openai_model\(")
    hits = [f"{p.relative_to(ROOT)}:{i}" for folder in ("bench", "methods") for p in (ROOT / folder).rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if unsafe.search(line)]
    assert hits == []


# --------------------------------------------------------------------------- real checkpoints


def test_svr_checkpoint_round_trips_without_pickle():
    from bench.registry import create_method

    rng = np.random.default_rng(0)
    X, Y = rng.random((40, 5)), {"quality": rng.random(40), "mos": rng.random(40)}
    fitted = create_method("gmlf").fit_features(X, Y, np.arange(40) % 8)
    data = fitted.checkpoint()
    assert data[:2] == b"PK" and b"\x80\x04" not in data[:64]  # an npz, not a pickle stream
    restored = create_method("gmlf").load_checkpoint(data)
    test = rng.random((10, 5))
    for target, pred in fitted.predict_features(test).items():
        np.testing.assert_array_equal(restored.predict_features(test)[target], pred)
    with pytest.raises(BenchError, match="written by gmlf, not higrade"):
        create_method("higrade").load_checkpoint(data)
    # arrays that disagree (libsvm would index past them) are refused, not handed to libsvm
    with np.load(io.BytesIO(data)) as archive:
        arrays = {key: archive[key] for key in archive.files}
    key = next(k for k in arrays if k.endswith(".support_vectors_"))
    arrays[key] = arrays[key][:3]
    tampered = io.BytesIO()
    np.savez(tampered, **arrays)
    with pytest.raises(BenchError, match="damaged gmlf checkpoint"):
        create_method("gmlf").load_checkpoint(tampered.getvalue())


def test_torchscript_archive_reads_like_jit_state_dict(tmp_path):
    """The restricted reader returns exactly what torch.jit.load(...).state_dict() does."""
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 2)
            self.register_buffer("scale", torch.arange(4.0))
            self.mask = torch.ones(2)  # a plain tensor attribute: not state

        def forward(self, x):
            return self.fc(x) * self.mask

    from bench.assets.safe_load import read_torchscript_state

    torch.manual_seed(0)
    net = Net().eval()
    torch.jit.trace(net, torch.zeros(1, 3)).save(str(tmp_path / "net.pt"))
    state = read_torchscript_state(tmp_path / "net.pt")
    assert list(state) == list(net.state_dict())
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())


def test_archive_without_buffer_lists_keeps_every_tensor(tmp_path):
    """Archives whose class files list no ``__buffers__`` (older TorchScript) keep every
    tensor attribute; OpenAI CLIP's plain ``attn_mask`` attribute is then dropped by name."""
    from bench.assets.safe_load import read_openai_clip_state, read_torchscript_state

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)
            self.attn_mask = torch.ones(2)

        def forward(self, x):
            return self.fc(x) * self.attn_mask

    torch.jit.script(Block()).save(str(tmp_path / "new.pt"))  # scripted: the attribute is kept
    with zipfile.ZipFile(tmp_path / "new.pt") as new, zipfile.ZipFile(tmp_path / "old.pt", "w") as old:
        for item in new.namelist():
            data = new.read(item)
            if item.endswith(".py"):
                data = re.sub(rb"\n  __buffers__ = \[.*?\]", b"", data)
            old.writestr(item, data)
    assert list(read_torchscript_state(tmp_path / "new.pt")) == ["fc.weight", "fc.bias"]
    assert set(read_torchscript_state(tmp_path / "old.pt")) == {"fc.weight", "fc.bias", "attn_mask"}
    assert set(read_openai_clip_state(tmp_path / "old.pt")) == {"fc.weight", "fc.bias"}


def test_score_checks_the_checkpoint_sidecar_and_method(tiny_dataset, results_dir):
    path = tiny_dataset["path"][0]
    assert run_cli("run", "--methods", "test-sharpness-svr", "--dataset", "tinyfiles", "--splits", "1",
                   "--results-dir", str(results_dir)).exit_code == 0
    checkpoint = results_dir / "tinyfiles" / "test-sharpness-svr" / "checkpoints" / "split_0.pt"
    sidecar = checkpoint.with_name("split_0.pt.sha256")
    assert sidecar.read_text().split() == [__import__("hashlib").sha256(checkpoint.read_bytes()).hexdigest(),
                                           "split_0.pt"]
    # another method's checkpoint: one line naming the file and whose it is
    wrong = run_cli("score", "--method", "gmlf", "--checkpoint", str(checkpoint), path)
    assert wrong.exit_code == 2 and "written by test-sharpness-svr, not gmlf" in wrong.stderr
    assert str(checkpoint) in wrong.stderr
    # a damaged checkpoint: refused by its checksum before any loader sees it
    checkpoint.write_bytes(checkpoint.read_bytes()[:-10] + b"0" * 10)
    damaged = run_cli("score", "--method", "test-sharpness-svr", "--checkpoint", str(checkpoint), path)
    assert damaged.exit_code == 2 and "does not match its checksum" in damaged.stderr


def test_assets_without_checksum_are_taken_only_from_the_assets_folder(offline_cache):
    import methods.alignment.imagereward  # noqa: F401  (registers its assets)
    from bench.assets import get_asset, is_present, resolve
    from bench.errors import AssetMissing

    stray = offline_cache / "elsewhere" / "ImageReward.pt"
    stray.parent.mkdir()
    stray.write_bytes(b"not the publisher's file")
    assert get_asset("imagereward-v1.0").sha256 is None and not is_present("imagereward-v1.0")
    with pytest.raises(AssetMissing, match="assets/ImageReward.pt"):
        resolve("imagereward-v1.0")
    placed = offline_cache / "assets" / "ImageReward.pt"
    placed.parent.mkdir()
    placed.write_bytes(io.BytesIO(b"x").getvalue())
    assert resolve("imagereward-v1.0") == placed
