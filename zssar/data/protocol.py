"""The evaluation protocol: which samples each stage of an experiment may see.

From a dataset, a setting (which subjects/views are for training) and a class split, a
:class:`Protocol` builds index views:

* ``seen_train``: seen classes, training subjects — backbone and method training;
* ``seen_val``: held-out samples of the seen classes from the training subjects — every selection
  (checkpoints, epochs, the GZSL gamma) happens here, together with ``pseudo_unseen`` classes carved
  out of the seen classes so that GZSL settings can be tuned on a simulated zero-shot problem;
* ``seen_test``, ``unseen_test``, ``gzsl_test``: the test subjects' samples of seen, unseen and all
  classes. Only the experiment runner reads these, once.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InvalidConfig, InvalidSplit
from .skeleton import SkeletonSet
from .settings import resolve_setting, train_side
from .splits import Split

SELECTION_VIEWS = ("seen_train", "seen_val")
TEST_VIEWS = ("seen_test", "unseen_test", "gzsl_test")


@dataclass(frozen=True)
class ProtocolConfig:
    """How samples are divided. ``setting`` picks the train/test division of subjects or views."""

    setting: str = "default"  # the dataset's standard setting; see zssar.data.settings
    val_fraction: float = 0.2  # of each seen class's training samples, held out for selection
    num_pseudo_unseen: int | None = None  # default: as many as the split has unseen classes
    seed: int = 0

    def __post_init__(self):
        if not 0.0 < self.val_fraction < 1.0:
            raise InvalidConfig(f"val_fraction must lie strictly between 0 and 1, got {self.val_fraction}")


def train_mask(data: SkeletonSet, setting: str) -> np.ndarray:
    """Boolean mask of the samples on the training side of an evaluation setting.

    Official lists where they exist (NTU subjects, cameras and setups; partitions carried by the
    files); see :mod:`zssar.data.settings` for every rule and its source.
    """
    return train_side(data, setting)


@dataclass(frozen=True)
class Protocol:
    """Index views of one (dataset, setting, split). Build it with :func:`build_protocol`."""

    split: Split
    config: ProtocolConfig
    views: dict[str, np.ndarray]
    pseudo_unseen: tuple[int, ...]
    class_names: tuple[str, ...] = field(repr=False)
    resolved_setting: str = ""

    @property
    def setting(self) -> str:
        """The evaluation setting actually used (``default`` resolved to the dataset's own)."""
        return self.resolved_setting or self.config.setting

    @property
    def seen(self) -> tuple[int, ...]:
        return self.split.seen

    @property
    def unseen(self) -> tuple[int, ...]:
        return self.split.unseen

    @property
    def pseudo_seen(self) -> tuple[int, ...]:
        return tuple(c for c in self.split.seen if c not in self.pseudo_unseen)

    def sizes(self) -> dict[str, int]:
        return {name: int(len(idx)) for name, idx in self.views.items()}

    def describe(self) -> dict:
        names = self.class_names
        return {
            "setting": self.setting,
            "split": self.split.as_dict(),
            "seen_classes": [names[c] for c in self.seen],
            "unseen_classes": [names[c] for c in self.unseen],
            "pseudo_unseen_classes": [names[c] for c in self.pseudo_unseen],
            "sizes": self.sizes(),
        }


def build_protocol(data: SkeletonSet, split: Split, config: ProtocolConfig | None = None) -> Protocol:
    """Divide ``data`` into the protocol views; raises if any stage could see an unseen class."""
    config = config or ProtocolConfig()
    if split.num_classes != data.num_classes:
        raise InvalidSplit(
            f"split {split.name!r} was made for {split.num_classes} classes but {data.name} has {data.num_classes}"
        )
    if split.class_names and tuple(split.class_names) != tuple(data.class_names):
        missing = [c for c in split.class_names if c not in data.class_names]
        raise InvalidSplit(f"split {split.name!r} was made for other classes than {data.name}'s"
                           + (f" (e.g. {missing[:3]})" if missing else " (same names, other order)"))
    train = train_mask(data, config.setting)
    seen = np.isin(data.labels, split.seen)
    unseen = np.isin(data.labels, split.unseen)
    rng = np.random.default_rng(config.seed)

    # Stratified hold-out: a fraction of each seen class's training samples (at least one).
    seen_train, seen_val = [], []
    for c in split.seen:
        idx = np.flatnonzero(train & (data.labels == c))
        idx = idx[rng.permutation(len(idx))]
        n_val = max(1, int(round(config.val_fraction * len(idx)))) if len(idx) > 1 else 0
        seen_val.append(idx[:n_val])
        seen_train.append(idx[n_val:])
    seen_train = np.sort(np.concatenate(seen_train)) if seen_train else np.array([], dtype=np.int64)
    seen_val = np.sort(np.concatenate(seen_val)) if seen_val else np.array([], dtype=np.int64)

    n_pseudo = config.num_pseudo_unseen
    if n_pseudo is None:
        n_pseudo = len(split.unseen) if split.unseen else 0
    n_pseudo = min(n_pseudo, max(0, len(split.seen) - 2))
    pseudo = tuple(sorted(int(c) for c in rng.choice(split.seen, size=n_pseudo, replace=False))) if n_pseudo else ()

    views = {
        "seen_train": seen_train,
        "seen_val": seen_val,
        "seen_test": np.flatnonzero(~train & seen),
        "unseen_test": np.flatnonzero(~train & unseen),
        "gzsl_test": np.flatnonzero(~train & (seen | unseen)),
    }
    protocol = Protocol(split, config, views, pseudo, tuple(data.class_names),
                        resolve_setting(data, config.setting))
    assert_no_leak(protocol, data.labels)
    return protocol


def assert_no_leak(protocol: Protocol, labels: np.ndarray) -> None:
    """Raise if a training or selection view holds a sample of an unseen class."""
    unseen = set(protocol.unseen)
    for name in SELECTION_VIEWS:
        leaked = sorted(set(labels[protocol.views[name]].tolist()) & unseen)
        if leaked:
            raise InvalidSplit(f"leak: view {name!r} contains unseen class(es) {leaked}")
    if set(protocol.pseudo_unseen) & unseen:
        raise InvalidSplit("leak: a pseudo-unseen class is an unseen class")


def calibration_protocol(protocol: Protocol, labels: np.ndarray) -> Protocol:
    """The protocol of a held-out calibration backbone: trained on the pseudo-seen classes only.

    Its ``seen_train`` / ``seen_val`` are the run's, less the pseudo-unseen classes' samples, and its
    split counts the pseudo-unseen classes as unseen (so its cache key differs from the run's). A
    backbone trained on it has never seen a pseudo-unseen sample, as the run's backbone has never
    seen an unseen one; nothing of the test views changes.
    """
    pseudo_seen = protocol.pseudo_seen
    views = dict(protocol.views)
    for name in SELECTION_VIEWS:
        views[name] = views[name][np.isin(labels[views[name]], pseudo_seen)]
    split = Split(name=f"{protocol.split.name} (calibration: pseudo-unseen held out)", seen=pseudo_seen,
                  unseen=tuple(sorted(protocol.unseen + protocol.pseudo_unseen)),
                  num_classes=protocol.split.num_classes, source=protocol.split.source)
    return replace(protocol, split=split, views=views, pseudo_unseen=())
