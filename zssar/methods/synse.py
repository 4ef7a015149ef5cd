"""SynSE: syntactically guided VAEs (verb and noun phrases of the class label), with its GZSL gate.

Gupta et al. (ICIP 2021) split each class label into a verb phrase v and a noun phrase n, embed each,
and train four VAE parts: a skeleton VAE whose latent z_x = [z_x^n, z_x^v] (two halves) and one VAE
per phrase (z_n, z_v, each half the size). Besides each VAE's reconstruction and KL, the halves are
tied by cross-reconstruction:

    L = sum_{i in x,v,n} ||i - D_i(z_i)||^2 + beta KL_i
        + lambda ( ||x - D_x([z_n, z_v])||^2 + ||n - D_n(z_x^n)||^2 + ||v - D_v(z_x^v)||^2 ).

ZSL: a softmax classifier on [z_n, z_v] samples of the unseen classes' phrases; a test sample is
classified by its mu_x (:mod:`zssar.methods.vae_parts`). GZSL: a gate decides per sample between the
seen-class classifier and the ZSL one. The gate is a logistic regression trained on a pseudo-unseen
re-split of the seen classes: a second SynSE is fitted on the other seen classes, and the gate
learns to tell its held-out seen samples from the pseudo-unseen samples by the sorted top-f
probabilities of the ZSL classifier and of the seen classifier at a temperature T, f the number of
pseudo-unseen classes, T in 1..9 picked by gate accuracy (the public code's gating_synse files).

What zssar does where the paper or its setting is open:

* phrases: no spaCy/NLTK model can be downloaded, so :func:`syntactic_phrases` applies a written
  rule to the label: words of a small verb list (any inflection: -s, -ed, -es; every -ing word but
  "-thing") are the verb phrase, with the particles right after a verb ("sit down", "take off");
  the rest minus function words is the noun phrase. No verb: the first word is the verb. No noun
  (e.g. "walk", "sit down"): the whole label is the noun phrase;
* the seen classifier: the papers use the backbone's own classifier, which the features do not
  carry; a linear softmax on the standardised pooled features of ``fit`` stands in for it;
* the gate lives inside ``fit``: the re-split draws ``gate_fraction`` of the seen classes (seeded),
  the second SynSE early-stops on the other classes' val samples, the gate's seen examples are those
  held-out samples and its unseen ones every sample of the pseudo-unseen classes. Both kinds are
  weighted equally (H weighs S and U equally). T is chosen by two-fold gate accuracy. One gate is
  fitted per latent classifier the runner may select (``classifier_grid``), as their probabilities
  differ. At scoring the ZSL part of the gate input is padded with zeros or cut to f when the test
  has another number of unseen candidates. Nothing here reads an unseen class;
* what the runner reads: ``values`` are log p(c | x), with p = g p_seen(c | x) on seen candidates
  and (1 - g) p_zsl(c | x) on the others, g the gate's probability of "seen" (calibrated stacking
  works on those); ``Scores.gate`` holds log(q, 1 - q) with q = (1 + g) / 2, whose normalised entropy
  at ``temperature`` 1 rises strictly with 1 - g, so the runner's entropy gate, its threshold delta
  chosen on seen_val, is exactly SynSE's gate with its threshold chosen there;
* schedules as fractions of the epochs: KL weight 0 -> ``kl_weight`` over 35-100 % (phrase VAEs
  from ``cross_start``), cross-reconstruction switched on at ``cross_start`` = 50 % (the public code
  repeats a cycle with it on in the last 18 %; one schedule keeps it on once started); epochs are
  selected from ``cross_start`` on; Adam lr 1e-3 (code 1e-4, 17000 iterations).
"""
from __future__ import annotations

import re

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidConfig
from ..features import FeatureSet
from ..utils import array_digest, torch_seeded
from .base import Scores, label_positions, register_method
from .vae_parts import (CLASSIFIERS, GaussianEncoder, LatentVAEMethod, Ramp, decoder, kl_divergence, reparameterise,
                        train_softmax)

VERBS = set("""answer apply blow bounce bow brush call carry catch check cheer circle clap clean comb count cough
cross cut doff don draw drink drop eat exchange fall fold follow get give grab hit hold hop hug hush juggle jump
kick kneel knock lean lie lift look make march move nod open pat pick play point pull punch push put raise reach read
rub run salute shake shoot sit slap sneeze sniff snap squat stagger stand staple step stretch support swing take
tear throw touch toss turn twist type use walk wash wave wear whisper wield wipe write yawn""".split())
PARTICLES = {"up", "down", "off", "on", "out", "over", "away", "back", "around"}
FUNCTION_WORDS = {"a", "an", "the", "with", "of", "to", "from", "into", "in", "at", "and", "or", "while", "towards",
                  "by", "for"}


def _is_verb(word: str) -> bool:
    if word.endswith("ing") and not word.endswith("thing") and len(word) > 4:
        return True
    return word in VERBS or word[:-1] in VERBS or word[:-2] in VERBS  # -s / -d, -es / -ed


def syntactic_phrases(label: str) -> tuple[str, str]:
    """(verb phrase, noun phrase) of an action label by the rule in the module docstring."""
    words = re.findall(r"[a-z]+", re.sub(r"\(.*?\)", " ", label.lower()))
    if not words:
        raise InvalidConfig(f"synse: the label {label!r} has no words to take phrases from")
    verb_at = {i for i, w in enumerate(words) if _is_verb(w)} or {0}
    verbs, nouns, after_verb = [], [], False
    for i, w in enumerate(words):
        if i in verb_at or (after_verb and w in PARTICLES):
            verbs.append(w)
            after_verb = True
            continue
        after_verb = False
        if w not in FUNCTION_WORDS and w not in nouns:
            nouns.append(w)
    return " ".join(verbs), " ".join(nouns) if nouns else label.lower()


class SynseNet(nn.Module):
    def __init__(self, x_dim: int, t_dim: int, hidden: int, latent: int):
        super().__init__()
        half = latent // 2
        self.enc_x, self.dec_x = GaussianEncoder(x_dim, hidden, 2 * half), decoder(2 * half, hidden, x_dim)
        self.enc_n, self.dec_n = GaussianEncoder(t_dim, hidden, half), decoder(half, hidden, t_dim)
        self.enc_v, self.dec_v = GaussianEncoder(t_dim, hidden, half), decoder(half, hidden, t_dim)


@register_method
class Synse(LatentVAEMethod):
    name = "synse"

    def __init__(self, latent: int = 64, hidden: int = 256, kl_weight: float = 0.025, cross_weight: float = 1.0,
                 cross_start: float = 0.5, epochs: int = 200, batch_size: int = 32, lr: float = 1e-3,
                 weight_decay: float = 0.0, patience: int | None = 30, classifier_samples: int = 200,
                 classifier_epochs: int = 300, classifier_lr: float = 1e-3,
                 classifier: str = "softmax", classifier_grid: tuple = CLASSIFIERS, gate_fraction: float = 0.25,
                 gate_temperatures: tuple = tuple(range(1, 10))):
        super().__init__(text_field="label", latent=latent, hidden=hidden, epochs=epochs, batch_size=batch_size,
                         lr=lr, weight_decay=weight_decay, patience=patience, classifier_samples=classifier_samples,
                         classifier_epochs=classifier_epochs, classifier_lr=classifier_lr,
                         classifier=classifier, classifier_grid=classifier_grid)
        checks = [(latent >= 2, "latent must be >= 2 (two halves)"),
                  (kl_weight >= 0 and cross_weight >= 0, "kl_weight and cross_weight must be >= 0"),
                  (0.0 <= cross_start < 1.0, "cross_start must be a fraction of the epochs in [0, 1)"),
                  (0.0 <= gate_fraction < 1.0, "gate_fraction must lie in [0, 1) (0: no gate)"),
                  (len(gate_temperatures) >= 1 and min(gate_temperatures) > 0, "gate_temperatures must be > 0")]
        for ok, msg in checks:
            if not ok:
                raise InvalidConfig(f"synse: {msg}")
        self.kl_weight, self.cross_weight, self.cross_start = kl_weight, cross_weight, cross_start
        self.gate_fraction, self.gate_temperatures = gate_fraction, tuple(float(t) for t in gate_temperatures)
        self.select_from = cross_start
        self.ramps = {"kl_x": Ramp(0.35, 1.0, kl_weight), "kl_text": Ramp(cross_start, 1.0, kl_weight),
                      "cross": Ramp(cross_start, cross_start, cross_weight)}
        self.gates: dict = {}

    def settings(self) -> dict:
        out = {k: v for k, v in super().settings().items() if k != "text_field"}
        return out | {"kl_weight": self.kl_weight, "cross_weight": self.cross_weight, "cross_start": self.cross_start,
                      "gate_fraction": self.gate_fraction, "gate_temperatures": list(self.gate_temperatures)}

    # ---------------------------------------------------------------- the VAEs
    def text_matrix(self, text) -> np.ndarray:
        """(K, 2D) [noun phrase, verb phrase] embeddings of each class's label."""
        verbs, nouns = zip(*map(syntactic_phrases, text.strings("label"))) if len(text) else ((), ())
        unit = [F.normalize(torch.from_numpy(text.encode(p)), dim=-1).numpy() for p in (nouns, verbs)]
        return np.concatenate(unit, 1)

    def build(self, x_dim: int, t_dim: int) -> nn.Module:
        return SynseNet(x_dim, t_dim // 2, self.hidden, self.latent)

    def skeleton_latent(self, net, x):
        return net.enc_x(x)

    def text_latent(self, net, t):
        (mu_n, lv_n), (mu_v, lv_v) = net.enc_n(t[:, :t.shape[1] // 2]), net.enc_v(t[:, t.shape[1] // 2:])
        return torch.cat([mu_n, mu_v], 1), torch.cat([lv_n, lv_v], 1)

    def loss_terms(self, net, x, t, epoch: int) -> dict:
        n, v = t[:, :t.shape[1] // 2], t[:, t.shape[1] // 2:]
        half = net.enc_n.mu.out_features
        (mu_x, lv_x), (mu_n, lv_n), (mu_v, lv_v) = net.enc_x(x), net.enc_n(n), net.enc_v(v)
        z_x, z_n, z_v = reparameterise(mu_x, lv_x), reparameterise(mu_n, lv_n), reparameterise(mu_v, lv_v)
        terms = {"reconstruction": F.mse_loss(net.dec_x(z_x), x) + F.mse_loss(net.dec_n(z_n), n)
                 + F.mse_loss(net.dec_v(z_v), v),
                 "kl_x": kl_divergence(mu_x, lv_x), "kl_text": kl_divergence(mu_n, lv_n) + kl_divergence(mu_v, lv_v),
                 "cross": F.mse_loss(net.dec_x(torch.cat([z_n, z_v], 1)), x) + F.mse_loss(net.dec_n(z_x[:, :half]), n)
                 + F.mse_loss(net.dec_v(z_x[:, half:]), v)}
        terms["loss"] = terms["reconstruction"] + sum(r(epoch, self.epochs) * terms[k] for k, r in self.ramps.items())
        return terms

    def fit_arrays(self, pooled, labels, text, val, seed: int, show_progress: bool) -> None:
        super().fit_arrays(pooled, labels, text, val, seed, show_progress)
        y = torch.from_numpy(label_positions(labels, text.class_ids))  # the seen classifier (backbone's stand-in)
        self.seen_head = train_softmax(self.standardise(pooled), y, len(text.class_ids), 200, 1e-2, seed)

    def seen_logits(self, pooled: np.ndarray, class_ids) -> np.ndarray:
        cols = [self.class_ids.index(c) for c in class_ids]
        with torch.no_grad():
            return self.seen_head(self.standardise(pooled))[:, cols].numpy()

    # ---------------------------------------------------------------- the gate
    def fit(self, features: FeatureSet, labels, text, *, val=None, seed: int = 0, show_progress: bool = False):
        val_arrays = None if val is None else (val[0].pooled, np.asarray(val[1]))
        with torch_seeded(seed):
            self.fit_arrays(features.pooled, labels, text, val_arrays, seed, show_progress)
            self.gates = self._fit_gates(features.pooled, np.asarray(labels), text, val_arrays, seed)
        return self

    def _fit_gates(self, pooled, labels, text, val, seed: int) -> dict:
        """One gate per latent classifier the runner may select (their ZSL probabilities differ)."""
        classes = list(text.class_ids)
        k = max(1, round(self.gate_fraction * len(classes)))
        if self.gate_fraction == 0 or len(classes) - k < 2:
            return {}  # too few seen classes to re-split: the gate says 1/2 everywhere
        rng = np.random.default_rng(seed)
        inner_unseen = sorted(int(c) for c in rng.choice(classes, size=k, replace=False))
        inner_seen = [c for c in classes if c not in inner_unseen]
        xv, yv = val if val is not None else (pooled[:0], labels[:0])
        train_seen = np.flatnonzero(np.isin(labels, inner_seen))
        if np.isin(yv, inner_seen).any():  # held-out seen examples: the val samples of those classes
            keep = np.isin(yv, inner_seen)
            aux_x, aux_y, held = pooled[train_seen], labels[train_seen], (xv[keep], yv[keep])
        else:  # no val samples of them: hold out a quarter of their training samples
            order = rng.permutation(train_seen)
            cut = max(1, len(order) // 4)
            aux_x, aux_y, held = pooled[order[cut:]], labels[order[cut:]], (pooled[order[:cut]], labels[order[:cut]])
        aux = Synse(**(self.settings() | {"gate_fraction": 0.0}))
        aux.fit_arrays(aux_x, aux_y, text.take(inner_seen), held, seed, False)
        examples = np.concatenate([held[0], pooled[np.isin(labels, inner_unseen)], xv[np.isin(yv, inner_unseen)]])
        is_seen = np.arange(len(examples)) < len(held[0])
        seen, folds = aux.seen_logits(examples, inner_seen), rng.permutation(len(examples)) % 2
        gates = {}
        for classifier in dict.fromkeys((self.classifier,) + self.classifier_grid):
            aux.classifier = classifier
            zsl = aux.latent_logits(examples, text.take(inner_unseen))
            best_t, best_acc = self.gate_temperatures[0], -1.0
            for t in self.gate_temperatures:  # SynSE's temperature search, here by two-fold gate accuracy
                x = gate_inputs(zsl, seen, k, t)
                fitted = [fit_gate(x[folds != f], is_seen[folds != f]) for f in (0, 1)]
                acc = np.mean([balanced_accuracy(predict_gate(fitted[f], x[folds == f]) > 0.5, is_seen[folds == f])
                               for f in (0, 1)])
                best_t, best_acc = (t, acc) if acc > best_acc else (best_t, best_acc)
            weight, bias = fit_gate(gate_inputs(zsl, seen, k, best_t), is_seen)
            gates[classifier] = {"weight": weight, "bias": bias, "temperature": best_t, "top": k,
                                 "two_fold_accuracy": best_acc, "pseudo_unseen": inner_unseen}
        return gates

    def gate_probability(self, zsl_logits: np.ndarray, seen_logits: np.ndarray) -> np.ndarray:
        """g(x): the gate's probability that a sample is of a seen class (1/2 without a gate)."""
        gate = self.gates.get(self.classifier)
        if gate is None:
            return np.full(len(zsl_logits), 0.5)
        x = gate_inputs(zsl_logits, seen_logits, gate["top"], gate["temperature"])
        return predict_gate((gate["weight"], gate["bias"]), x)

    # ---------------------------------------------------------------- scoring
    def scores(self, features: FeatureSet, text, stream=None) -> Scores:
        self._require_fit()
        ids, pooled = list(text.class_ids), features.pooled
        seen = [i for i, c in enumerate(ids) if c in self.class_ids]
        unseen = [i for i, c in enumerate(ids) if c not in self.class_ids]
        values, gate = np.zeros((len(pooled), len(ids)), dtype=np.float64), None
        if seen:
            seen_logits = self.seen_logits(pooled, [ids[i] for i in seen])
            values[:, seen] = log_softmax(seen_logits)
        if unseen:
            zsl_logits = self.latent_logits(pooled, text.take([ids[i] for i in unseen]))
            values[:, unseen] = log_softmax(zsl_logits)
        if seen and unseen:
            g = np.clip(self.gate_probability(zsl_logits, seen_logits), 1e-7, 1 - 1e-7)[:, None]
            values[:, seen] += np.log(g)
            values[:, unseen] += np.log1p(-g)
            q = (1 + g) / 2  # in [1/2, 1): the entropy of (q, 1 - q) rises strictly as g falls
            gate = np.concatenate([np.log(q), np.log1p(-q)], 1)
        return Scores(values, temperature=1.0, gate=gate)

    def state_digest(self) -> str:
        if self.net is None:
            return "unfitted"
        parts = [p.detach().numpy() for p in self.seen_head.parameters()]
        for gate in self.gates.values():
            parts += [gate["weight"], np.array([gate["bias"], gate["temperature"]])]
        return array_digest([np.frombuffer(super().state_digest().encode(), np.uint8)] + parts)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    return torch.from_numpy(np.asarray(logits, dtype=np.float64)).log_softmax(1).numpy()


def gate_inputs(zsl_logits: np.ndarray, seen_logits: np.ndarray, top: int, temperature: float) -> np.ndarray:
    """The top-``top`` sorted ZSL probabilities, then the top sorted seen probabilities at ``temperature``."""
    def sorted_top(logits):
        p = -np.sort(-np.exp(log_softmax(logits)), 1)[:, :top]
        return np.pad(p, ((0, 0), (0, top - p.shape[1])))
    return np.concatenate([sorted_top(zsl_logits), sorted_top(np.asarray(seen_logits) / temperature)], 1)


def fit_gate(x: np.ndarray, is_seen: np.ndarray) -> tuple[np.ndarray, float]:
    """Logistic regression seen-vs-unseen, classes weighted equally, L2 1e-3, L-BFGS from zero."""
    xt, yt = torch.from_numpy(x.astype(np.float64)), torch.from_numpy(is_seen.astype(np.float64))
    w_sample = 0.5 / torch.stack([(yt == 0).sum(), (yt == 1).sum()]).clamp(min=1)[yt.long()]
    w, b = (torch.zeros(n, dtype=torch.float64, requires_grad=True) for n in (x.shape[1], 1))
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        bce = F.binary_cross_entropy_with_logits(xt @ w + b, yt, reduction="none")
        loss = (w_sample * bce).sum() + 1e-3 * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), float(b.detach())


def predict_gate(params, x: np.ndarray) -> np.ndarray:
    weight, bias = params
    return 1.0 / (1.0 + np.exp(-(x.astype(np.float64) @ weight + bias)))


def balanced_accuracy(pred: np.ndarray, truth: np.ndarray) -> float:
    rates = [np.mean(pred[truth == v] == v) for v in (False, True) if (truth == v).any()]
    return float(np.mean(rates)) if rates else 0.0
