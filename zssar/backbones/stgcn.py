"""ST-GCN (Yan et al., AAAI 2018) built from any layout's graph, in plain PyTorch.

Input (N, M, T, V, 3); output token maps (N, M, T', V, C) and a per-sample pooled vector.
``channels``/``strides`` set width and depth: a CPU configuration trains in minutes on small data,
the paper's (64,64,64,64,128,128,128,256,256,256) runs on a GPU.
"""
from __future__ import annotations

import torch
from torch import nn

from ..data.layouts import Layout
from .base import GCNUnit, SkeletonBackbone
from .graph import spatial_partition


class GraphConv(nn.Module):
    """Spatial graph convolution: one 1x1 conv per adjacency subset, summed (with learnable edge weights)."""

    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor):
        super().__init__()
        self.register_buffer("adjacency", adjacency)
        self.edge_importance = nn.Parameter(torch.ones_like(adjacency))
        self.conv = nn.Conv2d(c_in, c_out * adjacency.shape[0], kernel_size=1)
        self.k = adjacency.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, C, T, V)
        b, _, t, v = x.shape
        y = self.conv(x).view(b, self.k, self.conv.out_channels // self.k, t, v)  # also for b = 0 (an idle rank)
        return torch.einsum("bkctv,kvw->bctw", y, self.adjacency * self.edge_importance)


class STGCNBlock(GCNUnit):
    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor, stride: int = 1,
                 temporal_kernel: int = 9, dropout: float = 0.0, residual: bool = True):
        pad = (temporal_kernel - 1) // 2
        gcn = GraphConv(c_in, c_out, adjacency)  # built first: keeps the order of random initialisation
        tcn = nn.Sequential(
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (temporal_kernel, 1), (stride, 1), (pad, 0)),
            nn.BatchNorm2d(c_out), nn.Dropout(dropout),
        )
        super().__init__(gcn, tcn, c_in, c_out, stride, residual)


class STGCN(SkeletonBackbone):
    """ST-GCN feature extractor with a linear classifier head for seen-class pretraining."""

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3,
                 channels: tuple[int, ...] = (32, 64, 64), strides: tuple[int, ...] = (1, 2, 2),
                 temporal_kernel: int = 9, dropout: float = 0.0):
        super().__init__(layout.num_joints, in_channels)
        adjacency = torch.from_numpy(spatial_partition(layout))
        self.stack(lambda c_in, c_out, stride, residual: STGCNBlock(c_in, c_out, adjacency, stride,
                                                                    temporal_kernel, dropout, residual),
                   in_channels, channels, strides, num_classes)
