"""ST-GCN (Yan et al., AAAI 2018) built from any layout's graph, in plain PyTorch.

Input (N, M, T, V, 3); output token maps (N, M, T', V, C) and a per-sample pooled vector.
``channels``/``strides`` set width and depth: a CPU configuration trains in minutes on small data,
the paper's (64,64,64,64,128,128,128,256,256,256) runs on a GPU.
"""
from __future__ import annotations

import torch
from torch import nn

from ..data.layouts import Layout
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
        y = self.conv(x).view(b, self.k, -1, t, v)
        return torch.einsum("bkctv,kvw->bctw", y, self.adjacency * self.edge_importance)


class STGCNBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor, stride: int = 1,
                 temporal_kernel: int = 9, dropout: float = 0.0, residual: bool = True):
        super().__init__()
        pad = (temporal_kernel - 1) // 2
        self.gcn = GraphConv(c_in, c_out, adjacency)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (temporal_kernel, 1), (stride, 1), (pad, 0)),
            nn.BatchNorm2d(c_out), nn.Dropout(dropout),
        )
        if not residual:
            self.residual = None
        elif c_in == c_out and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return self.relu(y)


class STGCN(nn.Module):
    """ST-GCN feature extractor with a linear classifier head for seen-class pretraining."""

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3,
                 channels: tuple[int, ...] = (32, 64, 64), strides: tuple[int, ...] = (1, 2, 2),
                 temporal_kernel: int = 9, dropout: float = 0.0):
        super().__init__()
        if len(channels) != len(strides):
            raise ValueError(f"channels {channels} and strides {strides} must have the same length")
        adjacency = torch.from_numpy(spatial_partition(layout))
        v = layout.num_joints
        self.data_bn = nn.BatchNorm1d(in_channels * v)
        blocks, c_prev = [], in_channels
        for i, (c, s) in enumerate(zip(channels, strides)):
            blocks.append(STGCNBlock(c_prev, c, adjacency, s, temporal_kernel, dropout, residual=i > 0))
            c_prev = c
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = c_prev
        self.head = nn.Linear(c_prev, num_classes)

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
        tok = self.tokens(x)  # (N, M, T', V, C)
        if person_mask is None:
            person_mask = x.abs().sum(dim=(2, 3, 4)) > 0  # (N, M) persons with any data
        w = person_mask.float()
        w = w / w.sum(1, keepdim=True).clamp(min=1.0)
        tokens = torch.einsum("nmtvc,nm->ntvc", tok, w)
        pooled = tokens.mean(dim=(1, 2))
        return self.head(pooled), pooled, tokens
