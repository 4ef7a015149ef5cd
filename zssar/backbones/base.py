"""What every skeleton backbone shares: input normalisation, a stack of blocks, persons, the head.

A subclass builds ``self.blocks`` (modules mapping (B, C, T, V) -> (B, C', T', V)) with
:meth:`SkeletonBackbone.stack`, which also adds the head. The output contract is the one of :class:`~zssar.backbones.stgcn.STGCN`:
``forward(x (N, M, T, V, C_in)) -> (logits, pooled (N, C), tokens (N, T', V, C))`` where the persons
present in a sample are averaged explicitly (an absent, all-zero person does not dilute the mean).
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import InvalidConfig


def check_widths(channels, strides) -> None:
    if len(channels) != len(strides) or not channels:
        raise InvalidConfig(f"channels {tuple(channels)} and strides {tuple(strides)} must be non-empty "
                            "and of the same length (one entry per block)")


def average_persons(tok: torch.Tensor, x: torch.Tensor, person_mask: torch.Tensor | None) -> torch.Tensor:
    """(N, M, T', V, C) token maps -> (N, T', V, C), the mean over the persons present in ``x``."""
    if person_mask is None:
        person_mask = x.abs().sum(dim=(2, 3, 4)) > 0  # (N, M) persons with any data
    w = person_mask.to(tok.dtype)
    w = w / w.sum(1, keepdim=True).clamp(min=1.0)
    return torch.einsum("nmtvc,nm->ntvc", tok, w)


class GCNUnit(nn.Module):
    """One block of every backbone here: spatial module, temporal module, residual path, ReLU.

    The residual is the identity when shape is kept, a strided 1x1 convolution with batch norm when
    channels or frame rate change, and absent when ``residual`` is False (the first block).
    """

    def __init__(self, gcn: nn.Module, tcn: nn.Module, c_in: int, c_out: int, stride: int = 1,
                 residual: bool = True):
        super().__init__()
        self.gcn, self.tcn = gcn, tcn
        if not residual:
            self.residual = None
        elif c_in == c_out and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return torch.relu(y)


class SkeletonBackbone(nn.Module):
    """Base class: batch-norm over (V x C_in) inputs, the block stack, person averaging, a linear head."""

    def __init__(self, num_joints: int, in_channels: int):
        super().__init__()
        self.data_bn = nn.BatchNorm1d(in_channels * num_joints)
        self.blocks = nn.ModuleList()

    def stack(self, make_block, in_channels: int, channels, strides, num_classes: int,
              dropout: float = 0.0) -> None:
        """Append one block per (channels, strides) entry, then the head.

        ``make_block(c_in, c_out, stride, residual)`` builds a block; the first has no residual.
        """
        check_widths(channels, strides)
        c_prev = in_channels
        for i, (c, s) in enumerate(zip(channels, strides)):
            self.blocks.append(make_block(c_prev, c, s, i > 0))
            c_prev = c
        self.finish(c_prev, num_classes, dropout)

    def finish(self, out_channels: int, num_classes: int, dropout: float = 0.0) -> None:
        self.out_channels = out_channels
        self.head_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()  # training only
        self.head = nn.Linear(out_channels, num_classes)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(N, M, T, V, C_in) -> token maps (N, M, T', V, C)."""
        n, m, t, v, c = x.shape
        x = x.permute(0, 1, 3, 4, 2).reshape(n * m, v * c, t)
        x = self.data_bn(x).view(n * m, v, c, t).permute(0, 2, 3, 1)  # (NM, C, T, V)
        for block in self.blocks:
            x = block(x)
        _, c_out, t_out, _ = x.shape
        return x.view(n, m, c_out, t_out, v).permute(0, 1, 3, 4, 2)

    def forward(self, x: torch.Tensor, person_mask: torch.Tensor | None = None):
        """Returns (logits, pooled (N, C), tokens (N, T', V, C)), averaging over present persons."""
        tokens = average_persons(self.tokens(x), x, person_mask)
        pooled = tokens.mean(dim=(1, 2))
        return self.head(self.head_dropout(pooled)), pooled, tokens
