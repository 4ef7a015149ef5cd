"""Figures used by the notebooks: skeleton strips, training curves, confusion matrices, gamma curves."""
from __future__ import annotations

import numpy as np

from .data.skeleton import SkeletonSet

_PART_COLOURS = {"head": "tab:purple", "hand": "tab:red", "arm": "tab:orange", "hip": "tab:gray",
                 "leg": "tab:blue", "foot": "tab:green"}


def _front(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x (right) and y (up) of a (V, 3) frame, for a front view."""
    return frame[:, 0], frame[:, 1]


def plot_skeleton_strip(data: SkeletonSet, index: int, num_frames: int = 6, ax=None, title: str | None = None):
    """Draw ``num_frames`` evenly spaced frames of one sample side by side (front view, person 0)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * num_frames, 2.6))
    seq = data.x[index, 0, : data.lengths[index]]
    frames = np.linspace(0, len(seq) - 1, num_frames).round().astype(int)
    centre = seq[0, data.layout.centre]
    span = np.ptp(seq[..., 0]) + 0.6
    colour_of = {}
    for part, joints in data.layout.parts.get("gap6", {}).items():
        for j in joints:
            colour_of[j] = _PART_COLOURS.get(part, "k")
    for k, f in enumerate(frames):
        x, y = _front(seq[f] - centre)
        x = x + k * span
        for a, b in data.layout.bones:
            ax.plot([x[a], x[b]], [y[a], y[b]], color=colour_of.get(a, "k"), lw=2)
        ax.scatter(x, y, s=6, color="k", zorder=3)
        ax.text(k * span, y.min() - 0.15, f"t={f}", ha="center", fontsize=7)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or f"{data.class_names[data.labels[index]]} (subject {data.subjects[index]})", fontsize=9)
    return ax


def plot_history(history: list[dict], ax=None):
    """Training loss and seen-validation accuracy per epoch of the backbone pretraining."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["train_accuracy"] for h in history], label="train accuracy (seen classes)")
    ax.plot(epochs, [h["seen_val_accuracy"] for h in history], label="seen-val accuracy")
    ax.set_xlabel("epoch")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    return ax


def plot_confusion(matrix: np.ndarray, names, ax=None, title: str = ""):
    """A row-normalised confusion matrix with class names on both axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(1 + 0.55 * len(names), 0.8 + 0.5 * len(names)))
    im = ax.imshow(matrix, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            if matrix[i, j] > 0:
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if matrix[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    return ax


def plot_gamma_curve(curve, chosen: float, ax=None):
    """S, U and H on the selection data as functions of the calibration gamma."""
    import matplotlib.pyplot as plt

    gammas, s, u, h = curve
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    ax.plot(gammas, s, label="S (pseudo-seen)")
    ax.plot(gammas, u, label="U (pseudo-unseen)")
    ax.plot(gammas, h, label="H", lw=2)
    ax.axvline(chosen, color="k", ls="--", lw=1, label=f"chosen gamma = {chosen:.3f}")
    ax.set_xlabel("gamma")
    ax.legend(fontsize=8)
    return ax
