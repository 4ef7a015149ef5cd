"""``RunConfig``: everything that defines one run, as a value (the runner, the sweep and its jobs
share it; :meth:`RunConfig.to_dict` / :meth:`RunConfig.from_dict` carry it as JSON)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .backbones.config import BackboneConfig
from .errors import InvalidConfig
from .methods.base import OBJECTIVES
from .selection import CALIBRATION
from .text.descriptions import TEXT_CHOICES


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one run. Every notebook parameter maps to one field here."""

    dataset: str = "synthetic"
    split: str = "random:5:seed=0"  # the split spec; random splits carry their own seed
    setting: str = "default"  # each dataset's standard setting (cross-view for NW-UCLA, ...)
    method: str = "global"
    seed: int = 0  # the run's seed: seen_val hold-out, pseudo-unseen classes, backbone, method
    encoder: str = "minilm"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    objective: str = "ce"  # backbone pretraining: "ce" (cross-entropy) or a method's objective ("gap")
    objective_settings: dict = field(default_factory=dict)  # e.g. GAP's partition, text, weight, text_tower
    method_settings: dict = field(default_factory=dict)
    dataset_options: dict = field(default_factory=dict)
    data_root: str | None = None
    cache_dir: str | None = None
    calibration: str = "shared"  # the backbone choices on seen_val are made on: shared | held_out
    text: str = "auto"  # class text: auto | project | borrowed | label (zssar.text.descriptions.text_bank_for)
    descriptions: str | None = None  # a description file of the user's own (overrides ``text``)
    # allow a method variant that trains on every class's text (STAR's all-class L_SCE): not zero-shot
    unseen_text_in_training: bool = False

    def __post_init__(self):
        if self.calibration not in CALIBRATION:
            raise InvalidConfig(f"calibration {self.calibration!r}: use one of ['shared', 'held_out']")
        if self.objective != "ce":
            OBJECTIVES.get(self.objective).full_settings(self.objective_settings)
        if self.text not in TEXT_CHOICES:
            raise InvalidConfig(f"text {self.text!r}: use one of {list(TEXT_CHOICES)} (or descriptions=FILE)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise InvalidConfig(f"seed {self.seed!r}: use a whole number >= 0")

    def to_dict(self) -> dict:
        """Every field as JSON values (a sweep job carries its configuration this way)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InvalidConfig(f"run configuration has unknown field(s) {unknown}; it has {sorted(known)}")
        values = dict(d)
        if isinstance(values.get("backbone"), dict):
            values["backbone"] = BackboneConfig.from_dict(values["backbone"])
        return cls(**values)
