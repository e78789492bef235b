"""Training caps for rehearsals and small machines: ``max_steps`` stops a training after that
many optimisation steps; ``micro_batch`` computes a batch in chunks with the same update."""

import numpy as np
import pytest
import torch

from bench.errors import BenchError
from bench.testing.images import write_image_set
from bench.train.loop import ImageDataset, TrainConfig, image_transform, make_loader, micro_batches, train_model


def _fit(tmp_path, model=None, **config):
    frame = write_image_set(tmp_path / "img", n_groups=4, per_group=3)  # 12 images
    y = ((frame["mos"] - frame["mos"].min()) / np.ptp(frame["mos"])).to_numpy()[:, None]
    config = TrainConfig(**{"epochs": 4, "batch_size": 4, "image_size": 16, "lr": 0.05, "num_workers": 0, **config})
    torch.manual_seed(0)
    if model is None:
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                    torch.nn.Linear(2, 1))
    loader = make_loader(ImageDataset(frame, image_transform(config, train=True), y), config.batch_size, config,
                         shuffle=True, device="cpu")
    report = train_model(model, lambda m, b: m(b["image"]), [{"params": model.parameters(), "lr": config.lr}],
                         loader, config, "cpu")
    return model, report


@pytest.mark.parametrize("max_steps, epochs_run, stopped", [(1, 1, 1), (5, 2, 5), (3, 1, 3), (11, 4, 11),
                                                             (12, 4, None), (100, 4, None)])
def test_max_steps_stops_training_after_that_many_steps(tmp_path, max_steps, epochs_run, stopped):
    _, report = _fit(tmp_path, max_steps=max_steps)  # 3 steps an epoch, 4 epochs
    steps = min(max_steps, 12)
    assert report.speed["steps"] == steps and report.speed["images"] == 4 * steps
    assert len(report.epoch_loss) == epochs_run and report.selected_epoch == epochs_run
    # A cap that cuts the last epoch short (11 of 12 steps) is recorded too; one that falls on the end is not.
    assert report.as_dict().get("stopped_at_step") == stopped


def test_max_steps_cutting_a_single_epoch_short_is_recorded(tmp_path):
    _, report = _fit(tmp_path, epochs=1, max_steps=2)  # 3 batches in the one epoch
    assert report.speed["steps"] == 2 and report.as_dict().get("stopped_at_step") == 2


def test_without_max_steps_every_epoch_runs(tmp_path):
    _, report = _fit(tmp_path)
    assert report.speed["steps"] == 12 and len(report.epoch_loss) == 4 and "stopped_at_step" not in report.as_dict()


@pytest.mark.parametrize("micro_batch", [1, 3])
def test_micro_batches_give_the_whole_batchs_update(tmp_path, micro_batch):
    whole, whole_report = _fit(tmp_path / "a")
    chunked, chunked_report = _fit(tmp_path / "b", micro_batch=micro_batch)
    for a, b in zip(whole.parameters(), chunked.parameters()):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    assert np.allclose(whole_report.epoch_loss, chunked_report.epoch_loss, rtol=1e-5)
    assert whole_report.speed["steps"] == chunked_report.speed["steps"] == 12  # one step per batch still


def test_micro_batches_slice_every_per_row_value_and_keep_the_rest():
    batch = {"image": torch.arange(10).reshape(5, 2), "prompt": list("abcde"), "target": torch.zeros(5, 1),
             "scale": torch.tensor(2.0), "name": "x"}
    chunks = list(micro_batches(batch, 2))
    assert [len(c["target"]) for c in chunks] == [2, 2, 1]
    assert [c["prompt"] for c in chunks] == [["a", "b"], ["c", "d"], ["e"]]
    assert torch.equal(torch.cat([c["image"] for c in chunks]), batch["image"])
    assert all(c["scale"] is batch["scale"] and c["name"] == "x" for c in chunks)
    assert list(micro_batches(batch, 5)) == [batch]


@pytest.mark.parametrize("n, size, sizes", [(7, 3, [3, 2, 2]), (9, 4, [3, 3, 3]), (4, 3, [2, 2]), (5, 2, [2, 2, 1]),
                                            (64, 10, [10, 9, 9, 9, 9, 9, 9])])
def test_micro_batches_are_near_equal_so_no_chunk_is_left_alone(n, size, sizes):
    # Fixed-size chunks would leave 7 = 3 + 3 + 1: a single image, which BatchNorm cannot train on.
    batch = {"image": torch.arange(n), "target": torch.zeros(n, 1)}
    chunks = list(micro_batches(batch, size))
    assert [len(c["target"]) for c in chunks] == sizes  # as few chunks as the cap allows, sizes within 1
    assert torch.equal(torch.cat([c["image"] for c in chunks]), batch["image"])


def test_micro_batches_train_batchnorm_where_fixed_chunks_would_leave_one_image(tmp_path):
    def with_batchnorm():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                   torch.nn.BatchNorm1d(2), torch.nn.Linear(2, 1))

    _, report = _fit(tmp_path, model=with_batchnorm(), micro_batch=3)  # batches of 4: chunks of 2 + 2, not 3 + 1
    assert report.speed["steps"] == 12 and all(np.isfinite(report.epoch_loss))


@pytest.mark.parametrize("field", ["max_steps", "micro_batch"])
def test_caps_must_be_positive(field):
    with pytest.raises(BenchError, match=field):
        TrainConfig(**{field: 0})
