"""The experiment runner: the one place that reads the test views, once, at the end.

Order of events for one (dataset, split, setting, method, seed):
1. build the protocol views from the dataset and the split;
2. pretrain the backbone on ``seen_train`` (checkpoint chosen on ``seen_val``) or reuse it from the cache;
3. embed the class texts;
4. select on a simulated zero-shot problem inside the seen classes: fit the method on the
   pseudo-seen classes of ``seen_train``; choose its selectable test-time settings (if any) on the
   ``seen_val`` samples of the pseudo-unseen classes, then scan the GZSL calibration gamma and the
   entropy-gate threshold delta on all of ``seen_val``;
5. fit the method on all of ``seen_train`` and give it the settings chosen in 4;
6. score the test views (no labels involved), and only then compute metrics from the labels.
"""
from __future__ import annotations

import itertools
import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .backbones.pretrain import BackboneConfig, Pretrained, pretrain
from .data.protocol import Protocol, ProtocolConfig, build_protocol
from .data.registry import load_dataset
from .data.skeleton import SkeletonSet
from .data.splits import parse_split
from .evaluate import (accuracy, calibrated_predict, gated_predict, gzsl_metrics, mean_class_accuracy,
                       normalised_entropy, per_class_accuracy, predict, select_delta, select_gamma)
from .features import FeatureSet
from .errors import InvalidConfig
from .methods.base import ClassEmbeddings, Method, make_method
from .results import json_default
from .text.descriptions import TextBank, text_bank_for
from .text.encoders import CachedEncoder, get_encoder
from .utils import progress


CALIBRATIONS = ("shared", "held_out")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one run. Every notebook parameter maps to one field here."""

    dataset: str = "synthetic"
    split: str = "random:5:seed=0"
    setting: str = "default"  # each dataset's standard setting (cross-view for NW-UCLA, ...)
    method: str = "global"
    seed: int = 0
    encoder: str = "minilm"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    objective: str | None = None  # backbone pretraining objective "ce" | "gap"; None: the backbone's own
    method_settings: dict = field(default_factory=dict)
    dataset_options: dict = field(default_factory=dict)
    data_root: str | None = None
    cache_dir: str | None = None
    # Which backbone's features gamma, delta and the method's settings are chosen on: "shared" (the
    # run's backbone, trained once on every seen class, pseudo-unseen ones included) or "held_out" (a
    # second backbone trained without the pseudo-unseen classes, so the seen_val problem is as unseen
    # as the real one; one more backbone to train per run).
    calibration: str = "shared"

    def __post_init__(self):
        if self.calibration not in CALIBRATIONS:
            raise InvalidConfig(f"calibration {self.calibration!r}: use one of {list(CALIBRATIONS)}")


@dataclass
class RunResult:
    """The results record plus the objects a notebook wants to look at."""

    record: dict
    data: SkeletonSet
    protocol: Protocol
    pretrained: Pretrained
    texts: TextBank
    text_embeddings: ClassEmbeddings
    method: Method
    predictions: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]
    selection: dict  # what was selected on seen_val, with the gamma curve for plotting
    config: RunConfig | None = None
    traces: dict = field(default_factory=dict)  # per test view: what a streaming method recorded

    def to_json(self) -> str:
        return json.dumps(self.record, indent=2, default=json_default)


def embed_classes(bank: TextBank, encoder, fields) -> ClassEmbeddings:
    """Text embeddings of every class of a bank for each requested field."""
    return ClassEmbeddings(tuple(range(len(bank))), {f: encoder.encode(bank.strings(f)) for f in fields})


def select_method_settings(probe: Method, features: FeatureSet, labels: np.ndarray,
                           text: ClassEmbeddings, classes) -> tuple[dict, list[dict]]:
    """Try every combination of the probe's selectable settings on a pseudo-unseen ZSL problem.

    ``features``/``labels`` are ``seen_val`` samples of the pseudo-unseen ``classes``; the combination
    with the best top-1 wins (ties: the first in grid order). Returns (chosen, one row per combination).
    """
    grid = probe.selectable()
    if not grid or not len(labels):
        return {}, []
    names = sorted(grid)
    rows = []
    for values in itertools.product(*(grid[k] for k in names)):
        combo = dict(zip(names, values))
        probe.apply_selected(**combo)
        acc = accuracy(predict(probe.scores(features, text.take(classes)), classes), labels)
        rows.append({**combo, "val_pseudo_zsl_top1": acc})
    best = max(range(len(rows)), key=lambda i: (rows[i]["val_pseudo_zsl_top1"], -i))
    chosen = {k: rows[best][k] for k in names}
    probe.apply_selected(**chosen)
    return chosen, rows


def calibration_protocol(protocol: Protocol, labels: np.ndarray) -> Protocol:
    """The protocol of the held-out calibration backbone: trained on the pseudo-seen classes only.

    Its ``seen_train`` / ``seen_val`` are the run's, less the pseudo-unseen classes' samples, and its
    split counts the pseudo-unseen classes as unseen (so its cache key differs from the run's). A
    backbone trained on it has never seen a pseudo-unseen sample, as the run's backbone has never
    seen an unseen one; nothing of the test views changes.
    """
    from dataclasses import replace

    from .data.splits import Split

    pseudo_seen = protocol.pseudo_seen
    views = dict(protocol.views)
    for name in ("seen_train", "seen_val"):
        views[name] = views[name][np.isin(labels[views[name]], pseudo_seen)]
    split = Split(name=f"{protocol.split.name} (calibration: pseudo-unseen held out)", seen=pseudo_seen,
                  unseen=tuple(sorted(protocol.unseen + protocol.pseudo_unseen)),
                  num_classes=protocol.split.num_classes, source=protocol.split.source)
    return replace(protocol, split=split, views=views, pseudo_unseen=())


def select_calibration(method_name: str, settings: dict, features: FeatureSet, labels: np.ndarray,
                       protocol: Protocol, text: ClassEmbeddings, seed: int) -> dict:
    """Choose the method's test-time settings, gamma and delta on ``seen_val``; reads no test sample.

    The method's selectable settings (:meth:`Method.selectable`) are chosen on the pseudo-unseen
    classes' ``seen_val`` samples; gamma (calibrated stacking) and delta (entropy gate, at the probe's
    temperature, kept as ``gate_temperature``) on all of ``seen_val`` with the pseudo-unseen classes.
    The backbone saw the pseudo-unseen classes during pretraining, so this simulated problem is easier
    than the real one and tends to under-estimate gamma; it is the price of training the backbone once.
    """
    if not protocol.pseudo_unseen:
        return {"gamma": 0.0, "delta": 0.0, "gate_temperature": 1.0, "method_selected": {},
                "note": "no pseudo-unseen classes (no unseen classes in the split)"}
    pseudo_seen, pseudo_unseen = protocol.pseudo_seen, protocol.pseudo_unseen
    train = protocol.views["seen_train"]
    train = train[np.isin(labels[train], pseudo_seen)]
    val = protocol.views["seen_val"]
    probe = make_method(method_name, **settings)
    probe.fit(features.subset(train), labels[train], text.take(pseudo_seen), seed=seed)
    val_pu = val[np.isin(labels[val], pseudo_unseen)]
    method_selected, grid_rows = select_method_settings(probe, features.subset(val_pu), labels[val_pu], text,
                                                        pseudo_unseen)
    candidates = pseudo_seen + pseudo_unseen
    val_scores = probe.scores(features.subset(val), text.take(candidates))
    temperature = probe.score_temperature()
    stream_delta, gate_entropies = None, None
    if probe.learns_from_test_stream:
        # A method that adapts along the stream: the gate reads its stable (un-adapted) scores; the
        # stream routes its pseudo-labels with the delta chosen on those, and gamma and the final
        # delta are chosen on the adapted scores of a stream run with that routing, as on test.
        static = probe.gate_scores(features.subset(val), text.take(candidates))
        stream_delta = select_delta(static, labels[val], candidates, pseudo_seen, pseudo_unseen,
                                    temperature)["delta"]
        gate_entropies = normalised_entropy(static, temperature)
        probe.set_gzsl_domains(np.isin(candidates, pseudo_seen), stream_delta, temperature)
        val_scores = probe.scores(features.subset(val), text.take(candidates))
        probe.set_gzsl_domains(None)
    chosen = select_gamma(val_scores, labels[val], candidates, pseudo_seen, pseudo_unseen)
    gate = select_delta(val_scores, labels[val], candidates, pseudo_seen, pseudo_unseen, temperature,
                        entropies=gate_entropies)
    is_pu = np.isin(labels[val], pseudo_unseen)
    pu_cols = np.isin(candidates, pseudo_unseen)
    pseudo_zsl = accuracy(predict(val_scores[is_pu][:, pu_cols], np.asarray(candidates)[pu_cols]),
                          labels[val][is_pu])
    return {"gamma": chosen["gamma"], "val_H": chosen["H"], "val_S": chosen["S"], "val_U": chosen["U"],
            "delta": gate["delta"], "gate_temperature": temperature, "val_gate_H": gate["H"],
            "val_gate_S": gate["S"], "val_gate_U": gate["U"], "stream_delta": stream_delta,
            "val_pseudo_zsl_top1": pseudo_zsl,
            "pseudo_unseen": list(pseudo_unseen), "method_selected": method_selected,
            "method_grid": grid_rows, "curve": chosen["curve"], "delta_curve": gate["curve"]}


def method_settings_for(config: RunConfig, data: SkeletonSet) -> dict:
    """The run's method settings, plus the dataset's skeleton layout for methods that pool body parts."""
    settings = dict(config.method_settings)
    probe = make_method(config.method, **settings)
    if getattr(probe, "needs_layout", False) and settings.get("layout") is None:
        settings["layout"] = data.layout.name
    return settings


def protocol_for(config: RunConfig, data: SkeletonSet) -> Protocol:
    """The protocol views a run of ``config`` uses on ``data``."""
    split = parse_split(config.split, data.num_classes, class_names=data.class_names)
    return build_protocol(data, split, ProtocolConfig(setting=config.setting, seed=config.seed))


def run_experiment(config: RunConfig | None = None, *, data: SkeletonSet | None = None,
                   show_progress: bool = True) -> RunResult:
    """Run one configuration end to end and return its record and artefacts."""
    config = config or RunConfig()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    if data is None:
        data = load_dataset(config.dataset, config.data_root, **config.dataset_options)
    protocol = protocol_for(config, data)
    split = protocol.split
    lap("load_data")

    pre = pretrain(data, protocol, config.backbone, seed=config.seed, cache_dir=config.cache_dir,
                   show_progress=show_progress, objective=config.objective)
    features = pre.features
    lap("pretrain_backbone")
    held_out = None
    if config.calibration == "held_out" and protocol.pseudo_unseen:
        held_out = pretrain(data, calibration_protocol(protocol, data.labels), config.backbone, seed=config.seed,
                            cache_dir=config.cache_dir, show_progress=show_progress, objective=config.objective)
        lap("pretrain_calibration_backbone")

    settings = method_settings_for(config, data)
    method = make_method(config.method, **settings)
    bank = text_bank_for(data.name, data.class_names)
    encoder = CachedEncoder(get_encoder(config.encoder), config.cache_dir)
    text = embed_classes(bank, encoder, method.text_fields)
    lap("encode_text")

    labels = data.labels  # test labels are read again only in the metrics block below
    selected = select_calibration(config.method, settings, held_out.features if held_out else features, labels,
                                  protocol, text, config.seed)
    lap("select_on_seen_val")

    train = protocol.views["seen_train"]
    method.fit(features.subset(train), labels[train], text.take(protocol.seen), seed=config.seed,
               show_progress=show_progress)
    method.apply_selected(**selected["method_selected"])
    lap("fit_method")

    # ---- the test set, touched once: scores and predictions first, without labels ----
    views = protocol.views
    scores, predictions = {}, {}
    if protocol.unseen:
        scores["zsl"] = method.scores(features.subset(views["unseen_test"]), text.take(protocol.unseen))
        zsl_trace = getattr(method, "last_stream", None)
        predictions["zsl"] = predict(scores["zsl"], protocol.unseen)
        scores["gzsl"], gzsl_predictions, _ = gzsl_stream(method, selected, features.subset(views["gzsl_test"]),
                                                          text, protocol)
        predictions.update(gzsl_predictions)
    scores["seen"] = method.scores(features.subset(views["seen_test"]), text.take(protocol.seen))
    predictions["seen"] = predict(scores["seen"], protocol.seen)
    traces = {}
    if getattr(method, "last_stream", None) is not None:  # streaming methods: keep the seen view's trace
        traces["seen"] = method.last_stream
    if protocol.unseen and zsl_trace is not None:
        traces["zsl"] = zsl_trace
    lap("score_test")

    # ---- metrics: the only lines that read test labels ----
    metrics = {"seen_top1": accuracy(predictions["seen"], labels[views["seen_test"]])}
    if protocol.unseen:
        y_zsl, y_gzsl = labels[views["unseen_test"]], labels[views["gzsl_test"]]
        metrics["zsl_top1"] = accuracy(predictions["zsl"], y_zsl)
        metrics["zsl_class_mean"] = mean_class_accuracy(predictions["zsl"], y_zsl)
        gz = gzsl_metrics(predictions["gzsl"], y_gzsl, protocol.seen, protocol.unseen)
        metrics.update({f"gzsl_{k}": v for k, v in gz.items()})
        raw = gzsl_metrics(predictions["gzsl_uncalibrated"], y_gzsl, protocol.seen, protocol.unseen)
        metrics.update({f"gzsl_uncalibrated_{k}": raw[k] for k in ("S", "U", "H")})
        gated = gzsl_metrics(predictions["gzsl_gated"], y_gzsl, protocol.seen, protocol.unseen)
        metrics.update({f"gzsl_gate_{k}": v for k, v in gated.items()})
    per_class = {"seen": _named(per_class_accuracy(predictions["seen"], labels[views["seen_test"]]), data)}
    if protocol.unseen:
        per_class["zsl"] = _named(per_class_accuracy(predictions["zsl"], y_zsl), data)
        for name in ("gzsl", "gzsl_gated"):
            per_class[name] = _named(per_class_accuracy(predictions[name], y_gzsl), data)
    lap("metrics")

    record = {
        "dataset": data.name,
        "data_source": data.source,
        "samples": len(data),
        "split": split.as_dict(),
        "setting": protocol.setting,
        "protocol_sizes": protocol.sizes(),
        "backbone": asdict(config.backbone) | {"objective": config.objective or config.backbone.objective},
        "objective": config.objective or config.backbone.objective,
        "backbone_cache": {"key": pre.key, "hit": pre.cache_hit, "best_epoch": pre.best_epoch,
                           "seen_val_accuracy": pre.seen_val_accuracy},
        "calibration": {"backbone": config.calibration} | (
            {"backbone_cache": {"key": held_out.key, "hit": held_out.cache_hit, "best_epoch": held_out.best_epoch,
                                "seen_val_accuracy": held_out.seen_val_accuracy}} if held_out else {}),
        "encoder": config.encoder,
        "text_source": bank.source,
        "method": config.method,
        "method_settings": method.settings(),
        "seed": config.seed,
        "selected": {k: v for k, v in selected.items() if not k.endswith("curve")},
        "metrics": {k: round(float(v), 6) for k, v in metrics.items()},
        "per_class": per_class,
        "timings_s": timings,
        "versions": versions(),
    }
    return RunResult(record, data, protocol, pre, bank, text, method, predictions, scores, selected, config,
                     traces)


def gzsl_stream(method: Method, selected: dict, features: FeatureSet, text: ClassEmbeddings,
                protocol: Protocol):
    """Score GZSL test samples against all classes (seen then unseen) and predict them by calibrated
    stacking (gamma), without calibration and by the entropy gate (delta), all as chosen on seen_val.

    A method that adapts along the stream routes its pseudo-labels with the gate chosen for it
    (``stream_delta``), and the gate then reads its un-adapted scores. Returns (scores, predictions,
    the method's stream trace or None)."""
    classes = protocol.seen + protocol.unseen
    candidates = text.take(classes)
    entropies = None
    if selected.get("stream_delta") is not None:
        method.set_gzsl_domains(np.isin(classes, protocol.seen), selected["stream_delta"],
                                selected["gate_temperature"])
        entropies = normalised_entropy(method.gate_scores(features, candidates), selected["gate_temperature"])
    scores = method.scores(features, candidates)
    trace = getattr(method, "last_stream", None)
    method.set_gzsl_domains(None)
    predictions = {
        "gzsl": calibrated_predict(scores, classes, protocol.seen, selected["gamma"]),
        "gzsl_uncalibrated": predict(scores, classes),
        "gzsl_gated": gated_predict(scores, classes, protocol.seen, protocol.unseen, selected["delta"],
                                    selected["gate_temperature"], entropies=entropies)}
    return scores, predictions, trace


def _method_with(result: RunResult, settings: dict) -> Method:
    """A copy of the run's fitted method with test-time ``settings`` changed (the run's stays as it is)."""
    import copy

    method = copy.copy(result.method)
    for key, value in settings.items():
        if not hasattr(method, key):
            raise InvalidConfig(f"method {method.name!r} has no test-time setting {key!r}")
        setattr(method, key, value)
    return method


def rescore(result: RunResult, **test_time_settings) -> dict:
    """Score the unseen test stream again with the FITTED method after changing test-time settings
    (e.g. DynaPURLS's ``bank`` or ``refine_lr``): the rows of a test-time ablation. Nothing is
    fitted or selected; the run's own method is left unchanged.

    Returns ``{"zsl_top1", "zsl_class_mean", "scores", "predictions", "trace", "seconds_per_sample"}``.
    """
    method = _method_with(result, test_time_settings)
    protocol, data = result.protocol, result.data
    test = protocol.views["unseen_test"]
    start = time.perf_counter()
    scores = method.scores(result.pretrained.features.subset(test), result.text_embeddings.take(protocol.unseen))
    seconds = (time.perf_counter() - start) / max(1, len(test))
    pred = predict(scores, protocol.unseen)
    truth = data.labels[test]  # metrics only
    return {"zsl_top1": accuracy(pred, truth), "zsl_class_mean": mean_class_accuracy(pred, truth),
            "per_class": _named(per_class_accuracy(pred, truth), data), "scores": scores, "predictions": pred,
            "trace": getattr(method, "last_stream", None), "seconds_per_sample": seconds}


def rescore_gzsl(result: RunResult, **test_time_settings) -> dict:
    """:func:`rescore` for the GZSL test stream (seen and unseen test samples together): S, U and H by
    the run's gamma and by its entropy gate, both as selected on ``seen_val``, and the stream's trace.
    For a streaming method the trace's ``pseudo`` says which candidate each confident sample was
    pseudo-labelled with, so ``unseen_as_seen`` is the share of confident unseen samples that fed a
    seen class's text. Nothing is fitted or selected."""
    method = _method_with(result, test_time_settings)
    protocol, selected = result.protocol, result.selection
    if not protocol.unseen:
        raise InvalidConfig("rescore_gzsl needs a split with unseen classes")
    test, classes = protocol.views["gzsl_test"], protocol.seen + protocol.unseen
    _, predictions, trace = gzsl_stream(method, selected, result.pretrained.features.subset(test),
                                        result.text_embeddings, protocol)
    stacked, gated = predictions["gzsl"], predictions["gzsl_gated"]
    truth = result.data.labels[test]  # metrics only
    out = {"stacking": gzsl_metrics(stacked, truth, protocol.seen, protocol.unseen),
           "gate": gzsl_metrics(gated, truth, protocol.seen, protocol.unseen), "trace": trace}
    if trace is not None and "pseudo" in trace:
        labelled = trace["pseudo"] >= 0
        to_seen = np.isin(np.asarray(classes)[trace["pseudo"].clip(0)], protocol.seen)
        is_unseen = np.isin(truth, protocol.unseen)
        out["unseen_as_seen"] = float((to_seen & labelled & is_unseen).sum() / max(1, (labelled & is_unseen).sum()))
        out["seen_as_unseen"] = float((~to_seen & labelled & ~is_unseen).sum()
                                      / max(1, (labelled & ~is_unseen).sum()))
    return out


def ablate(result: RunResult, method_name: str, settings: dict | None = None, *, seed: int | None = None,
           show_progress: bool = False) -> dict:
    """Fit a method variant with FIXED settings on the same run's ``seen_train`` features and score
    the unseen test view once: the rows of an ablation table. Nothing is selected here, so nothing
    can be tuned on the test set; the variant's selectable settings keep their given values.

    Returns ``{"method", "settings", "zsl_top1", "zsl_class_mean", "scores", "predictions", "fitted"}``.
    """
    config = result.config or RunConfig()
    protocol, data, features = result.protocol, result.data, result.pretrained.features
    settings = dict(settings or {})
    variant = make_method(method_name, **settings)
    if getattr(variant, "needs_layout", False) and settings.get("layout") is None:
        variant = make_method(method_name, **settings, layout=data.layout.name)
    encoder = CachedEncoder(get_encoder(config.encoder), config.cache_dir)
    text = embed_classes(result.texts, encoder, variant.text_fields)
    train = protocol.views["seen_train"]
    variant.fit(features.subset(train), data.labels[train], text.take(protocol.seen),
                seed=config.seed if seed is None else seed, show_progress=show_progress)
    test = protocol.views["unseen_test"]
    scores = variant.scores(features.subset(test), text.take(protocol.unseen))
    pred = predict(scores, protocol.unseen)
    truth = data.labels[test]  # metrics only
    return {"method": method_name, "settings": variant.settings(), "zsl_top1": accuracy(pred, truth),
            "zsl_class_mean": mean_class_accuracy(pred, truth), "scores": scores, "predictions": pred,
            "fitted": variant}


def _named(per_class: dict[int, float], data: SkeletonSet) -> dict[str, float]:
    return {data.class_names[c]: round(v, 6) for c, v in per_class.items()}


def run_identity(config: RunConfig, data: SkeletonSet) -> dict:
    """What makes two runs the same run: the fields of a record that a rerun must match to be skipped."""
    split = parse_split(config.split, data.num_classes, class_names=data.class_names)
    settings = make_method(config.method, **method_settings_for(config, data)).settings()
    return json.loads(json.dumps({
        "dataset": data.name, "samples": len(data), "split": split.name,
        "setting": protocol_for(config, data).setting, "method": config.method,
        "method_settings": _requested(config.method, settings),
        "seed": config.seed, "encoder": config.encoder,
        "backbone": asdict(config.backbone) | {"objective": config.objective or config.backbone.objective},
        **_calibration_identity(config.calibration)},
        default=json_default))


def _requested(method: str, settings: dict) -> dict:
    """Settings without the ones chosen on ``seen_val`` (a record stores the chosen values; the grid
    they were chosen from stays, and the choice follows from everything else)."""
    chosen = make_method(method).selectable()
    return {k: v for k, v in settings.items() if k not in chosen}


def record_identity(record: dict) -> dict:
    """:func:`run_identity` read back from a record."""
    return {"dataset": record["dataset"], "samples": record["samples"], "split": record["split"]["name"],
            "setting": record["setting"], "method": record["method"],
            "method_settings": _requested(record["method"], record["method_settings"]), "seed": record["seed"],
            "encoder": record["encoder"], "backbone": record["backbone"],
            **_calibration_identity(record.get("calibration", {}).get("backbone", "shared"))}


def _calibration_identity(calibration: str) -> dict:
    """Nothing for the default (so records written before the option keep their identity)."""
    return {} if calibration == "shared" else {"calibration": calibration}


def run_many(config: RunConfig, *, seeds=None, splits=None, methods=None, data: SkeletonSet | None = None,
             results: str | None = None, resume: bool = False, show_progress: bool = True) -> list[dict]:
    """Run ``config`` for every (split, seed, method) and return one record each (appended to ``results``).

    With ``resume``, a run whose record is already in ``results`` (same data, split, setting, seed,
    method settings, encoder and backbone) is not run again and its stored record is returned: an
    interrupted sweep continues where it stopped.
    """
    from dataclasses import replace

    from .results import append_record, load_records

    if data is None:
        data = load_dataset(config.dataset, config.data_root, **config.dataset_options)
    done = []
    if resume and results and Path(results).exists():
        done = load_records(results)
    done_ids = [json.dumps(record_identity(r), sort_keys=True) for r in done]
    combos = [(split, int(seed), method) for split in (splits or [config.split])
              for seed in (seeds or [config.seed]) for method in (methods or [config.method])]
    records = []
    for split, seed, method in progress(combos, desc="runs", enabled=show_progress and len(combos) > 1):
        run_config = replace(config, split=split, seed=seed, method=method)
        identity = json.dumps(run_identity(run_config, data), sort_keys=True)
        if identity in done_ids:
            records.append(done[done_ids.index(identity)])
            continue
        record = run_experiment(run_config, data=data, show_progress=show_progress).record
        if results:
            append_record(record, results)
        records.append(record)
    return records


def versions() -> dict:
    import torch

    return {"zssar": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}
