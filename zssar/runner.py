"""The runner: one configuration end to end, and the one place that reads test labels, once.

Order of events for one (dataset, split, setting, method, seed):

1. build the protocol views from the dataset and the split (parsed once);
2. check that the run can give the method what it needs (text fields, a tower, a masked LM);
3. pretrain the backbone on ``seen_train`` (checkpoint chosen on ``seen_val``; with the method's
   objective if the run asks for one) or reuse it from the feature cache;
4. choose the method's test-time settings, gamma and delta on ``seen_val`` (:mod:`zssar.selection`,
   on the backbone the calibration policy names);
5. fit the method on all of ``seen_train`` (``seen_val`` for early stopping) with the seen classes'
   text only, and give it the settings chosen in 4;
6. score the test views as streams (no labels involved); then, once, read the test labels and keep
   them with the predictions (:class:`RunResult` ``truths``) for every metric, analysis and figure.

Seeds: the split spec carries the split's own seed (``random:5:seed=2`` draws the unseen classes);
``RunConfig.seed`` is the run's: it draws the seen_val hold-out and the pseudo-unseen classes and
seeds the backbone and the method. Five splits x three run seeds are fifteen different runs.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .backbones.pretrain import Pretrained, pretrain
from .data.protocol import Protocol, ProtocolConfig, build_protocol
from .data.registry import load_dataset
from .data.skeleton import SkeletonSet
from .data.splits import Split, parse_split
from .errors import InvalidConfig
from .evaluate import (accuracy, calibrated_predict, entropy_gate, gated_predict, gzsl_metrics, mean_class_accuracy,
                       normalised_entropy, per_class_accuracy, predict, seen_test_accuracy)
from .methods.base import OBJECTIVES, Method, Stream, make_method
from .records import ResultRecord, objective_settings_of, versions
from .selection import CALIBRATION, select_on_seen_val
from .text.classtext import ClassText
from .run_config import RunConfig
from .text.borrow import BORROW_RULE
from .text.descriptions import TextBank, text_bank_for, text_choice
from .text.encoders import CachedEncoder, get_encoder


@dataclass
class RunResult:
    """The results record plus what a notebook or an analysis wants to look at.

    Per test view (``zsl``: unseen test samples against the unseen classes; ``gzsl``: all test samples
    against all classes; ``seen``: seen test samples against the seen classes): ``samples`` (indices
    into ``data``), ``candidates``, ``scores``, ``truths``. ``predictions`` holds ``zsl``, ``seen`` and
    ``gzsl`` (calibrated stacking), ``gzsl_uncalibrated`` and ``gzsl_gated``; ``traces`` what a
    streaming method recorded per view.
    """

    record: ResultRecord
    data: SkeletonSet
    protocol: Protocol
    pretrained: Pretrained
    texts: TextBank
    text: ClassText
    method: Method
    predictions: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]
    truths: dict[str, np.ndarray]
    samples: dict[str, np.ndarray]
    candidates: dict[str, tuple[int, ...]]
    selection: dict  # what was selected on seen_val, with the gamma and delta curves for plotting
    config: RunConfig
    traces: dict = field(default_factory=dict)
    gate_scores: dict = field(default_factory=dict)  # per view, the scores the entropy gate read

    def to_json(self) -> str:
        import json

        return json.dumps(self.record.to_dict(), indent=2)


def class_text_for(config: RunConfig, data: SkeletonSet, bank: TextBank | None = None) -> ClassText:
    """The text of every class of ``data``, embedded by the run's encoder (cached on disk)."""
    bank = bank or text_bank_for(data.name, data.class_names, path=config.descriptions, text=config.text,
                                 cache_dir=config.cache_dir)
    return ClassText(bank, CachedEncoder(get_encoder(config.encoder), config.cache_dir))


def check_needs(method: Method, text: ClassText, unseen_text_in_training: bool = False) -> None:
    """Refuse, before any training, a run that cannot give the method what it needs."""
    needs = method.needs
    if needs.all_class_text and not unseen_text_in_training:
        raise InvalidConfig(f"{method.name} with these settings ({method.settings()}) trains on the unseen classes' "
                            f"text, which a zero-shot run never gives a method; to run the variant anyway, pass "
                            f"--unseen-text-in-training (RunConfig(unseen_text_in_training=True)): its record says so")
    for name in needs.text_fields:
        text.strings(name)  # raises naming the class and field when the text has nothing for it
    if needs.tower:
        text.tower()
    if needs.masked_lm:
        text.masked_lm()


def train_backbone(config: RunConfig, data: SkeletonSet, protocol: Protocol, text: ClassText,
                   show_progress: bool = True) -> Pretrained:
    """The run's backbone on ``protocol`` (with the run's objective, fed the seen classes' text only)."""
    objective = None
    if config.objective != "ce":
        objective = OBJECTIVES.get(config.objective)(config.objective_settings, text.take(protocol.seen), data.layout)
    return pretrain(data, protocol, config.backbone, seed=config.seed, cache_dir=config.cache_dir,
                    show_progress=show_progress, objective=objective)


def protocol_for(config: RunConfig, data: SkeletonSet, split: Split | None = None) -> Protocol:
    """The protocol views a run of ``config`` uses on ``data``."""
    split = split or parse_split(config.split, data.num_classes, class_names=data.class_names)
    return build_protocol(data, split, ProtocolConfig(setting=config.setting, seed=config.seed))


def run_experiment(config: RunConfig | None = None, *, data: SkeletonSet | None = None, bank: TextBank | None = None,
                   split: Split | None = None, show_progress: bool = True) -> RunResult:
    """Run one configuration end to end and return its record and artefacts.

    ``data``, ``bank`` (the class descriptions) and ``split`` default to what ``config`` names."""
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
    protocol = protocol_for(config, data, split)
    text = class_text_for(config, data, bank)
    method = make_method(config.method, **config.method_settings)
    check_needs(method, text, config.unseen_text_in_training)
    all_class = {"all_class_text": text} if method.needs.all_class_text else {}  # the labelled variant only
    lap("load_data")

    pre = train_backbone(config, data, protocol, text, show_progress)
    lap("pretrain_backbone")
    policy = CALIBRATION.get(config.calibration)
    held_out = policy.calibration_backbone(protocol, data.labels, lambda p: train_backbone(config, data, p, text,
                                                                                            show_progress))
    if held_out is not None:
        lap("pretrain_calibration_backbone")

    labels = data.labels  # read below for the selection views only; test labels once, in _read_test_labels
    selected = select_on_seen_val(config.method, config.method_settings, (held_out or pre).features, labels,
                                  protocol, text, config.seed, **all_class)
    lap("select_on_seen_val")

    views = protocol.views
    train, val = views["seen_train"], views["seen_val"]
    method.fit(pre.features.subset(train), labels[train], text.take(protocol.seen),
               val=(pre.features.subset(val), labels[val]), seed=config.seed, show_progress=show_progress,
               **all_class)
    method.apply_selected(**selected["method_selected"])
    lap("fit_method")

    test = score_test_views(method, pre.features, text, protocol, selected)
    lap("score_test")

    truths = _read_test_labels(data, test["samples"])
    metrics, per_class = _metrics(test["predictions"], truths, protocol, data, pre)
    lap("metrics")

    choice = text_choice(data.name, config.text, config.descriptions)
    record = ResultRecord(
        dataset=data.name, data_source=data.source, samples=len(data), split=protocol.split.as_dict(),
        setting=protocol.setting, protocol_sizes=protocol.sizes(), backbone=asdict(config.backbone),
        objective=config.objective, objective_settings=objective_settings_of(config),
        backbone_cache=_cache_summary(pre),
        calibration={"backbone": config.calibration} | (
            {"backbone_cache": _cache_summary(held_out)} if held_out is not None else {}),
        encoder=config.encoder, text_source=text.source, text=choice,
        borrow_rule=BORROW_RULE if choice == "borrowed" else "", text_provenance=text.bank.provenance_rows(),
        unseen_text_in_training=bool(all_class), method=config.method, method_settings=method.settings(),
        seed=config.seed, selected={k: v for k, v in selected.items() if not k.endswith("curve")},
        metrics={k: round(float(v), 6) for k, v in metrics.items()}, per_class=per_class, timings_s=timings,
        versions=versions())
    return RunResult(record, data, protocol, pre, text.bank, text, method, test["predictions"], test["scores"],
                     truths, test["samples"], test["candidates"], selected, config, test["traces"], test["gate"])


def score_test_views(method: Method, features, text: ClassText, protocol: Protocol, selected: dict) -> dict:
    """Score the test views, each as one stream, and predict; reads no label.

    ZSL: unseen test samples against the unseen classes. GZSL: all test samples against seen then
    unseen classes, predicted by calibrated stacking (gamma), without calibration and by the entropy
    gate (delta), all as chosen on seen_val; a streaming method's pseudo-labels follow the gate chosen
    for it (``stream_delta``), and the gate reads its stable scores. Seen: seen test samples against
    the seen classes.
    """
    views = protocol.views
    out = {"samples": {}, "candidates": {}, "scores": {}, "predictions": {}, "traces": {}, "gate": {}}

    def score(name, index, classes, stream):
        result = method.scores(features.subset(index), text.take(classes), stream=stream)
        out["samples"][name], out["candidates"][name], out["scores"][name] = index, tuple(classes), result.values
        if result.trace is not None:
            out["traces"][name] = result.trace
        out["gate"][name] = result.gate if result.gate is not None else result.values
        return result

    if protocol.unseen:
        out["predictions"]["zsl"] = predict(score("zsl", views["unseen_test"], protocol.unseen, Stream()).values,
                                            protocol.unseen)
        classes = protocol.seen + protocol.unseen
        delta = selected.get("stream_delta")
        stream = Stream(np.isin(classes, protocol.seen), entropy_gate(delta if delta is not None else selected["delta"],
                                                                      selected["gate_temperature"]))
        gzsl = score("gzsl", views["gzsl_test"], classes, stream)
        entropies = normalised_entropy(gzsl.gate, selected["gate_temperature"]) if gzsl.gate is not None else None
        out["predictions"].update(gzsl_predictions(gzsl.values, classes, protocol, selected, entropies))
    out["predictions"]["seen"] = predict(score("seen", views["seen_test"], protocol.seen, Stream()).values,
                                         protocol.seen)
    return out


def gzsl_predictions(values: np.ndarray, classes, protocol: Protocol, selected: dict, entropies=None) -> dict:
    """GZSL predictions by calibrated stacking, without calibration and by the entropy gate."""
    return {"gzsl": calibrated_predict(values, classes, protocol.seen, selected["gamma"]),
            "gzsl_uncalibrated": predict(values, classes),
            "gzsl_gated": gated_predict(values, classes, protocol.seen, protocol.unseen, selected["delta"],
                                        selected["gate_temperature"], entropies=entropies)}


def _read_test_labels(data: SkeletonSet, samples: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The one place the test views' labels are read, after every prediction is made."""
    return {name: data.labels[index] for name, index in samples.items()}


def _metrics(predictions: dict, truths: dict, protocol: Protocol, data: SkeletonSet, pre: Pretrained):
    seen, unseen = protocol.seen, protocol.unseen
    metrics = {"seen_top1": accuracy(predictions["seen"], truths["seen"])}
    per_class = {"seen": _named(per_class_accuracy(predictions["seen"], truths["seen"]), data)}
    if unseen:
        y_zsl, y_gzsl = truths["zsl"], truths["gzsl"]
        metrics["zsl_top1"] = accuracy(predictions["zsl"], y_zsl)
        metrics["zsl_class_mean"] = mean_class_accuracy(predictions["zsl"], y_zsl)
        metrics.update({f"gzsl_{k}": v for k, v in gzsl_metrics(predictions["gzsl"], y_gzsl, seen, unseen).items()})
        raw = gzsl_metrics(predictions["gzsl_uncalibrated"], y_gzsl, seen, unseen)
        metrics.update({f"gzsl_uncalibrated_{k}": raw[k] for k in ("S", "U", "H")})
        gated = gzsl_metrics(predictions["gzsl_gated"], y_gzsl, seen, unseen)
        metrics.update({f"gzsl_gate_{k}": v for k, v in gated.items()})
        per_class["zsl"] = _named(per_class_accuracy(predictions["zsl"], y_zsl), data)
        for name in ("gzsl", "gzsl_gated"):
            per_class[name] = _named(per_class_accuracy(predictions[name], y_gzsl), data)
    return metrics, per_class


def _named(per_class: dict[int, float], data: SkeletonSet) -> dict[str, float]:
    return {data.class_names[c]: round(v, 6) for c, v in per_class.items()}

def _cache_summary(pre: Pretrained) -> dict:
    return {"key": pre.key, "hit": pre.cache_hit, "best_epoch": pre.best_epoch,
            "seen_val_accuracy": pre.seen_val_accuracy}


@dataclass
class BackboneTest:
    """A trained backbone's own classifier on the seen classes' test samples (a supervised check)."""

    pretrained: Pretrained
    protocol: Protocol
    samples: np.ndarray
    predictions: np.ndarray
    truths: np.ndarray
    seen_test_top1: float


def check_backbone(config: RunConfig, data: SkeletonSet, *, show_progress: bool = True) -> BackboneTest:
    """Pretrain (or reuse) the run's backbone and read its classifier's seen-test accuracy, once."""
    protocol = protocol_for(config, data)
    pre = train_backbone(config, data, protocol, class_text_for(config, data), show_progress)
    index = protocol.views["seen_test"]
    predictions = predict(pre.logits[index], pre.seen_classes) if len(index) else np.zeros(0, dtype=np.int64)
    truths = _read_test_labels(data, {"seen": index})["seen"]
    return BackboneTest(pre, protocol, index, predictions, truths,
                        seen_test_accuracy(pre.logits[index], pre.seen_classes, truths))

