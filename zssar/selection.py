"""Everything a run chooses, chosen on seen-class data only: method settings, gamma and delta.

The seen classes are split once more inside the protocol: the ``pseudo_unseen`` classes play the
unseen ones. A probe of the method is fitted on the pseudo-seen samples of ``seen_train`` (its
seen-validation samples for early stopping), its selectable test-time settings are tried on the
pseudo-unseen classes' ``seen_val`` samples (best top-1), and on all of ``seen_val`` the GZSL
calibration gamma (calibrated stacking) and the entropy-gate threshold delta are scanned exactly.

A method that adapts along a stream is scored on ``seen_val`` as a stream, as it will be on test:
the gate routing its pseudo-labels is the one chosen on its stable scores (``stream_delta``), and
gamma and delta are chosen on the adapted scores (the gate reading the stable ones).

Which backbone's features this runs on is a named policy (:data:`CALIBRATION`):

* :class:`SharedBackbone` (``shared``): the run's own backbone. It was trained on every seen class,
  pseudo-unseen ones included, so the simulated problem is easier than the real one and tends to
  under-estimate gamma; it costs nothing more;
* :class:`HeldOutBackbone` (``held_out``): a second backbone trained without the pseudo-unseen
  classes (:func:`zssar.data.protocol.calibration_protocol`), so that seen_val problem is as new to it
  as the real unseen classes are to the run's backbone; one more backbone to train.

Nothing here reads a test view.
"""
from __future__ import annotations

import itertools

import numpy as np

from .data.protocol import Protocol, calibration_protocol
from .evaluate import accuracy, entropy_gate, normalised_entropy, predict, select_delta, select_gamma
from .features import FeatureSet
from .methods.base import Stream, make_method
from .registry import Registry


class SharedBackbone:
    """Choose on the run's own backbone's features."""

    name = "shared"

    def calibration_backbone(self, protocol: Protocol, labels: np.ndarray, train):
        return None


class HeldOutBackbone:
    """Choose on a second backbone trained without the pseudo-unseen classes."""

    name = "held_out"

    def calibration_backbone(self, protocol: Protocol, labels: np.ndarray, train):
        """``train(protocol)`` trains (or reads from the cache) a backbone on a protocol."""
        if not protocol.pseudo_unseen:
            return None
        return train(calibration_protocol(protocol, labels))


CALIBRATION = Registry("calibration policy")
for _policy in (SharedBackbone(), HeldOutBackbone()):
    CALIBRATION.register(_policy.name, _policy)


def select_method_settings(probe, features: FeatureSet, labels: np.ndarray, text) -> tuple[dict, list[dict]]:
    """Try every combination of the probe's selectable settings on a pseudo-unseen ZSL stream.

    ``features``/``labels`` are ``seen_val`` samples of the pseudo-unseen classes of ``text``; the
    combination with the best top-1 wins (ties: the first in grid order). Returns (chosen, one row per
    combination).
    """
    grid = probe.selectable()
    if not grid or not len(labels):
        return {}, []
    names = sorted(grid)
    rows = []
    for values in itertools.product(*(grid[k] for k in names)):
        combo = dict(zip(names, values))
        probe.apply_selected(**combo)
        out = probe.scores(features, text, stream=Stream())
        rows.append({**combo, "val_pseudo_zsl_top1": accuracy(predict(out.values, text.class_ids), labels)})
    best = max(range(len(rows)), key=lambda i: (rows[i]["val_pseudo_zsl_top1"], -i))
    chosen = {k: rows[best][k] for k in names}
    probe.apply_selected(**chosen)
    return chosen, rows


def select_on_seen_val(method_name: str, settings: dict, features: FeatureSet, labels: np.ndarray,
                       protocol: Protocol, text, seed: int, all_class_text=None) -> dict:
    """Choose the method's test-time settings, gamma and delta on ``seen_val``; reads no test sample.

    ``text`` holds (at least) the seen classes' text; ``labels`` are the dataset's labels, read here
    for the selection views only. ``all_class_text``: only for a method variant that trains on every
    class's text (``Needs.all_class_text``, a run that allows it); handed to its fit as it is.
    """
    if not protocol.pseudo_unseen:
        return {"gamma": 0.0, "delta": 0.0, "gate_temperature": 1.0, "method_selected": {},
                "note": "no pseudo-unseen classes (no unseen classes in the split)"}
    pseudo_seen, pseudo_unseen = protocol.pseudo_seen, protocol.pseudo_unseen
    train, val = protocol.views["seen_train"], protocol.views["seen_val"]
    train = train[np.isin(labels[train], pseudo_seen)]
    val_ps = val[np.isin(labels[val], pseudo_seen)]
    val_pu = val[np.isin(labels[val], pseudo_unseen)]
    probe = make_method(method_name, **settings)
    probe.fit(features.subset(train), labels[train], text.take(pseudo_seen),
              val=(features.subset(val_ps), labels[val_ps]), seed=seed,
              **({"all_class_text": all_class_text} if all_class_text is not None else {}))
    method_selected, grid_rows = select_method_settings(probe, features.subset(val_pu), labels[val_pu],
                                                        text.take(pseudo_unseen))
    candidates = pseudo_seen + pseudo_unseen
    y = labels[val]
    static = probe.scores(features.subset(val), text.take(candidates))
    stream_delta = select_delta(static.values, y, candidates, pseudo_seen, pseudo_unseen, static.temperature)["delta"]
    adapted = probe.scores(features.subset(val), text.take(candidates),
                           stream=Stream(np.isin(candidates, pseudo_seen), entropy_gate(stream_delta, static.temperature)))
    streaming = adapted.trace is not None  # the method adapted along the stream
    # the gate reads the method's own gate scores where it gives them (a streaming method's stable
    # scores, SynSE's seen/unseen gate), else the scores themselves
    entropies = normalised_entropy(adapted.gate, adapted.temperature) if adapted.gate is not None else None
    chosen = select_gamma(adapted.values, y, candidates, pseudo_seen, pseudo_unseen)
    gate = select_delta(adapted.values, y, candidates, pseudo_seen, pseudo_unseen, adapted.temperature,
                        entropies=entropies)
    is_pu, pu_cols = np.isin(y, pseudo_unseen), np.isin(candidates, pseudo_unseen)
    pseudo_zsl = accuracy(predict(adapted.values[is_pu][:, pu_cols], np.asarray(candidates)[pu_cols]), y[is_pu])
    return {"gamma": chosen["gamma"], "val_H": chosen["H"], "val_S": chosen["S"], "val_U": chosen["U"],
            "delta": gate["delta"], "gate_temperature": adapted.temperature, "val_gate_H": gate["H"],
            "val_gate_S": gate["S"], "val_gate_U": gate["U"], "stream_delta": stream_delta if streaming else None,
            "val_pseudo_zsl_top1": pseudo_zsl, "pseudo_unseen": list(pseudo_unseen),
            "method_selected": method_selected, "method_grid": grid_rows, "curve": chosen["curve"],
            "delta_curve": gate["curve"]}
