"""A seeded generator of synthetic 3D skeleton sequences in the NTU RGB+D 25-joint layout.

Every action class is a composition of motion primitives (raise arm, wave, nod, squat...) applied to
the left side, the right side or both, so an unseen class shares body-part motions, and the phrases
that describe them (:mod:`zssar.text.synthetic`), with seen classes. Bodies are posed by forward
kinematics over joint angles, then seen from one of three cameras.

Coordinates are metres: y points up with the floor at y = 0, x points to the camera's right and z is
the depth away from the camera (as on a Kinect), so a person facing the camera has their left side at
+x and faces -z. Repetition ``r`` is filmed by camera ``r % len(camera_yaws)`` (its view id); a camera
at yaw +45 degrees stands 45 degrees round towards the person's left.

Randomness: a subject's body comes from ``default_rng([seed, 0, subject])`` and everything about one
sample (speed, amplitude, timing, posture, camera jitter, sensor noise) from
``default_rng([seed, 1, class, subject, repetition])``, so each sample can be regenerated on its own
and does not change when the number of subjects or repetitions does.

Why this file is long: the body model, the motion primitives, the class table and the sampling
are one chain (each primitive drives the body model's joint angles, each class composes
primitives); pulled apart, every piece would need the others' internals.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidConfig
from .layouts import NTU25
from .skeleton import SkeletonSet, from_arrays


@dataclass(frozen=True)
class SyntheticConfig:
    """How many sequences to make and how much they vary (angles in degrees, lengths in metres)."""

    num_subjects: int = 10
    repetitions: int = 4
    frames: int = 64
    seed: int = 0
    noise_std: float = 0.01
    min_speed: float = 0.7  # a sample lasts round(frames * speed) frames, then zero padding
    max_speed: float = 1.0
    amplitude_jitter: float = 0.2
    camera_yaws: tuple[float, ...] = (-45.0, 0.0, 45.0)
    camera_distance: float = 3.0

    def __post_init__(self):
        ints = ("num_subjects", "repetitions", "frames", "seed")
        checks = [(f"{k}={getattr(self, k)!r}; use an integer", isinstance(getattr(self, k), bool)
                   or not isinstance(getattr(self, k), (int, np.integer))) for k in ints]
        for msg, failed in checks + [
            (f"num_subjects={self.num_subjects}; need at least 2 so subjects can be split", self.num_subjects < 2),
            (f"repetitions={self.repetitions}; need at least 1 per class and subject", self.repetitions < 1),
            (f"frames={self.frames}; need at least 8 frames to show a movement", self.frames < 8),
            (f"seed={self.seed}; use a non-negative integer", self.seed < 0),
            (f"noise_std={self.noise_std}; use a finite value >= 0 (metres)",
             not (math.isfinite(self.noise_std) and self.noise_std >= 0)),
            (f"speeds {self.min_speed}..{self.max_speed}; need 0 < min_speed <= max_speed <= 1",
             not 0 < self.min_speed <= self.max_speed <= 1),
            (f"amplitude_jitter={self.amplitude_jitter}; use a value in [0, 0.5)",
             not 0 <= self.amplitude_jitter < 0.5),
            (f"camera_yaws={self.camera_yaws}; give at least one finite yaw in degrees",
             not self.camera_yaws or not all(math.isfinite(y) for y in self.camera_yaws)),
            (f"camera_distance={self.camera_distance}; the camera must stand more than 0.5 m away",
             not self.camera_distance > 0.5),
        ]:
            if failed:
                raise InvalidConfig(f"SyntheticConfig: {msg}")


# ---------------------------------------------------------------- body model
# Rest offsets of a 1.75 m tall person, in the parent's frame: x = person's left, y = up, z = forward.
def _limb(side: str) -> tuple:
    n, sx = ("left", 1.0) if side == "l" else ("right", -1.0)
    return (
        (f"{n}_shoulder", "spine_shoulder", (0.17 * sx, -0.03, 0.0), "shoulder"),
        (f"{n}_elbow", f"{n}_shoulder", (0.0, -0.28, 0.0), "upper_arm"),
        (f"{n}_wrist", f"{n}_elbow", (0.0, -0.26, 0.0), "forearm"),
        (f"{n}_hand", f"{n}_wrist", (0.0, -0.07, 0.0), "hand"),
        (f"{n}_hand_tip", f"{n}_hand", (0.0, -0.07, 0.0), "hand"),
        (f"{n}_thumb", f"{n}_hand", (0.0, -0.03, 0.04), "hand"),
        (f"{n}_hip", "spine_base", (0.08 * sx, -0.05, 0.0), "hip"),
        (f"{n}_knee", f"{n}_hip", (0.0, -0.41, 0.0), "thigh"),
        (f"{n}_ankle", f"{n}_knee", (0.0, -0.40, 0.0), "shin"),
        (f"{n}_foot", f"{n}_ankle", (0.0, -0.04, 0.10), "foot"),
    )


_TREE = (
    ("spine_mid", "spine_base", (0.0, 0.28, 0.0), "torso"),
    ("spine_shoulder", "spine_mid", (0.0, 0.22, 0.0), "torso"),
    ("neck", "spine_shoulder", (0.0, 0.07, 0.0), "neck"),
    ("head", "neck", (0.0, 0.13, 0.01), "neck"),
) + _limb("l") + _limb("r")
_GROUPS = ("torso", "neck", "shoulder", "upper_arm", "forearm", "hand", "hip", "thigh", "shin", "foot")
_FOOT_HEIGHT = 0.04  # foot joint above the floor at 1.75 m
_SIGN = {"l": 1.0, "r": -1.0}
_LIMB_DOFS = ("flex", "abd", "across", "twist", "elbow", "hip_flex", "hip_abd", "knee")
_DOFS = ("spine_bend", "spine_twist", "spine_lean", "neck_pitch", "neck_yaw") + tuple(
    f"{s}_{d}" for s in "lr" for d in _LIMB_DOFS)


def _rot(axis: int, degrees: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations; +x tilts up towards forward, +y turns forward to the left, +z tilts left up."""
    a = np.radians(degrees)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    m = {0: (o, z, z, z, c, -s, z, s, c), 1: (c, z, s, z, o, z, -s, z, c), 2: (c, -s, z, s, c, z, z, z, o)}
    return np.stack(m[axis], -1).reshape(a.shape + (3, 3))


def _bone_rotations(d: dict) -> dict:
    """Rotation of each bone relative to its parent's frame, keyed by the bone's child joint."""
    r = {}
    for j in ("spine_mid", "spine_shoulder"):  # the spine bends over two bones, half each
        r[j] = _rot(1, d["spine_twist"] / 2) @ _rot(0, d["spine_bend"] / 2) @ _rot(2, d["spine_lean"] / 2)
    for j in ("neck", "head"):
        r[j] = _rot(1, d["neck_yaw"] / 2) @ _rot(0, d["neck_pitch"] / 2)
    for side, s in _SIGN.items():
        n, g = ("left" if side == "l" else "right"), (lambda k, side=side: d[f"{side}_{k}"])
        # Signs mirror the right side, so every angle means the same movement on both sides.
        r[f"{n}_elbow"] = (_rot(1, -s * g("across")) @ _rot(2, s * g("abd")) @ _rot(0, -g("flex"))
                           @ _rot(1, s * g("twist")))
        r[f"{n}_wrist"] = _rot(0, -g("elbow"))
        r[f"{n}_knee"] = _rot(2, s * g("hip_abd")) @ _rot(0, -g("hip_flex"))
        r[f"{n}_ankle"] = _rot(0, g("knee"))
        r[f"{n}_foot"] = _rot(0, g("hip_flex") - g("knee"))  # keeps the sole about level
    return r


def _pose(d: dict, offsets: dict, foot_height: np.ndarray) -> np.ndarray:
    """Forward kinematics: joint angles (B, T) -> joint positions (B, T, V, 3) in the body frame."""
    b, t = d["spine_bend"].shape
    pos = np.zeros((b, t, NTU25.num_joints, 3))
    frames, rots = {"spine_base": np.eye(3)}, _bone_rotations(d)
    for joint, parent, _, _ in _TREE:
        frames[joint] = frames[parent] @ rots[joint] if joint in rots else frames[parent]
        step = (frames[joint] @ offsets[joint][:, None, :, None])[..., 0]
        pos[:, :, NTU25.index(joint)] = pos[:, :, NTU25.index(parent)] + step
    # Stand the lower foot on the floor, so squats and kicks need no hand-tuned root motion.
    feet = pos[:, :, [NTU25.index("left_foot"), NTU25.index("right_foot")], 1].min(-1)
    pos[..., 1] += (foot_height - feet + d["root_lift"])[..., None]
    return pos


# ---------------------------------------------------------------- motion primitives
def _sstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


class _Timing:
    """Per-sample time curves over normalised time u: lift until t0, act in the middle, lower after t1."""

    def __init__(self, u, p):
        col = {k: np.asarray(p[k], dtype=float)[:, None] for k in ("amp", "t0", "t1", "phase", "rate")}
        self.amp, t0, t1 = col["amp"], col["t0"], col["t1"]
        self.env = _sstep((u - 0.03) / (t0 - 0.03)) * _sstep((0.97 - u) / (0.97 - t1))
        self.win = _sstep((u - t0 + 0.05) / 0.1) * _sstep((t1 + 0.05 - u) / 0.1)
        self.m = (u - t0) / (t1 - t0)  # 0..1 across the middle phase
        self.phase, self.rate = col["phase"], col["rate"]

    def osc(self, cycles, shift=0.0):
        return np.sin(2 * np.pi * cycles * self.rate * self.m + self.phase + shift) * self.win

    def pulse(self, cycles, shift=0.0):
        return (0.5 - 0.5 * np.cos(2 * np.pi * cycles * self.rate * self.m + shift)) * self.win


def _apply(prim: str, d: dict, w: _Timing, sides: tuple[str, ...]) -> None:
    """Add one primitive's joint-angle curves (degrees) to ``d``; ``sides`` is ("l",), ("r",) or both."""
    both = ("l", "r")
    if prim == "raise_arm":
        for s in sides:
            d[f"{s}_abd"] += (150 + 50 * (w.amp - 1)) * w.env + 6 * w.osc(1)  # stays near overhead
            d[f"{s}_elbow"] += 10 * w.env
    elif prim == "wave":
        for s in sides:  # upper arm out sideways, rotated so the bent forearm points up
            d[f"{s}_abd"] += 90 * w.env
            d[f"{s}_twist"] += 90 * w.env
            d[f"{s}_elbow"] += 80 * w.env + w.amp * 35 * w.osc(3)
    elif prim == "punch":
        for i, s in enumerate(sides):
            hit = w.pulse(3, shift=np.pi * i)  # with both fists, they alternate
            d[f"{s}_flex"] += (40 + w.amp * 50 * hit) * w.env
            d[f"{s}_elbow"] += 120 * (1 - hit) * w.env
            d[f"{s}_across"] += 10 * w.env
            d["spine_twist"] -= _SIGN[s] * 10 * hit
    elif prim == "arm_circle":
        for s in sides:
            d[f"{s}_abd"] += 90 * w.env + w.amp * 45 * w.osc(2)
            d[f"{s}_flex"] += w.amp * 45 * w.osc(2, shift=np.pi / 2)
    elif prim == "reach":
        for s in sides:
            d[f"{s}_flex"] += w.amp * 90 * w.env
            d[f"{s}_across"] += 5 * w.env
        d["spine_bend"] += 10 * w.env
    elif prim == "kick":
        for s in sides:
            lift = w.pulse(2)
            d[f"{s}_hip_flex"] += w.amp * 80 * lift
            d[f"{s}_knee"] += 70 * np.sin(np.pi * lift)  # bent on the way up and down, straight at the top
            d["spine_bend"] -= 10 * lift
    elif prim == "leg_side":
        for s in sides:
            d[f"{s}_hip_abd"] += w.amp * 35 * w.env
            d["spine_lean"] += _SIGN[s] * 8 * w.env  # the body counterbalances the raised leg
    elif prim == "nod":
        d["neck_pitch"] += 8 * w.env + w.amp * 25 * w.pulse(3)
    elif prim == "shake":
        d["neck_yaw"] += w.amp * 35 * w.osc(3)
    elif prim == "bend":
        d["spine_bend"] += w.amp * 70 * w.env
        for s in both:  # arms keep hanging towards the floor instead of swinging back with the torso
            d[f"{s}_flex"] += w.amp * 63 * w.env
    elif prim == "squat":
        for s in both:
            d[f"{s}_hip_flex"] += w.amp * 95 * w.env
            d[f"{s}_knee"] += w.amp * 115 * w.env
        d["spine_bend"] += 25 * w.env
    elif prim == "jump":
        air = np.sin(np.pi * np.clip((w.m - 0.25) / 0.5, 0, 1))
        crouch = np.exp(-(((w.m - 0.08) / 0.1) ** 2)) + np.exp(-(((w.m - 0.92) / 0.1) ** 2))
        d["root_lift"] += w.amp * 0.3 * air
        for s in both:
            d[f"{s}_hip_flex"] += 50 * crouch + 40 * air
            d[f"{s}_knee"] += 70 * crouch + 70 * air
        d["spine_bend"] += 20 * crouch
    elif prim == "clap":
        for s in both:  # about 20 degrees across brings the palms together in front of the chest
            d[f"{s}_flex"] += 80 * w.env
            d[f"{s}_elbow"] += 30 * w.env
            d[f"{s}_across"] += (5 + w.amp * 17 * w.pulse(4)) * w.env
    elif prim == "twist":
        d["spine_twist"] += w.amp * 40 * w.osc(2)
        for s in both:
            d[f"{s}_abd"] += 20 * w.env
            d[f"{s}_elbow"] += 90 * w.env
    elif prim == "march":
        for i, (s, other) in enumerate((("l", "r"), ("r", "l"))):
            step = w.pulse(2, shift=np.pi * i)
            d[f"{s}_hip_flex"] += w.amp * 50 * step
            d[f"{s}_knee"] += w.amp * 85 * step
            d[f"{other}_flex"] += 25 * step  # the opposite arm swings forward
    else:
        raise KeyError(prim)


_SIDES = {"l": ("l",), "r": ("r",), "b": ("l", "r"), "-": ()}


def _per_side(prim: str, label: str, both: str | None = None) -> tuple:
    named = (("l", label.format("left")), ("r", label.format("right"))) + ((("b", both),) if both else ())
    return tuple((name, ((prim, side),)) for side, name in named)


# Class name -> ((primitive, side), ...): single primitives, then compositions of seen parts.
_CLASSES = (
    _per_side("raise_arm", "raise {} arm", "raise both arms")
    + _per_side("wave", "wave {} hand", "wave both hands")
    + _per_side("punch", "punch with {} fist", "punch with both fists")
    + _per_side("arm_circle", "circle {} arm", "circle both arms")
    + _per_side("reach", "reach forward with {} arm", "reach forward with both arms")
    + _per_side("kick", "kick with {} leg") + _per_side("leg_side", "raise {} leg sideways")
    + tuple((name, ((prim, "-"),)) for name, prim in (
        ("nod head", "nod"), ("shake head", "shake"), ("bend forward", "bend"), ("squat down", "squat"),
        ("jump up", "jump"), ("clap hands", "clap"), ("twist torso", "twist"), ("march in place", "march")))
    + (("raise both arms while squatting", (("raise_arm", "b"), ("squat", "-"))),
       ("wave right hand while nodding", (("wave", "r"), ("nod", "-"))),
       ("jump and clap", (("jump", "-"), ("clap", "-"))),
       ("bend and reach forward", (("bend", "-"), ("reach", "b"))),
       ("kick with right leg and raise left arm", (("kick", "r"), ("raise_arm", "l"))))
)
CLASS_COMPOSITIONS = _CLASSES  # (name, ((primitive, side), ...)); their text: zssar.text.synthetic
CLASS_NAMES: tuple[str, ...] = tuple(name for name, _ in _CLASSES)


# ---------------------------------------------------------------- generation
def _subject(seed: int, subject: int) -> dict:
    rng = np.random.default_rng([seed, 0, subject])
    height = rng.uniform(1.5, 1.9)
    scale = {g: height / 1.75 * float(np.clip(rng.normal(1.0, 0.03), 0.92, 1.08)) for g in _GROUPS}
    rest = dict(spine_bend=rng.uniform(-2, 5), neck_pitch=rng.uniform(-3, 6))
    abd, elbow, knee = rng.uniform(3, 10), rng.uniform(5, 15), rng.uniform(0, 5)
    for s in "lr":
        rest.update({f"{s}_abd": abd, f"{s}_elbow": elbow, f"{s}_knee": knee, f"{s}_hip_flex": knee / 2})
    offsets = {j: np.asarray(o) * scale[g] for j, _, o, g in _TREE}
    return dict(offsets=offsets, rest=rest, foot_height=_FOOT_HEIGHT * height / 1.75)


def _sample_draws(cfg: SyntheticConfig, label: int, subject: int, rep: int) -> dict:
    rng = np.random.default_rng([cfg.seed, 1, label, subject, rep])  # one sample reproducible on its own
    view = rep % len(cfg.camera_yaws)
    return dict(
        speed=rng.uniform(cfg.min_speed, cfg.max_speed), amp=1 + cfg.amplitude_jitter * rng.uniform(-1, 1),
        t0=rng.uniform(0.25, 0.35), t1=rng.uniform(0.65, 0.75), phase=rng.uniform(-0.4, 0.4),
        rate=rng.uniform(0.85, 1.15), posture=rng.normal(0.0, 2.0, len(_DOFS)), view=view,
        yaw=cfg.camera_yaws[view] + rng.normal(0.0, 3.0), distance=cfg.camera_distance + rng.uniform(-0.3, 0.3),
        shift=rng.uniform(-0.2, 0.2), noise=rng.normal(0.0, cfg.noise_std, (cfg.frames, NTU25.num_joints, 3)))


def _class_batch(composition, people: list[dict], draws: list[dict], frames: int):
    """Sequences (B, T, V, 3) and lengths (B,) of one class, vectorised over samples and time."""
    p = {k: np.stack([dr[k] for dr in draws]) for k in draws[0]}
    lengths = np.clip(np.rint(frames * p["speed"]).astype(np.int64), 2, frames)
    u = np.minimum(np.arange(frames)[None] / (lengths[:, None] - 1), 1.0)  # each sample's own clock
    dofs = {k: np.zeros_like(u) + np.array([pe["rest"].get(k, 0.0) for pe in people])[:, None]
            + p["posture"][:, i, None] for i, k in enumerate(_DOFS)}
    dofs["root_lift"] = np.zeros_like(u)
    timing = _Timing(u, p)
    for prim, side in composition:
        _apply(prim, dofs, timing, _SIDES[side])
    offsets = {j: np.stack([pe["offsets"][j] for pe in people]) for j, *_ in _TREE}
    pos = _pose(dofs, offsets, np.array([pe["foot_height"] for pe in people])[:, None])
    # Camera: turn the person about the vertical through the root, then flip forward into depth.
    pos = pos @ np.swapaxes(_rot(1, -p["yaw"]), -1, -2)[:, None]
    pos[..., 0] += p["shift"][:, None, None]
    pos[..., 2] = p["distance"][:, None, None] - pos[..., 2]
    pos += p["noise"]
    pos[np.arange(frames)[None] >= lengths[:, None]] = 0.0
    return pos, lengths, p["view"]


def generate(config: SyntheticConfig | None = None) -> SkeletonSet:
    """All classes x subjects x repetitions, class-major; labels index :data:`CLASS_NAMES`."""
    cfg = SyntheticConfig() if config is None else config
    if not isinstance(cfg, SyntheticConfig):
        raise InvalidConfig(f"generate() takes a SyntheticConfig, got {type(cfg).__name__}")
    people = [_subject(cfg.seed, s) for s in range(cfg.num_subjects)]
    pairs = [(s, r) for s in range(cfg.num_subjects) for r in range(cfg.repetitions)]
    xs, lengths, views = [], [], []
    for label, (_, composition) in enumerate(_CLASSES):
        draws = [_sample_draws(cfg, label, s, r) for s, r in pairs]
        x, n, v = _class_batch(composition, [people[s] for s, _ in pairs], draws, cfg.frames)
        xs.append(x)
        lengths.append(n)
        views.append(v)
    n_cls = len(_CLASSES)
    return from_arrays(
        np.concatenate(xs).astype(np.float32), np.repeat(np.arange(n_cls), len(pairs)), CLASS_NAMES, NTU25,
        subjects=np.tile([s + 1 for s, _ in pairs], n_cls), views=np.concatenate(views),
        lengths=np.concatenate(lengths), name="synthetic",
        sample_ids=[f"c{c + 1:02d}_s{s + 1:02d}_r{r + 1:02d}" for c in range(n_cls) for s, r in pairs],
        source=(f"embedded synthetic generator (seed={cfg.seed}, subjects={cfg.num_subjects}, "
                f"repetitions={cfg.repetitions}, frames={cfg.frames}, noise_std={cfg.noise_std})"))
