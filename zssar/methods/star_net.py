"""STAR's two streams and its three losses (Chen et al., sec. 3.3-3.4); the method is :mod:`.star`.

Skeleton stream, one branch per body part e (Eq. 1-3). The part's tokens f_v^e (its joints at every
token time step, T'|V_e| tokens of C channels) are keys and values of a multi-head cross-attention
whose queries are m learnable visual-attribute prompts P_va^e (m x d); an FFN phi (two linear layers,
ReLU) follows, and each prompt's output is read out by the prompt itself through a learnable matrix
W (d x d): ``F_v^e[i] = (P_va^e W)_i . phi(Att)_i`` (the public code's ``einsum('iv,vf,bif->bi')``),
so the shared latent space has one axis per visual attribute (m-d). The global skeleton
representation is the sum over parts, ``F_v = sum_e F_v^e``.

Semantic stream (Eq. 4): the part description f_si^e of class a plus a semantic-part prompt P_sp^e(a),
projected by a 2-layer projector per part (Linear-ReLU-Linear to m, as the public code), gives
F_si^e(a); the class name's embedding through its own projector gives F_cn(a), the semantic centre.

Losses (Eq. 5-8), cosines over a temperature tau:
``L_MPCE = mean_{i,e} CE(cos(F_v^{i,e}, F_si^e(a)) / tau over a in A_s)``,
``L_SCE = mean_{e,c} CE(cos(F_si^e(c), F_cn(a)) / tau over a in A_text)``,
``L_GCE = mean_i CE(cos(F_v^i, F_cn(a)) / tau over a in A_s)``,
``L = w_MPCE L_MPCE + alpha L_SCE + beta L_GCE`` (alpha = beta = 0.1). A_text, the classes L_SCE
runs over, is the seen classes by default; the paper's A is every class (see :mod:`.star`).

Where the semantic-part prompts come from (``semantic_prompts``):
``"generated"``: P_sp^e(a) = g_e(f_si^e(a)), a small MLP per part shared by every class (last layer
zero-initialised, so training starts from the descriptions themselves), so any class, unseen ones
too, has its prompts from its own text; ``"per_class"``: the paper's free table, one row per
training class (zero-initialised), for the classes the fit text holds; a class outside the table
has no prompt; ``"none"``: no prompts (Tab. 7 "w/o SPP").
``visual_prompts="none"`` (Tab. 7 "w/o VAP"): without prompts there are no queries, so a part is its
tokens' mean, through the FFN and a linear map to the m-d space.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))


class PromptAttention(nn.Module):
    """Eq. 1-2: ``concat_h softmax(Q_h K_h^T / sqrt(d_h)) V_h W_o`` with Q = P W_q, K = f W_k, V = f W_v.

    Written out (rather than ``nn.MultiheadAttention``) because the queries are the same for every
    sample: Q is computed once per batch, which makes a CPU epoch several times faster."""

    def __init__(self, prompt_dim: int, token_dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.w_q = nn.Linear(prompt_dim, prompt_dim)
        self.w_k = nn.Linear(token_dim, prompt_dim)
        self.w_v = nn.Linear(token_dim, prompt_dim)
        self.w_o = nn.Linear(prompt_dim, prompt_dim)

    def forward(self, prompts: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """prompts (m, d), tokens (B, S, C) -> attended (B, m, d), weights (B, m, S) averaged over heads."""
        m, d = prompts.shape
        b, s, _ = tokens.shape
        q = self.w_q(prompts).reshape(m, self.heads, -1).transpose(0, 1)  # (h, m, d_h)
        k = self.w_k(tokens).reshape(b, s, self.heads, -1).transpose(1, 2)  # (B, h, S, d_h)
        v = self.w_v(tokens).reshape(b, s, self.heads, -1).transpose(1, 2)
        weights = (q.unsqueeze(0) @ k.transpose(-1, -2) / math.sqrt(d // self.heads)).softmax(-1)  # (B, h, m, S)
        attended = (weights @ v).transpose(1, 2).reshape(b, m, d)
        return self.w_o(attended), weights.mean(1)


class PartBranch(nn.Module):
    """One body part of the skeleton stream: tokens (B, S, C) -> F_v^e (B, m) and attention (B, m, S)."""

    def __init__(self, token_dim: int, attributes: int, prompt_dim: int, heads: int, prompts: bool):
        super().__init__()
        self.uses_prompts = prompts
        if prompts:
            self.prompts = nn.Parameter(torch.randn(attributes, prompt_dim))  # N(0, 1) as the public code
            self.attention = PromptAttention(prompt_dim, token_dim, heads)
            self.ffn = _mlp(prompt_dim, prompt_dim, prompt_dim)
            # W of Eq. 3; N(0, 1/d) keeps (P W)_i of unit scale (the public code's N(0, 1) grows with d)
            self.readout = nn.Parameter(torch.randn(prompt_dim, prompt_dim) / prompt_dim ** 0.5)
        else:
            self.ffn = _mlp(token_dim, prompt_dim, prompt_dim)
            self.to_latent = nn.Linear(prompt_dim, attributes)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.uses_prompts:
            return self.to_latent(self.ffn(tokens.mean(1))), None
        attended, weights = self.attention(self.prompts, tokens)
        latent = torch.einsum("iv,vf,bif->bi", self.prompts, self.readout, self.ffn(attended))
        return latent, weights


class SkeletonStream(nn.Module):
    """The K part branches over a layout's part joints; tokens (B, T', V, C) -> F_v^e (B, K, m)."""

    def __init__(self, part_joints: list[tuple[int, ...]], token_dim: int, attributes: int, prompt_dim: int,
                 heads: int, prompts: bool):
        super().__init__()
        self.part_joints = [list(j) for j in part_joints]
        self.branches = nn.ModuleList(PartBranch(token_dim, attributes, prompt_dim, heads, prompts)
                                      for _ in part_joints)

    def forward(self, tokens: torch.Tensor, keep_attention: bool = False):
        parts, maps = [], []
        n, t_prime = tokens.shape[:2]
        for joints, branch in zip(self.part_joints, self.branches):
            # (B, T', |V_e|, C) -> (B, T'|V_e|) tokens, time-major: the channel axis stays last
            part_tokens = tokens[:, :, joints, :].reshape(n, t_prime * len(joints), tokens.shape[-1])
            latent, weights = branch(part_tokens)
            parts.append(latent)
            if keep_attention:
                maps.append(None if weights is None else weights.reshape(n, -1, t_prime, len(joints)))
        return torch.stack(parts, 1), maps


class SemanticStream(nn.Module):
    """Projectors of the part descriptions (with their prompts) and of the class names."""

    def __init__(self, num_parts: int, text_dim: int, hidden: int, attributes: int, prompts: str,
                 table_size: int):
        super().__init__()
        self.prompt_kind = prompts
        self.part_projectors = nn.ModuleList(_mlp(text_dim, hidden, attributes) for _ in range(num_parts))
        self.name_projector = _mlp(text_dim, hidden, attributes)
        if prompts == "generated":
            self.generators = nn.ModuleList(_mlp(text_dim, hidden, text_dim) for _ in range(num_parts))
            for g in self.generators:
                nn.init.zeros_(g[-1].weight)
                nn.init.zeros_(g[-1].bias)
        elif prompts == "per_class":
            self.table = nn.Parameter(torch.zeros(num_parts, table_size, text_dim))

    def part_prompts(self, parts: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
        """P_sp (K_cls, P, D) for the part texts (K_cls, P, D); ``rows``: each class's table row (-1: none)."""
        if self.prompt_kind == "generated":
            return torch.stack([g(parts[:, e]) for e, g in enumerate(self.generators)], 1)
        if self.prompt_kind == "per_class" and rows is not None:
            found = (rows >= 0).float()[:, None, None]
            return self.table[:, rows.clamp(min=0)].transpose(0, 1) * found
        return torch.zeros_like(parts)

    def parts(self, parts: torch.Tensor, rows: torch.Tensor | None = None, prompts: bool = True) -> torch.Tensor:
        """F_si (K_cls, P, m): Eq. 4 then each part's projector."""
        augmented = parts + self.part_prompts(parts, rows) if prompts else parts
        return torch.stack([p(augmented[:, e]) for e, p in enumerate(self.part_projectors)], 1)

    def names(self, names: torch.Tensor) -> torch.Tensor:
        """F_cn (K_cls, m)."""
        return self.name_projector(names)


def cosine_logits(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """(..., A) x (K, A) -> (..., K) cosines over the temperature."""
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / temperature


def star_losses(part_latent: torch.Tensor, y: torch.Tensor, seen_parts: torch.Tensor, seen_names: torch.Tensor,
                text_parts: torch.Tensor, text_names: torch.Tensor, temperature: float) -> dict[str, torch.Tensor]:
    """Eq. 5-7 for a batch. ``part_latent`` (B, P, m) F_v^e; ``y`` positions among the seen classes;
    ``seen_parts`` (K_s, P, m) / ``seen_names`` (K_s, m): F_si and F_cn of the seen classes; ``text_parts``
    / ``text_names``: the same for every class L_SCE runs over (row k is class k)."""
    num_parts = part_latent.shape[1]
    mpce = torch.stack([F.cross_entropy(cosine_logits(part_latent[:, e], seen_parts[:, e], temperature), y)
                        for e in range(num_parts)]).mean()
    targets = torch.arange(len(text_names))
    sce = torch.stack([F.cross_entropy(cosine_logits(text_parts[:, e], text_names, temperature), targets)
                       for e in range(num_parts)]).mean()
    gce = F.cross_entropy(cosine_logits(part_latent.sum(1), seen_names, temperature), y)
    return {"mpce": mpce, "sce": sce, "gce": gce}
