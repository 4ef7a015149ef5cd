"""Pictures of layouts: each joint drawn where its role sits on the NTU rest pose, coloured by part."""
from __future__ import annotations

import numpy as np

from .custom_layout import joint_role
from .layouts import NTU25, Layout

# Front-view (x, y) of the NTU joints in a standing rest pose, metres, from the official joint order.
_NTU_REST = {
    "spine_base": (0, 0), "spine_mid": (0, 0.28), "neck": (0, 0.58), "head": (0, 0.72),
    "left_shoulder": (0.18, 0.5), "left_elbow": (0.24, 0.25), "left_wrist": (0.27, 0.03),
    "left_hand": (0.28, -0.04), "right_shoulder": (-0.18, 0.5), "right_elbow": (-0.24, 0.25),
    "right_wrist": (-0.27, 0.03), "right_hand": (-0.28, -0.04), "left_hip": (0.09, -0.02),
    "left_knee": (0.11, -0.42), "left_ankle": (0.12, -0.82), "left_foot": (0.14, -0.88),
    "right_hip": (-0.09, -0.02), "right_knee": (-0.11, -0.42), "right_ankle": (-0.12, -0.82),
    "right_foot": (-0.14, -0.88), "spine_shoulder": (0, 0.5), "left_hand_tip": (0.29, -0.12),
    "left_thumb": (0.31, -0.06), "right_hand_tip": (-0.29, -0.12), "right_thumb": (-0.31, -0.06),
}
_COLOURS = ("tab:purple", "tab:red", "tab:orange", "tab:gray", "tab:blue", "tab:green")


def rest_pose(layout: Layout) -> np.ndarray:
    """(V, 2) front-view positions: each joint at its role's NTU rest position (viewer's right = left)."""
    roles = {"torso": "spine_mid", "hip_center": "spine_base", "spine": "spine_mid",
             "shoulder_center": "neck"}
    out = []
    for j in layout.joints:
        role = j if j in NTU25.joints else roles.get(j) or joint_role(j)
        out.append(_NTU_REST.get(role, (0.0, 0.0)))
    return np.asarray(out, dtype=float)


def plot_layout(layout: Layout, grouping: str = "gap6", ax=None, pose: np.ndarray | None = None):
    """Bones in grey, joints coloured by their part in ``grouping``, with a legend of the parts."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(2.6, 3.6))
    xy = rest_pose(layout) if pose is None else np.asarray(pose)[:, :2]
    for a, b in layout.bones:
        ax.plot(xy[[a, b], 0], xy[[a, b], 1], color="0.7", lw=2, zorder=1)
    for colour, (part, ids) in zip(_COLOURS, layout.part_groups(grouping).items()):
        ids = list(ids)
        ax.scatter(xy[ids, 0], xy[ids, 1], s=30, color=colour, label=part, zorder=2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{layout.name} ({layout.num_joints} joints), {grouping}", fontsize=9)
    ax.legend(fontsize=6, loc="lower center", bbox_to_anchor=(0.5, -0.25), ncol=3, frameon=False)
    return ax
