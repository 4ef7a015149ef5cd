"""SCoPLe: semantic-guided cross-modal prompt learning (Zhu et al., CVPR 2025), reconstructed.

No code of SCoPLe is public, nor is its main text here: this is rebuilt from its supplementary
material and what DynaPURLS and SkeletonContext say of it. Two kinds of prompts are learnt on the
seen classes while the text tower and the skeleton backbone stay frozen:

* **language side** (:mod:`zssar.text.dual_stream`): learnable prompt tokens inside the text tower;
  in dual-stream language prompting (DSLP) an original and a prompted stream pass through the same
  frozen block and are mixed by a learnable ``alpha_l`` per block (Eq. 5 as reconstructed):
  ``h_{l+1} = alpha_l B_l([h_l; P_l]) + (1 - alpha_l) B_l(o_l)`` on the text tokens;
* **skeleton side** (:mod:`zssar.methods.scople_prompts`): joint-shaped prompts appended to the
  joint features and the adaptive visual representation sampler, which weights joints and prompts
  by the candidate's text, ``v_c = sum_j softmax_j(W_q t_c . W_k z_j / sqrt h) z_j``, then an MLP f
  to the text space.

The score of sample x for candidate c is ``s(x, c) = cos(f(v_c(x)), t_c)``, with ``t_c`` the unit
embedding of c's label through the trained prompts; training minimises the cross-entropy of
``s / tau`` over the seen classes (``L(V_y^x, F_y)``). Unseen classes are encoded through the same
trained prompts at scoring, each with its own text only.

Settings map the rows of the supplement's tables to one method (``zssar.analyses.ablate``):
``text_prompt`` = ``none`` (frozen label embeddings) | ``coop`` (context tokens at the input:
CLIP-CoOp) | ``deep`` (prompts in the first ``prompt_depth`` blocks: CLIP-MaPLe, text side; also
"text prompt without dual stream" of Tab. 3) | ``dual`` (DSLP: CLIP-DSLP);
``skeleton_prompt`` = ``none`` | ``joints`` (no sampler) | ``joints+sampler``. Both ``none`` is the
CLIP baseline of Tab. 1, which is the ``global`` method with ``text_field="label"``.

Open decisions (the choice, and why):

* Text: the class label (SCoPLe tunes prompts instead of writing descriptions; SkeletonContext
  says it eliminates handcrafted descriptions); ``text_field`` allows e.g. descriptions (Tab. 4).
* Depth: fresh prompts in the first 3 blocks, 4 tokens each (MaPLe: 2 tokens, depth 9 of 12).
  The cost is set by the first prompted block (gradients run through every block after it), not
  by the depth; fewer prompt parameters suit the small seen sets here.
* Cost: each step encodes the prompted text of the step's classes once (not per sample): the
  batch's own classes plus random other seen classes, up to ``class_batch`` (all seen classes of
  the CPU datasets); the original stream is computed once per fit.
* Optimiser: AdamW, ``lr`` for the sampler and f, ``prompt_lr`` for the prompts and alphas (unit-
  scale parameters, see dual_stream), fixed ``tau`` = 0.1 as the global baseline; the epoch of best
  seen-val accuracy is kept (seen classes only).
* GZSL: nothing of its own; the runner's entropy gate and calibrated stacking, chosen on seen-val.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidConfig
from ..features import FeatureSet
from ..text.dual_stream import TEXT_PROMPTS, LanguagePrompts, PromptedText, state_scales
from ..utils import array_digest, progress, torch_seeded
from .base import Method, Needs, Scores, label_positions, register_method
from .scople_prompts import SKELETON_PROMPTS, SkeletonPrompts, joint_features
from .training import EarlyStopping, shuffled_batches


class ScopleNet(nn.Module):
    """Everything SCoPLe trains (the frozen tower lives outside, in :class:`PromptedText`)."""

    def __init__(self, skeleton: SkeletonPrompts, language: LanguagePrompts | None):
        super().__init__()
        self.skeleton, self.language = skeleton, language


@register_method
class Scople(Method):
    name = "scople"

    def __init__(self, text_prompt: str = "dual", skeleton_prompt: str = "joints+sampler", text_field: str = "label",
                 text_prompts: int = 4, prompt_depth: int = 3, skeleton_prompts: int = 4, alpha_init: float = 0.5,
                 attention_dim: int = 64, hidden: int = 512, dropout: float = 0.3, temperature: float = 0.1,
                 epochs: int = 20, batch_size: int = 64, class_batch: int = 32, lr: float = 1e-3,
                 prompt_lr: float = 1e-2, weight_decay: float = 1e-4, chunk: int = 256):
        checks = [(text_prompt in ("none",) + TEXT_PROMPTS, f"text_prompt must be one of {['none', *TEXT_PROMPTS]}"),
                  (skeleton_prompt in SKELETON_PROMPTS, f"skeleton_prompt must be one of {list(SKELETON_PROMPTS)}"),
                  (not (text_prompt == "none" and skeleton_prompt == "none"),
                   "text_prompt='none' with skeleton_prompt='none' is the CLIP baseline of SCoPLe Tab. 1: run "
                   "the global method with text_field='label'"),
                  (text_prompts >= 1 and prompt_depth >= 1 and skeleton_prompts >= 1,
                   "text_prompts, prompt_depth and skeleton_prompts must be >= 1"),
                  (0 < alpha_init < 1, "alpha_init must lie strictly between 0 and 1"),
                  (temperature > 0 and 0 <= dropout < 1, "temperature must be > 0 and dropout in [0, 1)"),
                  (epochs >= 1 and batch_size >= 1 and class_batch >= 2 and chunk >= 1,
                   "epochs, batch_size, chunk >= 1 and class_batch >= 2")]
        for ok, msg in checks:
            if not ok:
                raise InvalidConfig(f"scople: {msg}")
        self.text_prompt, self.skeleton_prompt, self.text_field = text_prompt, skeleton_prompt, text_field
        self.text_prompts, self.prompt_depth, self.skeleton_prompts = text_prompts, prompt_depth, skeleton_prompts
        self.alpha_init, self.attention_dim, self.hidden, self.dropout = alpha_init, attention_dim, hidden, dropout
        self.temperature, self.epochs, self.batch_size, self.class_batch = temperature, epochs, batch_size, class_batch
        self.lr, self.prompt_lr, self.weight_decay, self.chunk = lr, prompt_lr, weight_decay, chunk
        self.net: ScopleNet | None = None
        self.text_encoder: PromptedText | None = None
        self.history: list[dict] = []

    @property
    def needs(self) -> Needs:
        return Needs(text_fields=(self.text_field,), tower=self.text_prompt != "none")

    def settings(self) -> dict:
        keys = ("text_prompt", "skeleton_prompt", "text_field", "text_prompts", "prompt_depth", "skeleton_prompts",
                "alpha_init", "attention_dim", "hidden", "dropout", "temperature", "epochs", "batch_size",
                "class_batch", "lr", "prompt_lr", "weight_decay")
        return {k: getattr(self, k) for k in keys}

    # ---------------------------------------------------------------- building
    def _language(self, text) -> PromptedText | None:
        """The frozen tower of the run with fresh prompts (None: frozen label embeddings)."""
        if self.text_prompt == "none":
            return None
        tower = text.tower()
        if self.prompt_depth > tower.num_layers:
            raise InvalidConfig(f"scople: prompt_depth {self.prompt_depth} but the {text.encoder_name} tower has "
                                f"{tower.num_layers} blocks; use prompt_depth <= {tower.num_layers}")
        strings = text.strings(self.text_field)
        scales = state_scales(tower.eval(), tower.tokenize(strings))
        prompts = LanguagePrompts(self.text_prompt, tower.width, tower.num_layers, scales, self.text_prompts,
                                  self.prompt_depth, self.alpha_init)
        encoder = PromptedText(tower, prompts)
        encoder.prepare(strings)
        return encoder

    def _joints(self, features: FeatureSet) -> torch.Tensor:
        return (joint_features(features.tokens) - self.mean) / self.std

    # ---------------------------------------------------------------- training
    def fit(self, features: FeatureSet, labels, text, *, val=None, seed: int = 0, show_progress: bool = False):
        with torch_seeded(seed):
            self._train(features, labels, text, val, seed, show_progress)
        return self

    def _train(self, features, labels, text, val, seed, show_progress) -> None:
        joints = joint_features(features.tokens)
        self.mean, self.std = joints.mean((0, 1)), joints.std((0, 1)) + 1e-6  # training statistics only
        joints = (joints - self.mean) / self.std
        y = torch.from_numpy(label_positions(labels, text.class_ids))
        self.text_encoder = self._language(text)
        skeleton = SkeletonPrompts(self.skeleton_prompt, joints.shape[-1], text.dim, self.skeleton_prompts,
                                   self.attention_dim, self.hidden, self.dropout)
        self.net = ScopleNet(skeleton, self.text_encoder.prompts if self.text_encoder else None)
        prompt_params = [p for n, p in self.net.named_parameters() if n.startswith("language") or n.endswith("prompts")]
        head_params = [p for n, p in self.net.named_parameters() if not any(p is q for q in prompt_params)]
        opt = torch.optim.AdamW([{"params": head_params, "lr": self.lr, "weight_decay": self.weight_decay},
                                 {"params": prompt_params, "lr": self.prompt_lr, "weight_decay": 0.0}])
        frozen = None if self.text_encoder else F.normalize(torch.from_numpy(text.embeddings(self.text_field)), dim=-1)
        gen = torch.Generator().manual_seed(seed)
        keep = EarlyStopping() if val is not None and len(val[1]) else None
        self.history = []
        for epoch in progress(range(self.epochs), desc="fit scople", enabled=show_progress):
            self.net.train()
            total = 0.0
            for sel in shuffled_batches(len(joints), self.batch_size, gen):
                rows = self._step_classes(y[sel], len(text.class_ids), gen)
                t = self.text_encoder.train_rows(rows) if self.text_encoder else frozen[rows]
                target = torch.searchsorted(rows, y[sel])
                loss = F.cross_entropy(self.net.skeleton(joints[sel], t) / self.temperature, target)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(sel)
            self.net.eval()
            entry = {"train_loss": total / len(joints)}
            if self.text_encoder is not None and self.text_prompt == "dual":
                entry["alphas"] = self.alphas()
            if keep is not None:
                entry["seen_val_accuracy"] = self._accuracy(*val, text)
                keep.update(epoch, entry["seen_val_accuracy"], self.net)
            self.history.append(entry)
        if keep is not None:
            keep.restore(self.net)
        self.net.eval()

    def _step_classes(self, batch_labels: torch.Tensor, num_classes: int, gen) -> torch.Tensor:
        """Sorted positions of the classes encoded this step: the batch's, then random others."""
        present = torch.unique(batch_labels)
        room = self.class_batch - len(present)
        if room <= 0 or len(present) == num_classes:
            return present
        others = torch.from_numpy(np.setdiff1d(np.arange(num_classes), present.numpy()))
        extra = others[torch.randperm(len(others), generator=gen)[:room]]
        return torch.sort(torch.cat([present, extra])).values

    def _accuracy(self, features: FeatureSet, labels, text) -> float:
        values = self.scores(features, text).values
        return float(np.mean(np.asarray(text.class_ids)[values.argmax(1)] == np.asarray(labels)))

    # ---------------------------------------------------------------- scoring
    def _require_fit(self) -> None:
        if self.net is None:
            raise RuntimeError("fit the method before scoring")

    def class_embeddings(self, text) -> torch.Tensor:
        """(K, D) unit embeddings of the candidates, each from its own text through the trained prompts."""
        self._require_fit()
        if self.text_encoder is None:
            return F.normalize(torch.from_numpy(text.embeddings(self.text_field)), dim=-1)
        return self.text_encoder.embed(text.strings(self.text_field))

    def scores(self, features: FeatureSet, text, stream=None) -> Scores:
        self._require_fit()
        t, joints = self.class_embeddings(text), self._joints(features)
        with torch.no_grad():
            out = [self.net.skeleton(joints[b:b + self.chunk], t) for b in range(0, len(joints), self.chunk)]
        values = torch.cat(out).numpy() if out else np.zeros((0, len(t)), np.float32)
        return Scores(values, temperature=self.temperature)

    # ---------------------------------------------------------------- what the chapter draws
    def alphas(self) -> list[float] | None:
        """The learnt alpha of each block (weight of the prompted stream); None unless dual."""
        language = self.net.language if self.net is not None else None
        return None if language is None or language.alphas() is None else language.alphas().tolist()

    def sampler_weights(self, features: FeatureSet, text) -> np.ndarray:
        """(N, K, V + N_p) weights of each candidate's text over each sample's joints, then prompts."""
        self._require_fit()
        with torch.no_grad():
            return self.net.skeleton.weights(self._joints(features), self.class_embeddings(text)).numpy()

    def row_names(self, layout) -> list[str]:
        """Names of the sampler's rows: the layout's joints, then P1..P_Np."""
        return list(layout.joints) + [f"P{k + 1}" for k in range(self.net.skeleton.num_prompts)]

    def state_digest(self) -> str:
        if self.net is None:
            return "unfitted"
        return array_digest([p.detach().cpu().numpy() for p in self.net.parameters()] + [self.mean.numpy()])
