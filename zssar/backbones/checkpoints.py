"""Resumable training: the state after each finished epoch, in a cache entry's build folder.

The state holds the network, optimiser, scheduler, both random generators (NumPy's for batches and
augmentation, PyTorch's for dropout and initialisation), the history and the best checkpoint so
far, so a resumed run ends with exactly the numbers of an uninterrupted one. It is read with
``torch.load(weights_only=True)``: a file that holds anything but tensors, numbers, strings and
containers is refused, never executed.

The file starts with a line holding the SHA-256 of the rest and names the build folder it belongs
to (the folder's name carries the cache key, i.e. the configuration). A truncated or garbled file,
or one from another configuration, is reported with a warning naming it, removed, and training
starts again from epoch 1 with the live objects as they were: the same numbers as a fresh run.
"""
from __future__ import annotations

import copy
import hashlib
import io
import os
import shutil
import warnings

HEADER = b"zssar-training-state sha256="


def save(build, net, opt, sched, rng, history, best) -> None:
    """Everything needed to continue after this epoch, written atomically (rename over the old one)."""
    import torch

    build.mkdir(parents=True, exist_ok=True)
    state = {"build": build.name, "net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
             "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
             "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
             "history": history, "best": best}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    tmp = build / "state.pt.tmp"
    with open(tmp, "wb") as f:
        f.write(HEADER + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    os.replace(tmp, build / "state.pt")


class UnusableState(Exception):
    """A saved training state that must not be resumed from (the message says why)."""


def _read(path, build) -> dict:
    """The verified state in ``path``; raises :class:`UnusableState` saying what is wrong with it."""
    import torch

    raw = path.read_bytes()
    head, _, payload = raw.partition(b"\n")
    if not head.startswith(HEADER):
        raise UnusableState("it does not start with the training-state header (damaged, or written by "
                            "an older zssar)")
    if hashlib.sha256(payload).hexdigest().encode() != head[len(HEADER):]:
        raise UnusableState(f"its checksum does not match its contents ({len(raw)} bytes; truncated or garbled)")
    try:
        # weights_only: tensors, numbers, strings and containers only, so a state file in a shared cache
        # folder can never run code (the random generators' states are stored as such values).
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling damaged bytes can fail in many ways; none is usable
        raise UnusableState(f"it cannot be read ({type(err).__name__}: {err})") from None
    missing = {"build", "net", "opt", "sched", "rng", "torch_rng", "history", "best"} - set(state)
    if missing:
        raise UnusableState(f"it lacks {sorted(missing)}")
    if state["build"] != build.name:
        raise UnusableState(f"it belongs to another configuration ({state['build']}, not {build.name})")
    return state


def resume(build, net, opt, sched, rng) -> dict | None:
    """Load the last epoch's state from the build folder into the live objects; None if there is none.

    An unusable state is reported (a ``RuntimeWarning`` naming the file), removed, and None returned
    with ``net``, ``opt``, ``sched`` and ``rng`` unchanged, so training starts from scratch.
    """
    import torch

    path = build / "state.pt"
    if not path.exists():
        return None
    before = (copy.deepcopy(net.state_dict()), copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict()),
              rng.bit_generator.state)
    try:
        state = _read(path, build)
        try:
            net.load_state_dict(state["net"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            rng.bit_generator.state = state["rng"]
        except Exception as err:
            raise UnusableState(f"it does not fit this network ({type(err).__name__}: {err})") from None
    except (UnusableState, OSError) as err:
        net.load_state_dict(before[0])
        opt.load_state_dict(before[1])
        sched.load_state_dict(before[2])
        rng.bit_generator.state = before[3]
        warnings.warn(f"cannot resume pretraining from {path}: {err}. It is removed and training starts "
                      "again from epoch 1.", RuntimeWarning, stacklevel=3)
        shutil.rmtree(build, ignore_errors=True)
        return None
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state
