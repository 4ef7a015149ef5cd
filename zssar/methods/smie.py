"""SMIE: skeleton-text mutual-information estimation and maximisation, with a temporal constraint.

Zhou et al. (ACM MM 2023) align a skeleton feature v and the text t of its class by maximising a
Jensen-Shannon estimate of their mutual information (Deep InfoMax style) with a critic T(v, t), an
MLP on the concatenation [LN(v), t]:

    I_JSD(v; t) = E_P[ -sp(-T(v, t)) ] - E_N[ sp(T(v', t)) ]         (sp = softplus)

P: a sample with its own class's text; N: the text with another sample's feature v' (the batch
rolled by one). The temporal constraint asks the information of the full sequence to exceed, by a
margin m, that of a temporally degraded copy v~ (the same estimator with v~ in the positive pairs):

    L = -I_JSD(v; t) + lambda max(0, m - (I_JSD(v; t) - I_JSD~(v~; t))).

A candidate class c is scored by T(v, t_c); the critic reads only the candidate's own text, so any
candidate set is scored without refitting.

What was reconstructed (the paper is short on this; the public code is followed where it says):

* the skeleton encoder is frozen in the code (features detached), so only the critic learns; here
  too: v is the backbone's token map averaged over joints and time steps (N, C), the same as
  pooling the frozen features;
* the degraded copy: the code re-encodes the input sequence with frames dropped, the most-moving
  first (motion attention: squared differences to the previous and next frames), then a random
  subset of the rest. On frozen token maps (N, T', V, C) the same is done to the T' time steps:
  the ``mask`` fraction (code: 15 of 50 frames) of steps with the largest motion is dropped, then as
  many again at random among the others, and v~ is the mean of the kept tokens. This needs T' >= 3;
* critic sizes 1024-512 as the code, LayerNorm without affine on v, unit text; margin m = 0.1,
  lambda = 0.5 [code]; Adam with a linear warm-up of the rate over the first ``warmup`` = 15 % of the
  epochs and a cosine decay after [code: 15 warm-up epochs of 100, lr 1e-5, batch 128]; here lr
  1e-4, batch 64, 100 epochs;
* epoch selection: the code keeps the epoch with the best unseen TEST accuracy after the warm-up;
  here the best seen-val accuracy of argmax_c T(v, t_c) over the seen classes, from the end of the
  warm-up on (zssar.methods.training.EarlyStopping, ``patience`` epochs without improvement);
* scores are the critic's logits T(v, t_c) (a monotone map of the code's -sp(-T)), temperature 1.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidConfig
from ..features import FeatureSet
from ..utils import array_digest, progress, torch_seeded
from .base import Method, Needs, Scores, label_positions, register_method
from .training import EarlyStopping, optimiser_step, shuffled_batches


class Critic(nn.Module):
    """T(v, t) = MLP([LN(v), t]); scores every (sample, class) pair without building N x K inputs."""

    def __init__(self, v_dim: int, t_dim: int, hidden: tuple[int, int]):
        super().__init__()
        self.norm = nn.LayerNorm(v_dim, elementwise_affine=False)
        self.first_v, self.first_t = nn.Linear(v_dim, hidden[0]), nn.Linear(t_dim, hidden[0], bias=False)
        self.rest = nn.Sequential(nn.ReLU(), nn.Linear(hidden[0], hidden[1]), nn.ReLU(), nn.Linear(hidden[1], 1))

    def forward(self, v, t):
        """(N,) critic of row-aligned pairs."""
        return self.rest(self.first_v(self.norm(v)) + self.first_t(t)).squeeze(-1)

    def pairwise(self, v, t):
        """(N, K) critic of every sample with every class (the first layer is linear in [v, t])."""
        h = self.first_v(self.norm(v))[:, None, :] + self.first_t(t)[None, :, :]
        return self.rest(h).squeeze(-1)


def jsd_information(critic: Critic, v_positive, v_reference, t) -> torch.Tensor:
    """I_JSD: positives (v_positive_i, t_i), negatives (v_reference rolled by one, t_i)."""
    negative = torch.cat([v_reference[1:], v_reference[:1]])
    return -F.softplus(-critic(v_positive, t)).mean() - F.softplus(critic(negative, t)).mean()


def degraded_sequences(tokens: torch.Tensor, mask: float, generator: torch.Generator) -> torch.Tensor:
    """(N, C) mean of the tokens (N, T', V, C) of the time steps kept after dropping the most-moving
    ``mask`` fraction and as many again at random among the rest (SMIE's motion-attention mask:
    a step's motion is its squared difference to the previous and the next step, over joints)."""
    n, t_len = tokens.shape[:2]
    drop = max(1, round(mask * t_len))
    keep_low = max(1, t_len - drop)
    motion = (tokens[:, 1:] - tokens[:, :-1]).pow(2).mean((2, 3))
    energy = torch.zeros(n, t_len)
    energy[:, :-1] += motion
    energy[:, 1:] += motion
    calm = torch.topk(-energy, keep_low, dim=1).indices  # the steps with the least motion
    keep = max(1, keep_low - drop)
    choice = torch.stack([torch.randperm(keep_low, generator=generator)[:keep] for _ in range(n)])
    kept = torch.gather(calm, 1, choice)
    steps = tokens.mean(2)
    return torch.gather(steps, 1, kept[..., None].expand(-1, -1, steps.shape[-1])).mean(1)


@register_method
class Smie(Method):
    name = "smie"

    def __init__(self, text_field: str = "label+description", hidden: tuple = (1024, 512), margin: float = 0.1,
                 temporal_weight: float = 0.5, mask: float = 0.3, epochs: int = 100, warmup: float = 0.15,
                 batch_size: int = 64, lr: float = 1e-4, weight_decay: float = 0.0, patience: int | None = 30):
        checks = [(len(hidden) == 2 and min(hidden) >= 1, "hidden must be two layer sizes >= 1"),
                  (margin >= 0 and temporal_weight >= 0, "margin and temporal_weight must be >= 0"),
                  (0.0 < mask < 0.5, "mask must lie in (0, 0.5): twice it is dropped from the time steps"),
                  (epochs >= 1 and 0.0 <= warmup < 1.0, "epochs must be >= 1 and warmup a fraction of them in [0, 1)"),
                  (batch_size >= 2 and lr > 0 and weight_decay >= 0, "batch_size >= 2, lr > 0, weight_decay >= 0"),
                  (patience is None or patience >= 1, "patience must be None (never stop early) or >= 1")]
        for ok, msg in checks:
            if not ok:
                raise InvalidConfig(f"smie: {msg}")
        self.text_field, self.hidden, self.margin = text_field, tuple(int(h) for h in hidden), margin
        self.temporal_weight, self.mask, self.epochs, self.warmup = temporal_weight, mask, epochs, warmup
        self.batch_size, self.lr, self.weight_decay, self.patience = batch_size, lr, weight_decay, patience
        self.critic: Critic | None = None
        self.history: list[dict] = []
        self.best_epoch = None

    @property
    def needs(self) -> Needs:
        return Needs(text_fields=(self.text_field,))

    def settings(self) -> dict:
        keys = ("text_field", "margin", "temporal_weight", "mask", "epochs", "warmup", "batch_size", "lr",
                "weight_decay", "patience")
        return {k: getattr(self, k) for k in keys} | {"hidden": list(self.hidden)}

    def _text(self, text) -> torch.Tensor:
        return F.normalize(torch.from_numpy(np.ascontiguousarray(text.embeddings(self.text_field))), dim=-1)

    @staticmethod
    def _tokens(features: FeatureSet) -> torch.Tensor:
        """(N, T', V, C) the token map (shared with the features, not copied, when float32)."""
        return torch.from_numpy(np.ascontiguousarray(features.tokens, dtype=np.float32))

    def _sequence(self, features: FeatureSet) -> torch.Tensor:
        """(N, C) v: the token map averaged over joints and time steps."""
        return self._tokens(features).mean((1, 2))

    @property
    def warmup_epochs(self) -> int:
        return int(self.warmup * self.epochs)

    def _rate(self, epoch: int) -> float:
        w = self.warmup_epochs
        if epoch < w:
            return self.lr * (epoch + 1) / (w + 1)
        return 0.5 * self.lr * (1 + math.cos(math.pi * (epoch - w) / max(1, self.epochs - w)))

    def fit(self, features: FeatureSet, labels, text, *, val=None, seed: int = 0, show_progress: bool = False):
        if self.temporal_weight > 0 and features.tokens.shape[1] < 3:
            raise InvalidConfig(f"smie: the temporal constraint needs token maps with >= 3 time steps, these have "
                                f"{features.tokens.shape[1]}; use a backbone with less temporal striding or "
                                f"temporal_weight=0")
        with torch_seeded(seed):
            self._fit(features, labels, text, val, seed, show_progress)
        return self

    def _fit(self, features, labels, text, val, seed, show_progress):
        tokens, t = self._tokens(features), self._text(text)
        v, y = tokens.mean((1, 2)), torch.from_numpy(label_positions(labels, text.class_ids))
        self.critic = Critic(v.shape[1], t.shape[1], self.hidden)
        opt = torch.optim.Adam(self.critic.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        gen, stopper = torch.Generator().manual_seed(seed), EarlyStopping(self.patience)
        has_val = val is not None and len(val[1]) > 0
        if has_val:
            v_val, y_val = self._sequence(val[0]), label_positions(val[1], text.class_ids)
        self.history = []
        for epoch in progress(range(self.epochs), desc="fit smie", enabled=show_progress):
            for group in opt.param_groups:
                group["lr"] = self._rate(epoch)
            self.critic.train()
            sums, count = {"information": 0.0, "temporal": 0.0, "loss": 0.0}, 0
            for sel in shuffled_batches(len(v), self.batch_size, gen, min_size=2):
                info = jsd_information(self.critic, v[sel], v[sel], t[y[sel]])
                loss, temporal = -info, torch.zeros(())
                if self.temporal_weight > 0:
                    degraded = degraded_sequences(tokens[sel], self.mask, gen)
                    temporal = torch.clamp(self.margin - (info - jsd_information(self.critic, degraded, v[sel],
                                                                                 t[y[sel]])), min=0)
                    loss = loss + self.temporal_weight * temporal
                optimiser_step(opt, loss)
                for k, value in (("information", info), ("temporal", temporal), ("loss", loss)):
                    sums[k] += float(value.detach()) * len(sel)
                count += len(sel)
            row = {"epoch": epoch + 1} | {k: s / max(1, count) for k, s in sums.items()}
            if has_val:
                self.critic.eval()
                with torch.no_grad():
                    row["val_accuracy"] = float(np.mean(self.critic.pairwise(v_val, t).argmax(1).numpy() == y_val))
            self.history.append(row)
            if has_val and epoch >= self.warmup_epochs and stopper.update(epoch, row["val_accuracy"], self.critic):
                break
        stopper.restore(self.critic)
        self.best_epoch = stopper.best_epoch if has_val else len(self.history) - 1
        self.critic.eval()

    def scores(self, features: FeatureSet, text, stream=None) -> Scores:
        if self.critic is None:
            raise RuntimeError("fit smie before scoring")
        with torch.no_grad():
            values = self.critic.pairwise(self._sequence(features), self._text(text))
        return Scores(values.numpy(), temperature=1.0)

    def state_digest(self) -> str:
        if self.critic is None:
            return "unfitted"
        return array_digest([p.detach().numpy() for p in self.critic.state_dict().values()])
