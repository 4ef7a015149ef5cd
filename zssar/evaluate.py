"""Metrics of zero-shot action recognition and the GZSL calibration that is selected on seen data.

* ZSL: top-1 accuracy over the unseen test samples, candidates = unseen classes only.
* GZSL: candidates = all classes; S = accuracy on seen-class samples, U = on unseen-class samples,
  H = 2SU / (S + U). Accuracies are per sample (as every paper reports) with the per-class mean beside.
* Calibrated stacking (Chao et al., 2016): subtract gamma from the scores of seen classes before the
  argmax. gamma is chosen by :func:`select_gamma` on a *simulated* zero-shot problem built from seen
  classes only (pseudo-seen / pseudo-unseen); it is never fitted on the test set.
"""
from __future__ import annotations

import numpy as np


def harmonic_mean(s: float, u: float) -> float:
    return 0.0 if s + u == 0 else 2 * s * u / (s + u)


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(pred == labels)) if len(labels) else float("nan")


def per_class_accuracy(pred: np.ndarray, labels: np.ndarray) -> dict[int, float]:
    return {int(c): float(np.mean(pred[labels == c] == c)) for c in np.unique(labels)}


def mean_class_accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    per = per_class_accuracy(pred, labels)
    return float(np.mean(list(per.values()))) if per else float("nan")


def predict(scores: np.ndarray, candidates) -> np.ndarray:
    """Class id of the best-scoring candidate for each row."""
    return np.asarray(candidates)[np.argmax(scores, axis=1)]


def calibrated_predict(scores: np.ndarray, candidates, seen_classes, gamma: float) -> np.ndarray:
    """argmax of ``scores - gamma * [class is seen]``."""
    seen = np.isin(np.asarray(candidates), np.asarray(seen_classes))
    return predict(scores - gamma * seen[None, :], candidates)


def gzsl_metrics(pred: np.ndarray, labels: np.ndarray, seen_classes, unseen_classes) -> dict:
    """S, U, H (per sample) and their per-class-mean versions from GZSL predictions."""
    is_seen = np.isin(labels, seen_classes)
    is_unseen = np.isin(labels, unseen_classes)
    s, u = accuracy(pred[is_seen], labels[is_seen]), accuracy(pred[is_unseen], labels[is_unseen])
    sc = mean_class_accuracy(pred[is_seen], labels[is_seen])
    uc = mean_class_accuracy(pred[is_unseen], labels[is_unseen])
    return {"S": s, "U": u, "H": harmonic_mean(s, u), "S_class_mean": sc, "U_class_mean": uc,
            "H_class_mean": harmonic_mean(sc, uc)}


def select_gamma(scores: np.ndarray, labels: np.ndarray, candidates, seen_classes, unseen_classes) -> dict:
    """The calibration gamma maximising H on labelled *selection* data, by an exact scan.

    A sample switches from a seen to an unseen prediction exactly when gamma passes
    d = (best seen score) - (best unseen score), so H is piecewise constant between sorted d values;
    every piece is evaluated at its midpoint. Ties go to the gamma nearest zero.
    Returns ``{"gamma", "H", "S", "U", "curve": (gammas, S, U, H)}``.
    """
    candidates = np.asarray(candidates)
    seen_col = np.isin(candidates, seen_classes)
    unseen_col = np.isin(candidates, unseen_classes)
    best_seen = scores[:, seen_col].max(1)
    best_unseen = scores[:, unseen_col].max(1)
    d = best_seen - best_unseen
    seen_right = candidates[seen_col][scores[:, seen_col].argmax(1)] == labels
    unseen_right = candidates[unseen_col][scores[:, unseen_col].argmax(1)] == labels
    is_seen, is_unseen = np.isin(labels, seen_classes), np.isin(labels, unseen_classes)

    gammas, s, u, h = _threshold_scan(d, is_seen & seen_right, is_unseen & unseen_right, is_seen.sum(),
                                      is_unseen.sum(), margin=1e-3)
    best = np.flatnonzero(np.isclose(h, h.max()))
    i = best[np.argmin(np.abs(gammas[best]))]
    return {"gamma": float(gammas[i]), "H": float(h[i]), "S": float(s[i]), "U": float(u[i]),
            "curve": (gammas, s, u, h)}


def confusion(pred: np.ndarray, labels: np.ndarray, classes) -> np.ndarray:
    """Row-normalised confusion matrix over ``classes`` (rows: true class, columns: predicted)."""
    classes = list(classes)
    pos = {c: i for i, c in enumerate(classes)}
    m = np.zeros((len(classes), len(classes)))
    for p, t in zip(pred, labels):
        if p in pos and t in pos:
            m[pos[t], pos[p]] += 1
    return m / np.maximum(m.sum(1, keepdims=True), 1)


# ---------------------------------------------------------------- GZSL by entropy gating
def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(scores, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def normalised_entropy(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Entropy of ``softmax(scores / temperature)`` divided by log K, in [0, 1].

    Dividing by log K lets a threshold chosen on the simulated problem (fewer candidates) transfer
    to the test problem (all classes) without a shift of log(K_test / K_val).
    """
    p = softmax(scores, temperature)
    k = p.shape[1]
    h = -(p * np.log(np.clip(p, 1e-300, None))).sum(axis=1)
    return h / np.log(k) if k > 1 else np.zeros(len(p))


def gated_predict(scores: np.ndarray, candidates, seen_classes, unseen_classes, delta: float,
                  temperature: float = 1.0, entropies: np.ndarray | None = None) -> np.ndarray:
    """Entropy gate (DynaPURLS Sec. 3.5): entropy below ``delta`` -> classify among the seen
    candidates only, otherwise among the unseen candidates only. ``entropies`` (default: those of
    ``scores``) lets the gate read other, e.g. un-refined, scores than the classifier."""
    candidates = np.asarray(candidates)
    seen_col, unseen_col = np.isin(candidates, seen_classes), np.isin(candidates, unseen_classes)
    low = (normalised_entropy(scores, temperature) if entropies is None else entropies) < delta
    pred = predict(scores[:, unseen_col], candidates[unseen_col])
    if low.any():
        pred[low] = predict(scores[low][:, seen_col], candidates[seen_col])
    return pred


def _threshold_scan(z: np.ndarray, seen_ok: np.ndarray, unseen_ok: np.ndarray, n_seen: int, n_unseen: int,
                    margin: float):
    """S, U and H of the rule "seen side iff z > t" for every distinct outcome of the threshold t.

    ``seen_ok``/``unseen_ok`` mark the samples that are right when routed to their own side. H is
    piecewise constant between sorted z values, so each piece is evaluated at its midpoint (plus one
    threshold below and one above every z). Returns (thresholds, S, U, H), thresholds increasing.
    """
    cuts = np.unique(z)
    thresholds = np.concatenate([[cuts[0] - margin], (cuts[:-1] + cuts[1:]) / 2, [cuts[-1] + margin]])
    z_seen_ok, z_unseen_ok = np.sort(z[seen_ok]), np.sort(z[unseen_ok])
    s = (len(z_seen_ok) - np.searchsorted(z_seen_ok, thresholds, side="right")) / max(1, n_seen)
    u = np.searchsorted(z_unseen_ok, thresholds, side="right") / max(1, n_unseen)
    h = np.where(s + u > 0, 2 * s * u / np.maximum(s + u, 1e-12), 0.0)
    return thresholds, s, u, h


def select_delta(scores: np.ndarray, labels: np.ndarray, candidates, seen_classes, unseen_classes,
                 temperature: float = 1.0, entropies: np.ndarray | None = None) -> dict:
    """The entropy threshold delta maximising H on labelled *selection* data, by an exact scan.

    A sample goes to the seen side exactly when its entropy e < delta, so H is piecewise constant
    between sorted entropies; every piece is evaluated at its midpoint. Among equally good
    thresholds the middle one of the best set is kept (the least sensitive to a shift of entropies).
    Returns ``{"delta", "H", "S", "U", "curve": (deltas, S, U, H)}``.
    """
    candidates = np.asarray(candidates)
    seen_col, unseen_col = np.isin(candidates, seen_classes), np.isin(candidates, unseen_classes)
    e = normalised_entropy(scores, temperature) if entropies is None else entropies
    seen_right = candidates[seen_col][scores[:, seen_col].argmax(1)] == labels
    unseen_right = candidates[unseen_col][scores[:, unseen_col].argmax(1)] == labels
    is_seen, is_unseen = np.isin(labels, seen_classes), np.isin(labels, unseen_classes)

    # seen iff e < delta, i.e. -e > -delta: the same scan as gamma's on z = -e
    thresholds, s, u, h = _threshold_scan(-e, is_seen & seen_right, is_unseen & unseen_right,
                                          is_seen.sum(), is_unseen.sum(), margin=1e-6)
    deltas, s, u, h = -thresholds[::-1], s[::-1], u[::-1], h[::-1]  # increasing delta
    best = np.flatnonzero(np.isclose(h, h.max()))
    i = best[len(best) // 2]
    return {"delta": float(deltas[i]), "H": float(h[i]), "S": float(s[i]), "U": float(u[i]),
            "curve": (deltas, s, u, h)}


def entropy_gate(delta: float, temperature: float):
    """The GZSL entropy gate as a rule: ``route(scores)`` -> True where a sample goes to the seen side
    (normalised entropy at ``temperature`` below ``delta``, the threshold and the temperature it was
    chosen at). Streaming methods receive it in their :class:`~zssar.methods.base.Stream` so that
    their pseudo-labels stay on the gated side."""

    def route(scores: np.ndarray) -> np.ndarray:
        return normalised_entropy(scores, temperature) < delta

    return route


def seen_test_accuracy(logits: np.ndarray, logit_classes, truth: np.ndarray) -> float:
    """Top-1 of a backbone's own classifier (``logits`` over ``logit_classes``) against ``truth``:
    the supervised check of a backbone on the seen classes' test samples (a report, never a choice)."""
    if len(truth) == 0:
        return float("nan")
    return accuracy(predict(logits, logit_classes), truth)


def zsl_metrics(pred: np.ndarray, labels: np.ndarray) -> dict:
    """ZSL top-1 per sample (as papers report) and per-class mean."""
    return {"top1": accuracy(pred, labels), "class_mean": mean_class_accuracy(pred, labels)}
