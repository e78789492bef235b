"""The lr schedules and losses ``TrainConfig`` declares, built from torch's own pieces.

* ``constant`` / ``cosine``: stepped after every batch (``cosine`` anneals to 0 once over the run);
* ``step``: torch's ``LambdaLR`` with one lambda per parameter group, the group's factor raised
  to the number of ``lr_milestones`` passed (``MultiStepLR`` with a gamma per group: HyperIQA's
  hyper network decays while its backbone does not); stepped after every epoch;
* ``cosine-periodic``: torch's ``CosineAnnealingLR`` with ``T_max = lr_period`` epochs, stepped
  after every epoch and left running past ``T_max``, so the lr falls to 0 and rises back
  (period ``2 * lr_period``), as pyiqa's TOPIQ and IPCE's code use it; with ``lr_skip_zero``
  an epoch that would start at lr 0 takes one more step first (IPCE's code).
"""

from __future__ import annotations

from bisect import bisect_right

from bench.errors import BenchError
from bench.train.config import EPOCH_SCHEDULES, TrainConfig, milestones_and_factors


def per_epoch(config: TrainConfig) -> bool:
    return config.lr_schedule in EPOCH_SCHEDULES


def lr_schedule(optimizer, config: TrainConfig, steps_per_epoch: int):
    """The config's scheduler for ``optimizer`` (its groups in the method's order)."""
    import torch

    sched = torch.optim.lr_scheduler
    if config.lr_schedule == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=max(1, config.epochs * steps_per_epoch))
    if config.lr_schedule == "cosine-periodic":
        return sched.CosineAnnealingLR(optimizer, T_max=config.lr_period)
    if config.lr_schedule == "step":
        milestones, factors = milestones_and_factors(config)
        groups = len(optimizer.param_groups)
        if len(factors) == 1:
            factors = factors * groups
        if len(factors) != groups:
            raise BenchError(f"lr_step_factor gives {len(factors)} factors but the method trains {groups} "
                             f"parameter groups")
        return sched.LambdaLR(optimizer, [_multistep(milestones, f) for f in factors])
    return sched.ConstantLR(optimizer, factor=1.0, total_iters=0)


def _multistep(milestones: list[int], factor: float):
    def scale(epoch: int) -> float:
        return factor ** bisect_right(milestones, epoch)
    return scale


def skip_zero(optimizer, schedule, config: TrainConfig) -> None:
    """IPCE's rule at an epoch's start: a schedule that reached lr 0 steps once more."""
    if config.lr_skip_zero and optimizer.param_groups[0]["lr"] == 0:
        schedule.step()


def nin_loss(pred, target, p: int = 1, q: int = 2):
    """Norm-in-Norm (Li, Jiang and Jiang, ACM MM 2020), as pyiqa defines it
    (chaofengc/IQA-PyTorch pyiqa/losses/iqa_losses.py:97-113 at 01ae427): centre each column
    over the batch, scale it to unit L_q norm, and take the L_p distance divided by
    2^p * N^max(0, 1 - p/q); a batch of one falls back to L1. Several targets: the mean of
    the columns' losses (pyiqa's models have one)."""
    import torch.nn.functional as F

    n = pred.shape[0]
    if n < 2:
        return F.l1_loss(pred, target)
    scale = 2.0 ** p * n ** max(0.0, 1 - p / q)
    norm_pred = F.normalize(pred - pred.mean(0), p=q, dim=0)
    norm_target = F.normalize(target - target.mean(0), p=q, dim=0)
    return ((norm_pred - norm_target).abs().pow(p).sum(0).pow(1 / p) / scale).mean()


def loss_function(config: TrainConfig):
    import torch

    if config.loss == "l1":
        return torch.nn.L1Loss()
    mse = torch.nn.MSELoss()
    if config.loss == "mse+nin":  # pyiqa's GeneralIQAModel: the two summed, weight 1 each, one backward
        return lambda pred, target: mse(pred, target) + nin_loss(pred, target)
    return mse
