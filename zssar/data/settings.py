"""Evaluation settings: which samples of a dataset are on the training side.

* ``cross_subject``: NTU RGB+D 60/120 use the official training performer lists (Shahroudy et al.
  2016, Liu et al. 2019); every other dataset trains on the first half of its sorted subject ids
  (KARD and UTKinect: subjects 1-5 train, 6-10 test), zssar's rule where no standard exists.
* ``cross_view``: NTU60 trains on cameras 2 and 3; NW-UCLA (and any multi-view set) trains on every
  view but the last (NW-UCLA: views 1, 2 train, 3 test, as in Wang et al. 2014).
* ``cross_setup``: NTU120 trains on the even setup ids (read from the sample names ``SsssC...``).
* ``default``: the dataset's usual setting (:data:`DEFAULT_SETTING`), cross_subject otherwise.

A set that carries an official partition for a setting (``SkeletonSet.official_train``, e.g. from a
CTR-GCN ``.npz`` or a pyskl split list) uses it instead of any rule. Works on any object with
``name``, ``subjects``, ``views``, ``sample_ids`` and ``class_names`` (a SkeletonSet or the
metadata-only :class:`zssar.data.ntu.SampleTable`).
"""
from __future__ import annotations

import numpy as np

from ..errors import InvalidConfig
from ..classnames import NTU60_CLASSES, NTU120_CLASSES
from .ntu_names import parse_ntu_names

SETTINGS = ("cross_subject", "cross_view", "cross_setup", "default")

NTU60_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
NTU120_TRAIN_SUBJECTS = NTU60_TRAIN_SUBJECTS + (
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92,
    93, 94, 95, 97, 98, 100, 103)
NTU60_TRAIN_CAMERAS = (2, 3)

DEFAULT_SETTING = {"ntu60": "cross_subject", "ntu120": "cross_subject", "pku-mmd": "cross_subject",
                   "nw-ucla": "cross_view", "kard": "cross_subject", "utkinect": "cross_subject"}


def ntu_version(data) -> int | None:
    """60 or 120 when ``data`` is NTU RGB+D (by its class list), else None."""
    names = tuple(data.class_names)
    if names == NTU120_CLASSES:
        return 120
    if names == NTU60_CLASSES:
        return 60
    return None


def resolve_setting(data, setting: str) -> str:
    """``default`` -> the dataset's own setting; other names are checked and returned."""
    if setting not in SETTINGS:
        raise InvalidConfig(f"unknown evaluation setting {setting!r}; use one of {', '.join(SETTINGS)}")
    if setting == "default":
        return DEFAULT_SETTING.get(data.name, "cross_subject")
    return setting


def train_side(data, setting: str) -> np.ndarray:
    """Boolean mask of the samples on the training side of ``setting`` for ``data``."""
    setting = resolve_setting(data, setting)
    official = getattr(data, "official_train", {}) or {}
    if setting in official:
        return np.asarray(official[setting], dtype=bool)
    version = ntu_version(data)
    if version is not None:
        return _ntu_train_side(data, setting, version)
    if setting == "cross_subject":
        subjects = np.unique(data.subjects)
        if len(subjects) < 2:
            raise InvalidConfig(f"{data.name}: cross_subject needs at least 2 subjects, found {len(subjects)}")
        return np.isin(data.subjects, subjects[: (len(subjects) + 1) // 2])
    if setting == "cross_view":
        views = np.unique(data.views)
        if len(views) < 2:
            raise InvalidConfig(f"{data.name}: cross_view needs at least 2 views, found {len(views)}; "
                                "use setting 'cross_subject'.")
        return data.views != views[-1]
    raise InvalidConfig(f"{data.name}: setting {setting!r} exists only for NTU RGB+D 120 (even setups train); "
                        "use 'cross_subject' or 'cross_view'.")


def _ntu_train_side(data, setting: str, version: int) -> np.ndarray:
    if setting == "cross_subject":
        subjects = NTU120_TRAIN_SUBJECTS if version == 120 else NTU60_TRAIN_SUBJECTS
        return np.isin(data.subjects, subjects)
    if setting == "cross_view":
        if version != 60:
            raise InvalidConfig("NTU RGB+D 120 uses 'cross_setup' rather than 'cross_view'.")
        return np.isin(data.views, NTU60_TRAIN_CAMERAS)
    if version != 120:
        raise InvalidConfig("NTU RGB+D 60 has no 'cross_setup' setting; use 'cross_view'.")
    setups = parse_ntu_names(data.sample_ids)["setup"]
    return setups % 2 == 0
