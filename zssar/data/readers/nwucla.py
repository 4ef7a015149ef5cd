"""Northwestern-UCLA Multiview Action 3D (Wang et al., CVPR 2014) in CTR-GCN's JSON form.

``all_sqe/aAA_sSS_eEE_vVV.json`` = ``{"file_name", "skeletons": T x 20 x 3, "label": 1..10}``; the
ten labels are actions a01 a02 a03 a04 a05 a06 a08 a09 a11 a12. Views 1..3 are the three cameras.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...errors import InvalidData
from ...utils import progress
from ...classnames import NWUCLA_CLASSES
from ..layouts import KINECT20
from ..registry import register_dataset
from ..skeleton import SkeletonSet
from .common import Samples, assemble, find_files

ACTION_IDS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)  # label k (1-based) is action ACTION_IDS[k - 1]
PATTERN = r"a(\d\d)_s(\d\d)_e(\d\d)_v(\d\d)\.json"


def read_nwucla_file(file: Path) -> tuple[np.ndarray, int]:
    """One JSON sequence -> ((T, 20, 3) float32, 0-based label), checking frames and the label."""
    try:
        record = json.loads(file.read_text())
        frames = record["skeletons"]
        label = int(record["label"])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidData(f"{file}: not valid JSON ({exc}); the file is truncated or damaged.") from None
    except (KeyError, TypeError, ValueError):
        raise InvalidData(f"{file}: expected {{'skeletons': T x 20 x 3, 'label': 1..10}}.") from None
    for t, frame in enumerate(frames):
        if len(frame) != KINECT20.num_joints or any(len(joint) != 3 for joint in frame):
            raise InvalidData(f"{file}: frame {t} has {len(frame)} joints (or a joint without 3 coordinates); "
                              f"expected {KINECT20.num_joints} joints of x y z.")
    if not 1 <= label <= len(NWUCLA_CLASSES):
        raise InvalidData(f"{file}: label {label} outside 1..{len(NWUCLA_CLASSES)}")
    seq = np.asarray(frames, dtype=np.float32).reshape(len(frames), KINECT20.num_joints, 3)
    return seq, label - 1


@register_dataset("nw-ucla", folder="nw-ucla")
def load_nwucla(path: Path, *, min_frames: int = 2, degenerate: str = "drop",
                show_progress: bool = False) -> SkeletonSet:
    """All NW-UCLA sequences under ``path`` (the ``nw-ucla/`` folder with ``all_sqe/``)."""
    files, other = find_files(Path(path) / "all_sqe", PATTERN, "NW-UCLA", "all_sqe/a01_s01_e00_v01.json")
    samples = Samples()
    for file, m in progress(files, desc="nw-ucla", enabled=show_progress):
        action, subject, _, view = (int(g) for g in m.groups())
        seq, label = read_nwucla_file(file)
        if ACTION_IDS[label] != action:
            raise InvalidData(f"{file}: label {label + 1} is action a{ACTION_IDS[label]:02d} but the file name "
                              f"says a{action:02d}.")
        samples.add(seq, label, subject, view, file.stem)
    return assemble(samples, name="nw-ucla", class_names=NWUCLA_CLASSES, layout=KINECT20,
                    source=f"NW-UCLA JSON files in {Path(path) / 'all_sqe'} ({other} other files ignored)",
                    min_frames=min_frames, degenerate=degenerate)
