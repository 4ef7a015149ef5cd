"""``torchrun -m zssar pretrain`` (DistributedDataParallel, 2 CPU processes under gloo) trains to the
numbers of one process with the same global batch, stores the entry a one-process run reuses, and
prints once.

The configuration makes every batch split unevenly (17 samples: 9 and 8) and leaves rank 1 without
a sample in the last batch of each epoch (256 = 15 * 17 + 1). In float32 the two trainings drift
apart through rounding only (measured on this config: train losses 1.1e-4 apart after one epoch,
3.4e-4 after two, seen_val accuracies equal; a 1e-7 relative change of one process's initial
weights moves its losses as much), so the exact comparison runs the backbone in float64
(``tests/zssar_float64.py``), where they agree to ~1e-15; the float32 one is held to tolerances.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
CONFIG = ["--dataset", "synthetic", "--split", "random:16", "--frames", "16", "--batch-size", "17", "--quiet", "--json"]


def _pretrain(cache, *, processes=1, float64=False, epochs=2):
    """``zssar pretrain`` in a subprocess (under torch.distributed.run when ``processes`` > 1)."""
    entry = [str(HERE / "zssar_float64.py")] if float64 else ["-m", "zssar"]
    launch = ["-m", "torch.distributed.run", f"--nproc_per_node={processes}", "--standalone"] if processes > 1 else []
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")])))
    env.pop("ZSSAR_DEVICE", None)
    done = subprocess.run([sys.executable, *launch, *entry, "pretrain", *CONFIG, "--epochs", str(epochs),
                           "--cache", str(cache)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)  # one JSON document: only rank 0 prints


@pytest.mark.slow
def test_two_processes_train_like_one(tmp_path):
    two = _pretrain(tmp_path / "two", processes=2, float64=True)
    one = _pretrain(tmp_path / "one", float64=True)
    assert two["cache_key"] == one["cache_key"] and not two["cache_hit"] and not one["cache_hit"]
    assert [h["seen_val_accuracy"] for h in two["history"]] == [h["seen_val_accuracy"] for h in one["history"]]
    assert [h["train_accuracy"] for h in two["history"]] == [h["train_accuracy"] for h in one["history"]]
    np.testing.assert_allclose([h["train_loss"] for h in two["history"]], [h["train_loss"] for h in one["history"]],
                               rtol=1e-12)
    assert two["best_epoch"] == one["best_epoch"] and two["seen_test_top1"] == one["seen_test_top1"]
    assert one["history"][-1]["seen_val_accuracy"] > 2 / 16  # it learnt: better than chance on 16 classes


@pytest.mark.slow
def test_float32_two_processes_are_close_to_one_and_their_entry_is_reused(tmp_path):
    two = _pretrain(tmp_path / "two", processes=2, epochs=1)
    assert not two["cache_hit"] and len(two["history"]) == 1
    (entry,) = (tmp_path / "two" / "features").iterdir()  # the build folder is gone, one entry is left
    assert entry.name == two["cache_key"]
    assert json.loads((entry / "meta.json").read_text())["processes"] == 2
    reused = _pretrain(tmp_path / "two", epochs=1)
    assert reused["cache_hit"] and reused["cache_key"] == two["cache_key"]
    for field in ("history", "best_epoch", "seen_val_accuracy", "seen_test_top1"):
        assert reused[field] == two[field]
    one = _pretrain(tmp_path / "one", epochs=1)  # measured: losses 1.1e-4 apart, accuracies equal
    assert one["cache_key"] == two["cache_key"]
    np.testing.assert_allclose([h["train_loss"] for h in two["history"]], [h["train_loss"] for h in one["history"]],
                               rtol=2e-3)
    np.testing.assert_allclose([h["seen_val_accuracy"] for h in two["history"]],
                               [h["seen_val_accuracy"] for h in one["history"]], atol=1.5 / 64)  # 64 val samples


def test_global_batch_dropout_draws_one_process_masks():
    """Each rank's rows of the global mask, and torch's generator after it, are one process's."""
    import torch

    from zssar.backbones.global_batch import BatchShare, GlobalDropout

    x = torch.randn(10, 4, 3, 2)  # 5 samples of 2 persons, as the blocks see them
    torch.manual_seed(3)
    whole = torch.nn.Dropout(0.3).train()(x)
    after = torch.get_rng_state()
    for rank in (0, 1):
        share = BatchShare(rank, 2)
        share.set(5)
        rows = (share.positions[:, None] * 2 + np.arange(2)).ravel()
        torch.manual_seed(3)
        part = GlobalDropout(0.3, share).train()(x[rows])
        assert torch.equal(part, whole[rows]) and torch.equal(torch.get_rng_state(), after)


@pytest.fixture
def one_process_group(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_global_batch_norm_is_batch_norm(one_process_group):
    """Output, input gradient and running statistics of nn.BatchNorm2d (here the world is one rank)."""
    import torch

    from zssar.backbones.global_batch import BatchShare, convert

    torch.manual_seed(0)
    plain = torch.nn.Sequential(torch.nn.BatchNorm2d(6, momentum=0.2))
    with torch.no_grad():
        plain[0].weight.uniform_(0.5, 1.5)
        plain[0].bias.uniform_(-1, 1)
    ours = convert(torch.nn.Sequential(torch.nn.BatchNorm2d(6, momentum=0.2)), BatchShare(0, 1), "cpu")
    ours.load_state_dict(plain.state_dict())
    assert type(ours[0]).__name__ == "GlobalBatchNorm" and ours.state_dict().keys() == plain.state_dict().keys()
    for step in range(3):
        x = (torch.randn(5, 6, 7, 4) * 3 + 2).requires_grad_()
        x2 = x.detach().clone().requires_grad_()
        y, y2 = plain(x), ours(x2)
        probe = torch.randn(y.shape)  # a loss whose gradient does not cancel to rounding noise
        ((y + 1).square() * probe).sum().backward()
        ((y2 + 1).square() * probe).sum().backward()
        torch.testing.assert_close(y2, y)
        torch.testing.assert_close(x2.grad, x.grad)
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[key], value)
    ours.load_state_dict(plain.state_dict())
    plain.eval(), ours.eval()
    x = torch.randn(2, 6, 3, 4)
    assert torch.equal(ours(x), plain(x))  # evaluation: the running statistics, as nn.BatchNorm


def test_only_pretrain_runs_under_torchrun(monkeypatch, capsys):
    from zssar.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["protocol", "--dataset", "synthetic"]) == 2
    assert "Only zssar pretrain trains with several" in capsys.readouterr().err
