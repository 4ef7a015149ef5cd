"""Resumable training: the state after each finished epoch, in a cache entry's build folder.

The state holds the network, optimiser, scheduler, both random generators (NumPy's for batches and
augmentation, PyTorch's for dropout and initialisation), the history and the best checkpoint so
far, so a resumed run ends with exactly the numbers of an uninterrupted one.
"""
from __future__ import annotations

import os
import shutil


def save(build, net, opt, sched, rng, history, best) -> None:
    """Everything needed to continue after this epoch, written atomically (rename over the old one)."""
    import torch

    build.mkdir(parents=True, exist_ok=True)
    state = {"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
             "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
             "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
             "history": history, "best": best}
    tmp = build / "state.pt.tmp"
    torch.save(state, tmp)
    os.replace(tmp, build / "state.pt")


def resume(build, net, opt, sched, rng) -> dict | None:
    """Load the last epoch's state from the build folder into the live objects; None if there is none."""
    import torch

    path = build / "state.pt"
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
    except (OSError, RuntimeError, KeyError, ValueError, EOFError):
        shutil.rmtree(build, ignore_errors=True)  # damaged: start again from scratch
        return None
    rng.bit_generator.state = state["rng"]
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state
