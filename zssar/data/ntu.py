"""NTU RGB+D 60 / 120: the sample-name lists, and where their files are looked for.

The protocol of NTU needs only the sample names (subject, camera and setup are in the name), so
:func:`ntu_sample_table` builds it from ``skes_available_name.txt`` alone, without skeleton files.
Metadata folder, first found: the ``metadata=`` argument, ``$ZSSAR_NTU_METADATA``,
``$ZSSAR_DATA/ntu-metadata``, then the dataset folder itself (``$ZSSAR_DATA/ntu60``). Inside it:
``ntu60/skes_available_name.txt`` (or the file directly), as CTR-GCN ships it in
``data/ntu/statistics`` and ``data/ntu120/statistics``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import data_root
from ..errors import DatasetNotFound
from ..classnames import NTU60_CLASSES, NTU120_CLASSES
from .ntu_names import parse_ntu_names

NTU_CLASSES = {"ntu60": NTU60_CLASSES, "ntu120": NTU120_CLASSES}
AVAILABLE_LIST = "skes_available_name.txt"


@dataclass(frozen=True, eq=False)
class SampleTable:
    """Labels, subjects, views and names of samples without their skeletons: all a protocol needs."""

    name: str
    class_names: tuple[str, ...]
    sample_ids: tuple[str, ...]
    labels: np.ndarray
    subjects: np.ndarray
    views: np.ndarray
    source: str = ""
    official_train: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sample_ids)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def _check_name(dataset: str) -> None:
    if dataset not in NTU_CLASSES:
        raise DatasetNotFound(f"{dataset!r} is not an NTU dataset; use 'ntu60' or 'ntu120'.")


def find_available_list(dataset: str, metadata: str | os.PathLike | None = None,
                        root: str | os.PathLike | None = None) -> Path:
    """The ``skes_available_name.txt`` of ``dataset`` from the places listed in the module doc."""
    _check_name(dataset)
    folders = []
    if metadata is not None:
        folders.append(Path(metadata).expanduser())
    if os.environ.get("ZSSAR_NTU_METADATA"):
        folders.append(Path(os.environ["ZSSAR_NTU_METADATA"]).expanduser())
    base = data_root(root)
    if base is not None:
        folders += [base / "ntu-metadata", base / dataset]
    for folder in folders:
        for candidate in (folder / dataset / AVAILABLE_LIST, folder / AVAILABLE_LIST,
                          folder / "statistics" / AVAILABLE_LIST):
            if candidate.is_file():
                return candidate
    raise DatasetNotFound(
        f"no {AVAILABLE_LIST} for {dataset} in {[str(f) for f in folders] or 'any folder'}; pass --metadata DIR "
        f"(or set ZSSAR_NTU_METADATA) to a folder holding {dataset}/{AVAILABLE_LIST}."
    )


def read_name_list(path: Path) -> list[str]:
    return [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]


def ntu_sample_table(dataset: str, metadata: str | os.PathLike | None = None,
                     root: str | os.PathLike | None = None) -> SampleTable:
    """Every available sample of NTU60/120 from the name list: enough to build the protocol."""
    path = find_available_list(dataset, metadata, root)
    names = read_name_list(path)
    fields = parse_ntu_names(names)
    classes = NTU_CLASSES[dataset]
    if fields["action"].max() > len(classes):
        raise DatasetNotFound(f"{path} lists actions up to A{fields['action'].max():03d}; it is not the "
                              f"{dataset} list ({len(classes)} actions).")
    return SampleTable(
        name=dataset, class_names=classes, sample_ids=tuple(names), labels=fields["action"] - 1,
        subjects=fields["performer"], views=fields["camera"], source=f"sample names in {path}",
    )
