"""CTR-GCN (Chen et al., ICCV 2021): channel-wise topology refinement, in plain PyTorch, for any layout.

Each graph convolution subset k learns a shared topology A_k (initialised from the layout's
identity / inward / outward graph) and refines it per sample and per channel group:

    M = tanh(mean_t phi(X)_u - mean_t psi(X)_v)            (N, R, V, V) joint-pair relations
    A_k(X) = A_k + alpha * xi(M)                           (N, C_out, V, V) one topology per channel
    Z = sum_k A_k(X) . (X W_k)                             channel-wise aggregation

then batch norm, a residual and ReLU. Temporal modelling is the multi-scale temporal convolution
(two dilated 5x1 branches, a max-pool branch and a 1x1 branch, concatenated).
"""
from __future__ import annotations

import torch
from torch import nn

from ..data.layouts import Layout
from ..errors import InvalidConfig
from .base import GCNUnit, SkeletonBackbone
from .graph import directed_partition


class ChannelTopology(nn.Module):
    """One CTR-GC subset: refine a shared topology into a channel-wise one and aggregate with it."""

    def __init__(self, c_in: int, c_out: int, rel_reduction: int = 8):
        super().__init__()
        rel = 8 if c_in <= 9 else max(1, c_in // rel_reduction)  # raw inputs have only 3 channels
        self.phi = nn.Conv2d(c_in, rel, 1)
        self.psi = nn.Conv2d(c_in, rel, 1)
        self.value = nn.Conv2d(c_in, c_out, 1)
        self.xi = nn.Conv2d(rel, c_out, 1)

    def forward(self, x: torch.Tensor, shared: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        q, k = self.phi(x).mean(2), self.psi(x).mean(2)  # (N, R, V)
        relation = torch.tanh(q.unsqueeze(-1) - k.unsqueeze(-2))  # (N, R, V, V)
        topology = self.xi(relation) * alpha + shared[None, None]  # (N, C_out, V, V)
        return torch.einsum("ncuv,nctv->nctu", topology, self.value(x))


class CTRGraphConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor, residual: bool = True):
        super().__init__()
        self.shared = nn.Parameter(adjacency.clone())  # learnable topology, one per subset
        self.alpha = nn.Parameter(torch.zeros(1))  # refinement starts switched off
        self.subsets = nn.ModuleList(ChannelTopology(c_in, c_out) for _ in range(adjacency.shape[0]))
        self.bn = nn.BatchNorm2d(c_out)
        nn.init.constant_(self.bn.weight, 1e-6)  # each block starts close to its residual path
        if not residual:
            self.down = None
        elif c_in == c_out:
            self.down = nn.Identity()
        else:
            self.down = nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = sum(conv(x, self.shared[k], self.alpha) for k, conv in enumerate(self.subsets))
        y = self.bn(y)
        if self.down is not None:
            y = y + self.down(x)
        return torch.relu(y)


class MultiScaleTemporalConv(nn.Module):
    """Four branches of ``channels // 4``: 5x1 conv with dilation 1 and 2, 3x1 max-pool, 1x1 conv."""

    def __init__(self, channels: int, stride: int = 1, kernel: int = 5, dilations=(1, 2)):
        super().__init__()
        branches = len(dilations) + 2
        if channels % branches:
            raise InvalidConfig(f"CTR-GCN block width {channels} must be a multiple of {branches} "
                                "(one share per temporal branch)")
        bc = channels // branches
        self.branches = nn.ModuleList()
        for d in dilations:
            pad = (kernel + (kernel - 1) * (d - 1) - 1) // 2
            self.branches.append(nn.Sequential(
                nn.Conv2d(channels, bc, 1), nn.BatchNorm2d(bc), nn.ReLU(inplace=True),
                nn.Conv2d(bc, bc, (kernel, 1), (stride, 1), (pad, 0), (d, 1)), nn.BatchNorm2d(bc)))
        self.branches.append(nn.Sequential(
            nn.Conv2d(channels, bc, 1), nn.BatchNorm2d(bc), nn.ReLU(inplace=True),
            nn.MaxPool2d((3, 1), (stride, 1), (1, 0)), nn.BatchNorm2d(bc)))
        self.branches.append(nn.Sequential(nn.Conv2d(channels, bc, 1, (stride, 1)), nn.BatchNorm2d(bc)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class CTRBlock(GCNUnit):
    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor, stride: int = 1,
                 residual: bool = True):
        super().__init__(CTRGraphConv(c_in, c_out, adjacency), MultiScaleTemporalConv(c_out, stride),
                         c_in, c_out, stride, residual)


class CTRGCN(SkeletonBackbone):
    """CTR-GCN feature extractor with a linear classifier head (paper sizes: ``BackboneConfig.paper``)."""

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3,
                 channels: tuple[int, ...] = (32, 64, 64), strides: tuple[int, ...] = (2, 2, 1),
                 dropout: float = 0.0):
        super().__init__(layout.num_joints, in_channels)
        adjacency = torch.from_numpy(directed_partition(layout))
        self.stack(lambda c_in, c_out, stride, residual: CTRBlock(c_in, c_out, adjacency, stride, residual),
                   in_channels, channels, strides, num_classes, dropout)
