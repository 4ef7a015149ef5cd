"""``BackboneConfig``: which network, which input stream, and how it is trained on the seen classes.

The registry :data:`BACKBONES` names the networks (``stgcn``, ``shiftgcn``, ``ctrgcn``). Two optimisers:

* ``adam`` (the CPU default): Adam with a one-cycle schedule, small networks, 20 epochs;
* ``sgd`` (the papers'): SGD with Nesterov momentum 0.9, weight decay 5e-4, a linear warm-up over
  ``warmup_epochs`` and the rate divided by 10 at every epoch in ``lr_steps``;
  :meth:`BackboneConfig.paper` gives the papers' full configuration (10 blocks, 64-128-256 channels,
  64 frames, lr 0.1, 5 warm-up epochs, 65 epochs with steps at 35 and 55, as CTR-GCN trains NTU).

``precision="bfloat16"`` runs training and feature extraction under ``torch.autocast`` with bfloat16
(weights, gradients and the optimiser stay float32; features are stored as float32): the speed a
GPU's tensor cores give, at another set of numbers than float32, so it is part of the cache key.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..errors import InvalidConfig
from ..registry import Registry
from .streams import STREAMS

OPTIMIZERS = ("adam", "sgd")
PRECISIONS = ("float32", "bfloat16")  # bfloat16 needs no loss scaling (float16 would)
PAPER_CHANNELS = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
PAPER_STRIDES = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)


def _networks() -> None:
    from .ctrgcn import CTRGCN
    from .shiftgcn import ShiftGCN
    from .stgcn import STGCN

    BACKBONES.register("stgcn", STGCN)
    BACKBONES.register("shiftgcn", ShiftGCN)
    BACKBONES.register("ctrgcn", CTRGCN)


BACKBONES = Registry("backbone", load=_networks)
BACKBONE_NAMES = ("ctrgcn", "shiftgcn", "stgcn")  # without importing torch; the registry holds the classes


@dataclass(frozen=True)
class BackboneConfig:
    """Backbone and its seen-class training. Defaults: a CPU-sized ST-GCN on the joint stream."""

    name: str = "stgcn"
    channels: tuple[int, ...] = (32, 64, 64)
    strides: tuple[int, ...] = (2, 2, 1)
    temporal_kernel: int = 9  # ST-GCN only; Shift-GCN shifts, CTR-GCN uses its multi-scale module
    dropout: float = 0.1
    frames: int = 32
    epochs: int = 20
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 5e-4
    augment: bool = True  # random rotation about the vertical axis and scaling, training only
    stream: str = "joint"
    optimizer: str = "adam"  # adam (one-cycle) | sgd (Nesterov, warm-up, step decay)
    momentum: float = 0.9  # sgd only
    warmup_epochs: int = 0  # sgd only: linear warm-up
    lr_steps: tuple[int, ...] = ()  # sgd only: epochs after which the rate is divided by 10
    precision: str = "float32"  # float32 | bfloat16: forward passes under torch.autocast (mixed precision)

    def __post_init__(self):
        if self.name not in BACKBONE_NAMES:
            raise InvalidConfig(f"unknown backbone {self.name!r}; registered backbones: {list(BACKBONE_NAMES)}")
        if self.stream not in STREAMS:
            raise InvalidConfig(f"unknown input stream {self.stream!r}; use one of {list(STREAMS)}")
        if self.optimizer not in OPTIMIZERS:
            raise InvalidConfig(f"unknown optimizer {self.optimizer!r}; use one of {list(OPTIMIZERS)}")
        if self.epochs < 1 or self.batch_size < 1 or self.frames < 4:
            raise InvalidConfig("backbone epochs and batch_size must be >= 1 and frames >= 4")
        if len(self.channels) != len(self.strides) or not self.channels:
            raise InvalidConfig(f"backbone channels {self.channels} and strides {self.strides} must be "
                                "non-empty and of the same length (one entry per block)")
        if self.precision not in PRECISIONS:
            raise InvalidConfig(f"unknown precision {self.precision!r}; use one of {list(PRECISIONS)} (bfloat16: "
                                "mixed precision, weights and optimiser stay float32)")
        if self.warmup_epochs < 0 or any(s < 1 for s in self.lr_steps):
            raise InvalidConfig("warmup_epochs must be >= 0 and every lr step an epoch >= 1")

    @classmethod
    def paper(cls, name: str, **changes) -> "BackboneConfig":
        """The papers' configuration of a backbone (10 blocks, 64 frames, SGD); a GPU is advisable."""
        base = dict(name=name, channels=PAPER_CHANNELS, strides=PAPER_STRIDES, frames=64, epochs=65,
                    batch_size=64, lr=0.1, dropout=0.0, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
                    warmup_epochs=5, lr_steps=(35, 55))
        return cls(**(base | changes))

    @classmethod
    def from_dict(cls, d: dict) -> "BackboneConfig":
        """A config from a record's ``backbone`` field (fields it lacks take their defaults; the
        objective, stored there by older records, is a run setting now and is ignored here)."""
        known = {f.name for f in fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known}
        return cls(**values)

    def identity(self) -> dict:
        """The settings that define the features; the optimiser's fields count only where they apply."""
        d = asdict(self)
        if self.precision == "float32":  # the default, so entries from before the field keep their key
            d.pop("precision")
        if self.optimizer == "adam":
            for key in ("momentum", "warmup_epochs", "lr_steps"):
                d.pop(key)
        return d


def build_backbone(config: BackboneConfig, layout, num_classes: int):
    """The untrained network named by ``config.name`` for a skeleton ``layout``."""
    common = dict(channels=tuple(config.channels), strides=tuple(config.strides), dropout=config.dropout)
    if config.name == "stgcn":
        common["temporal_kernel"] = config.temporal_kernel
    return BACKBONES.get(config.name)(layout, num_classes, **common)
