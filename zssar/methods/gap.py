"""GAP as a zero-shot method: score a class by how well its prompts match projected skeleton features.

GAP (Xiang et al., ICCV 2023) maps the global feature and each body part's pooled feature into the
text space with one head per stream, trained with a multi-part KL contrastive loss whose soft
targets count every same-class pair as positive (:mod:`zssar.methods.gap_objective`). An unseen
class c is then scored with its own prompts:

    score(x, c) = sum_k w_k cos(h_k(f_k(x)), t_k(c)) / sum_k w_k,

k over the global stream and the parts; ``part_weight`` is w_k of a part relative to the global one,
t_k(c) the mean of c's synonyms (global) or "label: part k's description".

Two ways to get the heads, one set of prompts and one loss:

* the backbone was pretrained with GAP's objective (``RunConfig(objective="gap")``,
  ``zssar run --objective gap``): the heads, and a fine-tuned text tower's weights, travel with the
  features (``FeatureSet.objective``); :meth:`GAP.fit` trains nothing more. Its ``partition`` and
  ``text`` must be the objective's;
* any other backbone: :meth:`GAP.fit` trains the heads on the frozen features of ``seen_train``
  (standardised with training statistics) with the same prompts and loss.
"""
from __future__ import annotations

import numpy as np

from ..errors import InvalidConfig
from ..features import FeatureSet
from ..utils import array_digest, progress, torch_seeded
from .base import OBJECTIVES, Method, Needs, Scores, register_method
from .gap_objective import (PARTITIONS, TEXT_FIELD_GROUP, GapConfig, GapObjective, GapPrompts, build_module, gap_loss,
                             project)
from .training import optimiser_step, shuffled_batches

OBJECTIVES.register("gap", GapObjective)


@register_method
class GAP(Method):
    name = "gap"

    def __init__(self, part_weight: float = 1.0, partition: str = "4", text: str = "both", temperature: float = 0.1,
                 epochs: int = 40, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-4):
        if part_weight < 0 or epochs < 1 or batch_size < 1:
            raise InvalidConfig("gap: part_weight >= 0, epochs and batch_size >= 1")
        self.config = GapConfig(partition=partition, text=text, temperature=temperature)
        self.part_weight, self.partition, self.text, self.temperature = part_weight, partition, text, temperature
        self.epochs, self.batch_size, self.lr, self.weight_decay = epochs, batch_size, lr, weight_decay
        self.module = None
        self.mean = self.std = None  # standardisation of frozen features (heads trained here)
        self.tuned = False  # scoring with a jointly fine-tuned text tower

    @property
    def needs(self) -> Needs:
        from ..data.layouts import NTU25  # part names are the same in every layout

        grouping = PARTITIONS[self.partition]
        fields = ("label", "synonyms")
        if grouping and self.text in ("parts", "both"):
            fields += tuple(f"{TEXT_FIELD_GROUP[grouping]}.{p}" for p in NTU25.part_groups(grouping))
        return Needs(text_fields=fields)

    def settings(self) -> dict:
        return {"part_weight": self.part_weight, "partition": self.partition, "text": self.text,
                "temperature": self.temperature, "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "weight_decay": self.weight_decay}

    def fit(self, features: FeatureSet, labels, text, *, val=None, seed: int = 0, show_progress: bool = False):
        import torch

        state = features.objective
        if state is not None and state.name == "gap":
            trained = GapConfig(**state.settings)
            if (trained.partition, trained.text) != (self.partition, self.text):
                raise InvalidConfig(f"gap: the backbone was trained with GAP's objective at partition "
                                    f"{trained.partition!r}, text {trained.text!r}; set the method alike "
                                    f"(--set partition={trained.partition} --set text={trained.text})")
            self.tuned = trained.text_tower == "finetune"
            prompts = GapPrompts(text, features.layout, self.config)
            self.module = build_module(trained, len(prompts.streams), features.pooled.shape[1],
                                       int(state.weights["heads.0.weight"].shape[0]), text)
            self.module.load_state_dict({k: torch.from_numpy(v) for k, v in state.weights.items()})
            self.module.eval()
            self.mean = self.std = None
            return self
        self._train_heads(features, labels, text, seed, show_progress)
        return self

    def _train_heads(self, features, labels, text, seed, show_progress) -> None:
        import torch

        prompts = GapPrompts(text, features.layout, self.config)
        prompts.embed(text.encode)
        x = torch.from_numpy(_stream_inputs(features, prompts.joint_groups))  # (N, S, C)
        self.mean, self.std = x.mean(0), x.std(0) + 1e-6  # training statistics only
        xs = (x - self.mean) / self.std
        y = torch.as_tensor(np.asarray(labels))
        rng = np.random.default_rng(seed)  # the synonym drawn for each sample's global stream
        with torch_seeded(seed):
            self.module = build_module(self.config, len(prompts.streams), x.shape[2], prompts.dim)
        opt = torch.optim.AdamW(self.module.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        gen = torch.Generator().manual_seed(seed)
        for _ in progress(range(self.epochs), desc="fit gap heads", enabled=show_progress):
            for sel in shuffled_batches(len(xs), self.batch_size, gen):
                aligned = torch.stack([head(xs[sel, k]) for k, head in enumerate(self.module.heads)], dim=1)
                target = torch.from_numpy(prompts.sample(np.asarray(labels)[sel.numpy()], rng))
                optimiser_step(opt, gap_loss(aligned, target, y[sel], self.config.temperature))
        self.module.eval()

    def weights(self, streams: int) -> np.ndarray:
        w = np.full(streams, self.part_weight, dtype=np.float32)
        w[0] = 1.0
        return w / w.sum()

    def scores(self, features: FeatureSet, text, stream=None) -> Scores:
        import torch

        if self.module is None:
            raise RuntimeError("fit the method before scoring")
        prompts = GapPrompts(text, features.layout, self.config)
        prompts.embed(self._encoder(text))
        with torch.no_grad():
            if self.mean is None:  # heads trained with the backbone read its raw features
                pooled, tokens = torch.from_numpy(features.pooled), torch.from_numpy(features.tokens)
                s = torch.cat([project(self.module.heads, pooled[b:b + 128], tokens[b:b + 128], prompts.joint_groups)
                               for b in range(0, len(features), 128)]).numpy()
            else:
                x = (torch.from_numpy(_stream_inputs(features, prompts.joint_groups)) - self.mean) / self.std
                s = torch.stack([head(x[:, k]) for k, head in enumerate(self.module.heads)], dim=1).numpy()
        per_stream = np.einsum("nsd,ksd->nks", _unit(s), _unit(prompts.class_text()))
        return Scores(per_stream @ self.weights(len(prompts.streams)), temperature=self.temperature)

    def _encoder(self, text):
        """How candidate prompts are embedded: the run's encoder, or the jointly tuned tower."""
        if not self.tuned:
            return text.encode
        from ..text.towers import TowerEncoder

        tower = self.module.text.eval()

        class TunedTower(TowerEncoder):
            name = "gap-finetuned"

            def __init__(self):
                self._tower, self.dim = tower, tower.output_dim

        return TunedTower().encode

    def state_digest(self) -> str:
        if self.module is None:
            return "unfitted"
        return array_digest([p.detach().numpy() for p in self.module.parameters()])


def _stream_inputs(features: FeatureSet, groups) -> np.ndarray:
    """(N, S, C): the pooled feature, then each part's tokens averaged over time and its joints."""
    per_joint = features.tokens.mean(axis=1)  # (N, V, C)
    parts = [per_joint[:, list(g)].mean(axis=1) for g in groups]
    return np.stack([features.pooled] + parts, axis=1).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
