"""A :class:`Layout` for a joint set zssar has never seen, from its joint names and bones.

Each joint name is matched to the ``ntu25`` joint it plays (its *role*): ``LeftShoulder``,
``l_shoulder`` and ``shoulder_left`` all play ``left_shoulder``; ``pelvis``/``hip_center`` play
``spine_base``; ``thorax``/``shoulder_center`` the ``neck``; ``nose``, eyes and ears the ``head``.
Part groups are then formed exactly as for the built-in layouts
(:func:`zssar.data.layouts.parts_from_roles`), with a clear error naming any part that cannot be
formed. A wrist or ankle stands in for a missing hand or foot. Joints with no recognised role (e.g. a
tail) take part in the graph but in no part group.
"""
from __future__ import annotations

import re

from ..errors import InvalidData
from .layouts import Layout, parts_from_roles

# Name (side removed) -> role. Sided roles get "left_"/"right_" prepended.
_SIDED = {
    "shoulder": "shoulder", "elbow": "elbow", "wrist": "wrist", "hand": "hand", "palm": "hand",
    "hand_tip": "hand_tip", "handtip": "hand_tip", "fingertip": "hand_tip", "finger": "hand_tip",
    "thumb": "thumb", "hip": "hip", "knee": "knee", "ankle": "ankle", "foot": "foot", "toe": "foot",
    "big_toe": "foot", "heel": "ankle", "eye": "head", "ear": "head",
}
_CENTRAL = {
    "head": "head", "nose": "head", "head_top": "head", "top_head": "head", "face": "head",
    "neck": "neck", "shoulder_center": "neck", "thorax": "neck", "upper_neck": "neck",
    "spine_shoulder": "spine_shoulder", "chest": "spine_shoulder", "spine_chest": "spine_shoulder",
    "upper_spine": "spine_shoulder",
    "spine_mid": "spine_mid", "spine": "spine_mid", "torso": "spine_mid", "mid_spine": "spine_mid",
    "belly": "spine_mid", "spine_naval": "spine_mid",
    "spine_base": "spine_base", "hip_center": "spine_base", "pelvis": "spine_base", "root": "spine_base",
    "mid_hip": "spine_base", "hips": "spine_base", "hip": "spine_base",
}
_SIDE = re.compile(r"^(left|right|l|r)_(.+)$|^(.+)_(left|right|l|r)$")
_CENTRE_PREFERENCE = ("spine_mid", "spine_base", "spine_shoulder", "neck")


def normalise(name: str) -> str:
    """``LeftShoulder`` / ``left-shoulder`` / ``Left Shoulder`` -> ``left_shoulder``."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def joint_role(name: str) -> str | None:
    """The ``ntu25`` joint a joint name plays, or None."""
    key = normalise(name)
    if key in _CENTRAL:
        return _CENTRAL[key]
    m = _SIDE.match(key)
    if m:
        side, base = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        side = {"l": "left", "r": "right"}.get(side, side)
        base = base.removesuffix("s") if base.removesuffix("s") in _SIDED else base
        if base in _SIDED:
            role = _SIDED[base]
            return role if role == "head" else f"{side}_{role}"  # eyes and ears are the head
    return None


# Where a skeleton stops at the wrist or ankle (COCO, Human3.6M), that joint also plays the hand or foot.
_STAND_INS = {"wrist": "hand", "ankle": "foot"}


def _with_stand_ins(roles: dict[str, str]) -> dict[str, str | tuple[str, ...]]:
    present = set(roles.values())
    out: dict[str, str | tuple[str, ...]] = dict(roles)
    for joint, role in roles.items():
        side, _, base = role.partition("_")
        if base in _STAND_INS and f"{side}_{_STAND_INS[base]}" not in present:
            out[joint] = (role, f"{side}_{_STAND_INS[base]}")
    return out


def layout_from_joint_names(joint_names, bones, name: str = "custom", centre: int | str | None = None) -> Layout:
    """A layout with part groups matched by joint names; ``bones`` are (E, 2) joint index pairs."""
    joints = tuple(str(j) for j in joint_names)
    if len(set(joints)) != len(joints):
        raise InvalidData(f"layout {name!r}: joint names are not unique: {list(joints)}")
    try:
        bone_pairs = tuple((int(a), int(b)) for a, b in bones)
    except (TypeError, ValueError):
        raise InvalidData(f"layout {name!r}: bones must be (E, 2) pairs of joint indices.") from None
    bad = [p for p in bone_pairs if not all(0 <= i < len(joints) for i in p)]
    if bad:
        raise InvalidData(f"layout {name!r}: bones {bad[:5]} point past the {len(joints)} joints.")
    roles = {j: joint_role(j) for j in joints}
    if centre is None:
        by_role = {r: i for i, (j, r) in enumerate(roles.items()) if r}
        centre = next((by_role[r] for r in _CENTRE_PREFERENCE if r in by_role), None)
        if centre is None:
            raise InvalidData(f"layout {name!r}: no spine, pelvis or neck joint to centre on among {list(joints)}; "
                              "pass centre= (a joint index or name).")
    elif isinstance(centre, str):
        centre = joints.index(centre) if centre in joints else -1
        if centre < 0:
            raise InvalidData(f"layout {name!r}: centre joint is not one of {list(joints)}")
    parts = parts_from_roles(joints, _with_stand_ins({j: r for j, r in roles.items() if r}), name)
    return Layout(name, joints, bone_pairs, centre=int(centre), parts=parts)
