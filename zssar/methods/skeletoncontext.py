"""SkeletonContext: language-driven context prompts and key-part decoupling.

Why this file is long: the method's training step joins four objectives over data prepared here (the
prompt states of every seen class, the key-part priors), and its scoring, reconstruction and joint
maps share that preparation; the network is in :mod:`.skeletoncontext_net`, the prompt in
:mod:`.context_prompt`, the language model in :mod:`zssar.text.mlm`.

Each class has context triples (environment, used object, target object; the project writes 10,
Sec. 3.2) and key parts (the "body part" of the template). On the frozen backbone's token maps:

* the **differential joint encoder** (Eq. 1) gives joint features ``F_diff``;
* the **cross-modal context prompt** ``Environment: [MASK] | Used object: [MASK] | Target object: [MASK]``
  goes through a frozen masked language model; one bidirectional cross-attention block links its token
  states ``H_t`` and ``F_diff`` (Eq. 2-3), and the masked-LM loss reconstructs the masked slots of a
  context triple of the sample's OWN class (Eq. 4-5) under progressive partial masking
  ``r_t = min(1, t / T)`` (Sec. 3.3.2);
* **key-part decoupling** (Eq. 6-7) weights the joints by a learnt importance map, calibrated by the L2
  loss to the prior of the class's key parts (the layout's ``gap6`` joints of those parts, uniform);
* **alignment** (Eq. 8-10) over the seen classes: the context branch ``phi_c(F_ctx)`` against the
  class's context descriptions, the part branch ``phi_p(F_p)`` against its action description;
  ``L = L_align + ccr_weight L_ccr + kpd_weight L_kpd``.

**Scoring.** A candidate class c scores ``w s_ctx(c) + (1 - w) s_part(c)``: ``s_ctx`` the mean cosine to
c's own context descriptions (``"<label>. Environment: .. | Used object: .. | Target object: .."`` per
triple), ``s_part`` the cosine to c's ``part_field`` text. Only c's own text enters; the prompt at
scoring has every slot masked, so it is the same for every sample and class. The paper counts a
sample right if EITHER branch is (flaw 4 in docs/METHODS.md); here the two make one score, and
``branch="context"`` / ``"part"`` scores with one branch alone. ``w`` (``branch_weight``) is chosen
through :meth:`selectable`, on the pseudo-unseen classes of seen-val: the weight trades two branches'
TRANSFER to new classes, which the seen-val samples of the training classes cannot measure. GZSL
uses calibrated stacking with one gamma on the combined score, chosen on seen-val by the runner.

**Language model.** ``mlm_head="tied-trained-here"`` (default, offline): the run encoder's tower (MiniLM)
with a masked-LM head tied to its word embeddings, trained on the seen classes' context prompts
(:func:`zssar.text.mlm.tied_masked_lm`, cached on disk). ``mlm_head="pretrained"``: the encoder's own
head, i.e. ``bert-base-uncased`` with its MLM head as in the paper (the run's encoder must be BERT).

Decisions the paper leaves open, with the choice made:

* training uses the masked prompt, every slot masked, for the skeleton side that feeds the
  alignment loss (as at inference), and the partially masked own-class prompt only for the masked-LM
  loss: a slot shown during training would hand the alignment its class's words, which are never there
  at test time;
* ``T`` of the schedule is ``ppm_ramp`` of all training steps (default half: the second half trains
  fully masked, as inference runs);
* the masked-LM softmax is sampled (each batch's targets plus ``negatives`` uniform word pieces) to fit
  a CPU; ``negatives=0`` uses the whole vocabulary, as Eq. 5 reads;
* the backbone's tokens are standardised per channel with the training samples' statistics;
* CPU-sized defaults: Adam lr 1e-3, a fixed 30 epochs, batch 64, temperature 0.1 (paper: SGD lr 0.1,
  steps at 10 and 20, batch 64); ``width`` 128 for the block. ``fit`` chooses nothing, so it does not
  read the seen-val samples it is given; the one choice, the branch weight, is the runner's.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..config import cache_root
from ..errors import InvalidConfig, InvalidData
from ..features import FeatureSet
from ..text.mlm import pretrained_masked_lm, sampled_vocabulary, slot_accuracy, tied_masked_lm, token_states
from ..utils import array_digest, progress, torch_seeded
from .base import Method, Needs, Scores, label_positions, register_method
from .context_prompt import (PromptBuilder, draw_masks, draw_own_contexts, masking_ratio, parse_slots, pattern_index,
                             prompt_rows, slot_examples, slot_patterns)
from .skeletoncontext_net import SkeletonContextNet
from .training import optimiser_step, shuffled_batches

BRANCHES = ("both", "context", "part")
MLM_HEADS = ("tied-trained-here", "pretrained")
WEIGHT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


def context_texts(entry, limit: int) -> list[str]:
    """A class's context descriptions: its label and one filled template per context triple."""
    triples = entry.context_triples()[:limit]
    if not triples:
        raise InvalidData(f"class {entry.label!r} has no context triples; skeletoncontext needs 'contexts' "
                          "(the project's descriptions have 10 per class; `zssar describe` writes them)")
    return [f"{entry.label}. Environment: {t['environment']} | Used object: {t['used_object']} | "
            f"Target object: {t['target_object']}" for t in triples]


def key_part_prior(entries, layout) -> np.ndarray:
    """(K, V) prior joint importance of each class (Eq. 7's K_gt): uniform over the joints of its key
    parts, by the layout's six-part grouping (``gap6``)."""
    groups = layout.part_groups("gap6")
    prior = np.zeros((len(entries), layout.num_joints), dtype=np.float32)
    for k, e in enumerate(entries):
        if not e.key_parts:
            raise InvalidData(f"class {e.label!r} has no key_parts; skeletoncontext's key-part prior needs them "
                              "(or use kpd=False)")
        for part in e.key_parts:
            prior[k, list(groups[part])] = 1.0
        prior[k] /= prior[k].sum()
    return prior


def _cache_dir(text):
    """The run's cache folder, read from its text encoder's cache (``<cache>/text/<encoder>``)."""
    folder = getattr(text.encoder, "folder", None)
    return folder.parent.parent if folder is not None else cache_root()


@register_method
class SkeletonContext(Method):
    name = "skeletoncontext"

    def __init__(self, branch: str = "both", branch_weight: float = 0.5, dje: bool = True, context_prompt: bool = True,
                 ppm: bool = True, kpd: bool = True, ccr_weight: float = 1.0, kpd_weight: float = 1.0,
                 slots: str = "environment,used_object,target_object", slot_width: int = 3,
                 contexts_per_class: int = 10, ppm_ramp: float = 0.5, part_field: str = "label+description",
                 mlm_head: str = "tied-trained-here", head_epochs: int = 40, negatives: int = 1024, width: int = 128,
                 hidden: int = 256, heads: int = 4, dropout: float = 0.1, temperature: float = 0.1, epochs: int = 30,
                 batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-4, chunk: int = 256):
        checks = [(branch in BRANCHES, f"branch must be one of {BRANCHES}"),
                  (mlm_head in MLM_HEADS, f"mlm_head must be one of {MLM_HEADS}"),
                  (0 <= branch_weight <= 1, "branch_weight must be in [0, 1]"),
                  (0 < ppm_ramp <= 1, "ppm_ramp must be in (0, 1]"),
                  (ccr_weight >= 0 and kpd_weight >= 0, "ccr_weight and kpd_weight must be >= 0"),
                  (contexts_per_class >= 1 and slot_width >= 1, "contexts_per_class and slot_width must be >= 1"),
                  (temperature > 0 and epochs >= 1 and batch_size >= 2,
                   "temperature > 0, epochs >= 1 and batch_size >= 2"),
                  (width % heads == 0, "width must be a multiple of heads")]
        for ok, msg in checks:
            if not ok:
                raise InvalidConfig(f"skeletoncontext: {msg}")
        self.slot_names = parse_slots(slots)
        self.branch, self.branch_weight = branch, float(branch_weight)
        self.dje, self.context_prompt = dje, context_prompt
        self.ppm, self.kpd, self.ccr_weight, self.kpd_weight = ppm, kpd, ccr_weight, kpd_weight
        self.slots, self.slot_width, self.contexts_per_class = ",".join(self.slot_names), slot_width, contexts_per_class
        self.ppm_ramp, self.part_field, self.mlm_head = ppm_ramp, part_field, mlm_head
        self.head_epochs, self.negatives, self.width, self.hidden = head_epochs, negatives, width, hidden
        self.heads, self.dropout, self.temperature, self.epochs = heads, dropout, temperature, epochs
        self.batch_size, self.lr, self.weight_decay, self.chunk = batch_size, lr, weight_decay, chunk
        self.net, self.lm, self.builder, self.language_model = None, None, None, "none (context_prompt=False)"
        self.history: list[dict] = []

    @property
    def needs(self) -> Needs:
        lm = self.context_prompt
        return Needs(text_fields=(self.part_field,), tower=lm and self.mlm_head == "tied-trained-here",
                     masked_lm=lm and self.mlm_head == "pretrained")

    def settings(self) -> dict:
        keys = ("branch", "branch_weight", "dje", "context_prompt", "ppm", "kpd", "ccr_weight", "kpd_weight", "slots",
                "slot_width", "contexts_per_class", "ppm_ramp", "part_field", "mlm_head", "head_epochs", "negatives",
                "width", "hidden", "heads", "dropout", "temperature", "epochs", "batch_size", "lr", "weight_decay")
        return {k: getattr(self, k) for k in keys}

    def selectable(self) -> dict[str, tuple]:
        return {"branch_weight": WEIGHT_GRID} if self.branch == "both" else {}

    # ---------------------------------------------------------------- text side
    def _class_text(self, text) -> tuple[torch.Tensor, torch.Tensor]:
        """Context vectors (K, D): the mean of each class's unit context embeddings (so a dot product is
        the mean cosine over its contexts), and unit part-branch embeddings (K, D)."""
        per_class = [context_texts(e, self.contexts_per_class) for e in text.entries]
        flat = F.normalize(torch.from_numpy(text.encode([s for c in per_class for s in c])), dim=-1)
        sizes = [len(c) for c in per_class]
        ctx = torch.stack([part.mean(0) for part in flat.split(sizes)]) if sizes else flat.new_zeros(0, text.dim)
        return ctx, F.normalize(torch.from_numpy(text.embeddings(self.part_field)), dim=-1)

    def _language_model(self, text, examples_for, seed, show_progress):
        if self.mlm_head == "pretrained":
            return pretrained_masked_lm(text.masked_lm())
        tower = text.tower()
        builder = PromptBuilder(tower.tokenizer, self.slot_names, self.slot_width)
        return tied_masked_lm(tower, examples_for(builder), seed=seed, epochs=self.head_epochs,
                              negatives=self.negatives, cache_dir=_cache_dir(text), encoder_name=text.encoder_name,
                              show_progress=show_progress)

    def _prompts(self, text, seed, show_progress):
        """Set up the language model (``self.lm``) and return every (class, triple, slot mask) prompt's
        token states (K, J, P, L, d), their padding (K, J, P, L), the slot targets (K, J, S, w) and the
        number of triples per class (K,)."""
        triples = [e.context_triples()[: self.contexts_per_class] for e in text.entries]
        self.lm = self._language_model(text, lambda builder: slot_examples(builder, triples), seed, show_progress)
        self.builder = PromptBuilder(self.lm.tokenizer, self.slot_names, self.slot_width)
        j_max = max(len(t) for t in triples)
        targets, ids, att = prompt_rows(self.builder, triples, j_max)
        states = token_states(self.lm.tower, ids, att, cache_dir=_cache_dir(text), show_progress=show_progress)
        shape = (len(triples), j_max, len(slot_patterns(len(self.slot_names))), self.builder.length)
        states = torch.from_numpy(np.stack(states)).reshape(*shape, self.lm.width)
        pad = torch.from_numpy(np.stack(att) == 0).reshape(shape)
        return states, pad, torch.from_numpy(targets), torch.tensor([len(t) for t in triples])

    # ---------------------------------------------------------------- training
    def _tokens(self, features: FeatureSet) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(features.tokens, dtype=np.float32))
        return (t - self.mean) / self.std

    def fit(self, features: FeatureSet, labels, text, *, val=None, seed: int = 0, show_progress: bool = False):
        self._fit(features, labels, text, seed, show_progress)
        return self

    def _fit(self, features, labels, text, seed, show_progress):
        # The preparation may or may not train a head or read caches; the network's initial weights and
        # its dropout draw only from the seeded block below, so they never depend on what was cached.
        raw = torch.from_numpy(np.ascontiguousarray(features.tokens, dtype=np.float32))
        self.mean, self.std = raw.mean((0, 1, 2)), raw.std((0, 1, 2)) + 1e-6  # training statistics only
        tokens, y = self._tokens(features), torch.from_numpy(label_positions(labels, text.class_ids))
        ctx_text, part_text = self._class_text(text)
        prior = None
        if self.kpd and self.kpd_weight:
            prior = torch.from_numpy(key_part_prior(text.entries, features.layout))
        lm_width = 1
        if self.context_prompt:
            states, pad, targets, counts = self._prompts(text, seed, show_progress)
            self.language_model, lm_width = self.lm.label, self.lm.width
            self.masked_states, self.masked_pad = states[0, 0, -1:], pad[0, 0, -1:]  # every slot masked
        else:
            self.masked_states, self.masked_pad = torch.zeros(1, 1, 1), torch.zeros(1, 1, dtype=torch.bool)
        with torch_seeded(seed):
            self.net = SkeletonContextNet(tokens.shape[-1], lm_width, ctx_text.shape[1], width=self.width,
                                          hidden=self.hidden, heads=self.heads, dropout=self.dropout, dje=self.dje,
                                          context_prompt=self.context_prompt)
            self._train(tokens, y, ctx_text, part_text, prior, seed, show_progress,
                        *((states, pad, targets, counts) if self.context_prompt else (None,) * 4))

    def _train(self, tokens, y, ctx_text, part_text, prior, seed, show_progress, states, pad, targets, counts):
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        gen = torch.Generator().manual_seed(seed)
        steps_per_epoch = -(-len(tokens) // self.batch_size)
        ramp = int(round(self.ppm_ramp * self.epochs * steps_per_epoch)) if self.ppm else 0
        mlm_on = self.context_prompt and self.ccr_weight > 0
        self.history, step = [], 0
        for _ in progress(range(self.epochs), desc="fit skeletoncontext", enabled=show_progress):
            self.net.train()
            sums = np.zeros(4)
            for sel in shuffled_batches(len(tokens), self.batch_size, gen, min_size=2):
                x, yb = tokens[sel], y[sel]
                e_c, e_p = self.net.embed(x, *self._masked(len(sel)), self.kpd)
                align = (F.cross_entropy(e_c @ ctx_text.T / self.temperature, yb)
                         + F.cross_entropy(e_p @ part_text.T / self.temperature, yb))
                ccr = (self._mlm_loss(x, yb, states, pad, targets, counts, masking_ratio(step, ramp), gen)
                       if mlm_on else align.new_zeros(()))
                kpd = (((self.net.joint_importance(x) - prior[yb][:, None]) ** 2).sum((1, 2)).mean()
                       if prior is not None else align.new_zeros(()))
                loss = align + self.ccr_weight * ccr + self.kpd_weight * kpd
                optimiser_step(opt, loss)
                sums += np.array([loss.item(), align.item(), ccr.item(), kpd.item()]) * len(sel)
                step += 1
            self.history.append(dict(zip(("train_loss", "align", "ccr", "kpd"), sums / len(tokens))))
        self.net.eval()

    def _masked(self, batch: int):
        return self.masked_states.expand(batch, -1, -1), self.masked_pad.expand(batch, -1)

    def _mlm_loss(self, x, yb, states, pad, targets, counts, ratio, gen) -> torch.Tensor:
        """Eq. 4-5 on the masked slots of a context triple of each sample's own class."""
        j = draw_own_contexts(yb, counts, gen)
        masks = draw_masks(ratio, len(self.slot_names), len(yb), gen)
        p = pattern_index(masks) - 1
        h_ctx = self.net.context_tokens(self.net.joints(x), states[yb, j, p], pad[yb, j, p])
        return masked_slot_loss(self.lm, h_ctx, torch.from_numpy(self.builder.positions), masks, targets[yb, j],
                                self.negatives, gen)

    # ---------------------------------------------------------------- scoring
    def _require_fit(self):
        if self.net is None:
            raise RuntimeError("fit the method before scoring")

    @torch.no_grad()
    def embeddings(self, features: FeatureSet) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit context-branch and part-branch embeddings of samples (N, D) each; no text involved."""
        self._require_fit()
        tokens = self._tokens(features)
        out = [self.net.embed(tokens[b:b + self.chunk], *self._masked(len(tokens[b:b + self.chunk])), self.kpd)
               for b in range(0, len(tokens), self.chunk)]
        if not out:
            return torch.zeros(0, self.net.phi_c[-1].out_features), torch.zeros(0, self.net.phi_p[-1].out_features)
        return torch.cat([o[0] for o in out]), torch.cat([o[1] for o in out])

    def branch_scores(self, features: FeatureSet, text) -> dict[str, np.ndarray]:
        """(N, K) cosines of each branch, each candidate scored with its own text only."""
        e_c, e_p = self.embeddings(features)
        ctx_text, part_text = self._class_text(text)
        return {"context": (e_c @ ctx_text.T).numpy(), "part": (e_p @ part_text.T).numpy()}

    def scores(self, features: FeatureSet, text, stream=None) -> Scores:
        branches = self.branch_scores(features, text)
        w = {"both": self.branch_weight, "context": 1.0, "part": 0.0}[self.branch]
        return Scores(w * branches["context"] + (1 - w) * branches["part"], temperature=self.temperature)

    @torch.no_grad()
    def reconstruct(self, features: FeatureSet) -> list[dict[str, str]]:
        """Fig. 3: the context words the masked-LM head reads from each sample's skeleton (every slot masked)."""
        self._require_fit()
        if not self.context_prompt:
            raise InvalidConfig("reconstruct needs the context prompt (context_prompt=True)")
        tokens, positions = self._tokens(features), torch.from_numpy(self.builder.positions)
        banned = self.builder.not_first()
        words = []
        for batch in tokens.split(32):  # whole-vocabulary logits of every slot position: keep batches small
            h = self.net.context_tokens(self.net.joints(batch), *self._masked(len(batch)))
            logits = self.lm.logits(h[:, positions])
            logits[:, :, 0, banned] = float("-inf")  # a slot starts with a word
            words.append(logits.argmax(-1).numpy())
        words = np.concatenate(words) if words else np.zeros((0, len(self.slot_names), self.slot_width), np.int64)
        return [{slot: self.builder.decode(words[n, s]) for s, slot in enumerate(self.slot_names)}
                for n in range(len(tokens))]

    @torch.no_grad()
    def joint_importance(self, features: FeatureSet) -> np.ndarray:
        """Fig. 4: the key-part map K_out (N, T', V) of each sample."""
        self._require_fit()
        return self.net.joint_importance(self._tokens(features)).numpy()

    def state_digest(self) -> str:
        if self.net is None:
            return "unfitted"
        head = self.lm.head_weights() if self.lm is not None else []
        return array_digest([p.detach().numpy() for p in self.net.parameters()] + [self.mean.numpy()] + head)


def masked_slot_loss(lm, h_ctx, positions, masks, targets, negatives: int, generator) -> torch.Tensor:
    """Eq. 4-5: cross-entropy of the masked-LM head at the word pieces of the MASKED slots only.

    ``h_ctx`` (B, L, d) token states, ``positions`` (S, w) the slots' positions, ``masks`` (B, S) which
    slots are masked, ``targets`` (B, S, w) their word pieces ([PAD] after a phrase's end counts: it
    marks where the phrase stops)."""
    at = h_ctx[:, positions]  # (B, S, w, d)
    chosen = masks[:, :, None].expand(-1, -1, positions.shape[1])
    goal = targets[chosen]
    vocab, column = sampled_vocabulary(goal, lm.vocab_size, negatives, generator)
    return F.cross_entropy(lm.logits(at[chosen], vocab), column)


def held_out_slot_accuracy(text, held_out: int = 2, *, mlm_head: str = "tied-trained-here", seed: int = 0,
                           slots: str = "environment,used_object,target_object", slot_width: int = 3,
                           head_epochs: int = 40, negatives: int = 1024) -> dict:
    """How well the language model alone fills context slots of the classes of ``text`` (give it seen
    classes): a head is trained (``tied-trained-here``) on each class's triples but its last
    ``held_out``; on those, every slot is masked in turn with the others shown, and the whole-vocabulary
    top-1 word piece is compared with the slot's (its [PAD] positions not counted). ``majority`` is the
    share of the most frequent training word piece, the floor any head should pass."""
    method = SkeletonContext(slots=slots, slot_width=slot_width, mlm_head=mlm_head, head_epochs=head_epochs,
                             negatives=negatives)
    triples = [e.context_triples() for e in text.entries]
    if min(len(t) for t in triples) <= held_out:
        raise InvalidConfig(f"every class needs more than {held_out} context triples to hold {held_out} out")
    train = [t[:-held_out] for t in triples]
    lm = method._language_model(text, lambda builder: slot_examples(builder, train), seed, False)
    builder = PromptBuilder(lm.tokenizer, method.slot_names, slot_width)
    test = slot_examples(builder, [t[-held_out:] for t in triples], full=False)
    seen_words = np.concatenate([e.targets for e in slot_examples(builder, train, full=False)])
    seen_words = seen_words[seen_words != builder.pad_id]
    truth = np.concatenate([e.targets for e in test])
    truth = truth[truth != builder.pad_id]
    majority = float((truth == np.bincount(seen_words).argmax()).mean())
    accuracy = slot_accuracy(lm, test, ignore=(builder.pad_id,), cache_dir=_cache_dir(text))
    return {"language_model": lm.label, "held_out_slot_accuracy": accuracy, "majority": majority,
            "slot_words": int(len(truth)), "classes": len(triples)}
