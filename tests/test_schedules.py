"""The declared lr schedules and losses (bench.train.schedules) against the audited recipes."""

import math

import pytest
import torch

from bench.errors import BenchError
from bench.train.config import TrainConfig
from bench.train.loop import TrainStep
from bench.train.schedules import nin_loss


def _epoch_lrs(config: TrainConfig, groups=1) -> list[list[float]]:
    """The lr of each group in each epoch, through the loop's own TrainStep (one batch an epoch)."""
    model = torch.nn.Sequential(*[torch.nn.Linear(2, 1) for _ in range(groups)])
    param_groups = [{"params": list(layer.parameters()), "lr": config.lr * (10 ** i)} for i, layer in enumerate(model)]
    step = TrainStep(model, lambda m, b: sum(layer(b["image"]) for layer in m), param_groups, config, "cpu", 3)
    batch = {"image": torch.ones(4, 2), "target": torch.zeros(4, 1)}
    lrs = []
    for _ in range(config.epochs):
        step.start_epoch()
        lrs.append([g["lr"] for g in step.optimizer.param_groups])
        for _ in range(3):  # per-epoch schedules must not move within an epoch
            step(batch)
            assert [g["lr"] for g in step.optimizer.param_groups] == lrs[-1]
        step.end_epoch()
    return lrs


# pf0607/IPCE train_aigc_agiqa1k.py:149-152, 266, 286-288 at 10642fc: the per-epoch lr the audit
# computed (epochs 1-16, then 17-20 rounded as the audit gives them).
IPCE_AUDIT = [5.000000e-06, 4.522542e-06, 3.272542e-06, 1.727458e-06, 4.774575e-07, 4.774575e-07, 1.727458e-06,
              3.272542e-06, 4.522542e-06, 5.000000e-06, 4.522542e-06, 3.272542e-06, 1.727458e-06, 4.774575e-07,
              4.774575e-07, 1.727458e-06]
IPCE_AUDIT_ROUNDED = {17: 3.27e-6, 18: 4.52e-6, 19: 5.0e-6, 20: 4.52e-6, 28: 5.0e-6, 29: 4.52e-6, 30: 3.27e-6}


def test_ipce_schedule_gives_the_audited_lr_of_every_epoch():
    config = TrainConfig(optimizer="adamw", lr=5e-6, lr_schedule="cosine-periodic", lr_period=5, lr_skip_zero=True,
                         epochs=30)
    lrs = [g[0] for g in _epoch_lrs(config)]
    assert lrs[:16] == pytest.approx(IPCE_AUDIT, rel=1e-6)
    for epoch, lr in IPCE_AUDIT_ROUNDED.items():
        assert lrs[epoch - 1] == pytest.approx(lr, rel=5e-3), epoch
    assert min(lrs) > 0  # the extra step: no epoch trains at lr 0
    # without the extra step, epoch 6 would train at exactly 0
    plain = [g[0] for g in _epoch_lrs(TrainConfig(lr=5e-6, lr_schedule="cosine-periodic", lr_period=5, epochs=7))]
    assert plain[5] == 0


def test_cosine_periodic_is_torchs_cosine_annealing_stepped_per_epoch():
    config = TrainConfig(optimizer="adamw", lr=3e-5, lr_schedule="cosine-periodic", lr_period=50, epochs=200)
    lrs = [g[0] for g in _epoch_lrs(config)]
    reference = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=3e-5)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(reference, T_max=50)
    expected = []
    for _ in range(200):
        expected.append(reference.param_groups[0]["lr"])
        reference.step()
        scheduler.step()
    assert lrs == pytest.approx(expected, rel=1e-9, abs=1e-15)
    # the audit's closed form for TOPIQ (lr = 3e-5 (1 + cos(pi e / 50)) / 2): down, and back up
    for epoch in (0, 25, 50, 75, 100, 150, 199):
        assert lrs[epoch] == pytest.approx(3e-5 * (1 + math.cos(math.pi * epoch / 50)) / 2, abs=1e-12), epoch


def test_step_schedule_has_a_factor_per_group():
    # HyperIQA's nominal schedule (SSL92/hyperIQA HyerIQASolver.py:77-84 at c42e727): the hyper
    # network at 2e-4 for epochs 1-7, then /10 at epochs 8, 11 and 14; the backbone stays at 2e-5.
    config = TrainConfig(lr=2e-5, lr_schedule="step", lr_milestones="7,10,13", lr_step_factor="1,0.1", epochs=16)
    lrs = _epoch_lrs(config, groups=2)
    assert [g[0] for g in lrs] == pytest.approx([2e-5] * 16)
    assert [g[1] for g in lrs] == pytest.approx([2e-4] * 7 + [2e-5] * 3 + [2e-6] * 3 + [2e-7] * 3)
    # pyiqa's CNNIQA (train_CNNIQA.yml:59-62): x0.5 at epochs 10, 20, 30 and 40, one factor for all
    one = _epoch_lrs(TrainConfig(lr=1e-3, lr_schedule="step", lr_milestones="10,20,30,40", lr_step_factor="0.5",
                                 epochs=50))
    assert [g[0] for g in one] == pytest.approx([1e-3 * 0.5 ** (e // 10) for e in range(50)])


def test_malformed_step_options_are_refused_in_one_line():
    with pytest.raises(BenchError, match="lr_milestones"):
        TrainConfig(lr_milestones="7,x")
    with pytest.raises(BenchError, match="increasing"):
        TrainConfig(lr_milestones="10,7")
    with pytest.raises(BenchError, match="2 factors but the method trains 1"):
        _epoch_lrs(TrainConfig(lr_schedule="step", lr_milestones="1", lr_step_factor="1,0.1", epochs=1))


def test_nin_loss_equals_a_hand_computation():
    pred = torch.tensor([[1.0], [2.0], [3.0], [6.0]])
    target = torch.tensor([[2.0], [1.0], [4.0], [5.0]])
    # pred centred: -2, -1, 0, 3 (norm sqrt 14); target centred: -1, -2, 1, 2 (norm sqrt 10)
    a = [-2 / math.sqrt(14), -1 / math.sqrt(14), 0.0, 3 / math.sqrt(14)]
    b = [-1 / math.sqrt(10), -2 / math.sqrt(10), 1 / math.sqrt(10), 2 / math.sqrt(10)]
    by_hand = sum(abs(x - y) for x, y in zip(a, b)) / (2 * math.sqrt(4))  # 2^p N^(1 - p/q), p=1 q=2
    assert nin_loss(pred, target).item() == pytest.approx(by_hand, rel=1e-6)
    assert nin_loss(pred, 3 * pred + 7).item() == pytest.approx(0.0, abs=1e-6)  # invariant to a linear map
    assert nin_loss(pred[:1], target[:1]).item() == pytest.approx(1.0)  # a batch of one: L1
    config = TrainConfig(loss="mse+nin")
    from bench.train.schedules import loss_function

    total = loss_function(config)(pred, target).item()
    assert total == pytest.approx(torch.nn.functional.mse_loss(pred, target).item() + by_hand, rel=1e-6)
