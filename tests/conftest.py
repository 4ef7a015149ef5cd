import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def tiny_data():
    """A small random 12-class set in the NTU layout with class-dependent motion."""
    from zssar.data.skeleton import from_arrays

    rng = np.random.default_rng(0)
    n_per, k, t, v = 12, 12, 24, 25
    y = np.repeat(np.arange(k), n_per)
    base = rng.normal(size=(k, 1, v, 3)).astype(np.float32)
    phase = np.linspace(0, 2 * np.pi, t)[None, :, None, None]
    x = base[y] * 0.3 + 0.2 * np.sin(phase * (1 + y[:, None, None, None] % 4)) + rng.normal(
        scale=0.05, size=(len(y), t, v, 3))
    subjects = np.tile(np.arange(1, 7), len(y) // 6)
    return from_arrays(x.astype(np.float32), y, [f"class {i}" for i in range(k)], "ntu25",
                       subjects=subjects, name="tiny")


@pytest.fixture
def tiny_backbone():
    from zssar.backbones.config import BackboneConfig

    return BackboneConfig(channels=(8, 16), strides=(1, 2), epochs=2, frames=16, batch_size=16)


@pytest.fixture
def two_threads():
    """Two CPU threads, where batch shape changes a matrix product's last bits (one thread hides it)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)
