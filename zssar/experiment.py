"""The experiment runner: the one place that reads the test views, once, at the end.

Order of events for one (dataset, split, setting, method, seed):
1. build the protocol views from the dataset and the split;
2. pretrain the backbone on ``seen_train`` (checkpoint chosen on ``seen_val``) or reuse it from the cache;
3. embed the class texts;
4. select the GZSL calibration gamma on a simulated zero-shot problem inside the seen classes:
   fit the method on the pseudo-seen classes of ``seen_train`` and scan gamma on ``seen_val``;
5. fit the method on all of ``seen_train``;
6. score the test views (no labels involved), and only then compute metrics from the labels.
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import __version__
from .backbones.pretrain import BackboneConfig, Pretrained, pretrain
from .data.protocol import Protocol, ProtocolConfig, build_protocol
from .data.registry import load_dataset
from .data.skeleton import SkeletonSet
from .data.splits import parse_split
from .evaluate import (accuracy, calibrated_predict, gzsl_metrics, mean_class_accuracy, predict,
                       select_gamma)
from .features import FeatureSet
from .methods.base import ClassEmbeddings, Method, make_method
from .results import json_default
from .text.descriptions import TextBank, text_bank_for
from .text.encoders import CachedEncoder, get_encoder


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one run. Every notebook parameter maps to one field here."""

    dataset: str = "synthetic"
    split: str = "random:5:seed=0"
    setting: str = "cross_subject"
    method: str = "global"
    seed: int = 0
    encoder: str = "minilm"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    method_settings: dict = field(default_factory=dict)
    dataset_options: dict = field(default_factory=dict)
    data_root: str | None = None
    cache_dir: str | None = None


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

    def to_json(self) -> str:
        return json.dumps(self.record, indent=2, default=json_default)


def embed_classes(bank: TextBank, encoder, fields) -> ClassEmbeddings:
    """Text embeddings of every class of a bank for each requested field."""
    return ClassEmbeddings(tuple(range(len(bank))), {f: encoder.encode(bank.strings(f)) for f in fields})


def select_calibration(method_name: str, settings: dict, features: FeatureSet, labels: np.ndarray,
                       protocol: Protocol, text: ClassEmbeddings, seed: int) -> dict:
    """Choose gamma on ``seen_val`` with pseudo-unseen classes; reads no test sample.

    The backbone saw the pseudo-unseen classes during pretraining, so this simulated problem is easier
    than the real one and tends to under-estimate gamma; it is the price of training the backbone once.
    """
    if not protocol.pseudo_unseen:
        return {"gamma": 0.0, "note": "no pseudo-unseen classes (no unseen classes in the split)"}
    pseudo_seen, pseudo_unseen = protocol.pseudo_seen, protocol.pseudo_unseen
    train = protocol.views["seen_train"]
    train = train[np.isin(labels[train], pseudo_seen)]
    val = protocol.views["seen_val"]
    probe = make_method(method_name, **settings)
    probe.fit(features.subset(train), labels[train], text.take(pseudo_seen), seed=seed)
    candidates = pseudo_seen + pseudo_unseen
    val_scores = probe.scores(features.subset(val), text.take(candidates))
    chosen = select_gamma(val_scores, labels[val], candidates, pseudo_seen, pseudo_unseen)
    is_pu = np.isin(labels[val], pseudo_unseen)
    pu_cols = np.isin(candidates, pseudo_unseen)
    pseudo_zsl = accuracy(predict(val_scores[is_pu][:, pu_cols], np.asarray(candidates)[pu_cols]),
                          labels[val][is_pu])
    return {"gamma": chosen["gamma"], "val_H": chosen["H"], "val_S": chosen["S"], "val_U": chosen["U"],
            "val_pseudo_zsl_top1": pseudo_zsl, "pseudo_unseen": list(pseudo_unseen), "curve": chosen["curve"]}


def protocol_for(config: RunConfig, data: SkeletonSet) -> Protocol:
    """The protocol views a run of ``config`` uses on ``data``."""
    split = parse_split(config.split, data.num_classes)
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
                   show_progress=show_progress)
    features = pre.features
    lap("pretrain_backbone")

    method = make_method(config.method, **config.method_settings)
    bank = text_bank_for(data.name, data.class_names)
    encoder = CachedEncoder(get_encoder(config.encoder), config.cache_dir)
    text = embed_classes(bank, encoder, method.text_fields)
    lap("encode_text")

    labels = data.labels  # test labels are read again only in the metrics block below
    selected = select_calibration(config.method, config.method_settings, features, labels, protocol, text,
                                  config.seed)
    lap("select_on_seen_val")

    train = protocol.views["seen_train"]
    method.fit(features.subset(train), labels[train], text.take(protocol.seen), seed=config.seed,
               show_progress=show_progress)
    lap("fit_method")

    # ---- the test set, touched once: scores and predictions first, without labels ----
    views = protocol.views
    all_classes = protocol.seen + protocol.unseen
    scores, predictions = {}, {}
    if protocol.unseen:
        scores["zsl"] = method.scores(features.subset(views["unseen_test"]), text.take(protocol.unseen))
        predictions["zsl"] = predict(scores["zsl"], protocol.unseen)
        scores["gzsl"] = method.scores(features.subset(views["gzsl_test"]), text.take(all_classes))
        predictions["gzsl"] = calibrated_predict(scores["gzsl"], all_classes, protocol.seen, selected["gamma"])
        predictions["gzsl_uncalibrated"] = predict(scores["gzsl"], all_classes)
    scores["seen"] = method.scores(features.subset(views["seen_test"]), text.take(protocol.seen))
    predictions["seen"] = predict(scores["seen"], protocol.seen)
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
    lap("metrics")

    record = {
        "dataset": data.name,
        "data_source": data.source,
        "samples": len(data),
        "split": split.as_dict(),
        "setting": config.setting,
        "protocol_sizes": protocol.sizes(),
        "backbone": asdict(config.backbone),
        "backbone_cache": {"key": pre.key, "hit": pre.cache_hit, "best_epoch": pre.best_epoch,
                           "seen_val_accuracy": pre.seen_val_accuracy},
        "encoder": config.encoder,
        "text_source": bank.source,
        "method": config.method,
        "method_settings": method.settings(),
        "seed": config.seed,
        "selected": {k: v for k, v in selected.items() if k != "curve"},
        "metrics": {k: round(float(v), 6) for k, v in metrics.items()},
        "timings_s": timings,
        "versions": versions(),
    }
    return RunResult(record, data, protocol, pre, bank, text, method, predictions, scores, selected)


def versions() -> dict:
    import torch

    return {"zssar": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}
