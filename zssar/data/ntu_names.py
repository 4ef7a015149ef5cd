"""NTU RGB+D sample names ``SsssCcccPpppRrrrAaaa``: setup, camera, performer, replication, action."""
from __future__ import annotations

import re

import numpy as np

from ..errors import InvalidData

NAME_PATTERN = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
FIELDS = ("setup", "camera", "performer", "replication", "action")


def parse_ntu_names(names) -> dict[str, np.ndarray]:
    """The five 1-based fields of each name as int64 arrays, keyed by :data:`FIELDS`."""
    rows = []
    for name in names:
        m = NAME_PATTERN.fullmatch(str(name).removesuffix(".skeleton"))
        if m is None:
            raise InvalidData(f"{name!r} is not an NTU RGB+D sample name (SsssCcccPpppRrrrAaaa, e.g. "
                              "S001C002P003R002A013).")
        rows.append([int(g) for g in m.groups()])
    table = np.asarray(rows, dtype=np.int64).reshape(-1, len(FIELDS))
    return {field: table[:, i] for i, field in enumerate(FIELDS)}
