"""The results record of one run, and the identity that tells two runs apart.

A :class:`ResultRecord` is what every run produces and what the results tables read: one JSON line
per run (:func:`zssar.results.append_record`). Its fields are typed here; it also reads like the
dict it is stored as (``record["metrics"]``), so tables and notebooks use either form.

:func:`run_identity` says which record a configuration would produce, from the configuration and
the dataset alone (the split is parsed, no protocol is built, nothing is trained); a sweep skips a run
whose identity is already recorded. :func:`record_identity` reads the same identity back from a
stored record; records written before a setting existed read as that setting's default.
"""
from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field, fields

from . import __version__
from .results import json_default


@dataclass
class ResultRecord:
    """Everything one run reports (the JSON shape of a line of a results table)."""

    dataset: str
    data_source: str
    samples: int
    split: dict  # name, seen, unseen, source
    setting: str
    protocol_sizes: dict
    backbone: dict  # BackboneConfig fields
    objective: str  # backbone pretraining objective: "ce" or a method's (e.g. "gap")
    backbone_cache: dict  # key, hit, best_epoch, seen_val_accuracy
    calibration: dict  # {"backbone": "shared" | "held_out", ...}
    encoder: str
    text_source: str
    method: str
    method_settings: dict
    seed: int
    selected: dict  # everything chosen on seen_val
    metrics: dict
    per_class: dict
    timings_s: dict
    versions: dict
    objective_settings: dict = field(default_factory=dict)
    text: str = "project"  # project | borrowed | label | file:<digest> (records before it: project)
    text_provenance: list = field(default_factory=list)  # per class: its text's kind, and from where
    borrow_rule: str = ""  # text "borrowed": the matching rule (zssar.text.borrow.BORROW_RULE); "" otherwise
    unseen_text_in_training: bool = False  # a method variant trained on every class's text: not zero-shot

    def __getitem__(self, key: str):
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __contains__(self, key: str) -> bool:
        return key in self.keys()

    def get(self, key: str, default=None):
        return getattr(self, key, default)

    def keys(self) -> list[str]:
        return [f.name for f in fields(self)]

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=json_default))

    @classmethod
    def from_dict(cls, d: dict) -> "ResultRecord":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _requested(method: str, settings: dict) -> dict:
    """The method's settings as they define a run: every current setting (a record that lacks one ran
    with its default), without the ones chosen on ``seen_val`` (the grid they are chosen from stays)."""
    from .methods.base import make_method

    defaults = make_method(method)
    current = defaults.settings()
    chosen = defaults.selectable()
    merged = {k: settings.get(k, v) for k, v in current.items()}
    return {k: v for k, v in merged.items() if k not in chosen}


def _backbone_identity(backbone: dict) -> dict:
    from .backbones.config import BackboneConfig

    return BackboneConfig.from_dict(backbone).identity()


def _identity(dataset, samples, split_name, setting, method, method_settings, seed, encoder, backbone: dict,
              objective: str, objective_settings: dict, calibration: str, text: str = "project",
              borrow_rule: str = "") -> dict:
    identity = {"dataset": dataset, "samples": samples, "split": split_name, "setting": setting, "method": method,
                "method_settings": _requested(method, method_settings), "seed": seed, "encoder": encoder,
                "backbone": _backbone_identity(backbone), "objective": objective}
    if objective != "ce":
        identity["objective_settings"] = objective_settings
    if calibration != "shared":  # nothing for the default, so older records keep their identity
        identity["calibration"] = calibration
    if text != "project":  # likewise: a run on the project's descriptions keeps its identity
        identity["text"] = text
    if text == "borrowed":  # borrowing under another rule is another text
        identity["borrow_rule"] = borrow_rule
    return json.loads(json.dumps(identity, default=json_default))


def run_identity(config, data, split=None) -> dict:
    """What makes two runs the same run: the fields of a record that a rerun must match to be skipped.

    ``split``: the parsed split of ``config.split`` when the caller has it already."""
    from .data.settings import resolve_setting
    from .data.splits import parse_split
    from .methods.base import make_method
    from .text.borrow import BORROW_RULE
    from .text.descriptions import text_choice

    split = split or parse_split(config.split, data.num_classes, class_names=data.class_names)
    settings = make_method(config.method, **config.method_settings).settings()
    return _identity(data.name, len(data), split.name, resolve_setting(data, config.setting), config.method,
                     settings, config.seed, config.encoder, asdict(config.backbone), config.objective,
                     objective_settings_of(config), config.calibration,
                     text_choice(data.name, config.text, config.descriptions), BORROW_RULE)


def objective_settings_of(config) -> dict:
    """The full settings of the run's pretraining objective ({} for cross-entropy)."""
    return _objective_settings(config.objective, config.objective_settings)


def _objective_settings(name: str, settings: dict) -> dict:
    if name == "ce":
        return {}
    from .methods.base import OBJECTIVES

    return OBJECTIVES.get(name).full_settings(settings)


def record_identity(record) -> dict:
    """:func:`run_identity` read back from a record (a dict or a :class:`ResultRecord`)."""
    return _identity(record["dataset"], record["samples"], record["split"]["name"], record["setting"],
                     record["method"], record["method_settings"], record["seed"], record["encoder"],
                     record["backbone"], record.get("objective", "ce") or "ce",
                     record.get("objective_settings") or _older_objective_settings(record),
                     (record.get("calibration") or {}).get("backbone", "shared"), record.get("text") or "project",
                     record_borrow_rule(record))


def identity_key(identity: dict) -> str:
    """A run identity (:func:`run_identity`, :func:`record_identity`) as one string, for sets and dicts."""
    return json.dumps(identity, sort_keys=True)


def record_borrow_rule(record) -> str:
    """The borrowing rule of a record with borrowed text: records written before the rule was named
    used the only rule there was, ``nearest``."""
    return (record.get("borrow_rule") or "nearest") if record.get("text") == "borrowed" else ""


def _older_objective_settings(record) -> dict:
    """Records written while an objective's settings lived in the backbone config (GAP's, under the
    backbone's ``gap`` key, with the encoder it then had of its own) kept them there."""
    name = record.get("objective") or "ce"
    if name == "ce":
        return {}
    old = dict(record["backbone"].get(name) or {})
    old.pop("encoder", None)
    return _objective_settings(name, old)


def machine() -> dict:
    """The CPU and the instruction set torch's kernels use: two machines that differ here may give
    different floating-point rounding, and so different numbers, for the same run (so may two thread
    counts on one machine: :func:`versions` keeps torch's)."""
    import torch

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    capability = torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else ""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cpu_capability": capability, "gpu": gpu}


def versions() -> dict:
    import numpy as np
    import torch

    return {"zssar": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "machine": machine(), "threads": torch.get_num_threads()}
