"""The global-alignment baseline: one pooled skeleton feature, one text embedding per class.

An MLP maps the backbone's pooled feature into the text space; the logit of class c is the cosine
similarity to the class text embedding over a temperature, trained with cross-entropy over the seen
classes (the "CLIP" baseline of SCoPLe Tab. 1, the "Global" rows of DynaPURLS Tab. 5). Unseen classes
are then scored the same way with their own text.

``label_weights`` (default ``(0.0,)``: the text field alone): at scoring, a class's text vector can
lean towards its bare label, ``t = unit((1 - w) unit(e_field) + w unit(e_label))``; with two or more
weights, ``w`` is chosen on seen_val like every test-time setting (the pseudo-unseen classes' top-1,
:mod:`zssar.selection`), so a dataset whose descriptions help less than its class names (UTKinect,
chapter 03) can fall back towards the names without looking at the test set. Training always reads
the text field alone, so the choice does not change what is learnt.
"""
from __future__ import annotations

import numpy as np

from ..errors import InvalidConfig
from ..features import FeatureSet
from ..utils import array_digest, progress, torch_seeded
from .base import Method, Needs, Scores, label_positions, register_method
from .training import optimiser_step, shuffled_batches


@register_method
class GlobalBaseline(Method):
    name = "global"

    def __init__(self, text_field: str = "label+description", hidden: int = 512, dropout: float = 0.3,
                 temperature: float = 0.1, epochs: int = 60, batch_size: int = 64, lr: float = 1e-3,
                 weight_decay: float = 1e-4, label_weights=(0.0,)):
        if temperature <= 0 or epochs < 1 or batch_size < 1:
            raise InvalidConfig("global baseline: temperature must be > 0, epochs and batch_size >= 1")
        weights = (label_weights,) if isinstance(label_weights, (int, float)) else tuple(label_weights)
        if not weights or not all(isinstance(w, (int, float)) and 0.0 <= w <= 1.0 for w in weights):
            raise InvalidConfig(f"global baseline: label_weights must be one or more numbers in [0, 1] (the weight "
                                f"of the bare label in a class's text vector), got {label_weights!r}")
        self.label_weights = tuple(float(w) for w in weights)
        self.label_weight = self.label_weights[0]
        self.text_field = text_field
        self.hidden, self.dropout, self.temperature = hidden, dropout, temperature
        self.epochs, self.batch_size, self.lr, self.weight_decay = epochs, batch_size, lr, weight_decay
        self.net = None
        self.history: list[dict] = []

    @property
    def needs(self) -> Needs:
        return Needs(text_fields=(self.text_field,))

    def settings(self) -> dict:
        # a record from before label_weights existed lacks it and reads as the default (0.0,): the same run
        return {"text_field": self.text_field, "hidden": self.hidden, "dropout": self.dropout,
                "temperature": self.temperature, "epochs": self.epochs, "batch_size": self.batch_size,
                "lr": self.lr, "weight_decay": self.weight_decay, "label_weights": list(self.label_weights)}

    def selectable(self) -> dict[str, tuple]:
        return {"label_weight": self.label_weights} if len(self.label_weights) > 1 else {}

    def _text(self, text):
        import torch

        return torch.from_numpy(text.embeddings(self.text_field))

    def _scoring_text(self, text):
        """Unit class vectors at scoring: the text field's, leaning towards the label by ``label_weight``."""
        import torch
        import torch.nn.functional as F

        t = F.normalize(self._text(text), dim=-1)
        if self.label_weight == 0.0:
            return t
        bare = F.normalize(torch.from_numpy(text.embeddings("label")), dim=-1)
        return F.normalize((1.0 - self.label_weight) * t + self.label_weight * bare, dim=-1)

    def fit(self, features: FeatureSet, labels, text, *, val=None, seed: int = 0, show_progress: bool = False):
        with torch_seeded(seed):
            return self._fit(features, labels, text, seed, show_progress)

    def _fit(self, features, labels, text, seed, show_progress):
        import torch
        import torch.nn.functional as F
        from torch import nn

        x = torch.from_numpy(features.pooled)
        y = torch.from_numpy(label_positions(labels, text.class_ids))
        t = F.normalize(self._text(text), dim=-1)
        self.mean, self.std = x.mean(0), x.std(0) + 1e-6  # standardise with training statistics only
        self.net = nn.Sequential(nn.Linear(x.shape[1], self.hidden), nn.ReLU(), nn.Dropout(self.dropout),
                                 nn.Linear(self.hidden, t.shape[1]))
        opt = torch.optim.AdamW(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        gen = torch.Generator().manual_seed(seed)
        xs = (x - self.mean) / self.std
        self.history = []
        for _ in progress(range(self.epochs), desc="fit global", enabled=show_progress):
            self.net.train()
            total = 0.0
            for sel in shuffled_batches(len(xs), self.batch_size, gen):
                z = F.normalize(self.net(xs[sel]), dim=-1)
                loss = F.cross_entropy(z @ t.T / self.temperature, y[sel])
                optimiser_step(opt, loss)
                total += loss.item() * len(sel)
            self.history.append({"train_loss": total / len(xs)})
        self.net.eval()
        return self

    def scores(self, features: FeatureSet, text, stream=None) -> Scores:
        import torch
        import torch.nn.functional as F

        if self.net is None:
            raise RuntimeError("fit the method before scoring")
        with torch.no_grad():
            z = F.normalize(self.net((torch.from_numpy(features.pooled) - self.mean) / self.std), dim=-1)
            t = self._scoring_text(text)
            return Scores((z @ t.T).numpy(), temperature=self.temperature)

    def state_digest(self) -> str:
        if self.net is None:
            return "unfitted"
        return array_digest([p.detach().numpy() for p in self.net.parameters()] + [self.mean.numpy()])
