"""Epoch-state resume: an interrupted training continues from its last finished epoch and
ends exactly where an uninterrupted one does (tiny CPU models)."""

import numpy as np
import pytest
import torch

from bench.testing.images import write_image_set
from bench.train.epoch_state import EpochState, epoch_states, state_for
from bench.train.loop import (
    ImageDataset,
    TrainConfig,
    image_transform,
    make_loader,
    predict_model,
    train_model,
)


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.head = torch.nn.Linear(4, 1)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def _forward(model, batch):
    return model(batch["image"])


@pytest.fixture
def frame(tmp_path):
    frame = write_image_set(tmp_path / "img", n_groups=4, per_group=3)
    return frame, ((frame["mos"] - frame["mos"].min()) / np.ptp(frame["mos"])).to_numpy()[:, None]


CONFIG = TrainConfig(epochs=5, batch_size=4, image_size=16, lr=0.05, num_workers=0, lr_schedule="cosine",
                     optimizer="adamw", hflip=True)


def _train(frame, y, state=None, interrupt_at=None):
    """Train from scratch as TorchMethod does (seeded, model built first); the selection
    hook scores each epoch and raises KeyboardInterrupt at epoch ``interrupt_at``."""
    torch.manual_seed(0)
    np.random.seed(0)
    model = _Net()
    loader = make_loader(ImageDataset(frame, image_transform(CONFIG, train=True), y), CONFIG.batch_size, CONFIG,
                         shuffle=True, device="cpu")
    eval_loader = make_loader(ImageDataset(frame, image_transform(CONFIG, train=False)), 6, CONFIG, False, "cpu")
    epochs = []

    def select(m):
        epochs.append(1)
        if len(epochs) == interrupt_at:
            raise KeyboardInterrupt
        pred = predict_model(m, _forward, eval_loader, "cpu")[:, 0]
        return float(-np.mean((pred - y[:, 0]) ** 2) + np.random.rand() * 1e-3)  # consumes numpy's RNG too

    report = train_model(model, _forward, [{"params": model.parameters(), "lr": CONFIG.lr}], loader, CONFIG, "cpu",
                         select, resume=state)
    return predict_model(model, _forward, eval_loader, "cpu"), report


def test_interrupted_training_resumes_at_its_last_epoch_bit_identically(frame, tmp_path):
    frame, y = frame
    expected, full = _train(frame, y)
    state = EpochState(tmp_path / "state" / "mos-all.pt", "key")
    with pytest.raises(KeyboardInterrupt):
        _train(frame, y, state, interrupt_at=3)
    saved = torch.load(state.path, weights_only=True)  # tensors and plain values only
    assert saved["epoch"] == 2 and (tmp_path / "state" / "mos-all.pt.sha256").exists()
    resumed, report = _train(frame, y, state)
    assert report.resumed_at_epoch == 2
    assert report.epoch_loss == full.epoch_loss and report.selection_scores == full.selection_scores
    assert report.selected_epoch == full.selected_epoch and report.lr_end == full.lr_end
    assert np.array_equal(resumed, expected)  # bit-identical on the CPU (no loader workers)
    # From a finished state: no epoch runs, and the same selected weights come back.
    again, report = _train(frame, y, state, interrupt_at=1)
    assert report.resumed_at_epoch == 5 and np.array_equal(again, expected)


def test_a_state_from_another_config_or_damaged_is_removed_not_resumed(frame, tmp_path):
    frame, y = frame
    with epoch_states(tmp_path / "s"):
        first = state_for("mos-all", {"config": {"lr": 0.05}})
        other = state_for("mos-all", {"config": {"lr": 0.01}})
    assert first.path == other.path and first.key != other.key
    with pytest.raises(KeyboardInterrupt):
        _train(frame, y, first, interrupt_at=2)
    assert first.path.exists()
    assert other.load() is None and not first.path.exists()
    assert not first.path.with_name("mos-all.pt.sha256").exists()
    with pytest.raises(KeyboardInterrupt):
        _train(frame, y, first, interrupt_at=2)
    first.path.write_bytes(first.path.read_bytes()[:-1] + b"x")  # damaged: the checksum says so
    assert first.load() is None and not first.path.exists()
    _, report = _train(frame, y, first)
    assert report.resumed_at_epoch is None


def test_no_state_outside_a_run():
    assert state_for("mos-all", {}) is None
