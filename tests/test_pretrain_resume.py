"""A damaged or stale per-epoch training state (``state.pt`` in a cache entry's build folder) is
reported with a warning naming the file, removed, and pretraining starts again from epoch 1,
ending with exactly the numbers of an uninterrupted run."""
import re
import shutil
from dataclasses import replace

import numpy as np
import pytest

from zssar.backbones import checkpoints
from zssar.backbones.pretrain import pretrain
from zssar.data.protocol import build_protocol
from zssar.data.splits import parse_split

SPLIT = "random:3:seed=1"


@pytest.fixture
def config(tiny_backbone):
    return replace(tiny_backbone, name="shiftgcn", epochs=3)


@pytest.fixture(scope="module")
def whole_cache(tmp_path_factory):
    """Where the uninterrupted run is stored: trained by the first test, read back by the others."""
    return tmp_path_factory.mktemp("uninterrupted")


@pytest.fixture
def protocol(tiny_data):
    return build_protocol(tiny_data, parse_split(SPLIT, tiny_data.num_classes))


def _interrupt_after(epochs, monkeypatch):
    """Make pretraining stop (as if killed) right after saving the state of epoch ``epochs``."""
    real_save, saves = checkpoints.save, []

    def save_then_stop(*args):
        real_save(*args)
        saves.append(1)
        if len(saves) == epochs:
            raise KeyboardInterrupt(f"simulated interruption after epoch {epochs}")

    monkeypatch.setattr(checkpoints, "save", save_then_stop)
    return lambda: monkeypatch.setattr(checkpoints, "save", real_save)


def _state_file(cache, key):
    return cache / "features" / f".build-{key}" / "state.pt"


def _same_as(run, whole):
    """A fresh training run (not read from a cache) with exactly the numbers of ``whole``."""
    assert not run.cache_hit and run.meta["resumed_from_epoch"] == 0
    assert run.history == whole.history and run.best_epoch == whole.best_epoch
    np.testing.assert_array_equal(run.features.tokens, whole.features.tokens)
    np.testing.assert_array_equal(run.logits, whole.logits)


def _damage(path, how):
    raw = path.read_bytes() if path.exists() else b""
    if how == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "garbled":  # same length, some bytes in the middle of the weights flipped
        middle = len(raw) // 2
        path.write_bytes(raw[:middle] + bytes(b ^ 0x5A for b in raw[middle:middle + 64]) + raw[middle + 64:])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "not a state":  # e.g. a plain torch file put there by hand or by an older version
        import torch

        torch.save({"net": {}}, path)


@pytest.mark.parametrize("how", ["truncated", "garbled", "empty", "not a state"])
def test_damaged_state_is_reported_and_training_restarts(how, tiny_data, protocol, config, whole_cache, tmp_path,
                                                        monkeypatch):
    whole = pretrain(tiny_data, protocol, config, cache_dir=whole_cache, show_progress=False)
    state = _state_file(tmp_path / "cut", whole.key)
    if how in ("truncated", "garbled"):  # damage a real state, left by a run stopped after epoch 2
        restore = _interrupt_after(2, monkeypatch)
        with pytest.raises(KeyboardInterrupt):
            pretrain(tiny_data, protocol, config, cache_dir=tmp_path / "cut", show_progress=False)
        restore()
    else:
        state.parent.mkdir(parents=True)
    _damage(state, how)
    with pytest.warns(RuntimeWarning, match=re.escape(str(state)) + ".*starts again from epoch 1"):
        again = pretrain(tiny_data, protocol, config, cache_dir=tmp_path / "cut", show_progress=False)
    _same_as(again, whole)
    assert not state.parent.exists()  # the build folder is cleaned up after the entry is stored
    assert pretrain(tiny_data, protocol, config, cache_dir=tmp_path / "cut", show_progress=False).cache_hit


def test_state_of_another_configuration_is_not_resumed(tiny_data, protocol, config, whole_cache, tmp_path,
                                                       monkeypatch):
    """Same architecture, other learning rate: its weights would load, but they are not this run's."""
    whole = pretrain(tiny_data, protocol, config, cache_dir=whole_cache, show_progress=False)
    other = replace(config, lr=config.lr * 3)
    restore = _interrupt_after(1, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        pretrain(tiny_data, protocol, other, cache_dir=tmp_path / "cut", show_progress=False)
    restore()
    other_state = next((tmp_path / "cut" / "features").glob(".build-*/state.pt"))
    assert other_state.parent.name != f".build-{whole.key}"
    state = _state_file(tmp_path / "cut", whole.key)
    state.parent.mkdir(parents=True)
    shutil.copy(other_state, state)  # a stale state where this configuration looks for its own
    with pytest.warns(RuntimeWarning, match=re.escape(str(state)) + ".*another configuration"):
        again = pretrain(tiny_data, protocol, config, cache_dir=tmp_path / "cut", show_progress=False)
    _same_as(again, whole)


def test_an_intact_state_resumes_without_a_warning(tiny_data, protocol, config, whole_cache, tmp_path, monkeypatch):
    import warnings

    whole = pretrain(tiny_data, protocol, config, cache_dir=whole_cache, show_progress=False)
    restore = _interrupt_after(1, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        pretrain(tiny_data, protocol, config, cache_dir=tmp_path / "cut", show_progress=False)
    restore()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        resumed = pretrain(tiny_data, protocol, config, cache_dir=tmp_path / "cut", show_progress=False)
    assert resumed.meta["resumed_from_epoch"] == 1 and resumed.history == whole.history
    np.testing.assert_array_equal(resumed.features.tokens, whole.features.tokens)


def test_two_builders_of_one_backbone_train_it_once(tiny_data, protocol, config, tmp_path):
    """Two callers at once (two chapters of a parallel book build): one trains, the other waits for the
    lock and reads the entry the first wrote."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: pretrain(tiny_data, protocol, config, seed=0, cache_dir=tmp_path,
                                                show_progress=False), range(2)))
    assert sorted(r.cache_hit for r in runs) == [False, True]
    np.testing.assert_array_equal(runs[0].features.tokens, runs[1].features.tokens)
    assert len([p for p in (tmp_path / "features").iterdir() if not p.name.startswith(".")]) == 1


def test_bfloat16_mixed_precision_trains_its_own_entry_reproducibly(tiny_data, protocol, config, tmp_path):
    from zssar.backbones import cache
    from zssar.backbones.config import BackboneConfig
    from zssar.errors import InvalidConfig

    mixed = replace(config, precision="bfloat16")
    assert "precision" not in config.identity() and mixed.identity()["precision"] == "bfloat16"
    assert cache.cache_key(tiny_data, protocol, config, 0) != cache.cache_key(tiny_data, protocol, mixed, 0)
    first = pretrain(tiny_data, protocol, mixed, seed=0, cache_dir=tmp_path / "a", show_progress=False)
    again = pretrain(tiny_data, protocol, mixed, seed=0, cache_dir=tmp_path / "b", show_progress=False)
    plain = pretrain(tiny_data, protocol, config, seed=0, cache_dir=tmp_path / "a", show_progress=False)
    assert first.features.tokens.dtype == np.float32 and np.isfinite(first.features.tokens).all()
    assert all(np.isfinite(h["train_loss"]) for h in first.history)
    np.testing.assert_array_equal(first.features.tokens, again.features.tokens)  # same seed, same bits
    assert not plain.cache_hit and not np.array_equal(first.features.tokens, plain.features.tokens)
    # a record written before the field existed names the float32 backbone
    assert BackboneConfig.from_dict({k: v for k, v in config.__dict__.items() if k != "precision"}) == config
    with pytest.raises(InvalidConfig, match="unknown precision 'float16'; use one of"):
        replace(config, precision="float16")
