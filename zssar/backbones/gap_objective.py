"""GAP (Xiang et al., ICCV 2023): multi-part skeleton-text contrastive training of a backbone.

Besides cross-entropy, the global feature and one pooled feature per body part are each projected
into the text space and aligned with class text by a KL contrastive loss with soft targets
(every same-class pair in the batch is a positive):

    L_total = L_CE + lambda * 1/K sum_k L_con^k,
    L_con   = 1/2 [ KL(y^{s2t} || p^{s2t}) + KL(y^{t2s} || p^{t2s}) ],  p = softmax(cos(s, t) / tau).

The global stream reads a randomly sampled synonym of the class, part k reads "label + part k's
description" (GAP Sec. 3.4-3.5). The text tower is frozen: every prompt is embedded once with the
cached encoder. The projection heads are kept with the backbone in the cache entry, and the
projected features of every sample plus the prompts of every class are stored there too, so the
zero-shot method ``gap`` scores unseen classes with exactly the heads and prompts trained here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidConfig
from ..features import FeatureSet

PARTITIONS = {"global": None, "2": "upper_lower", "4": "gap4", "6": "gap6"}
TEXT_FIELD_GROUP = {"upper_lower": "gap2", "gap4": "gap4", "gap6": "parts"}
TEXT_TYPES = ("label", "synonyms", "parts", "both")


@dataclass(frozen=True)
class GapConfig:
    """GAP settings; defaults follow the paper (4 parts, synonyms + part descriptions, 0.8, 0.1)."""

    partition: str = "4"  # "global" (no parts), "2", "4" or "6" body parts
    text: str = "both"  # label | synonyms (global text) | parts (part text) | both
    weight: float = 0.8  # lambda
    temperature: float = 0.1
    encoder: str = "minilm"
    text_tower: str = "frozen"

    def __post_init__(self):
        if self.partition not in PARTITIONS:
            raise InvalidConfig(f"GAP partition {self.partition!r}; use one of {list(PARTITIONS)}")
        if self.text not in TEXT_TYPES:
            raise InvalidConfig(f"GAP text type {self.text!r}; use one of {list(TEXT_TYPES)}")
        if self.temperature <= 0 or self.weight < 0:
            raise InvalidConfig("GAP temperature must be > 0 and weight (lambda) >= 0")
        if self.text_tower != "frozen":
            raise InvalidConfig(f"GAP text_tower {self.text_tower!r}: only 'frozen' is implemented (the "
                                "prompts are embedded once with the cached encoder)")

    @property
    def grouping(self) -> str | None:
        return PARTITIONS[self.partition]


@dataclass(frozen=True, eq=False)
class AlignedFeatures(FeatureSet):
    """Features of a GAP-trained backbone, with their text-space projections and the class prompts.

    ``aligned`` (N, S, D): sample features after the projection heads of the S streams (global first,
    then the parts); ``class_text`` (K, S, D): every class's prompt embedding per stream.
    """

    aligned: np.ndarray = None
    streams: tuple[str, ...] = ()
    class_text: np.ndarray = None

    def subset(self, index) -> "AlignedFeatures":
        idx = np.asarray(index)
        return AlignedFeatures(self.pooled[idx], self.tokens[idx], tuple(self.sample_ids[i] for i in idx),
                               self.aligned[idx], self.streams, self.class_text)


class GapPrompts:
    """The text of every class per stream, as strings and as frozen embeddings."""

    def __init__(self, bank, layout, config: GapConfig):
        self.config = config
        grouping = config.grouping
        self.parts = tuple(layout.part_groups(grouping)) if grouping else ()
        self.joint_groups = tuple(layout.part_groups(grouping)[p] for p in self.parts) if grouping else ()
        self.streams = ("global",) + self.parts
        labels = bank.strings("label")
        self.synonyms = [bank.synonyms(i) for i in range(len(bank))]
        use_synonyms = config.text in ("synonyms", "both")
        use_parts = config.text in ("parts", "both")
        if use_parts and self.parts:
            group = TEXT_FIELD_GROUP[grouping]
            missing = [f"{group}.{p}" for p in self.parts if not bank.has_field(f"{group}.{p}")]
            if missing:
                raise InvalidConfig(f"GAP part text needs {missing} for every class of {bank.dataset!r} "
                                    f"(text source: {bank.source}); use text='label' or 'synonyms'")
        # Per stream, the fixed per-class string (None where a synonym is sampled per sample).
        self.fixed: dict[str, list[str] | None] = {"global": None if use_synonyms else labels}
        for p in self.parts:
            if use_parts:
                group = TEXT_FIELD_GROUP[grouping]
                descs = bank.strings(f"{group}.{p}")
                self.fixed[p] = [f"{lab}: {d}" for lab, d in zip(labels, descs)]
            else:
                self.fixed[p] = self.fixed["global"]

    def strings(self) -> list[str]:
        """Every prompt, for the cache key (a change of text retrains)."""
        out = [s for syn in self.synonyms for s in syn]
        for stream in self.streams:
            out += self.fixed[stream] or []
        return out

    def embed(self, encoder) -> None:
        self.dim = encoder.dim
        flat = [s for syn in self.synonyms for s in syn]
        self.synonym_owner = np.repeat(np.arange(len(self.synonyms)), [len(s) for s in self.synonyms])
        self.synonym_vectors = _unit(encoder.encode(flat))
        self.fixed_vectors = {k: _unit(encoder.encode(v)) for k, v in self.fixed.items() if v is not None}

    def class_text(self) -> np.ndarray:
        """(K, S, D) prompt of every class per stream; a sampled synonym becomes the synonyms' mean."""
        k = len(self.synonyms)
        mean_syn = np.zeros((k, self.dim), dtype=np.float32)
        np.add.at(mean_syn, self.synonym_owner, self.synonym_vectors)
        mean_syn = _unit(mean_syn)
        return np.stack([self.fixed_vectors.get(s, mean_syn) for s in self.streams], axis=1)

    def sample(self, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(B, S, D) one prompt per sample and stream; synonyms drawn with ``rng``."""
        synonym = None
        if any(v is None for v in self.fixed.values()):
            rows = [rng.choice(np.flatnonzero(self.synonym_owner == c)) for c in classes]
            synonym = self.synonym_vectors[rows]
        return np.stack([self.fixed_vectors[s][classes] if self.fixed[s] is not None else synonym
                         for s in self.streams], axis=1)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def build_heads(prompts: GapPrompts, channels: int):
    """One linear projection to the text space per stream (global and each part)."""
    from torch import nn

    return nn.ModuleList(nn.Linear(channels, prompts.dim) for _ in prompts.streams)


def stream_features(pooled, tokens, joint_groups):
    """[global (B, C)] + one (B, C) per part: tokens averaged over time and the part's joints."""
    per_joint = tokens.mean(dim=1)  # (B, V, C)
    return [pooled] + [per_joint[:, list(g)].mean(dim=1) for g in joint_groups]


def project(heads, pooled, tokens, joint_groups):
    """(B, S, D) text-space features of every stream."""
    import torch

    feats = stream_features(pooled, tokens, joint_groups)
    return torch.stack([head(f) for head, f in zip(heads, feats)], dim=1)


def soft_kl_contrastive(skeleton, text, labels, temperature: float):
    """GAP's L_con for one stream: KL to targets where every same-class pair counts as positive."""
    import torch.nn.functional as F

    s, t = F.normalize(skeleton, dim=-1), F.normalize(text, dim=-1)
    logits = s @ t.T / temperature
    same = (labels[:, None] == labels[None, :]).float()
    target = same / same.sum(1, keepdim=True)  # symmetric, so rows and columns alike
    s2t = F.kl_div(F.log_softmax(logits, dim=1), target, reduction="batchmean")
    t2s = F.kl_div(F.log_softmax(logits.T, dim=1), target, reduction="batchmean")
    return 0.5 * (s2t + t2s)


def gap_loss(aligned, text, labels, temperature: float):
    """Mean over streams (global and parts) of the contrastive loss."""
    losses = [soft_kl_contrastive(aligned[:, k], text[:, k], labels, temperature)
              for k in range(aligned.shape[1])]
    return sum(losses) / len(losses)
