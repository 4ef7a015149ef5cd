"""SkeletonContext's network: differential joint encoder, cross-modal context block, key-part decoupling.

* **Differential joint encoder** (Eq. 1): the token maps pooled over time to joints ``F'`` (V x C);
  ``H_Q = LN(F') W_Q``, ``H_K = LN(F') W_K``; ``A_diff[i, j] = phi(H_Q[j] - H_K[i])`` for every joint
  pair; ``F_diff = Avg_j(A_diff[i, j] * (LN(F') W_V)[j]) + F'``. phi is tanh (the paper leaves it open;
  tanh keeps the sign of a difference), W_Q, W_K, W_V are C x C (the residual needs W_V's output at C,
  and the element-wise product needs the differences at the same width).
* **Cross-modal context block** (Eq. 2-3): one bidirectional cross-attention, then one self-attention
  and one feed-forward block per modality, each with a residual connection and layer norm. Both
  modalities are projected to a shared ``width`` (the paper does not give it; the language model's
  own width, 768 for BERT, is costly on a CPU); the text side's output is projected back to the
  language model's width and ADDED to its states, ``H_ctx = H_t + Up(.)``, with ``Up`` starting at zero,
  so the frozen masked-LM head first reads the language model's own states and learns from there.
  The skeleton side (Eq. 2) reads the masked prompt's token states and gives ``F_ctx``; the text side
  (Eq. 3) reads the skeleton's states and gives ``H_ctx`` for the masked-LM loss.
* **Key-part decoupling** (Eq. 6): a joint-importance map from two linear layers (C -> C, ReLU, C -> 1)
  and a softmax over the joints at every time step; ``F_p = K_out * F`` summed over joints and averaged
  over time.
* **Projections** ``phi_c``, ``phi_p`` (Eq. 8-9): two-layer MLPs from the pooled skeleton side (mean over
  joints) and from ``F_p`` into the text space.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _mlp(inputs: int, hidden: int, outputs: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, outputs))


class AttentionHalf(nn.Module):
    """One modality's half of the block: cross-attention to the other, self-attention, feed-forward."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.cross = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.own = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(2 * width, width))
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(3))

    def forward(self, x, other, x_pad=None, other_pad=None):
        """``x`` (B, L, W) attends to ``other`` (B, M, W); ``*_pad``: True where a position is padding."""
        x = self.norms[0](x + self.cross(x, other, other, key_padding_mask=other_pad, need_weights=False)[0])
        x = self.norms[1](x + self.own(x, x, x, key_padding_mask=x_pad, need_weights=False)[0])
        return self.norms[2](x + self.ffn(x))


class SkeletonContextNet(nn.Module):
    """The trainable part of SkeletonContext (the language model and its head stay frozen)."""

    def __init__(self, token_dim: int, lm_width: int, text_dim: int, *, width: int = 128, hidden: int = 256,
                 heads: int = 4, dropout: float = 0.1, dje: bool = True, context_prompt: bool = True):
        super().__init__()
        self.use_dje, self.use_prompt = dje, context_prompt
        c = token_dim
        self.joint_norm = nn.LayerNorm(c)
        self.w_q, self.w_k, self.w_v = (nn.Linear(c, c, bias=False) for _ in range(3))
        self.skeleton_in = nn.Linear(c, width)
        if context_prompt:
            self.text_down = nn.Linear(lm_width, width)
            self.skeleton_half = AttentionHalf(width, heads, dropout)  # Eq. 2: skeleton -> text
            self.text_half = AttentionHalf(width, heads, dropout)  # Eq. 3: text -> skeleton
            self.text_up = nn.Linear(width, lm_width)
            nn.init.zeros_(self.text_up.weight)
            nn.init.zeros_(self.text_up.bias)
        self.importance = nn.Sequential(nn.Linear(c, c), nn.ReLU(), nn.Linear(c, 1))
        self.phi_c = _mlp(width, hidden, text_dim, dropout)
        self.phi_p = _mlp(c, hidden, text_dim, dropout)

    def joints(self, tokens: torch.Tensor) -> torch.Tensor:
        """Eq. 1: (B, T', V, C) tokens -> F_diff (B, V, C) (F' itself without the encoder)."""
        pooled = tokens.mean(1)
        if not self.use_dje:
            return pooled
        normed = self.joint_norm(pooled)
        q, k, v = self.w_q(normed), self.w_k(normed), self.w_v(normed)
        a_diff = torch.tanh(q[:, None, :, :] - k[:, :, None, :])  # [b, i, j] = phi(H_Q[j] - H_K[i])
        return (a_diff * v[:, None, :, :]).mean(2) + pooled

    def context_features(self, f_diff: torch.Tensor, prompt_states: torch.Tensor, prompt_pad: torch.Tensor):
        """Eq. 2: the skeleton side, attending to the masked prompt's token states -> F_ctx (B, V, W)."""
        s = self.skeleton_in(f_diff)
        if not self.use_prompt:
            return s
        h = self.text_down(prompt_states)
        return self.skeleton_half(s, h, other_pad=prompt_pad)

    def context_tokens(self, f_diff: torch.Tensor, prompt_states: torch.Tensor, prompt_pad: torch.Tensor):
        """Eq. 3: the text side, attending to the skeleton -> H_ctx (B, L, lm_width) for the MLM head."""
        s = self.skeleton_in(f_diff)
        h = self.text_half(self.text_down(prompt_states), s, x_pad=prompt_pad)
        return prompt_states + self.text_up(h)

    def joint_importance(self, tokens: torch.Tensor) -> torch.Tensor:
        """Eq. 6's K_out: (B, T', V) weights, a softmax over the joints at every time step."""
        return self.importance(tokens).squeeze(-1).softmax(-1)

    def part_features(self, tokens: torch.Tensor, kpd: bool) -> torch.Tensor:
        """F_p pooled: importance-weighted joints, averaged over time (plain mean without KPD)."""
        if not kpd:
            return tokens.mean((1, 2))
        return (self.joint_importance(tokens).unsqueeze(-1) * tokens).sum(2).mean(1)

    def embed(self, tokens, prompt_states, prompt_pad, kpd: bool):
        """Unit context-branch and part-branch embeddings (B, D) each."""
        f_diff = self.joints(tokens)
        ctx = self.context_features(f_diff, prompt_states, prompt_pad).mean(1)
        return (F.normalize(self.phi_c(ctx), dim=-1), F.normalize(self.phi_p(self.part_features(tokens, kpd)), dim=-1))
