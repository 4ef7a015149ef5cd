"""UTKinect-Action3D (Xia, Chen, Aggarwal, CVPRW 2012): 10 actions, 10 subjects x 2 repetitions, Kinect v1.

Files ``<action>_sSS_eEE.txt`` with the action as a camel-case prefix (``sitDown``), one ``x y z``
line per joint in metres, 20 joints in the Kinect v1 SDK order.
"""
from __future__ import annotations

from pathlib import Path

from ...errors import InvalidData
from ...classnames import UTKINECT_CLASSES
from ..layouts import KINECT20
from ..registry import register_dataset
from ..skeleton import SkeletonSet
from .common import Samples, assemble, find_files, read_xyz_text

# File prefixes in the official label order of UTKINECT_CLASSES.
FILE_PREFIXES = ("walk", "sitDown", "standUp", "pickUp", "carry", "throw", "push", "pull", "waveHands",
                 "clapHands")
PATTERN = r"([A-Za-z]+)_s(\d\d)_e(\d\d)\.txt"


@register_dataset("utkinect", folder="utkinect")
def load_utkinect(path: Path, *, min_frames: int = 2, degenerate: str = "drop") -> SkeletonSet:
    """All UTKinect sequences under ``path`` (the ``utkinect/`` folder), one view (0)."""
    files, other = find_files(Path(path), PATTERN, "UTKinect", "walk_s01_e01.txt")
    samples = Samples()
    for file, m in files:
        prefix, subject, _ = m.group(1), int(m.group(2)), int(m.group(3))
        if prefix not in FILE_PREFIXES:
            raise InvalidData(f"{file}: unknown UTKinect action {prefix!r}; expected one of {FILE_PREFIXES}")
        seq = read_xyz_text(file, KINECT20.num_joints, KINECT20.name)
        samples.add(seq, FILE_PREFIXES.index(prefix), subject, 0, file.stem)
    return assemble(samples, name="utkinect", class_names=UTKINECT_CLASSES, layout=KINECT20,
                    source=f"UTKinect files in {path} ({other} other files ignored)",
                    min_frames=min_frames, degenerate=degenerate)
