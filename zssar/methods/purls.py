"""PURLS: part-aware alignment by cross-attention from description queries to skeleton tokens.

Each class has G text items (DynaPURLS Sec. 3.2): a global description, four body-part sentences
(head, hands, torso, legs) and three phases (start, middle, end). Every text item is a *query*
over the backbone's T' x V token map (Eq. 5-8): ``A = softmax(F W_Q (G W_K)^T / sqrt(h))`` over
tokens, ``R = A G``. An MLP ``f_skel`` maps each ``r`` to the text space (Eq. 9), and a symmetric
InfoNCE per granularity (Eq. 10) is summed with learnable weights (Eq. 11). The temperature is
learnt from log(1/0.07). ``partition="static"`` replaces the attention by fixed pools: the layout's
``purls4`` joint groups over all time and the temporal thirds over all joints (the ablation).

The compatibility of a sample with a candidate class is computed with THAT CLASS's own text items
as queries, for every candidate; the sample's label is never used to build queries (the public code
does that at test time, see docs/METHODS.md). ``train_queries="candidate"`` (default) trains with
the same per-candidate scoring; ``"true"`` is Eq. 10 read literally, queries from the true class.

Defaults are sized for small datasets on a CPU: h = 150 and a 512-unit MLP as in the paper, but
Adam lr 1e-3 for a fixed 60 epochs (paper: 1e-4, up to 300 epochs with early stopping on a
validation set, batch 256). The learnable weights follow uncertainty weighting,
``sum_i exp(-s_i) L_i + s_i``, so that no weight can collapse to zero; scores use the normalised
``softmax(-s)``.
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
from .training import optimiser_step, shuffled_batches

PART_FIELDS = tuple(f"purls_parts.{k}" for k in ("head", "hands", "torso", "legs"))
PHASE_FIELDS = tuple(f"phases.{k}" for k in ("start", "middle", "end"))
GRANULARITIES = ("global", "global+parts", "global+phases", "global+parts+phases")


class PurlsNet(nn.Module):
    """W_Q, W_K, f_skel, the temperature and the per-granularity loss weights."""

    def __init__(self, token_dim: int, text_dim: int, num_items: int, attention_dim: int, hidden: int,
                 static_pools: torch.Tensor | None):
        super().__init__()
        self.w_q = nn.Linear(text_dim, attention_dim, bias=False)
        self.w_k = nn.Linear(token_dim, attention_dim, bias=False)
        self.f_skel = nn.Sequential(nn.Linear(token_dim, hidden), nn.ReLU(), nn.Linear(hidden, text_dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.log_var = nn.Parameter(torch.zeros(num_items))  # learnable weights alpha_i = exp(-s_i)
        self.register_buffer("static_pools", static_pools if static_pools is not None else torch.zeros(0))

    @property
    def adaptive(self) -> bool:
        return self.static_pools.numel() == 0

    def keys(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.w_k(tokens)

    def attention(self, tokens: torch.Tensor, text: torch.Tensor, keys: torch.Tensor | None = None):
        """(N, K, G, S) weights of each class's G text queries over the S tokens of each sample."""
        if not self.adaptive:
            return self.static_pools.expand(tokens.shape[0], 1, *self.static_pools.shape)
        keys = self.keys(tokens) if keys is None else keys
        logits = torch.einsum("kgh,nsh->nkgs", self.w_q(text), keys) / math.sqrt(keys.shape[-1])
        return logits.softmax(-1)

    def similarities(self, tokens, text, keys=None) -> torch.Tensor:
        """(N, K, G) cosine of f_skel(A_c G) with each candidate c's own text items."""
        fused = torch.einsum("nkgs,nsc->nkgc", self.attention(tokens, text, keys), tokens)
        v = F.normalize(self.f_skel(fused), dim=-1)
        return (v * F.normalize(text, dim=-1)).sum(-1)

    def item_weights(self, learnable: bool) -> torch.Tensor:
        g = self.log_var.shape[0]
        return torch.softmax(-self.log_var, 0) if learnable else torch.full((g,), 1.0 / g)


def symmetric_infonce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Eq. 10 for one granularity: sample->classes CE, plus class->samples CE where every batch
    sample of that class is a positive (several samples share a class in a batch)."""
    row = F.cross_entropy(logits, y)
    present = torch.unique(y)
    col_logp = logits[:, present].log_softmax(0)  # over the batch samples
    target = (y[:, None] == present[None, :]).float()
    col = -(col_logp * target / target.sum(0, keepdim=True)).sum(0).mean()
    return 0.5 * (row + col)


def token_matrix(features: FeatureSet) -> torch.Tensor:
    """(N, T'V, C) tokens, each L2 normalised as in PURLS."""
    t = torch.from_numpy(np.ascontiguousarray(features.tokens, dtype=np.float32))
    return F.normalize(t.reshape(t.shape[0], -1, t.shape[-1]), dim=-1)


@register_method
class Purls(Method):
    name = "purls"

    def __init__(self, granularity: str = "global+parts+phases", partition: str = "adaptive",
                 weighting: str = "learnable", global_field: str = "label+description",
                 train_queries: str = "candidate", attention_dim: int = 150, hidden: int = 512,
                 epochs: int = 60, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-4,
                 chunk: int = 64):
        checks = [(granularity in GRANULARITIES, f"granularity must be one of {GRANULARITIES}"),
                  (partition in ("adaptive", "static"), "partition must be 'adaptive' or 'static'"),
                  (weighting in ("learnable", "average"), "weighting must be 'learnable' or 'average'"),
                  (train_queries in ("candidate", "true"), "train_queries must be 'candidate' or 'true'"),
                  (epochs >= 1 and batch_size >= 2, "epochs >= 1 and batch_size >= 2")]
        for ok, msg in checks:
            if not ok:
                raise InvalidConfig(f"purls: {msg}")
        self.granularity, self.partition, self.weighting = granularity, partition, weighting
        self.global_field, self.train_queries = global_field, train_queries
        self.attention_dim, self.hidden, self.epochs, self.batch_size = attention_dim, hidden, epochs, batch_size
        self.lr, self.weight_decay, self.chunk = lr, weight_decay, chunk
        self.net: PurlsNet | None = None
        self.history: list[dict] = []

    @property
    def text_fields(self) -> tuple[str, ...]:
        """The text items of each class, in order: the global text, then parts, then phases."""
        fields = (self.global_field,)
        if "parts" in self.granularity:
            fields += PART_FIELDS
        if "phases" in self.granularity:
            fields += PHASE_FIELDS
        return fields

    @property
    def needs(self) -> Needs:
        return Needs(text_fields=self.text_fields)

    def settings(self) -> dict:
        keys = ("granularity", "partition", "weighting", "global_field", "train_queries", "attention_dim",
                "hidden", "epochs", "batch_size", "lr", "weight_decay")
        return {k: getattr(self, k) for k in keys}

    # ---------------------------------------------------------------- helpers
    def text_tensor(self, text) -> torch.Tensor:
        """(K, G, D) unit text items of the candidate classes, in :attr:`text_fields` order."""
        items = torch.from_numpy(np.stack([text.embeddings(f) for f in self.text_fields], 1).astype(np.float32))
        return F.normalize(items, dim=-1)  # unit rows, as DynaPURLS's F' = norm(S * F + dF) at S=1, dF=0

    def _static_pools(self, layout, t_prime: int, v: int) -> torch.Tensor:
        """(G, T'V) uniform pools: all tokens, each purls4 part over time, each third of time."""
        masks = [np.ones((t_prime, v))]
        if "parts" in self.granularity:
            for joints in layout.part_groups("purls4").values():
                m = np.zeros((t_prime, v))
                m[:, list(joints)] = 1
                masks.append(m)
        if "phases" in self.granularity:
            for steps in np.array_split(np.arange(t_prime), 3):
                m = np.zeros((t_prime, v))
                m[steps if len(steps) else [t_prime - 1], :] = 1  # T' < 3: the last step stands in
                masks.append(m)
        pools = np.stack([m.reshape(-1) / m.sum() for m in masks])
        return torch.from_numpy(pools.astype(np.float32))

    def combine(self, sims: torch.Tensor) -> torch.Tensor:
        """(N, K) score: the granularity similarities weighted by the learnt (or equal) weights."""
        return (sims * self.net.item_weights(self.weighting == "learnable")).sum(-1)

    def temperature(self) -> float:
        """The learnt temperature at which the scores are probabilities."""
        return float(torch.exp(-self.net.logit_scale).item()) if self.net is not None else 0.07

    # ---------------------------------------------------------------- training
    def fit(self, features: FeatureSet, labels, text, *, val=None, seed: int = 0, show_progress: bool = False):
        with torch_seeded(seed):
            self._train(features, labels, text, seed, show_progress)
        return self

    def _train(self, features: FeatureSet, labels, text, seed: int, show_progress: bool):
        tokens = token_matrix(features)
        _, t_prime, v, c = features.tokens.shape
        items = self.text_tensor(text)
        y = torch.from_numpy(label_positions(labels, text.class_ids))
        pools = self._static_pools(features.layout, t_prime, v) if self.partition == "static" else None
        self.net = PurlsNet(c, items.shape[-1], items.shape[1], self.attention_dim, self.hidden, pools)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        gen = torch.Generator().manual_seed(seed)
        learnable = self.weighting == "learnable"
        self.history = []
        for _ in progress(range(self.epochs), desc="fit purls", enabled=show_progress):
            self.net.train()
            total = 0.0
            for sel in shuffled_batches(len(tokens), self.batch_size, gen, min_size=2):
                sims = self._train_similarities(tokens[sel], items, y[sel])
                scale = self.net.logit_scale.clamp(max=math.log(100)).exp()
                losses = torch.stack([symmetric_infonce(scale * sims[..., g], y[sel])
                                      for g in range(sims.shape[-1])])
                if learnable:  # alpha_i = exp(-s_i), with s_i as the regulariser so alpha cannot vanish
                    loss = (torch.exp(-self.net.log_var) * losses + self.net.log_var).sum()
                else:
                    loss = losses.mean()
                optimiser_step(opt, loss)
                total += losses.mean().item() * len(sel)
            self.history.append({"train_loss": total / len(tokens)})
        self.net.eval()

    def _train_similarities(self, tokens, items, y) -> torch.Tensor:
        if self.train_queries == "candidate" or not self.net.adaptive:
            return self.net.similarities(tokens, items)
        # Eq. 10 literally: one fused feature per sample, from its own (training) class's queries
        att = torch.einsum("ngh,nsh->ngs", self.net.w_q(items[y]), self.net.keys(tokens))
        att = (att / math.sqrt(self.attention_dim)).softmax(-1)
        v = F.normalize(self.net.f_skel(torch.einsum("ngs,nsc->ngc", att, tokens)), dim=-1)
        return torch.einsum("ngd,kgd->nkg", v, F.normalize(items, dim=-1))

    # ---------------------------------------------------------------- scoring
    def _require_fit(self) -> None:
        if self.net is None:
            raise RuntimeError("fit the method before scoring")

    def similarities(self, features: FeatureSet, text) -> np.ndarray:
        """(N, K, G) per-granularity cosines, each candidate scored with its own text items."""
        self._require_fit()
        tokens, items = token_matrix(features), self.text_tensor(text)
        with torch.no_grad():
            out = [self.net.similarities(tokens[b:b + self.chunk], items) for b in range(0, len(tokens), self.chunk)]
        return torch.cat(out).numpy() if out else np.zeros((0, items.shape[0], items.shape[1]), np.float32)

    def scores(self, features: FeatureSet, text, stream=None) -> Scores:
        self._require_fit()
        sims = torch.from_numpy(self.similarities(features, text))
        with torch.no_grad():
            return Scores(self.combine(sims).numpy(), temperature=self.temperature())

    def attention_maps(self, features: FeatureSet, text) -> np.ndarray:
        """(N, K, G, T', V) attention of each candidate's text items over each sample's tokens."""
        self._require_fit()
        n, t_prime, v, _ = features.tokens.shape
        with torch.no_grad():
            att = self.net.attention(token_matrix(features), self.text_tensor(text))
        att = att.expand(n, len(text.class_ids), *att.shape[2:]) if att.shape[1] == 1 else att
        return att.reshape(n, att.shape[1], att.shape[2], t_prime, v).numpy()

    def item_weights(self) -> dict[str, float]:
        self._require_fit()
        w = self.net.item_weights(self.weighting == "learnable").detach().numpy()
        return {f: float(x) for f, x in zip(self.text_fields, w)}

    def state_digest(self) -> str:
        if self.net is None:
            return "unfitted"
        return array_digest([p.detach().numpy() for p in self.net.parameters()])
