"""NTU RGB+D 60 / 120 readers: raw ``.skeleton`` files and CTR-GCN ``.npz`` files.

Expected folder ``$ZSSAR_DATA/ntu60/`` (or ``ntu120/``) holding either

* the raw ``.skeleton`` files, anywhere below it (e.g. ``nturgb+d_skeletons/S001C001P001R001A001.skeleton``);
  samples listed in ``samples_with_missing_skeletons.txt`` (next to them or in the metadata folder)
  are skipped; of several bodies the two most active (largest joint variance over time) are kept;
* or one CTR-GCN file (``NTU60_CS.npz``, ``NTU60_CV.npz``, ``NTU120_CSub.npz``, ``NTU120_CSet.npz``):
  ``x_train`` (N, 300, 150), one-hot ``y_train``, same for test. Sample names, performers and cameras
  are recovered from ``skes_available_name.txt`` (CTR-GCN keeps its order) and checked against the
  labels; the file's own train/test division becomes ``official_train`` of its setting. It is read
  chunk by chunk into a memory-mapped copy under the cache folder, never whole into memory
  (:mod:`.ntu_npz`; ``memory_map=False`` reads it whole, as before).
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from ...errors import DatasetNotFound, InvalidData
from ...utils import progress
from ..layouts import NTU25
from ..ntu import NTU_CLASSES, find_available_list, read_name_list
from ..ntu_names import parse_ntu_names
from ..registry import register_dataset
from ..settings import train_side
from ..skeleton import SkeletonSet
from .common import Samples, assemble, check_degenerate, package, screen_reasons
from .ntu_npz import CtrgcnArrays

NPZ_SETTINGS = {"CS": "cross_subject", "CSub": "cross_subject", "CV": "cross_view", "CSet": "cross_setup"}
MAX_BODIES = 2


def read_skeleton_file(path: Path) -> np.ndarray:
    """One raw ``.skeleton`` file -> (M<=2, T, 25, 3) float32, the most active bodies first."""
    lines = Path(path).read_text().split("\n")
    pos = 0

    def take() -> str:
        nonlocal pos
        if pos >= len(lines) or not lines[pos].strip():
            raise InvalidData(f"{path}: file ends early at line {pos + 1}; the file is truncated.")
        pos += 1
        return lines[pos - 1]

    try:
        frames = int(take())
        bodies: dict[str, dict[int, np.ndarray]] = {}
        for t in range(frames):
            for _ in range(int(take())):
                body_id = take().split()[0]
                joints = int(take())
                if joints != NTU25.num_joints:
                    raise InvalidData(f"{path}: frame {t} has a body with {joints} joints; NTU bodies have 25.")
                xyz = np.array([take().split()[:3] for _ in range(joints)], dtype=np.float32)
                if xyz.shape != (joints, 3):
                    raise InvalidData(f"{path}: frame {t} has a joint line with fewer than 3 values (truncated).")
                bodies.setdefault(body_id, {})[t] = xyz
    except ValueError as exc:
        raise InvalidData(f"{path}: unreadable number near line {pos} ({exc}); the file is damaged.") from None
    out = np.zeros((max(1, min(MAX_BODIES, len(bodies))), frames, NTU25.num_joints, 3), dtype=np.float32)

    def activity(track: dict[int, np.ndarray]) -> float:
        return float(np.stack(list(track.values())).var(axis=0).sum()) if len(track) > 1 else 0.0

    ranked = sorted(bodies.values(), key=activity, reverse=True)[:MAX_BODIES]
    for m, track in enumerate(ranked):
        for t, xyz in track.items():
            out[m, t] = xyz
    return out


def _load_raw(path: Path, dataset: str, metadata, show_progress: bool, min_frames: int,
              degenerate: str, max_in_memory_bytes: int) -> SkeletonSet:
    files = sorted(path.rglob("*.skeleton"))
    fields = parse_ntu_names([f.stem for f in files])
    keep = fields["action"] <= len(NTU_CLASSES[dataset])
    if dataset == "ntu60":
        keep &= fields["setup"] <= 17
    missing = set()
    for folder in [path, *([Path(metadata)] if metadata else [])]:
        for list_file in folder.rglob("*samples_with_missing_skeletons.txt"):
            missing |= set(read_name_list(list_file))
    samples, skipped = Samples(), 0
    for file, ok in progress(list(zip(files, keep)), desc=dataset, enabled=show_progress):
        if not ok:
            continue
        if file.stem in missing:
            skipped += 1
            continue
        f = parse_ntu_names([file.stem])
        samples.add(read_skeleton_file(file), int(f["action"][0]) - 1, int(f["performer"][0]),
                    int(f["camera"][0]), file.stem)
    return assemble(samples, name=dataset, class_names=NTU_CLASSES[dataset], layout=NTU25,
                    source=f"raw NTU .skeleton files under {path} ({skipped} listed missing-skeleton samples "
                           "skipped)", min_frames=min_frames, degenerate=degenerate, max_persons=MAX_BODIES,
                    max_in_memory_bytes=max_in_memory_bytes)


def _read_labels(file: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(file, allow_pickle=False) as f:
            return {side: f[f"y_{side}"] for side in ("train", "test")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise InvalidData(f"{file}: cannot read y_train / y_test ({type(exc).__name__}: {exc}); a CTR-GCN file holds "
                          "x_train, y_train, x_test, y_test. Is it truncated or damaged? Fetch it again.") from None


def _load_ctrgcn(file: Path, dataset: str, metadata, root, min_frames: int, degenerate: str,
                 memory_map: bool, show_progress: bool) -> SkeletonSet:
    setting = NPZ_SETTINGS[file.stem.split("_")[-1]]
    check_degenerate(degenerate)
    arrays = CtrgcnArrays(file, show_progress) if memory_map else None
    if arrays is None:
        with np.load(file) as f:
            parts = {side: f[f"x_{side}"] for side in ("train", "test")}
        sizes = {side: len(x) for side, x in parts.items()}
    else:
        sizes = arrays.sizes()
    y = _read_labels(file)
    names = read_name_list(find_available_list(dataset, metadata, root or file.parent.parent))
    fields = parse_ntu_names(names)
    from ..ntu import SampleTable

    table = SampleTable(dataset, NTU_CLASSES[dataset], tuple(names), fields["action"] - 1,
                        fields["performer"], fields["camera"])
    train = train_side(table, setting)
    sides = {"train": np.flatnonzero(train), "test": np.flatnonzero(~train)}
    for side, rows in sides.items():
        if sizes[side] != len(rows):
            raise InvalidData(f"{file}: x_{side} has {sizes[side]} samples but the sample list gives {len(rows)} for "
                              f"{setting}; is {file.name} from the same {dataset} list?")
        if not np.array_equal(np.asarray(y[side]).argmax(axis=1), table.labels[rows]):
            raise InvalidData(f"{file}: y_{side} labels disagree with the sample names; wrong name list?")
    order = np.concatenate([sides["train"], sides["test"]])
    official = np.arange(len(order)) < len(sides["train"])
    source = f"CTR-GCN file {file} ({setting})"
    if arrays is None:
        return _assemble_in_memory(parts, sides, table, dataset, source, min_frames, degenerate, setting)
    meta = Samples(labels=table.labels[order].tolist(), subjects=table.subjects[order].tolist(),
                   views=table.views[order].tolist(), sample_ids=[names[i] for i in order])
    lengths, finite = arrays.frame_index()
    reasons = [None if ok and n >= min_frames else "nan" if not ok else "all_zero" if n == 0 else "too_short"
               for ok, n in zip(finite.tolist(), lengths.tolist())]
    keep, dropped = screen_reasons(reasons, meta.sample_ids, lengths, name=dataset, degenerate=degenerate)
    mask = np.zeros(len(order), dtype=bool)
    mask[keep] = True
    return package(arrays.padded(mask, lengths), lengths[keep], keep, meta, dropped, read=len(order), name=dataset,
                   class_names=NTU_CLASSES[dataset], layout=NTU25, source=source, official_train={setting: official})


def _assemble_in_memory(parts, sides, table, dataset, source, min_frames, degenerate, setting) -> SkeletonSet:
    """The whole file in memory, as zssar read CTR-GCN files before :mod:`.ntu_npz` (``memory_map=False``)."""
    samples, official = Samples(), []
    for side, rows in sides.items():
        x = parts[side]
        seqs = np.asarray(x, dtype=np.float32).reshape(len(x), x.shape[1], 2, 25, 3).transpose(0, 2, 1, 3, 4)
        for seq, i in zip(seqs, rows):
            moving = np.abs(seq).sum(axis=(0, 2, 3)) > 0
            length = len(moving) - int(np.argmax(moving[::-1])) if moving.any() else 0
            samples.add(seq[:, :length], int(table.labels[i]),
                        int(table.subjects[i]), int(table.views[i]), table.sample_ids[i])
            official.append(side == "train")
    return assemble(samples, name=dataset, class_names=NTU_CLASSES[dataset], layout=NTU25,
                    source=source, min_frames=min_frames, degenerate=degenerate,
                    official_train={setting: np.array(official)})


def load_ntu(path: Path, dataset: str, *, npz: str | None = None, metadata=None, root=None,
             show_progress: bool = True, min_frames: int = 2, degenerate: str = "drop",
             memory_map: bool = True, max_in_memory_gib: float = 4.0) -> SkeletonSet:
    """NTU from raw files or a CTR-GCN npz (``npz=`` picks one when several are present).

    A CTR-GCN file is read in chunks into a memory-mapped copy in the cache folder
    (:mod:`.ntu_npz`); ``memory_map=False`` reads it whole into memory instead. Raw files: a padded
    array above ``max_in_memory_gib`` is assembled in a memory-mapped scratch file.
    """
    path = Path(path)
    candidates = sorted(path.glob("NTU*_C*.npz")) if npz is None else [path / npz]
    if candidates:
        if len(candidates) > 1:
            raise InvalidData(f"several CTR-GCN files in {path}: {[c.name for c in candidates]}; pass npz=NAME.")
        return _load_ctrgcn(candidates[0], dataset, metadata, root, min_frames, degenerate, memory_map,
                            show_progress)
    if not any(path.rglob("*.skeleton")):
        raise DatasetNotFound(f"no NTU files under {path}: expected raw .skeleton files or a CTR-GCN "
                              "NTU60_CS.npz-style file (see zssar.data.readers.ntu).")
    return _load_raw(path, dataset, metadata, show_progress, min_frames, degenerate,
                     int(max_in_memory_gib * 2**30))


@register_dataset("ntu60", folder="ntu60")
def load_ntu60(path: Path, **options) -> SkeletonSet:
    return load_ntu(path, "ntu60", **options)


@register_dataset("ntu120", folder="ntu120")
def load_ntu120(path: Path, **options) -> SkeletonSet:
    return load_ntu(path, "ntu120", **options)
