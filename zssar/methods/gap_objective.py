"""GAP's prompts, its loss, and the pretraining objective the GAP method contributes to a backbone.

GAP (Xiang et al., ICCV 2023) projects the global feature and one pooled feature per body part into
the text space, one linear head per stream, and aligns them with class text by a KL contrastive loss
with soft targets (every same-class pair in the batch is a positive):

    L_total = L_CE + lambda * 1/K sum_k L_con^k,
    L_con   = 1/2 [ KL(y^{s2t} || p^{s2t}) + KL(y^{t2s} || p^{t2s}) ],  p = softmax(cos(s, t) / tau).

The global stream reads a randomly sampled synonym of the class, part k reads "label: part k's
description" (GAP Sec. 3.4-3.5). Everything here serves both ways of training the heads: jointly
with the backbone (:class:`GapObjective`, registered as the ``gap`` pretraining objective) or on the
frozen features of another backbone (:meth:`zssar.methods.gap.GAP.fit`).

The text tower is either frozen (each prompt embedded once by the run's encoder) or fine-tuned with
the backbone, as GAP does (Sec. 4.1): each step re-encodes the batch's prompts through a trainable
copy of the tower, under its own, smaller learning rate ``text_lr`` (GAP trains CLIP's tower at the
skeleton's SGD rate, 0.1; with Adam a transformer needs far less, and 1e-5 is the usual rate for
BERT-size towers). Only the seen classes' prompts are read in training; the heads and a tuned tower's
weights travel with the features, and unseen classes' prompts are embedded at scoring only.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..backbones.objective import Objective
from ..errors import InvalidConfig
from ..utils import stable_hash

PARTITIONS = {"global": None, "2": "upper_lower", "4": "gap4", "6": "gap6"}
TEXT_FIELD_GROUP = {"upper_lower": "gap2", "gap4": "gap4", "gap6": "parts"}
TEXT_TYPES = ("label", "synonyms", "parts", "both")
TEXT_TOWERS = ("frozen", "finetune")


@dataclass(frozen=True)
class GapConfig:
    """GAP settings; defaults follow the paper (4 parts, synonyms + part descriptions, 0.8, 0.1)."""

    partition: str = "4"  # "global" (no parts), "2", "4" or "6" body parts
    text: str = "both"  # label | synonyms (global text) | parts (part text) | both
    weight: float = 0.8  # lambda, the weight of the contrastive term beside cross-entropy
    temperature: float = 0.1
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

    def settings(self) -> dict:
        d = asdict(self)
        if self.text_tower == "frozen":
            d.pop("text_lr")  # no text weights are trained: the rate changes nothing
        return d


class GapPrompts:
    """The text of some classes per stream (global, then the parts), as strings and embeddings.

    ``text`` is a :class:`~zssar.text.classtext.ClassText`; rows follow its ``class_ids``.
    """

    def __init__(self, text, layout, config: GapConfig):
        self.config, self.class_ids = config, tuple(text.class_ids)
        self.position = {c: i for i, c in enumerate(self.class_ids)}
        grouping = config.grouping
        groups = layout.part_groups(grouping) if grouping else {}
        self.parts = tuple(groups)
        self.joint_groups = tuple(groups[p] for p in self.parts)
        self.streams = ("global",) + self.parts
        labels = text.strings("label")
        self.synonyms = [text.synonyms(i) for i in range(len(text))]
        use_synonyms = config.text in ("synonyms", "both")
        use_parts = config.text in ("parts", "both")
        if use_parts and self.parts:
            group = TEXT_FIELD_GROUP[grouping]
            missing = [f"{group}.{p}" for p in self.parts if not text.has_field(f"{group}.{p}")]
            if missing:
                raise InvalidConfig(f"GAP part text needs {missing} for every class of {text.bank.dataset!r} "
                                    f"(text source: {text.source}); use text='label' or 'synonyms'")
        # Per stream, the fixed per-class string (None where a synonym is sampled per sample).
        self.fixed: dict[str, list[str] | None] = {"global": None if use_synonyms else labels}
        for p in self.parts:
            if use_parts:
                descs = text.strings(f"{TEXT_FIELD_GROUP[grouping]}.{p}")
                self.fixed[p] = [f"{lab}: {d}" for lab, d in zip(labels, descs)]
            else:
                self.fixed[p] = self.fixed["global"]
        self.flat_synonyms = [s for syn in self.synonyms for s in syn]
        self.synonym_owner = np.repeat(np.arange(len(self.synonyms)), [len(s) for s in self.synonyms])

    def strings(self) -> list[str]:
        """Every prompt (they identify what the objective trains on)."""
        out = list(self.flat_synonyms)
        for stream in self.streams:
            out += self.fixed[stream] or []
        return out

    def embed(self, encode) -> None:
        """Embed every prompt with ``encode(list of str) -> (n, D)``."""
        self.synonym_vectors = _unit(encode(self.flat_synonyms))
        self.dim = self.synonym_vectors.shape[1]
        self.fixed_vectors = {k: _unit(encode(v)) for k, v in self.fixed.items() if v is not None}

    def class_text(self) -> np.ndarray:
        """(K, S, D) prompt of every class per stream; a sampled synonym becomes the synonyms' mean."""
        mean_syn = np.zeros((len(self.synonyms), self.dim), dtype=np.float32)
        np.add.at(mean_syn, self.synonym_owner, self.synonym_vectors)
        mean_syn = _unit(mean_syn)
        return np.stack([self.fixed_vectors.get(s, mean_syn) for s in self.streams], axis=1)

    def _rows(self, classes) -> np.ndarray:
        return np.array([self.position[int(c)] for c in classes])

    def _synonym_rows(self, rows: np.ndarray, rng: np.random.Generator):
        """One synonym (index into ``flat_synonyms``) per sample, drawn with ``rng``; None if unused."""
        if all(v is not None for v in self.fixed.values()):
            return None
        return [rng.choice(np.flatnonzero(self.synonym_owner == r)) for r in rows]

    def sample(self, classes, rng: np.random.Generator) -> np.ndarray:
        """(B, S, D) one prompt embedding per sample (class ids) and stream; synonyms drawn with ``rng``."""
        rows = self._rows(classes)
        syn = self._synonym_rows(rows, rng)
        return np.stack([self.fixed_vectors[s][rows] if self.fixed[s] is not None else self.synonym_vectors[syn]
                         for s in self.streams], axis=1)

    def sample_strings(self, classes, rng: np.random.Generator) -> list[list[str]]:
        """Per stream, the prompt string of every sample: the same draws as :meth:`sample`."""
        rows = self._rows(classes)
        syn = self._synonym_rows(rows, rng)
        return [[self.fixed[s][r] for r in rows] if self.fixed[s] is not None
                else [self.flat_synonyms[i] for i in syn] for s in self.streams]


def _unit(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


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


def build_module(config: GapConfig, streams: int, channels: int, dim: int, text=None):
    """The trainable parts: one linear head per stream and, to fine-tune, a copy of the text tower."""
    from torch import nn

    module = nn.Module()
    module.heads = nn.ModuleList(nn.Linear(channels, dim) for _ in range(streams))
    if config.text_tower == "finetune":
        module.text = text.tower()
    return module


def batch_text(module, prompts: GapPrompts, classes, rng: np.random.Generator):
    """(B, S, D) text of a training batch: the frozen embeddings, or, with a tuned tower in
    ``module``, the prompts encoded through it with gradients (each distinct string once)."""
    import torch

    if not hasattr(module, "text"):
        return torch.from_numpy(prompts.sample(classes, rng))
    per_stream = prompts.sample_strings(classes, rng)
    unique = sorted({s for stream in per_stream for s in stream})
    position = {s: i for i, s in enumerate(unique)}
    embedded = module.text(unique).embedding
    rows = torch.tensor([[position[s] for s in stream] for stream in per_stream], device=embedded.device)
    return embedded[rows.T]


class GapObjective(Objective):
    """GAP's multi-part contrastive term, trained with the backbone on the seen classes' prompts."""

    name = "gap"

    @classmethod
    def full_settings(cls, settings: dict) -> dict:
        return GapConfig(**settings).settings()

    def __init__(self, settings: dict, seen_text, layout):
        self.config = GapConfig(**settings)
        self.text = seen_text
        self.prompts = GapPrompts(seen_text, layout, self.config)

    def settings(self) -> dict:
        return self.config.settings()

    def identity(self) -> dict:
        return {"name": self.name, "settings": self.settings(), "encoder": getattr(self.text.encoder, "cache_key",
                                                                                   self.text.encoder_name),
                "prompts": stable_hash(self.prompts.strings())}

    def prepare(self) -> None:
        if self.config.text_tower == "finetune":
            self.text.tower()  # fail before training when the encoder has no tower
        self.prompts.embed(self.text.encode)

    def build(self, channels: int, layout):
        return build_module(self.config, len(self.prompts.streams), channels, self.prompts.dim, self.text)

    def parameter_groups(self, module, lr: float) -> list[dict]:
        groups = [{"params": list(module.heads.parameters()), "lr": lr}]
        if hasattr(module, "text"):
            groups.append({"params": list(module.text.parameters()), "lr": self.config.text_lr})
        return groups

    def loss(self, module, pooled, tokens, classes, rng):
        import torch

        text = batch_text(module, self.prompts, classes, rng).to(pooled.device)
        aligned = project(module.heads, pooled, tokens, self.prompts.joint_groups)
        labels = torch.as_tensor(np.asarray(classes), device=pooled.device)
        return self.config.weight * gap_loss(aligned, text, labels, self.config.temperature)
