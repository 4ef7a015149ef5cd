"""Protocol settings, the split registry and its leak guard, and the NTU sizes from the name lists."""
import os
from pathlib import Path

import numpy as np
import pytest

from zssar.classnames import CLASS_NAMES
from zssar.data.ntu import SampleTable, ntu_sample_table
from zssar.data.protocol import ProtocolConfig, assert_no_leak, build_protocol, train_mask
from zssar.data.split_registry import SPLITS, registered_splits, split_for
from zssar.data.splits import parse_split
from zssar.errors import InvalidConfig, InvalidSplit


def _table(dataset: str, per_class: int = 6) -> SampleTable:
    """Every class of ``dataset`` performed by several subjects, with NTU-style names."""
    classes = CLASS_NAMES[dataset]
    k = len(classes)
    labels = np.repeat(np.arange(k), per_class)
    subjects = np.tile([1, 3, 2, 6, 4, 7], k)[: len(labels)]  # NTU: 1, 2, 4 train; 3, 6, 7 test
    views = np.tile([1, 2, 3], 2 * k)[: len(labels)]
    setups = np.tile([1, 2], 3 * k)[: len(labels)]
    names = [f"S{s:03d}C{v:03d}P{p:03d}R001A{a + 1:03d}" for s, v, p, a in zip(setups, views, subjects, labels)]
    return SampleTable(dataset, classes, tuple(names), labels, subjects, views)


DEFAULT_SETTING = {"ntu60": "cross_subject", "ntu120": "cross_setup", "pku-mmd": "cross_subject",
                   "nw-ucla": "cross_view"}


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_every_registered_split_passes_the_leak_guard(name):
    registered = SPLITS[name]
    table = _table(registered.dataset)
    split = split_for(table, name)
    assert len(split.seen) + len(split.unseen) == table.num_classes and split.unseen == registered.unseen
    protocol = build_protocol(table, split, ProtocolConfig(setting=DEFAULT_SETTING[registered.dataset]))
    labels = table.labels
    for view in ("seen_train", "seen_val"):
        assert len(protocol.views[view]) and not np.isin(labels[protocol.views[view]], split.unseen).any()
    assert set(labels[protocol.views["unseen_test"]]) == set(split.unseen)
    assert not set(protocol.pseudo_unseen) & set(split.unseen)
    assert len(protocol.pseudo_unseen) == min(len(split.unseen), len(split.seen) - 2)
    # the guard fires on a poisoned selection view
    poisoned = dict(protocol.views, seen_train=np.r_[protocol.views["seen_train"], protocol.views["unseen_test"][:1]])
    with pytest.raises(InvalidSplit, match="leak"):
        assert_no_leak(type(protocol)(split, protocol.config, poisoned, protocol.pseudo_unseen,
                                      protocol.class_names), labels)


def test_registry_covers_the_published_table():
    assert {s.dataset for s in SPLITS.values()} == {"ntu60", "ntu120", "pku-mmd", "nw-ucla"}
    assert len(registered_splits("ntu60")) == 8 and len(registered_splits("pku-mmd")) == 8
    assert SPLITS["synse:55/5"].unseen == (10, 11, 19, 26, 56)
    assert all(s.source for s in SPLITS.values())


def test_split_naming_a_class_the_dataset_lacks():
    utk = _table("utkinect")
    with pytest.raises(InvalidSplit, match="published for nw-ucla.*does not have"):
        split_for(utk, "purls:5/5")  # same class count, other classes
    with pytest.raises(InvalidSplit, match="names class 'jump', which the dataset does not have"):
        split_for(utk, "unseen=walk,jump")
    split = split_for(utk, "unseen=walk,sit down")
    assert split.unseen == (0, 1)
    # a split published for one dataset and built without class names is still refused by the protocol
    with pytest.raises(InvalidSplit, match="made for other classes"):
        build_protocol(utk, parse_split("purls:5/5", 10))


def test_settings_follow_the_official_rules():
    ntu60, ntu120, ucla = _table("ntu60"), _table("ntu120"), _table("nw-ucla")
    assert set(ntu60.subjects[train_mask(ntu60, "cross_subject")]) == {1, 2, 4}
    assert set(ntu60.views[train_mask(ntu60, "cross_view")]) == {2, 3}
    setups = np.array([int(s[1:4]) for s in ntu120.sample_ids])
    assert set(setups[train_mask(ntu120, "cross_setup")]) == {2}
    assert set(ucla.views[train_mask(ucla, "cross_view")]) == {1, 2}
    assert np.array_equal(train_mask(ucla, "default"), train_mask(ucla, "cross_view"))
    kard = _table("kard")
    assert set(kard.subjects[train_mask(kard, "cross_subject")]) == {1, 2, 3}  # first half of 1,2,3,4,6,7
    with pytest.raises(InvalidConfig, match="only for NTU RGB\\+D 120"):
        train_mask(kard, "cross_setup")
    with pytest.raises(InvalidConfig, match="has no 'cross_setup'"):
        train_mask(ntu60, "cross_setup")
    with pytest.raises(InvalidConfig, match="unknown evaluation setting"):
        train_mask(kard, "cross_age")
    protocol = build_protocol(ucla, parse_split("none", 10), ProtocolConfig(setting="default"))
    assert protocol.describe()["setting"] == "cross_view"


def _metadata() -> Path | None:
    candidates = [os.environ.get("ZSSAR_NTU_METADATA")]
    if os.environ.get("ZSSAR_DATA"):
        candidates.append(str(Path(os.environ["ZSSAR_DATA"]) / ".." / "ntu-metadata"))
    return next((Path(c) for c in candidates if c and (Path(c) / "ntu60").is_dir()), None)


@pytest.mark.realdata
@pytest.mark.parametrize("dataset, setting, train, test", [
    ("ntu60", "cross_subject", 40091, 16487), ("ntu60", "cross_view", 37646, 18932),
    ("ntu120", "cross_subject", 63026, 50919), ("ntu120", "cross_setup", 54468, 59477),
])
def test_ntu_sizes_from_the_sample_lists(dataset, setting, train, test):
    metadata = _metadata()
    if metadata is None:
        pytest.skip("needs the NTU sample-name lists: set ZSSAR_NTU_METADATA or ZSSAR_DATA/../ntu-metadata")
    table = ntu_sample_table(dataset, metadata)
    protocol = build_protocol(table, parse_split("none", table.num_classes), ProtocolConfig(setting=setting))
    sizes = protocol.sizes()
    assert sizes["seen_train"] + sizes["seen_val"] == train and sizes["gzsl_test"] == test
    zsl = build_protocol(table, split_for(table, "synse:55/5" if dataset == "ntu60" else "synse:110/10"),
                         ProtocolConfig(setting=setting))
    assert zsl.sizes()["gzsl_test"] == test and 0 < zsl.sizes()["unseen_test"] < test
