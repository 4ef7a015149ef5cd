"""Batch norm and dropout that behave, on each rank, as if one process held the whole batch.

Under DistributedDataParallel each rank computes a share of the global batch (positions
``rank::world``). Two layers of the backbones look at more than one sample:

* **batch norm** in training mode normalises with the batch's per-channel mean and variance. On CUDA
  :class:`torch.nn.SyncBatchNorm` computes them over all ranks. On CPU it refuses to run ("SyncBatchNorm
  expected input tensor to be on GPU or XPU or privateuseone", torch 2.14), so
  :class:`GlobalBatchNorm` all-reduces (with autograd) the per-channel sum and count, then the sum of
  squared deviations from the global mean, and updates the running mean and the unbiased running
  variance exactly as ``nn.BatchNorm`` does (same momentum);
* **dropout** draws a mask from torch's generator, whose state is the same on every rank and in one
  process. :class:`GlobalDropout` draws the mask of the *global* batch, with the op one process uses
  for it, and keeps the rank's rows: the masks, and the generator's state after them, are the ones
  of a single process. ST-GCN drops out inside every block, Shift-GCN and CTR-GCN before their
  classifier; nothing else in the backbones is random during training.

:func:`convert` swaps these layers into a backbone in place, keeping every parameter and buffer
(the optimiser's references and the state dict's keys stay valid).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def autograd_collective(name: str, tensor):
    """``torch.distributed.nn.functional.<name>(tensor)``: a collective that gradients flow through.

    Torch 2.14 deprecates that module for the private ``torch.distributed._functional_collectives``,
    which torch 2.1 (the oldest zssar supports) lacks; only that FutureWarning is silenced here."""
    from torch.distributed.nn import functional

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"torch\.distributed\.nn\.functional", category=FutureWarning)
        return getattr(functional, name)(tensor)


class BatchShare:
    """This rank's positions in the current global batch; the training loop sets it every step."""

    def __init__(self, rank: int, size: int):
        self.rank, self.size = rank, size
        self.global_size = 0
        self.positions = np.zeros(0, dtype=np.int64)

    def set(self, global_size: int) -> None:
        self.global_size = global_size
        self.positions = np.arange(self.rank, global_size, self.size)


class GlobalBatchNorm(_BatchNorm):
    """``nn.BatchNorm{1,2}d`` whose training statistics are those of the global batch (CPU, gloo)."""

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"expected an input of 2 or more dimensions (got {x.dim()}D)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if not self.training and self.track_running_stats:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        local = torch.cat([x.sum(dims), x.new_tensor([x.numel() / max(x.shape[1], 1)])])
        total = autograd_collective("all_reduce", local)
        count = total[-1]
        mean = total[:-1] / count
        centred = x - mean.view(shape)
        var = autograd_collective("all_reduce", (centred * centred).sum(dims)) / count  # biased: what normalises
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.training and self.track_running_stats:
            self._update_running(mean.detach(), var.detach(), float(count.detach()))
        return y

    @torch.no_grad()
    def _update_running(self, mean, var, count: float) -> None:
        self.num_batches_tracked.add_(1)
        momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
        unbiased = var * (count / max(count - 1.0, 1.0))
        self.running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
        self.running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)


class GlobalDropout(nn.Module):
    """``nn.Dropout`` whose mask is the rows of this rank's share of the global batch's mask.

    A layer sees ``n`` rows per sample (the persons of a sample in the blocks, one before the head),
    so the global mask has ``global size * n`` rows. A rank with an empty share draws nothing: the
    training loop then gives it rank 0's generator state (:meth:`World.agree_on_torch_rng`).
    """

    def __init__(self, p: float, share: BatchShare):
        super().__init__()
        self.p, self.share = p, share

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        positions = self.share.positions
        if not self.training or self.p == 0 or len(positions) == 0:
            return x
        per_sample = x.shape[0] // len(positions)
        rows = torch.from_numpy((positions[:, None] * per_sample + np.arange(per_sample)).ravel()).to(x.device)
        shape = (self.share.global_size * per_sample,) + tuple(x.shape[1:])
        if x.device.type == "cuda":  # the fused kernel one CUDA process runs for nn.Dropout
            _, keep = torch.native_dropout(torch.ones(shape, dtype=x.dtype, device=x.device), self.p, True)
            return x * keep[rows] * (1.0 / (1 - self.p))
        noise = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(1 - self.p)  # as ATen's CPU dropout
        noise.div_(1 - self.p)
        return x * noise[rows]

    def extra_repr(self) -> str:
        return f"p={self.p}, global batch"


def convert(module: nn.Module, share: BatchShare, device_type: str) -> nn.Module:
    """Swap every batch norm and dropout of ``module`` for its global-batch version, in place."""
    for name, child in module.named_children():
        if isinstance(child, _BatchNorm):
            if device_type == "cuda":
                replacement = nn.SyncBatchNorm.convert_sync_batchnorm(child)
            else:
                replacement = GlobalBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                              child.track_running_stats)
                _share_tensors(replacement, child)
            setattr(module, name, replacement)
        elif isinstance(child, nn.Dropout):
            setattr(module, name, GlobalDropout(child.p, share))
        else:
            convert(child, share, device_type)
    return module


def _share_tensors(new: nn.Module, old: nn.Module) -> None:
    """Give ``new`` the very parameters and buffers of ``old`` (the optimiser holds those)."""
    for name, p in old.named_parameters(recurse=False):
        setattr(new, name, p)
    for name, b in old.named_buffers(recurse=False):
        setattr(new, name, b)
    new.train(old.training)
