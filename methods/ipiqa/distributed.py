"""Process-group set-up for runs under PyTorch's own launcher (``torchrun``).

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them a run is one process. The
backend is NCCL on GPUs and gloo on CPUs (what the tests use).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger("ipiqa_bench")


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def mean(self, value: float, device: str) -> float:
        """The mean of a scalar over all processes."""
        if not self.distributed:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=device)
        dist.all_reduce(tensor)
        return tensor.item() / self.world_size


def init_distributed(device: str) -> tuple[DistContext, str]:
    """Join the process group torchrun describes; returns the context and this process's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext(), device
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    if rank != 0:  # one process reports; the others only warn
        logging.getLogger("ipiqa_bench").setLevel(logging.WARNING)
    return DistContext(rank, world_size, local_rank), device


def shutdown_distributed(context: DistContext) -> None:
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()
