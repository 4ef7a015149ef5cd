"""GAP (Xiang et al., ICCV 2023): multi-part skeleton-text contrastive training of a backbone.

Besides cross-entropy, the global feature and one pooled feature per body part are each projected
into the text space and aligned with class text by a KL contrastive loss with soft targets
(every same-class pair in the batch is a positive):

    L_total = L_CE + lambda * 1/K sum_k L_con^k,
    L_con   = 1/2 [ KL(y^{s2t} || p^{s2t}) + KL(y^{t2s} || p^{t2s}) ],  p = softmax(cos(s, t) / tau).

The global stream reads a randomly sampled synonym of the class, part k reads "label + part k's
description" (GAP Sec. 3.4-3.5). The text tower is either frozen (every prompt embedded once with
the cached encoder) or fine-tuned jointly with the skeleton encoder, as GAP does (Sec. 4.1): each
step re-encodes the batch's prompts through the tower with gradients, under its own, smaller
learning rate ``text_lr``. GAP's code trains CLIP's tower in the skeleton's SGD optimiser at the
skeleton's rate (0.1); with our Adam optimiser a transformer needs a far smaller one, and 1e-5 is
the usual rate for fine-tuning BERT-size towers with Adam.

The projection heads (and a fine-tuned tower's weights) are kept with the backbone in the cache
entry, and the projected features of every sample plus the prompt embeddings of every class are
stored there too, so the zero-shot method ``gap`` scores unseen classes with exactly the heads and
text trained here. With a fine-tuned tower those are the tuned tower's embeddings of every class's
prompts, unseen classes included: their text is known, only their skeletons are never seen.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidConfig
from ..features import FeatureSet

PARTITIONS = {"global": None, "2": "upper_lower", "4": "gap4", "6": "gap6"}
TEXT_FIELD_GROUP = {"upper_lower": "gap2", "gap4": "gap4", "gap6": "parts"}
TEXT_TYPES = ("label", "synonyms", "parts", "both")
TEXT_TOWERS = ("frozen", "finetune")


@dataclass(frozen=True)
class GapConfig:
    """GAP settings; defaults follow the paper (4 parts, synonyms + part descriptions, 0.8, 0.1)."""

    partition: str = "4"  # "global" (no parts), "2", "4" or "6" body parts
    text: str = "both"  # label | synonyms (global text) | parts (part text) | both
    weight: float = 0.8  # lambda
    temperature: float = 0.1
    encoder: str = "minilm"
    text_tower: str = "frozen"  # frozen | finetune (trained jointly, at text_lr)
    text_lr: float = 1e-5  # Adam learning rate of a fine-tuned text tower (peak of the one-cycle schedule)

    def __post_init__(self):
        if self.partition not in PARTITIONS:
            raise InvalidConfig(f"GAP partition {self.partition!r}; use one of {list(PARTITIONS)}")
        if self.text not in TEXT_TYPES:
            raise InvalidConfig(f"GAP text type {self.text!r}; use one of {list(TEXT_TYPES)}")
        if self.temperature <= 0 or self.weight < 0:
            raise InvalidConfig("GAP temperature must be > 0 and weight (lambda) >= 0")
        if self.text_tower not in TEXT_TOWERS:
            raise InvalidConfig(f"GAP text_tower {self.text_tower!r}; use one of {list(TEXT_TOWERS)}")
        if self.text_lr <= 0:
            raise InvalidConfig(f"GAP text_lr must be > 0 (got {self.text_lr})")

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
        """Embed every prompt with ``encoder``; a fine-tuned tower starts from this encoder's weights."""
        self.encoder = encoder
        self.dim = encoder.dim
        self.flat_synonyms = [s for syn in self.synonyms for s in syn]
        self.synonym_owner = np.repeat(np.arange(len(self.synonyms)), [len(s) for s in self.synonyms])
        self.synonym_vectors = _unit(encoder.encode(self.flat_synonyms))
        self.fixed_vectors = {k: _unit(encoder.encode(v)) for k, v in self.fixed.items() if v is not None}

    def class_text(self) -> np.ndarray:
        """(K, S, D) prompt of every class per stream; a sampled synonym becomes the synonyms' mean."""
        k = len(self.synonyms)
        mean_syn = np.zeros((k, self.dim), dtype=np.float32)
        np.add.at(mean_syn, self.synonym_owner, self.synonym_vectors)
        mean_syn = _unit(mean_syn)
        return np.stack([self.fixed_vectors.get(s, mean_syn) for s in self.streams], axis=1)

    def _synonym_rows(self, classes: np.ndarray, rng: np.random.Generator):
        """One synonym (index into ``flat_synonyms``) per sample, drawn with ``rng``; None if unused."""
        if all(v is not None for v in self.fixed.values()):
            return None
        return [rng.choice(np.flatnonzero(self.synonym_owner == c)) for c in classes]

    def sample(self, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(B, S, D) one prompt embedding per sample and stream; synonyms drawn with ``rng``."""
        rows = self._synonym_rows(classes, rng)
        return np.stack([self.fixed_vectors[s][classes] if self.fixed[s] is not None else self.synonym_vectors[rows]
                         for s in self.streams], axis=1)

    def sample_strings(self, classes: np.ndarray, rng: np.random.Generator) -> list[list[str]]:
        """Per stream, the prompt string of every sample: the same draws as :meth:`sample`."""
        rows = self._synonym_rows(classes, rng)
        return [[self.fixed[s][c] for c in classes] if self.fixed[s] is not None
                else [self.flat_synonyms[r] for r in rows] for s in self.streams]


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def trainable_tower(prompts: GapPrompts):
    """A private, trainable copy of the tower of the encoder that embedded ``prompts``."""
    import copy

    encoder = getattr(prompts.encoder, "encoder", prompts.encoder)  # through the cache wrapper
    if not hasattr(encoder, "tower"):
        raise InvalidConfig(f"GAP text_tower='finetune' needs a transformer text tower; encoder "
                            f"{encoder.name!r} has none (use minilm, bert-base-uncased or a CLIP encoder)")
    tower = copy.deepcopy(encoder.tower())  # the encoder itself keeps its pretrained weights
    for p in tower.parameters():
        p.requires_grad_(True)
    return tower.train()


def parameter_groups(net, lr: float, text_lr: float) -> list[dict]:
    """Optimiser groups: backbone and heads at ``lr``; a fine-tuned text tower (``net["text"]``) at ``text_lr``."""
    text = list(net["text"].parameters()) if "text" in net else []
    in_text = {id(p) for p in text}
    groups = [{"params": [p for p in net.parameters() if id(p) not in in_text], "lr": lr}]
    if text:
        groups.append({"params": text, "lr": text_lr})
    return groups


def batch_text(net, prompts: GapPrompts, classes: np.ndarray, rng: np.random.Generator):
    """(B, S, D) text of a training batch: the frozen embeddings, or, when ``net`` holds a tower,
    the prompts encoded through it with gradients (each distinct string of the batch once)."""
    import torch

    if "text" not in net:
        return torch.from_numpy(prompts.sample(classes, rng))
    per_stream = prompts.sample_strings(classes, rng)
    unique = sorted({s for stream in per_stream for s in stream})
    position = {s: i for i, s in enumerate(unique)}
    embedded = net["text"](unique).embedding
    rows = torch.tensor([[position[s] for s in stream] for stream in per_stream], device=embedded.device)
    return embedded[rows.T]


def embed_with_tuned_tower(net, prompts: GapPrompts) -> None:
    """After fine-tuning, re-embed every class's prompts (unseen classes' too) with the tuned tower.

    Does nothing for a frozen tower. The tuned embeddings never enter the shared text cache.
    """
    if "text" not in net:
        return
    from ..text.towers import TowerEncoder

    class TunedTower(TowerEncoder):
        name = "gap-finetuned"

        def __init__(self, tower):
            self._tower, self.dim = tower, tower.output_dim

    prompts.embed(TunedTower(net["text"]))


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
