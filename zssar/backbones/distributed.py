"""Pretraining in several processes (``torchrun``, DistributedDataParallel) with one process's numbers.

``torchrun --nproc_per_node=2 -m zssar pretrain ...`` starts one process per rank; each learns from
the environment (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``) that it is one of several, and
:func:`world` joins them in a process group (gloo on CPU, NCCL on CUDA, where rank ``LOCAL_RANK``
uses that GPU). Without ``WORLD_SIZE`` > 1 it is a world of one and nothing here communicates.

What keeps the ranks equal to one process with the same global batch:

* every rank draws the same permutation and the same augmentation of the *global* batch from the
  same seeded NumPy generator, and keeps its share, the rows ``rank::world`` (:meth:`World.start_batch`);
* each rank's loss is (sum of its per-sample losses / global batch size) * world size, so the
  gradient DDP averages over the ranks is the one-process batch mean, also when the last batch does
  not split evenly (:meth:`World.batch_mean`);
* batch norm and dropout see the global batch (:meth:`World.prepare`, :mod:`zssar.backbones.global_batch`);
* a method's objective (GAP's) sees the global batch's features, gathered with their gradients
  (:meth:`World.gather`), and draws its prompts for the global batch from the same generator; every
  rank computes the same objective loss, and its modules' gradients are averaged over the ranks.

What remains is the order of float sums (per-rank partial sums, averaged gradients). Run in float64,
two processes and one agree to ~1e-15 over whole trainings (tests/test_distributed.py); in float32
pretraining amplifies those 1e-7 differences (train losses ~1e-4 apart after an epoch of the
synthetic set, as much as a 1e-7 relative change of one process's initial weights moves them).

Rank 0 alone evaluates ``seen_val``, chooses the checkpoint, writes the training state and the cache
entry, and extracts features; the others wait on a barrier, then read the entry rank 0 stored. The
run's identity, and so its cache key, does not depend on the number of processes.
"""
from __future__ import annotations

import contextlib
import inspect
import os
from dataclasses import dataclass, field

import numpy as np

from ..utils import get_device


def is_main_process() -> bool:
    """True in a plain run and in rank 0 of torchrun (read from the environment, group or not)."""
    return int(os.environ.get("RANK", "0")) == 0


def world_size_from_env() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


@dataclass
class World:
    """The processes training one backbone: size, this process's rank and its device."""

    size: int = 1
    rank: int = 0
    device: object = field(default_factory=get_device)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def __post_init__(self):
        from .global_batch import BatchShare

        self.batch = BatchShare(self.rank, self.size)  # read by the global-batch dropout layers

    def start_batch(self, global_size: int) -> np.ndarray:
        """This rank's positions (``rank::size``) in the next global batch of ``global_size`` samples."""
        self.batch.set(global_size)
        return self.batch.positions

    def prepare(self, backbone):
        """The backbone with batch norm and dropout over the global batch (itself in a world of one)."""
        if self.size == 1:
            return backbone
        from .global_batch import convert

        return convert(backbone, self.batch, self.device.type)

    def barrier(self) -> None:
        if self.size > 1:
            import torch.distributed as dist

            dist.barrier()

    def batch_mean(self, per_sample_sum, global_size: int):
        """This rank's loss: DDP averages gradients over ranks, so (sum / global size) * world size
        averages to the one-process mean of the global batch however unevenly it was split."""
        return per_sample_sum * (self.size / global_size)

    def sum(self, values: list[float]) -> list[float]:
        """The sum over ranks of each number (unchanged, not even converted, in a world of one)."""
        if self.size == 1:
            return values
        import torch
        import torch.distributed as dist

        total = torch.tensor(values, dtype=torch.float64, device=self._collective_device())
        dist.all_reduce(total)
        return total.cpu().tolist()

    def gather(self, local, global_size: int):
        """The global batch's rows of ``local`` (this rank holds positions ``rank::size``), with
        gradients flowing back to each rank's own rows; ``local`` itself in a world of one."""
        if self.size == 1:
            return local
        import torch

        from .global_batch import autograd_collective

        longest = -(-global_size // self.size)  # all_gather needs equal shapes: pad the shorter shares
        pad = longest - local.shape[0]
        if pad:
            local = torch.cat([local, local.new_zeros((pad,) + tuple(local.shape[1:]))])
        # (longest, size, ...): row i of rank r is position i * size + r of the global batch
        parts = torch.stack(autograd_collective("all_gather", local), dim=1)
        return parts.reshape((longest * self.size,) + tuple(local.shape[1:]))[:global_size]

    def average_gradients(self, module) -> None:
        """Average the gradients of ``module`` (outside DDP) over the ranks: ranks that computed the
        same gradients keep them bit for bit, and none can drift from the others."""
        if self.size == 1:
            return
        import torch.distributed as dist

        for p in module.parameters():
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad /= self.size

    def agree_on_torch_rng(self) -> None:
        """Give every rank rank 0's torch generator states, the CPU one and that of its own GPU (after a
        step in which some rank had no sample, so drew no dropout mask, and after resuming)."""
        if self.size == 1:
            return
        import torch
        import torch.distributed as dist

        states = [torch.get_rng_state(), torch.cuda.get_rng_state() if self.device.type == "cuda" else None]
        dist.broadcast_object_list(states, src=0)
        torch.set_rng_state(states[0])
        if states[1] is not None:
            torch.cuda.set_rng_state(states[1])

    def wrap(self, backbone):
        """The backbone inside DistributedDataParallel (the backbone itself in a world of one)."""
        if self.size == 1:
            return backbone
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        # Running statistics come from global-batch statistics, so they agree on every rank already:
        # no copy of rank 0's buffers before every forward (the flag was renamed in torch 2.14).
        renamed = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
        no_sync = {"forward_sync_buffers" if renamed else "broadcast_buffers": False}
        return DistributedDataParallel(backbone, device_ids=ids, **no_sync)

    def _collective_device(self):
        return self.device if self.device.type == "cuda" else "cpu"


@contextlib.contextmanager
def world():
    """The world of this process: joins (and finally leaves) the process group under torchrun."""
    size = world_size_from_env()
    if size <= 1:
        yield World()
        return
    import torch
    import torch.distributed as dist

    device = get_device()
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    joined = not dist.is_initialized()
    if joined:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield World(dist.get_world_size(), dist.get_rank(), device)
    finally:
        if joined:
            dist.destroy_process_group()
