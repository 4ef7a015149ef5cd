"""The method interface as the runner uses it: needs checked before training, every method on any
backbone from the command line, cache keys that depend on what made the features and nothing else."""
import json
from dataclasses import replace

import numpy as np
import pytest

from zssar.backbones.cache import cache_key
from zssar.data.interchange import save_npz
from zssar.data.protocol import ProtocolConfig, build_protocol
from zssar.data.registry import load_dataset
from zssar.data.splits import parse_split
from zssar.errors import InvalidConfig, InvalidData
from zssar.methods.base import METHODS, Method, Needs, Scores, make_method, method_names
from zssar.runner import RunConfig, check_needs, class_text_for, run_experiment
from zssar.text.descriptions import text_bank_for

SPLIT = "random:3:seed=2"


@pytest.fixture(scope="module")
def small():
    return load_dataset("synthetic", num_subjects=4, repetitions=2, frames=24)


def test_a_method_that_needs_text_the_run_lacks_is_refused_before_training(small, tiny_backbone, tmp_path):
    label_only = text_bank_for("mine", small.class_names, text="label")  # class names only: no part or phase text
    config = RunConfig(split=SPLIT, method="purls", backbone=tiny_backbone, cache_dir=str(tmp_path))
    with pytest.raises(InvalidData, match="no text for field 'purls_parts.head'"):
        run_experiment(config, data=small, bank=label_only, show_progress=False)
    assert not (tmp_path / "features").exists()  # refused before any backbone was trained
    text = class_text_for(config, small)
    with pytest.raises(InvalidConfig, match="no masked-language-model head.*bert-base-uncased"):
        check_needs(_NeedsMLM(), text)


class _NeedsMLM(Method):
    name = "needs-mlm"
    needs = Needs(text_fields=("label",), masked_lm=True)


def test_unknown_settings_are_named_with_the_method_settings():
    with pytest.raises(InvalidConfig, match="method 'global' has no setting 'nosuch'; its settings: text_field"):
        make_method("global", nosuch=1)
    with pytest.raises(InvalidConfig, match="has no setting 'layout'.*granularity"):
        make_method("dynapurls", layout="ntu25")  # DynaPURLS's settings include PURLS's
    assert make_method("dynapurls", epochs=2).epochs == 2


def test_scores_are_float32_with_their_temperature():
    s = Scores(np.ones((2, 3), dtype=np.float64), temperature=0.5)
    assert s.values.dtype == np.float32 and s.gate is None and s.trace is None


@pytest.mark.parametrize("method", method_names())
def test_every_method_runs_on_a_chosen_backbone_from_the_command_line(method, small, tmp_path, capsys):
    from zssar.cli import main

    path = save_npz(small, tmp_path / "small.npz")
    fast = {"global": ["epochs=2"], "gap": ["epochs=2"], "purls": ["epochs=1", "hidden=16", "attention_dim=8"],
            "dynapurls": ["epochs=1", "hidden=16", "attention_dim=8", 'grid={"bank_size": [4]}'],
            "scople": ["epochs=1"], "star": ["epochs=1"]}.get(method, ["epochs=1"])
    args = ["run", "--dataset", f"npz:{path}", "--split", SPLIT, "--method", method, "--backbone", "shiftgcn",
            "--epochs", "1", "--frames", "16", "--cache", str(tmp_path / "cache"), "--json", "--quiet"]
    for setting in fast:
        args += ["--set", setting]
    assert main(args) == 0
    record = json.loads(capsys.readouterr().out)["records"][0]
    assert record["backbone"]["name"] == "shiftgcn" and record["backbone"]["frames"] == 16
    assert record["method"] == method and 0.0 <= record["metrics"]["zsl_top1"] <= 1.0


def test_the_cache_key_does_not_depend_on_how_the_setting_is_spelled_or_where_data_lives(small, tiny_backbone,
                                                                                        tmp_path):
    split = parse_split(SPLIT, small.num_classes)
    default = build_protocol(small, split, ProtocolConfig(setting="default"))
    spelled = build_protocol(small, split, ProtocolConfig(setting="cross_subject"))
    assert default.setting == spelled.setting == "cross_subject"
    assert cache_key(small, default, tiny_backbone, 0) == cache_key(small, spelled, tiny_backbone, 0)
    here, there = tmp_path / "a" / "x.npz", tmp_path / "b" / "c" / "x.npz"
    here.parent.mkdir(parents=True)
    there.parent.mkdir(parents=True)
    keys = set()
    for path in (here, there):
        save_npz(small, path)
        data = load_dataset(f"npz:{path}")
        keys.add(cache_key(data, build_protocol(data, split), tiny_backbone, 0))
    assert len(keys) == 1
    assert cache_key(small, default, replace(tiny_backbone, epochs=3), 0) != cache_key(small, default, tiny_backbone, 0)


def test_the_registries_name_what_they_hold():
    from zssar.backbones.config import BACKBONES, BACKBONE_NAMES
    from zssar.data.registry import DATASETS
    from zssar.data.split_registry import SPLITS
    from zssar.methods.base import OBJECTIVES
    from zssar.selection import CALIBRATION
    from zssar.text.encoders import ENCODERS

    assert set(METHODS) >= {"global", "gap", "purls", "dynapurls"} and "gap" in OBJECTIVES
    assert BACKBONES.names() == sorted(BACKBONE_NAMES) and {"kard", "synthetic"} <= set(DATASETS)
    assert "synse:55/5" in SPLITS and CALIBRATION.names() == ["held_out", "shared"] and "minilm" in ENCODERS
    with pytest.raises(InvalidConfig, match="unknown method 'nope'; registered: .*dynapurls, gap, global"):
        METHODS.get("nope")
