"""After-the-fact analyses of a finished run: the rows of test-time and ablation tables.

Each reuses what the runner's single test pass left in the :class:`~zssar.runner.RunResult` (the
test samples, their candidates and their labels, read once by the runner) and chooses nothing:

* :func:`rescore` / :func:`rescore_gzsl`: the FITTED method scores the same test stream again with
  other test-time settings (e.g. DynaPURLS's ``bank`` or ``refine_lr``); the run's method is left
  as it was;
* :func:`ablate`: a method variant with FIXED settings is fitted on the same run's ``seen_train``
  features and scores the unseen test view once; nothing is selected, so nothing is tuned on test.
"""
from __future__ import annotations

import copy
import time

import numpy as np

from .errors import InvalidConfig
from .evaluate import (accuracy, entropy_gate, gzsl_metrics, mean_class_accuracy, normalised_entropy,
                       per_class_accuracy, predict)
from .methods.base import Method, Stream, make_method


def _method_with(result, settings: dict) -> Method:
    """A copy of the run's fitted method with test-time ``settings`` changed (the run's stays as it is)."""
    method = copy.copy(result.method)
    for key, value in settings.items():
        if not hasattr(method, key):
            raise InvalidConfig(f"method {method.name!r} has no test-time setting {key!r}; its settings: "
                                f"{sorted(method.settings())}")
        setattr(method, key, value)
    return method


def _named(per_class: dict[int, float], data) -> dict[str, float]:
    return {data.class_names[c]: round(v, 6) for c, v in per_class.items()}


def rescore(result, **test_time_settings) -> dict:
    """Score the unseen test stream again after changing test-time settings. Returns
    ``{"zsl_top1", "zsl_class_mean", "per_class", "scores", "predictions", "trace", "seconds_per_sample"}``."""
    if "zsl" not in result.samples:
        raise InvalidConfig("rescore needs a split with unseen classes")
    method = _method_with(result, test_time_settings)
    index, classes, truth = result.samples["zsl"], result.candidates["zsl"], result.truths["zsl"]
    start = time.perf_counter()
    out = method.scores(result.pretrained.features.subset(index), result.text.take(classes), stream=Stream())
    seconds = (time.perf_counter() - start) / max(1, len(index))
    pred = predict(out.values, classes)
    return {"zsl_top1": accuracy(pred, truth), "zsl_class_mean": mean_class_accuracy(pred, truth),
            "per_class": _named(per_class_accuracy(pred, truth), result.data), "scores": out.values,
            "predictions": pred, "trace": out.trace, "seconds_per_sample": seconds}


def rescore_gzsl(result, **test_time_settings) -> dict:
    """:func:`rescore` for the GZSL test stream: S, U and H by the run's gamma and by its entropy gate,
    both as selected on ``seen_val``, and the stream's trace. For a streaming method the trace's
    ``pseudo`` says which candidate each confident sample was pseudo-labelled with, so
    ``unseen_as_seen`` is the share of confident unseen samples that fed a seen class's text."""
    from .runner import gzsl_predictions

    if "gzsl" not in result.samples:
        raise InvalidConfig("rescore_gzsl needs a split with unseen classes")
    method = _method_with(result, test_time_settings)
    protocol, selected = result.protocol, result.selection
    index, classes, truth = result.samples["gzsl"], result.candidates["gzsl"], result.truths["gzsl"]
    delta = selected.get("stream_delta")
    stream = Stream(np.isin(classes, protocol.seen), entropy_gate(delta if delta is not None else selected["delta"],
                                                                  selected["gate_temperature"]))
    out = method.scores(result.pretrained.features.subset(index), result.text.take(classes), stream=stream)
    entropies = normalised_entropy(out.gate, selected["gate_temperature"]) if out.gate is not None else None
    predictions = gzsl_predictions(out.values, classes, protocol, selected, entropies)
    report = {"stacking": gzsl_metrics(predictions["gzsl"], truth, protocol.seen, protocol.unseen),
              "gate": gzsl_metrics(predictions["gzsl_gated"], truth, protocol.seen, protocol.unseen),
              "trace": out.trace}
    if out.trace is not None and "pseudo" in out.trace:
        pseudo = out.trace["pseudo"]
        labelled = pseudo >= 0
        to_seen = np.isin(np.asarray(classes)[pseudo.clip(0)], protocol.seen)
        is_unseen = np.isin(truth, protocol.unseen)
        report["unseen_as_seen"] = float((to_seen & labelled & is_unseen).sum() / max(1, (labelled & is_unseen).sum()))
        report["seen_as_unseen"] = float((~to_seen & labelled & ~is_unseen).sum()
                                         / max(1, (labelled & ~is_unseen).sum()))
    return report


def ablate(result, method_name: str, settings: dict | None = None, *, seed: int | None = None,
           show_progress: bool = False) -> dict:
    """Fit a method variant with FIXED settings on the run's ``seen_train`` features (``seen_val`` for
    early stopping, as the run) and score the unseen test view once: the rows of an ablation table.

    Returns ``{"method", "settings", "zsl_top1", "zsl_class_mean", "scores", "predictions", "fitted"}``.
    """
    if "zsl" not in result.samples:
        raise InvalidConfig("ablate needs a split with unseen classes")
    protocol, data, features = result.protocol, result.data, result.pretrained.features
    variant = make_method(method_name, **dict(settings or {}))
    train, val = protocol.views["seen_train"], protocol.views["seen_val"]
    variant.fit(features.subset(train), data.labels[train], result.text.take(protocol.seen),
                val=(features.subset(val), data.labels[val]), seed=result.config.seed if seed is None else seed,
                show_progress=show_progress)
    index, classes, truth = result.samples["zsl"], result.candidates["zsl"], result.truths["zsl"]
    out = variant.scores(features.subset(index), result.text.take(classes), stream=Stream())
    pred = predict(out.values, classes)
    return {"method": method_name, "settings": variant.settings(), "zsl_top1": accuracy(pred, truth),
            "zsl_class_mean": mean_class_accuracy(pred, truth), "scores": out.values, "predictions": pred,
            "fitted": variant}
