"""SCoPLe's skeleton prompting: joint-shaped prompts next to the joints, and the adaptive visual
representation sampler (AVRS) that weights both by the text semantics (supplement Sec. 2.3, Fig. 3).

The frozen backbone's token map (T' x V x C) becomes one feature per joint, ``x_j = mean_t G[t, j]``
(standardised per channel with training statistics), the "joint-shaped" format the supplement
requires of a backbone. N_p learnable prompts ``p_k`` of the same shape, shared by every sample
(Fig. 3: "P_V is shared across all inputs"), are appended: ``Z = [x_1 .. x_V ; p_1 .. p_Np]``.
For a candidate class c with (prompted) text embedding ``t_c``, the sampler weights the V + N_p
rows of Z by the text,

    w_c = softmax_j( (W_q t_c) . (W_k z_j) / sqrt(h) ),      v_c = sum_j w_{c,j} z_j,

and a two-layer MLP ``f`` projects ``v_c`` to the text space; the compatibility is ``cos(f(v_c), t_c)``.

Modes (``skeleton_prompt``): ``none`` (the mean of the joints: the CLIP baseline's input),
``joints`` (prompts appended, uniform weights: "skeleton prompt without the sampler" of
supplement Tab. 3) and ``joints+sampler`` (the full module).

Open decisions (the choice, and why):

* Time is averaged before the prompts are appended: the supplement speaks of joint-level features
  only, and one row per joint keeps the sampler's weights readable as its Fig. 3.
* The sampler is queried with EACH CANDIDATE's own text, so a class is scored with its own text
  only (no true-class text at test: flaw 3 of docs/METHODS.md). Fig. 3's rows are then drawn with
  the text of the row's class, after scoring.
* Prompts start as N(0, 1), the spread of the standardised joint features (zero starts would make
  every prompt identical forever: they would receive the same gradients).
* Without the sampler the prompts enter a uniform mean, which shifts the MLP's input by a constant:
  that variant cannot do more than the baseline's MLP, and measures what the sampler adds.
* ``h`` = 64 (the token width of the default backbone); f is the global baseline's MLP (hidden
  512, ReLU, dropout 0.3), so that the Table 1 baselines differ from it only in the prompts.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidConfig

SKELETON_PROMPTS = ("none", "joints", "joints+sampler")


def joint_features(tokens: np.ndarray) -> torch.Tensor:
    """(N, V, C) joint features: the token map averaged over time."""
    return torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.float32).mean(1))


class SkeletonPrompts(nn.Module):
    """Skeleton prompts, the sampler and the projection f to the text space."""

    def __init__(self, mode: str, channels: int, text_dim: int, num_prompts: int = 4, attention_dim: int = 64,
                 hidden: int = 512, dropout: float = 0.3):
        super().__init__()
        if mode not in SKELETON_PROMPTS:
            raise InvalidConfig(f"skeleton prompting {mode!r}: use one of {list(SKELETON_PROMPTS)}")
        if mode != "none" and num_prompts < 1:
            raise InvalidConfig(f"skeleton prompting {mode!r} needs >= 1 skeleton prompt (skeleton_prompts)")
        self.mode = mode
        self.prompts = nn.Parameter(torch.randn(num_prompts, channels)) if mode != "none" else None
        if mode == "joints+sampler":
            self.w_q = nn.Linear(text_dim, attention_dim, bias=False)
            self.w_k = nn.Linear(channels, attention_dim, bias=False)
        self.project = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Dropout(dropout),
                                     nn.Linear(hidden, text_dim))

    @property
    def num_prompts(self) -> int:
        return 0 if self.prompts is None else int(self.prompts.shape[0])

    def rows(self, joints: torch.Tensor) -> torch.Tensor:
        """Z: (N, V + N_p, C), the joints and then the prompts."""
        if self.prompts is None:
            return joints
        return torch.cat([joints, self.prompts.expand(len(joints), -1, -1)], dim=1)

    def weights(self, joints: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """(N, K, V + N_p) sampling weights of each candidate's text over each sample's rows
        (uniform, (N, 1, V + N_p), without the sampler)."""
        z = self.rows(joints)
        if self.mode != "joints+sampler":
            return torch.full((len(z), 1, z.shape[1]), 1.0 / z.shape[1])
        keys = self.w_k(z)
        logits = torch.einsum("kh,nsh->nks", self.w_q(text), keys) / math.sqrt(keys.shape[-1])
        return logits.softmax(-1)

    def forward(self, joints: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """(N, K) cosine of f(v_c) with each candidate's unit text embedding ``text`` (K, D)."""
        v = torch.einsum("nks,nsc->nkc", self.weights(joints, text), self.rows(joints))
        return (F.normalize(self.project(v), dim=-1) * text).sum(-1)
