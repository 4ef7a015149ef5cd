"""Every figure of the book: skeletons, training curves, heat maps, embeddings, per-class bars, runs.

The functions draw what they are given (arrays, records, a dataset) and return the axes; they
compute nothing a reader would need to trust beyond the picture (t-SNE is the one exception, and
takes the seed). seaborn draws the heat maps and per-class bars; matplotlib and seaborn are imported
when a function is called, so importing zssar stays light.
"""
from __future__ import annotations

import numpy as np

from .data.skeleton import SkeletonSet

_PART_COLOURS = {"head": "tab:purple", "hand": "tab:red", "arm": "tab:orange", "hip": "tab:gray",
                 "leg": "tab:blue", "foot": "tab:green"}


def _axes(ax, size):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)[1] if ax is None else ax


def _front(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x (right) and y (up) of a (V, 3) frame, for a front view."""
    return frame[:, 0], frame[:, 1]


# ---------------------------------------------------------------- skeletons
def plot_skeleton_strip(data: SkeletonSet, index: int, num_frames: int = 6, ax=None, title: str | None = None):
    """Draw ``num_frames`` evenly spaced frames of one sample side by side (front view, person 0)."""
    ax = _axes(ax, (1.6 * num_frames, 2.6))
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


def plot_joint_weights(data: SkeletonSet, index: int, weights: np.ndarray, ax=None, title: str = ""):
    """One sample's middle frame with each joint drawn in proportion to a weight (attention per joint)."""
    ax = _axes(ax, (2.2, 2.6))
    pose = data.x[index, 0, data.lengths[index] // 2]
    for a, b in data.layout.bones:
        ax.plot(pose[[a, b], 0], pose[[a, b], 1], c="0.7", lw=1)
    w = np.asarray(weights, dtype=float)
    ax.scatter(pose[:, 0], pose[:, 1], s=120 * w / max(w.max(), 1e-12), c=w, cmap="viridis")
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=8)
    return ax


def plot_joint_weight_grid(data: SkeletonSet, indices, weights: np.ndarray, columns, row_titles=None):
    """A grid of :func:`plot_joint_weights`: rows are samples, columns the items of ``weights`` (R, C, V)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(indices), len(columns), figsize=(2.2 * len(columns), 2.3 * len(indices)),
                             squeeze=False)
    for r, index in enumerate(indices):
        for g, name in enumerate(columns):
            label = f"{row_titles[r]}\n{name}" if row_titles is not None and g == 0 else name
            plot_joint_weights(data, index, weights[r, g], ax=axes[r, g], title=label)
    fig.tight_layout()
    return axes


# ---------------------------------------------------------------- training and selection
def plot_history(history: list[dict], ax=None):
    """Training and seen-validation accuracy per epoch of the backbone pretraining."""
    ax = _axes(ax, (5, 3))
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["train_accuracy"] for h in history], label="train accuracy (seen classes)")
    ax.plot(epochs, [h["seen_val_accuracy"] for h in history], label="seen-val accuracy")
    ax.set_xlabel("epoch")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    return ax


def plot_training_curves(histories: dict[str, list[dict]], keys=("train_loss", "seen_val_accuracy")):
    """One panel per history key, one line per named run (e.g. per backbone)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, history in histories.items():
            ax.plot([h["epoch"] for h in history], [h[key] for h in history], label=name)
        ax.set(xlabel="epoch", ylabel=key.replace("_", " "))
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    return axes[0]


def plot_gamma_curve(curve, chosen: float, ax=None):
    """S, U and H on the selection data as functions of the calibration gamma."""
    gammas, s, u, h = curve
    ax = _axes(ax, (5, 3))
    ax.plot(gammas, s, label="S (pseudo-seen)")
    ax.plot(gammas, u, label="U (pseudo-unseen)")
    ax.plot(gammas, h, label="H", lw=2)
    ax.axvline(chosen, color="k", ls="--", lw=1, label=f"chosen gamma = {chosen:.3f}")
    ax.set_xlabel("gamma")
    ax.legend(fontsize=8)
    return ax


# ---------------------------------------------------------------- matrices
def plot_confusion(matrix: np.ndarray, names, ax=None, title: str = ""):
    """A row-normalised confusion matrix with class names on both axes."""
    import seaborn as sns

    ax = _axes(ax, (1.5 + 0.6 * len(names), 1 + 0.5 * len(names)))
    sns.heatmap(matrix, vmin=0, vmax=1, cmap="Blues", annot=len(names) <= 12, fmt=".2f", annot_kws={"fontsize": 7},
                xticklabels=names, yticklabels=names, ax=ax, cbar_kws={"fraction": 0.046})
    ax.set_xticklabels(ax.get_xticklabels(), rotation=45, ha="right", fontsize=8)
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return ax


def plot_heatmaps(matrices: dict[str, np.ndarray], vmin=None, vmax=None, cmap: str = "viridis", xlabel: str = "",
                  ylabel: str = "", colorbar: str = ""):
    """Side-by-side heat maps (similarity matrices, adjacency patterns), one per title."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, len(matrices), figsize=(5.2 * len(matrices), 4.4), squeeze=False)
    for ax, (title, m) in zip(axes[0], matrices.items()):
        sns.heatmap(m, vmin=vmin, vmax=vmax, cmap=cmap, ax=ax, square=True, xticklabels=False, yticklabels=False,
                    cbar_kws={"label": colorbar, "shrink": 0.8})
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.tight_layout()
    return axes[0]


# ---------------------------------------------------------------- embeddings
def tsne(points: np.ndarray, seed: int, perplexity: float = 30.0) -> np.ndarray:
    """(N, 2) t-SNE of ``points`` (PCA initialisation, seeded; perplexity capped below N)."""
    from sklearn.manifold import TSNE

    perplexity = min(perplexity, max(2.0, (len(points) - 1) / 3))
    return TSNE(n_components=2, init="pca", random_state=seed, perplexity=perplexity).fit_transform(points)


def plot_embedding(xy: np.ndarray, colours, ax=None, background=None, anchors=None, anchor_colours=None,
                   title: str = "", labels=("", "")):
    """Points coloured by class; ``background`` (mask) drawn grey; ``anchors`` (M, 2) as stars (text)."""
    ax = _axes(ax, (6.5, 5.5))
    colours = np.asarray(colours)
    front = np.ones(len(xy), bool) if background is None else ~np.asarray(background)
    if background is not None:
        ax.scatter(*xy[~front].T, s=6, c="lightgray", label=labels[0] or None)
    ax.scatter(*xy[front].T, s=14, c=colours[front], cmap="tab10", label=labels[1] or None)
    if anchors is not None:
        ax.scatter(*np.asarray(anchors).T, c=anchor_colours, cmap="tab10", marker="*", s=300, edgecolor="k")
    if any(labels):
        ax.legend(loc="best", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return ax


# ---------------------------------------------------------------- curves and bars
def plot_phase_attention(curves: np.ndarray, titles, phases=("start", "middle", "end")):
    """Per sample, attention over token time steps of each phase query: ``curves`` (R, P, T')."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(titles), figsize=(3.7 * len(titles), 2.6), sharey=True, squeeze=False)
    for ax, curve, title in zip(axes[0], curves, titles):
        for g, phase in enumerate(phases):
            ax.plot(curve[g], marker="o", label=phase)
        ax.axhline(1.0 / curve.shape[-1], color="0.6", ls=":", lw=1)  # uniform over time
        ax.set_title(title[:30], fontsize=9)
        ax.set_xlabel("token time step")
    axes[0][0].set_ylabel("attention")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return axes[0]


def plot_bars(values: dict[str, float], ax=None, ylabel: str = "", reference: float | None = None):
    """Vertical bars of named values (e.g. learnt weights), with an optional reference line."""
    import seaborn as sns

    ax = _axes(ax, (6, 2.6))
    sns.barplot(x=list(values), y=list(values.values()), ax=ax, color="tab:blue")
    if reference is not None:
        ax.axhline(reference, color="k", ls=":", lw=1)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=45, labelsize=8)
    return ax


def plot_per_class(values: dict[str, float], ax=None, xlabel: str = "accuracy change"):
    """Horizontal bars per class, sorted, blue for gains and red for losses."""
    import seaborn as sns

    items = sorted(values.items(), key=lambda kv: kv[1])
    ax = _axes(ax, (6, 0.35 * len(items) + 1))
    sns.barplot(x=[v for _, v in items], y=[k for k, _ in items], ax=ax, orient="h",
                palette=["tab:blue" if v >= 0 else "tab:red" for _, v in items], hue=[k for k, _ in items],
                legend=False)
    ax.set_xlabel(xlabel)
    return ax


def plot_running_accuracy(order: np.ndarray, truth: np.ndarray, predictions: dict[str, np.ndarray], ax=None):
    """Running accuracy along a test stream (samples in arrival ``order``), one line per prediction."""
    ax = _axes(ax, (6, 3.2))
    steps = np.arange(1, len(order) + 1)
    for name, pred in predictions.items():
        ax.plot(steps, np.cumsum(pred[order] == truth[order]) / steps, label=name)
    ax.set(xlabel="samples seen in the stream", ylabel="running accuracy")
    ax.legend(fontsize=8)
    return ax


def plot_runs(records: list[dict], metric: str = "zsl_top1", methods=None):
    """Every run of a sweep, one dot per (split, seed), one panel per dataset, methods side by side."""
    import matplotlib.pyplot as plt

    methods = list(methods or dict.fromkeys(r["method"] for r in records))
    datasets = list(dict.fromkeys(r["dataset"] for r in records))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 3.6), squeeze=False, sharey=True)
    width = 0.8 / max(1, len(methods))
    for ax, name in zip(axes[0], datasets):
        runs = [r for r in records if r["dataset"] == name]
        splits = list(dict.fromkeys(r["split"]["name"] for r in runs))
        for k, method in enumerate(methods):
            mine = [r for r in runs if r["method"] == method]
            ax.scatter([splits.index(r["split"]["name"]) + width * (k - (len(methods) - 1) / 2) for r in mine],
                       [100 * r["metrics"][metric] for r in mine], s=14, alpha=0.8, label=method)
        ax.set_xticks(range(len(splits)), [s.replace(":seed=", ":") for s in splits], rotation=45, ha="right")
        ax.set_title(f"{name}: {metric} of every run (%)", fontsize=9)
    axes[0][0].set_ylabel(f"{metric} (%)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return axes[0]
