"""Shift-GCN (Cheng et al., CVPR 2020) in plain PyTorch, for any layout.

Graph convolution is replaced by *shifts*, which cost no multiply-adds:

* non-local spatial shift: channel j of joint i is read from joint (i + j) mod V, so every joint sees
  every other joint through some channels; a learnable mask (tanh(M) + 1) weights the shifted
  features, a point-wise linear layer mixes channels, and the shift-out (joint (i - j) mod V) puts
  the result back;
* temporal shift convolution: shift each channel in time by a learnable real offset (linear
  interpolation between frames, zero outside the sequence), point-wise conv, ReLU, a second shift
  that also subsamples by the block's stride.

The official code uses a CUDA kernel for the learnable temporal shift; here it is a gather with
linear interpolation, so gradients reach the offsets and the model runs on CPU.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..data.layouts import Layout
from .base import GCNUnit, SkeletonBackbone


def shift_indices(num_joints: int, channels: int, direction: int) -> torch.Tensor:
    """Flat (V*C) gather indices: output (joint i, channel j) reads joint (i + direction*j) mod V."""
    i = torch.arange(num_joints).view(-1, 1)
    j = torch.arange(channels).view(1, -1)
    return (((i + direction * j) % num_joints) * channels + j).reshape(-1)


class SpatialShift(nn.Module):
    """Non-local shift graph operation with an adaptive mask: (B, C_in, T, V) -> (B, C_out, T, V)."""

    def __init__(self, c_in: int, c_out: int, num_joints: int):
        super().__init__()
        self.c_out = c_out
        self.register_buffer("shift_in", shift_indices(num_joints, c_in, +1), persistent=False)
        self.register_buffer("shift_out", shift_indices(num_joints, c_out, -1), persistent=False)
        self.mask = nn.Parameter(torch.zeros(1, num_joints, c_in))  # tanh(0) + 1 = 1: no masking at start
        self.weight = nn.Parameter(torch.randn(c_in, c_out) * math.sqrt(1.0 / c_out))
        self.bias = nn.Parameter(torch.zeros(1, 1, c_out))
        self.bn = nn.BatchNorm1d(num_joints * c_out)
        if c_in == c_out:
            self.down = nn.Identity()
        else:
            self.down = nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out))

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        b, c, t, v = x0.shape
        x = x0.permute(0, 2, 3, 1).reshape(b * t, v * c)
        x = x.index_select(1, self.shift_in).view(b * t, v, c)
        x = x * (torch.tanh(self.mask) + 1)
        x = torch.einsum("nvc,cd->nvd", x, self.weight) + self.bias
        x = x.reshape(b * t, v * self.c_out).index_select(1, self.shift_out)
        x = self.bn(x).view(b, t, v, self.c_out).permute(0, 3, 1, 2)
        return torch.relu(x + self.down(x0))


class TemporalShift(nn.Module):
    """Shift every channel along time by its own learnable real offset, then subsample by ``stride``."""

    def __init__(self, channels: int, stride: int = 1, init_scale: float = 1.0):
        super().__init__()
        self.stride = stride
        self.offset = nn.Parameter(torch.empty(channels).uniform_(-init_scale, init_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T, V)
        b, c, t, v = x.shape
        steps = torch.arange(0, t, self.stride, device=x.device, dtype=x.dtype)
        pos = steps.view(1, -1) + self.offset.view(-1, 1)  # (C, T_out) real source frames
        lo = torch.floor(pos)
        frac = (pos - lo).view(1, c, -1, 1)
        lo = lo.long()
        padded = nn.functional.pad(x, (0, 0, 1, 1))  # a zero frame on each side stands for "outside"

        def take(index):
            index = (index + 1).clamp(0, t + 1).view(1, c, -1, 1).expand(b, c, -1, v)
            return padded.gather(2, index)

        return take(lo) * (1 - frac) + take(lo + 1) * frac


class ShiftTCN(nn.Module):
    """Shift-conv-shift temporal module: BN, shift, point-wise conv, ReLU, strided shift, BN."""

    def __init__(self, channels: int, stride: int = 1):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.shift_in = TemporalShift(channels, 1)
        self.linear = nn.Conv2d(channels, channels, 1)
        self.shift_out = TemporalShift(channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.linear(self.shift_in(self.bn(x))))
        return self.bn2(self.shift_out(x))


class ShiftBlock(GCNUnit):
    def __init__(self, c_in: int, c_out: int, num_joints: int, stride: int = 1, residual: bool = True):
        super().__init__(SpatialShift(c_in, c_out, num_joints), ShiftTCN(c_out, stride), c_in, c_out, stride,
                         residual)


class ShiftGCN(SkeletonBackbone):
    """Shift-GCN feature extractor with a linear classifier head (paper sizes: ``BackboneConfig.paper``)."""

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3,
                 channels: tuple[int, ...] = (32, 64, 64), strides: tuple[int, ...] = (2, 2, 1),
                 dropout: float = 0.0):
        super().__init__(layout.num_joints, in_channels)
        v = layout.num_joints
        self.stack(lambda c_in, c_out, stride, residual: ShiftBlock(c_in, c_out, v, stride, residual),
                   in_channels, channels, strides, num_classes, dropout)
