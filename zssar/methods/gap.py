"""GAP as a zero-shot method: score a class by how well its prompts match projected skeleton features.

GAP (Xiang et al., ICCV 2023) maps the global feature and each body part's pooled feature into the
text space with one head per stream, trained with a multi-part KL contrastive loss whose soft
targets count every same-class pair as positive. An unseen class c is then scored with its own text:

    score(x, c) = sum_k w_k cos(h_k(f_k(x)), t_k(c)) / sum_k w_k,

k over the global stream and the parts; ``part_weight`` is w_k of a part relative to the global one.

Two ways to get the heads:
* the backbone was pretrained with GAP's objective (``BackboneConfig(objective="gap")``, or
  ``RunConfig(objective="gap")`` / ``zssar run --objective gap``): heads and prompt embeddings
  ("label: part description", the synonyms' mean for the global stream) come from its cache entry,
  trained jointly with the backbone on ``seen_train``; with a fine-tuned text tower
  (``GapConfig(text_tower="finetune")``) the prompts of every class, unseen ones included, are
  embedded by the tuned tower. :meth:`fit` learns nothing more;
* any other backbone: :meth:`fit` trains the heads on the frozen features of ``seen_train`` with the
  same loss, against the text fields ``synonyms`` (global) and the partition's part fields.
"""
from __future__ import annotations

import numpy as np

from ..backbones.gap_objective import PARTITIONS, TEXT_FIELD_GROUP, AlignedFeatures
from ..errors import InvalidConfig
from ..features import FeatureSet
from ..utils import array_digest, progress, seed_everything
from .base import ClassEmbeddings, Method, optimiser_step, register_method, shuffled_batches


@register_method
class GAP(Method):
    name = "gap"

    def __init__(self, part_weight: float = 1.0, partition: str = "4", temperature: float = 0.1,
                 epochs: int = 40, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-4):
        if part_weight < 0 or temperature <= 0 or epochs < 1 or batch_size < 1:
            raise InvalidConfig("gap: part_weight >= 0, temperature > 0, epochs and batch_size >= 1")
        if partition not in PARTITIONS:
            raise InvalidConfig(f"gap: partition {partition!r}; use one of {list(PARTITIONS)}")
        self.part_weight, self.partition, self.temperature = part_weight, partition, temperature
        self.epochs, self.batch_size, self.lr, self.weight_decay = epochs, batch_size, lr, weight_decay
        self.streams: tuple[str, ...] = ()
        self.heads = None  # only when trained here on frozen features
        self._digest = "unfitted"

    def settings(self) -> dict:
        return {"part_weight": self.part_weight, "partition": self.partition, "temperature": self.temperature,
                "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "weight_decay": self.weight_decay}

    @property
    def text_fields(self) -> tuple[str, ...]:
        grouping = PARTITIONS[self.partition]
        if grouping is None:
            return ("synonyms",)
        return ("synonyms",) + tuple(f"{TEXT_FIELD_GROUP[grouping]}.{p}" for p in _part_names(grouping))

    def fit(self, features: FeatureSet, labels, text: ClassEmbeddings, *, seed: int = 0,
            show_progress: bool = False):
        if isinstance(features, AlignedFeatures):
            self.streams, self.heads = features.streams, None
            self._digest = array_digest([features.aligned, features.class_text[list(text.class_ids)]])
            return self
        self.streams = ("global",) + _part_names(PARTITIONS[self.partition])
        self._train_heads(features, labels, text, seed, show_progress)
        return self

    def _train_heads(self, features, labels, text, seed, show_progress) -> None:
        import torch
        from torch import nn

        from ..backbones.gap_objective import gap_loss

        seed_everything(seed)
        groups = _joint_groups(PARTITIONS[self.partition], features.tokens.shape[2])
        x = torch.from_numpy(_stream_inputs(features, groups))  # (N, S, C)
        self.groups = groups
        self.mean, self.std = x.mean(0), x.std(0) + 1e-6  # training statistics only
        xs = (x - self.mean) / self.std
        t = torch.from_numpy(np.stack([text.fields[f] for f in self.text_fields], axis=1))  # (K, S, D)
        pos = {c: i for i, c in enumerate(text.class_ids)}
        y = torch.tensor([pos[int(c)] for c in labels])
        self.heads = nn.ModuleList(nn.Linear(x.shape[2], t.shape[2]) for _ in self.streams)
        opt = torch.optim.AdamW(self.heads.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        gen = torch.Generator().manual_seed(seed)
        for _ in progress(range(self.epochs), desc="fit gap heads", enabled=show_progress):
            for sel in shuffled_batches(len(xs), self.batch_size, gen):
                loss = gap_loss(self._project(xs[sel]), t[y[sel]], y[sel], self.temperature)
                optimiser_step(opt, loss)
        self._digest = array_digest([p.detach().numpy() for p in self.heads.parameters()])

    def _project(self, xs):
        import torch

        return torch.stack([head(xs[:, k]) for k, head in enumerate(self.heads)], dim=1)

    def weights(self) -> np.ndarray:
        w = np.full(len(self.streams), self.part_weight, dtype=np.float32)
        w[0] = 1.0
        return w / w.sum()

    def scores(self, features: FeatureSet, text: ClassEmbeddings) -> np.ndarray:
        if not self.streams:
            raise RuntimeError("fit the method before scoring")
        if self.heads is None:
            if not isinstance(features, AlignedFeatures) or features.streams != self.streams:
                raise InvalidConfig("gap: fitted with a GAP backbone's heads; score features of the same backbone")
            s, t = features.aligned, features.class_text[list(text.class_ids)]
        else:
            import torch

            with torch.no_grad():
                x = torch.from_numpy(_stream_inputs(features, self.groups))
                s = self._project((x - self.mean) / self.std).numpy()
            t = np.stack([text.fields[f] for f in self.text_fields], axis=1)
        per_stream = np.einsum("nsd,ksd->nks", _unit(s), _unit(t))
        return (per_stream @ self.weights()).astype(np.float32)

    def state_digest(self) -> str:
        return self._digest


def _part_names(grouping: str | None) -> tuple[str, ...]:
    from ..data.layouts import NTU25

    return tuple(NTU25.part_groups(grouping)) if grouping else ()


def _joint_groups(grouping: str | None, num_joints: int) -> tuple[tuple[int, ...], ...]:
    """The joints of each part, from the registered layout with this many joints."""
    from ..data.layouts import LAYOUTS

    if grouping is None:
        return ()
    matches = [layout for layout in LAYOUTS.values() if layout.num_joints == num_joints]
    if len(matches) != 1:
        raise InvalidConfig(f"gap: cannot tell the layout of {num_joints}-joint features "
                            f"({len(matches)} registered layouts have that many joints)")
    return tuple(matches[0].part_groups(grouping).values())


def _stream_inputs(features: FeatureSet, groups) -> np.ndarray:
    """(N, S, C): the pooled feature, then each part's tokens averaged over time and its joints."""
    per_joint = features.tokens.mean(axis=1)  # (N, V, C)
    parts = [per_joint[:, list(g)].mean(axis=1) for g in groups]
    return np.stack([features.pooled] + parts, axis=1).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
