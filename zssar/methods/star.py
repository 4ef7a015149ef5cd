"""STAR: fine-grained side information and dual prompts (Chen et al., ACM MM 2024), leak-free.

The skeleton is cut into body parts (the layout's ``star6`` grouping: head, hand, arm, hip, leg,
foot, where STAR's hip is the lower spine alone; ``star4`` and ``star2`` for Tab. 6). Per part, m
visual-attribute prompts query that part's tokens (Eq. 1-3) and give F_v^e; their sum is the global
skeleton representation F_v. Per part, the description of that part (the side information, the
``parts`` fields of the class text) plus a semantic-part prompt (Eq. 4) is projected to F_si^e; the
class name's embedding is projected to the semantic centre F_cn. Training minimises
``L_MPCE + 0.1 L_SCE + 0.1 L_GCE`` (Eq. 5-8; networks and losses in :mod:`.star_net`). A sample is
scored against a candidate class a by ``cos(F_v, F_cn(a))`` (Eq. 9): a candidate needs only its name.
GZSL is the runner's calibrated stacking with gamma chosen on seen-val (the public code takes the
gamma of the best test H; evaluation here is deterministic: no test-time crops or rotations).

Leak-free choices (where the paper uses every class's text in training):

* ``text_during_training="seen_classes"`` (default): L_SCE (Eq. 6) runs over the seen classes only,
  and the semantic-part prompts are ``semantic_prompts="generated"``: P_sp^e(a) = g_e(f_si^e(a)), one
  small MLP per part shared by all classes and trained on the seen ones, so every class, unseen ones
  included, gets its prompts from its own text by the same function, and the semantic space of
  Fig. 4 can be drawn for unseen classes. The paper's per-class table (``"per_class"``) exists only for
  the classes the fit text holds; scoring never needs it, as Eq. 9 reads F_v and F_cn only.
* ``text_during_training="all_classes"`` is the paper's variant: L_SCE and the prompt table cover every
  class, unseen ones included, so training reads unseen classes' text. :meth:`Star.fit` refuses
  this setting unless it is given the text of every class as ``all_class_text=``; its needs say so
  (``Needs.all_class_text``), and a run hands that text over only when asked to (``zssar run --set
  text_during_training=all_classes --unseen-text-in-training``, ``RunConfig.unseen_text_in_training``).
  The setting is in :meth:`settings` and the record carries ``unseen_text_in_training: true``, so
  every result of the variant says it used unseen text in training.

Decisions the paper leaves open, as made here: cosine logits over a temperature (0.1; the public
code has none, ``paper()`` sets 1.0); tokens standardised per channel with the training statistics;
W of Eq. 3 drawn N(0, 1/d); one projector per part for the side information (as the public code)
and one for the class names; early stopping on seen-val top-1 of Eq. 9 (``patience``), the best
epoch kept. CPU defaults: m = 32 attributes, 64-d prompts, 4 heads, Adam lr 1e-3, 40 epochs;
:meth:`Star.paper` gives the paper's (m = 100, 768-d prompts, 8 heads, SGD lr 1e-3 with steps at 20
and 30, batch 64, semantic prompts per class).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InvalidConfig
from ..features import FeatureSet
from ..text.schema import GAP2_PARTS, GAP4_PARTS, PART_KEYS
from ..utils import array_digest, progress, torch_seeded
from .base import Method, Needs, Scores, label_positions, register_method
from .star_net import SemanticStream, SkeletonStream, cosine_logits, star_losses
from .training import EarlyStopping, optimiser_step, shuffled_batches

# grouping -> (its part names, the text group whose fields describe those parts)
GROUPINGS = {"star6": (PART_KEYS, "parts"), "star4": (tuple(GAP4_PARTS), "gap4"),
             "star2": (tuple(GAP2_PARTS), "gap2")}
PAPER_SETTINGS = dict(attributes=100, prompt_dim=768, heads=8, hidden=256, temperature=1.0,
                      semantic_prompts="per_class", optimizer="sgd", lr=1e-3, weight_decay=5e-4, momentum=0.9,
                      lr_steps=(20, 30), epochs=40, batch_size=64)
CHOICES = {"grouping": tuple(GROUPINGS), "visual_prompts": ("learned", "none"),
           "semantic_prompts": ("generated", "per_class", "none"), "optimizer": ("adam", "sgd"),
           "text_during_training": ("seen_classes", "all_classes")}


@register_method
class Star(Method):
    name = "star"

    def __init__(self, grouping: str = "star6", attributes: int = 32, prompt_dim: int = 64, heads: int = 4,
                 hidden: int = 128, visual_prompts: str = "learned", semantic_prompts: str = "generated",
                 side_information: bool = True, mpce_weight: float = 1.0, alpha: float = 0.1, beta: float = 0.1,
                 temperature: float = 0.1, text_during_training: str = "seen_classes", epochs: int = 40,
                 batch_size: int = 64, optimizer: str = "adam", lr: float = 1e-3, weight_decay: float = 1e-4,
                 momentum: float = 0.9, lr_steps: tuple[int, ...] = (), patience: int | None = 10,
                 chunk: int = 256):
        given = dict(locals())
        for key, allowed in CHOICES.items():
            if given[key] not in allowed:
                raise InvalidConfig(f"star: {key}={given[key]!r}; use one of {list(allowed)}")
        checks = [
            (attributes >= 1 and prompt_dim >= 1 and hidden >= 1, "attributes (m), prompt_dim and hidden must be >= 1"),
            (heads >= 1 and prompt_dim % heads == 0, f"prompt_dim {prompt_dim} must be a multiple of heads {heads}"),
            (min(mpce_weight, alpha, beta) >= 0 and mpce_weight + alpha + beta > 0,
             "loss weights mpce_weight, alpha, beta must be >= 0 and not all 0"),
            (temperature > 0 and lr > 0 and weight_decay >= 0, "temperature and lr must be > 0, weight_decay >= 0"),
            (epochs >= 1 and batch_size >= 1 and chunk >= 1, "epochs, batch_size and chunk must be >= 1"),
            (patience is None or patience >= 1, "patience must be None (never stop early) or >= 1"),
            (all(int(s) >= 1 for s in lr_steps), "lr_steps must be epochs >= 1"),
        ]
        for ok, msg in checks:
            if not ok:
                raise InvalidConfig(f"star: {msg}")
        self.grouping, self.attributes, self.prompt_dim, self.heads, self.hidden = (
            grouping, attributes, prompt_dim, heads, hidden)
        self.visual_prompts, self.semantic_prompts, self.side_information = (
            visual_prompts, semantic_prompts, bool(side_information))
        self.mpce_weight, self.alpha, self.beta, self.temperature = mpce_weight, alpha, beta, temperature
        self.text_during_training = text_during_training
        self.epochs, self.batch_size, self.optimizer, self.lr = epochs, batch_size, optimizer, lr
        self.weight_decay, self.momentum, self.lr_steps = weight_decay, momentum, tuple(int(s) for s in lr_steps)
        self.patience, self.chunk = patience, chunk
        self.skeleton = self.semantic = None
        self.history: list[dict] = []

    @classmethod
    def paper(cls, **changes) -> "Star":
        """The paper's configuration (sec. 4.3, Tab. 1, the public code's sizes), leak-free unless
        ``text_during_training="all_classes"`` is passed."""
        return cls(**(PAPER_SETTINGS | changes))

    @property
    def part_names(self) -> tuple[str, ...]:
        return GROUPINGS[self.grouping][0]

    @property
    def part_fields(self) -> tuple[str, ...]:
        """The text field of each part (the class name for every part without side information)."""
        if not self.side_information:
            return ("label",) * len(self.part_names)
        return tuple(f"{GROUPINGS[self.grouping][1]}.{p}" for p in self.part_names)

    @property
    def needs(self) -> Needs:
        return Needs(text_fields=tuple(dict.fromkeys(("label",) + self.part_fields)),
                     all_class_text=self.text_during_training == "all_classes")

    def settings(self) -> dict:
        keys = ("grouping", "attributes", "prompt_dim", "heads", "hidden", "visual_prompts", "semantic_prompts",
                "side_information", "mpce_weight", "alpha", "beta", "temperature", "text_during_training", "epochs",
                "batch_size", "optimizer", "lr", "weight_decay", "momentum", "lr_steps", "patience")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in ((k, getattr(self, k)) for k in keys)}

    # ---------------------------------------------------------------- inputs
    def _tokens(self, features: FeatureSet) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(features.tokens, dtype=np.float32))
        return (t - self.token_mean) / self.token_std

    def _text(self, text, fields) -> torch.Tensor:
        return F.normalize(torch.from_numpy(np.stack([text.embeddings(f) for f in fields], 1)), dim=-1)

    def _rows(self, text) -> torch.Tensor:
        """Each class's row of the per-class prompt table (-1: a class the table does not hold)."""
        return torch.tensor([self.table_classes.index(c) if c in self.table_classes else -1 for c in text.class_ids])

    def _part_joints(self, features: FeatureSet) -> list[tuple[int, ...]]:
        groups = features.part_groups(self.grouping)
        if tuple(groups) != self.part_names:
            raise InvalidConfig(f"star: layout {features.layout.name!r} grouping {self.grouping!r} has parts "
                                f"{list(groups)}, expected {list(self.part_names)}")
        return list(groups.values())

    # ---------------------------------------------------------------- training
    def fit(self, features: FeatureSet, labels, text, *, val=None, seed: int = 0, show_progress: bool = False,
            all_class_text=None):
        """Train on seen-class samples and the seen classes' text. ``all_class_text`` (study only): the
        text of every class, required by and only allowed with ``text_during_training="all_classes"``."""
        if self.text_during_training == "all_classes":
            if all_class_text is None:
                raise InvalidConfig(
                    "star: text_during_training='all_classes' trains on unseen classes' text, which a run never "
                    "gives a method; in a study, call fit(..., all_class_text=<ClassText of every class>) and "
                    "label its results as using unseen text in training")
            missing = sorted(set(text.class_ids) - set(all_class_text.class_ids))
            if missing:
                raise InvalidConfig(f"star: all_class_text lacks the training classes {missing}")
        elif all_class_text is not None:
            raise InvalidConfig("star: all_class_text is only read with text_during_training='all_classes'; "
                                "the leak-free default trains on the seen classes' text only")
        with torch_seeded(seed):
            self._train(features, labels, text, text if all_class_text is None else all_class_text, val, seed,
                        show_progress)
        return self

    def _build(self, features: FeatureSet, table_size: int, text_dim: int) -> None:
        tokens = torch.from_numpy(np.ascontiguousarray(features.tokens, dtype=np.float32))
        self.token_mean = tokens.mean((0, 1, 2))  # standardise with training statistics only
        self.token_std = tokens.std((0, 1, 2)) + 1e-6
        self.skeleton = SkeletonStream(self._part_joints(features), tokens.shape[-1], self.attributes,
                                       self.prompt_dim, self.heads, self.visual_prompts == "learned")
        self.semantic = SemanticStream(len(self.part_names), text_dim, self.hidden, self.attributes,
                                       self.semantic_prompts, table_size)

    def _optimiser(self, params):
        if self.optimizer == "sgd":
            opt = torch.optim.SGD(params, lr=self.lr, momentum=self.momentum, nesterov=True,
                                  weight_decay=self.weight_decay)
        else:
            opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        return opt, torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(self.lr_steps), gamma=0.1)

    def _train(self, features, labels, text, sce_text, val, seed, show_progress):
        self.table_classes = tuple(sce_text.class_ids)
        y = torch.from_numpy(label_positions(labels, text.class_ids))
        seen_parts, seen_names = self._text(text, self.part_fields), self._text(text, ("label",))[:, 0]
        sce_parts, sce_names = self._text(sce_text, self.part_fields), self._text(sce_text, ("label",))[:, 0]
        seen_rows, sce_rows = self._rows(text), self._rows(sce_text)
        self._build(features, len(self.table_classes), seen_names.shape[-1])
        tokens = self._tokens(features)
        modules = torch.nn.ModuleList([self.skeleton, self.semantic])
        opt, schedule = self._optimiser(modules.parameters())
        stopper = EarlyStopping(self.patience)
        gen = torch.Generator().manual_seed(seed)
        weights = {"mpce": self.mpce_weight, "sce": self.alpha, "gce": self.beta}
        checked = val is not None and len(val[1]) > 0
        val_truth = label_positions(val[1], text.class_ids) if checked else None
        self.history = []
        for epoch in progress(range(self.epochs), desc="fit star", enabled=show_progress):
            modules.train()
            totals = dict.fromkeys(weights, 0.0)
            for sel in shuffled_batches(len(tokens), self.batch_size, gen):
                part_latent, _ = self.skeleton(tokens[sel])
                seen = self.semantic.parts(seen_parts, seen_rows), self.semantic.names(seen_names)
                every = seen if sce_text is text else (self.semantic.parts(sce_parts, sce_rows),
                                                       self.semantic.names(sce_names))
                losses = star_losses(part_latent, y[sel], *seen, *every, self.temperature)
                optimiser_step(opt, sum(weights[k] * losses[k] for k in weights))
                for k in totals:
                    totals[k] += losses[k].item() * len(sel) / len(tokens)
            schedule.step()
            modules.eval()
            row = {"epoch": epoch + 1, "train_loss": sum(weights[k] * totals[k] for k in weights), **totals}
            stop = False
            if checked:
                row["seen_val_accuracy"] = float(np.mean(self.scores(val[0], text).values.argmax(1) == val_truth))
                stop = stopper.update(epoch + 1, row["seen_val_accuracy"], modules)
            self.history.append(row)
            if stop:
                break
        stopper.restore(modules)
        self.best_epoch = stopper.best_epoch if stopper.best_epoch else len(self.history)
        modules.eval()

    # ---------------------------------------------------------------- scoring
    def _require_fit(self) -> None:
        if self.skeleton is None:
            raise RuntimeError("fit the method before scoring")

    def _chunks(self, features: FeatureSet, keep_attention: bool = False):
        tokens = self._tokens(features)
        with torch.no_grad():
            for b in range(0, len(tokens), self.chunk):
                yield self.skeleton(tokens[b:b + self.chunk], keep_attention)

    def part_embeddings(self, features: FeatureSet) -> np.ndarray:
        """(N, P, m) F_v^e of every sample and part (Eq. 3)."""
        self._require_fit()
        out = [parts for parts, _ in self._chunks(features)]
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.part_names), self.attributes), np.float32)

    def skeleton_embeddings(self, features: FeatureSet) -> np.ndarray:
        """(N, m) global skeleton representations F_v (the skeleton space of Fig. 4)."""
        return self.part_embeddings(features).sum(1)

    def semantic_embeddings(self, text, prompts: bool = True) -> dict[str, np.ndarray]:
        """The semantic space of Fig. 4 for the classes of ``text``: ``names`` (K, m) F_cn and ``parts``
        (K, P, m) F_si, with the semantic-part prompts added or not (``prompts``)."""
        self._require_fit()
        with torch.no_grad():
            parts = self.semantic.parts(self._text(text, self.part_fields), self._rows(text), prompts=prompts)
            names = self.semantic.names(self._text(text, ("label",))[:, 0])
        return {"names": names.numpy(), "parts": parts.numpy()}

    def scores(self, features: FeatureSet, text, stream=None) -> Scores:
        """Eq. 9 without the calibration term: cos(F_v, F_cn(a)) for every candidate a of ``text``."""
        self._require_fit()
        with torch.no_grad():
            names = self.semantic.names(self._text(text, ("label",))[:, 0])
            global_latent = torch.from_numpy(self.skeleton_embeddings(features))
            return Scores(cosine_logits(global_latent, names, 1.0).numpy(), temperature=self.temperature)

    def attention_maps(self, features: FeatureSet) -> np.ndarray:
        """(N, P, m, T', V) attention of each part's m prompts over its tokens (averaged over heads); a
        joint outside the part gets 0, so each (sample, part, prompt) map sums to 1 over its part."""
        self._require_fit()
        if self.visual_prompts != "learned":
            raise InvalidConfig("star: visual_prompts='none' has no prompts and no attention to show")
        n, t_prime, v, _ = features.tokens.shape
        out = np.zeros((n, len(self.part_names), self.attributes, t_prime, v), np.float32)
        start = 0
        for _, maps in self._chunks(features, keep_attention=True):
            size = maps[0].shape[0]
            for e, joints in enumerate(self.skeleton.part_joints):
                out[start:start + size, e][..., joints] = maps[e].numpy()
            start += size
        return out

    def state_digest(self) -> str:
        if self.skeleton is None:
            return "unfitted"
        tensors = [*self.skeleton.parameters(), *self.semantic.parameters(), self.token_mean, self.token_std]
        return array_digest([t.detach().numpy() for t in tensors])
