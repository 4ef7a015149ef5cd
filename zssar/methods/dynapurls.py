"""DynaPURLS: online test-time refinement of the text queries of a frozen PURLS model.

Every candidate class c and text item g gets a scale S and a shift dF, ``F' = norm(S * F + dF)``
(Eq. 12), starting at S = 1, dF = 0, so that before any update the scores are exactly PURLS's. The
test samples arrive one at a time (batch size 1, Algorithm 1): each is scored with the current F'
as queries and as class text; if its top probability exceeds ``confidence`` it enters the memory bank
of its predicted class (at most ``bank_size`` per class, the least confident leaves first); then an
Adam step (cosine-decayed learning rate) on the cross-entropy of the pseudo-labels of a
class-balanced batch drawn from the bank (Eq. 15) updates S and dF only. The network stays frozen.
A step every sample with a batch of 8 costs about 5x a PURLS forward pass per sample (the paper's
5.2x, Tab. 10); the default takes one every ``refine_every=4`` samples, about 2x.

The refinement runs only on a test stream: ``scores(features, text, stream=Stream(...))`` adapts along
the samples and returns the scores each had when it arrived, the stream's trace and, in a GZSL stream,
the frozen PURLS scores as ``gate``; without a stream it scores as fitted (PURLS). Differences from the paper, on
purpose: the probabilities use the same weighted multi-granularity score as PURLS (Eq. 14 uses the
global item only), so every item's S and dF receive a gradient; the candidate classes' own items are
the queries (never the label); each stream starts afresh (S, dF and the bank anew) and is processed
in a seeded random order unless ``stream_order="given"`` (test views are stored class by class,
which no real stream is).

GZSL (Sec. 3.5): the entropy gate routes each sample to the seen or the unseen classes. zssar applies
it to the pseudo-labels as well (``gzsl_pseudo_labels="gated"``, the default): a sample may only enter
the bank under a class on its side (``Stream.route``, built by the runner from the gate chosen on
seen data), and the gate reads the frozen PURLS scores, which do not drift along the stream. Taking
pseudo-labels over all candidates (``"all"``) lets the confident seen classes collect the unseen
samples, and unseen accuracy collapses on our datasets.

``bank_size``, ``confidence`` and ``refine_lr`` are selectable: the runner chooses them on the
seen-validation view with pseudo-unseen classes as the stream, never on test.
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InvalidConfig
from ..features import FeatureSet
from .base import Scores, Stream, register_method
from .purls import Purls, token_matrix

DEFAULT_GRID = {"bank_size": (8, 16), "confidence": (0.1, 0.3), "refine_lr": (1e-3, 1e-2)}


class MemoryBank:
    """Pseudo-labelled test samples: per class (``balanced``), one queue (``fifo``) or none."""

    def __init__(self, kind: str, capacity: int, num_classes: int, rng: np.random.Generator):
        self.kind, self.capacity, self.rng = kind, capacity, rng
        self.per_class: list[list[tuple[float, int]]] = [[] for _ in range(num_classes)]
        self.queue: list[tuple[int, int]] = []  # (sample, pseudo-label) for fifo
        self.fifo_capacity = capacity * num_classes  # the same memory as the balanced bank

    def add(self, sample: int, label: int, confidence: float) -> None:
        if self.kind == "balanced":
            slot = self.per_class[label]
            slot.append((confidence, sample))
            if len(slot) > self.capacity:
                slot.remove(min(slot))  # the least confident leaves
        elif self.kind == "fifo":
            self.queue.append((sample, label))
            if len(self.queue) > self.fifo_capacity:
                self.queue.pop(0)

    def __len__(self) -> int:
        return sum(map(len, self.per_class)) if self.kind == "balanced" else len(self.queue)

    def batch(self, size: int) -> list[tuple[int, int]]:
        """Up to ``size`` (sample, pseudo-label) pairs; balanced: round robin over shuffled classes."""
        if self.kind == "fifo":
            pick = self.rng.permutation(len(self.queue))[:size]
            return [self.queue[i] for i in sorted(pick)]
        pools = {c: [slot[j][1] for j in self.rng.permutation(len(slot))]
                 for c, slot in enumerate(self.per_class)}
        classes = [c for c in self.rng.permutation(len(self.per_class)) if pools[c]]
        out: list[tuple[int, int]] = []
        while classes and len(out) < size:
            for c in list(classes):
                if len(out) == size:
                    break
                out.append((int(pools[c].pop()), int(c)))
                if not pools[c]:
                    classes.remove(c)
        return out

    def sizes(self) -> list[int]:
        return [len(s) for s in self.per_class]


@register_method
class DynaPurls(Purls):
    name = "dynapurls"

    def __init__(self, bank_size: int = 16, confidence: float = 0.1, refine_lr: float = 1e-2,
                 bank: str = "balanced", refine_batch: int = 8, min_bank: int = 4, refine_every: int = 4,
                 stream_order: str = "shuffled", gzsl_pseudo_labels: str = "gated", grid: dict | None = None,
                 **purls_settings):
        super().__init__(**purls_settings)
        if gzsl_pseudo_labels not in ("gated", "all"):
            raise InvalidConfig("dynapurls: gzsl_pseudo_labels must be 'gated' (pseudo-label within the side "
                                "the entropy gate chose) or 'all' (argmax over every candidate)")
        self.gzsl_pseudo_labels = gzsl_pseudo_labels
        if bank not in ("balanced", "fifo", "none"):
            raise InvalidConfig("dynapurls: bank must be 'balanced', 'fifo' or 'none'")
        if stream_order not in ("shuffled", "given"):
            raise InvalidConfig("dynapurls: stream_order must be 'shuffled' or 'given'")
        grid = DEFAULT_GRID if grid is None else dict(grid)
        unknown = sorted(set(grid) - set(DEFAULT_GRID))
        if unknown:
            raise InvalidConfig(f"dynapurls: cannot select {unknown}; selectable: {sorted(DEFAULT_GRID)}")
        self.bank_size, self.confidence, self.refine_lr = bank_size, confidence, refine_lr
        if refine_every < 1 or refine_batch < 1:
            raise InvalidConfig("dynapurls: refine_every and refine_batch must be >= 1")
        self.bank, self.refine_batch, self.min_bank = bank, refine_batch, min_bank
        self.refine_every = refine_every  # one step every n samples: the knob of the time per sample
        self.stream_order, self.grid = stream_order, {k: tuple(v) for k, v in grid.items()}
        self.seed = 0

    def settings(self) -> dict:
        return {**super().settings(), "bank_size": self.bank_size, "confidence": self.confidence,
                "refine_lr": self.refine_lr, "bank": self.bank, "refine_batch": self.refine_batch,
                "min_bank": self.min_bank, "refine_every": self.refine_every, "stream_order": self.stream_order,
                "gzsl_pseudo_labels": self.gzsl_pseudo_labels,
                "grid": {k: list(v) for k, v in self.grid.items()}}

    def selectable(self) -> dict[str, tuple]:
        return dict(self.grid)

    def routed_seen(self, static: np.ndarray, stream: Stream) -> np.ndarray | None:
        """Per sample, whether the GZSL gate routes it to the seen side (None outside a gated GZSL stream)."""
        if stream.seen_columns is None or stream.route is None or self.gzsl_pseudo_labels == "all":
            return None
        if len(stream.seen_columns) != static.shape[1]:
            raise InvalidConfig(f"dynapurls: the stream marks {len(stream.seen_columns)} candidates as seen or "
                                f"unseen but there are {static.shape[1]}")
        return np.asarray(stream.route(static), dtype=bool)

    def pseudo_probabilities(self, chunk: torch.Tensor, logit_scale: torch.Tensor, routed, seen_columns) -> torch.Tensor:
        """Probabilities the memory bank reads. In a gated GZSL stream (``routed`` given) a sample may
        only be pseudo-labelled with a class on the side the entropy gate routes it to (Sec. 3.5):
        otherwise the seen classes, on which the network was trained and which are the confident
        ones, collect the unseen samples and their text drifts onto them."""
        logits = logit_scale * chunk
        if routed is None:
            return logits.softmax(-1)
        allowed = torch.from_numpy(np.asarray(seen_columns, bool)[None, :] == routed[:, None])
        return logits.masked_fill(~allowed, float("-inf")).softmax(-1)

    def fit(self, features, labels, text, *, val=None, seed: int = 0, show_progress: bool = False):
        self.seed = seed
        super().fit(features, labels, text, val=val, seed=seed, show_progress=show_progress)
        for p in self.net.parameters():
            p.requires_grad_(False)  # frozen: only S and dF adapt at test time
        return self

    def scores(self, features: FeatureSet, text, stream: Stream | None = None) -> Scores:
        """Without a stream: the frozen PURLS scores. With one: the scores of each row at the moment it
        arrived in the stream (before the update it causes), the frozen scores as ``gate``, the trace."""
        if stream is None:
            return Purls.scores(self, features, text)
        static = Purls.scores(self, features, text) if stream.seen_columns is not None else None  # GZSL gate
        self._require_fit()
        tokens, items = token_matrix(features), self.text_tensor(text)
        n, k = len(tokens), items.shape[0]
        rng = np.random.default_rng([self.seed, 7])
        order = rng.permutation(n) if self.stream_order == "shuffled" else np.arange(n)
        temperature = self.temperature()
        routed = None if static is None else self.routed_seen(static.values, stream)
        with torch.no_grad():
            keys = self.net.keys(tokens)
            logit_scale = self.net.logit_scale.exp()
        scale = torch.ones_like(items, requires_grad=True)
        shift = torch.zeros_like(items, requires_grad=True)
        opt = torch.optim.Adam([scale, shift], lr=self.refine_lr)
        bank = MemoryBank(self.bank, self.bank_size, k, rng)
        out = np.zeros((n, k), dtype=np.float32)
        labelled = np.full(n, -1)  # the candidate position each confident sample was pseudo-labelled with
        updates, started = 0, time.perf_counter()
        # S and dF change only every ``refine_every`` samples, so the samples in between are scored
        # together with the same F': the same numbers as one at a time, at a fraction of the cost.
        every = self.refine_every
        for first in range(0, n, every):
            rows = order[first:first + every]
            with torch.no_grad():
                refined = F.normalize(scale * items + shift, dim=-1)
                chunk = self.combine(self.net.similarities(tokens[rows], refined, keys[rows]))
            out[rows] = chunk.numpy()
            prob = self.pseudo_probabilities(chunk, logit_scale, None if routed is None else routed[rows],
                                             stream.seen_columns)
            for i, row in zip(rows, prob):
                conf, pred = float(row.max()), int(row.argmax())
                if conf > self.confidence:
                    bank.add(int(i), pred, conf)
                    labelled[i] = pred
            step = first + len(rows) - 1
            if (step + 1) % every:
                continue  # the stream ended between two steps
            batch = bank.batch(self.refine_batch) if self.bank != "none" else (
                [(int(i), pred)] if conf > self.confidence else [])
            if len(batch) >= (self.min_bank if self.bank != "none" else 1):
                idx = torch.tensor([b[0] for b in batch])
                pseudo = torch.tensor([b[1] for b in batch])
                refined = F.normalize(scale * items + shift, dim=-1)
                logits = logit_scale * self.combine(self.net.similarities(tokens[idx], refined, keys[idx]))
                loss = F.cross_entropy(logits, pseudo)
                for group in opt.param_groups:  # cosine decay over the length of the stream
                    group["lr"] = self.refine_lr * 0.5 * (1 + np.cos(np.pi * step / max(1, n)))
                opt.zero_grad()
                loss.backward()
                opt.step()
                updates += 1
        with torch.no_grad():
            refined = F.normalize(scale * items + shift, dim=-1).numpy()
        trace = {"order": order, "updates": updates, "bank_sizes": bank.sizes(), "pseudo": labelled,
                 "refined_text": refined, "routed_seen": routed, "seconds": time.perf_counter() - started}
        return Scores(out, temperature=temperature, gate=None if static is None else static.values, trace=trace)

    def global_embeddings(self, features: FeatureSet, text, refined_text=None):
        """(N, D) skeleton features of the global item, with the queries of each sample's best
        candidate, and (K, D) the candidates' global text: static, or ``refined_text`` (K, G, D) as
        left by a stream (``Scores.trace["refined_text"]``). For pictures of the shared space."""
        self._require_fit()
        items = self.text_tensor(text) if refined_text is None else torch.from_numpy(refined_text)
        tokens = token_matrix(features)
        with torch.no_grad():
            best = self.combine(self.net.similarities(tokens, items)).argmax(1)
            att = self.net.attention(tokens, items[:, :1])[torch.arange(len(tokens)), best]  # (N, 1, S)
            v = F.normalize(self.net.f_skel(torch.einsum("ngs,nsc->ngc", att, tokens))[:, 0], dim=-1)
        return v.numpy(), items[:, 0].numpy()
