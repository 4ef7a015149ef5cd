"""KARD (Gaglio, Lo Re, Morana, IEEE THMS 2014): 18 actions, 10 subjects, 3 repetitions, 15 OpenNI joints.

Files ``aAA_sSS_eEE_realworld.txt`` (action 01-18, subject 01-10, repetition 01-03), one ``x y z``
line per joint in millimetres. Coordinates are converted to metres so every dataset shares units.
"""
from __future__ import annotations

from pathlib import Path

from ...errors import InvalidData
from ...utils import progress
from ...classnames import KARD_CLASSES
from ..layouts import OPENNI15
from ..registry import register_dataset
from ..skeleton import SkeletonSet
from .common import Samples, assemble, find_files, read_xyz_text

PATTERN = r"a(\d\d)_s(\d\d)_e(\d\d)_realworld\.txt"


@register_dataset("kard", folder="kard")
def load_kard(path: Path, *, min_frames: int = 2, degenerate: str = "drop",
              show_progress: bool = False) -> SkeletonSet:
    """All KARD sequences under ``path`` (the ``kard/`` folder), views 0 (one camera)."""
    files, other = find_files(Path(path), PATTERN, "KARD", "a01_s01_e01_realworld.txt")
    samples = Samples()
    for file, m in progress(files, desc="kard", enabled=show_progress):
        action, subject, _ = (int(g) for g in m.groups())
        if not 1 <= action <= len(KARD_CLASSES):
            raise InvalidData(f"{file}: action {action} outside 1..{len(KARD_CLASSES)}")
        seq = read_xyz_text(file, OPENNI15.num_joints, OPENNI15.name) / 1000.0  # mm -> m
        samples.add(seq, action - 1, subject, 0, file.stem.removesuffix("_realworld"))
    return assemble(samples, name="kard", class_names=KARD_CLASSES, layout=OPENNI15,
                    source=f"KARD files in {path} (mm converted to m; {other} other files ignored)",
                    min_frames=min_frames, degenerate=degenerate)
