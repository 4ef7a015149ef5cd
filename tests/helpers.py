"""Small builders the tests share."""
import importlib.util
from pathlib import Path

import numpy as np

from zssar.text.classtext import ClassText
from zssar.text.descriptions import TextBank
from zssar.text.schema import PART_KEYS, PHASE_KEYS, PURLS_PART_KEYS, ClassDescription


class TableEncoder:
    """An encoder that maps each string to a vector given in advance (unknown strings: an error)."""

    name = "table"

    def __init__(self, table: dict, dim: int):
        self.table, self.dim, self.cache_key = table, dim, "table"

    def encode(self, texts):
        missing = [t for t in texts if t not in self.table]
        if missing:
            raise KeyError(f"no vector for {missing[:2]}")
        return np.stack([self.table[t] for t in texts]).astype(np.float32) if texts else np.zeros((0, self.dim))


def toy_entry(c: int) -> ClassDescription:
    """Class ``c`` with a distinct string in every field of the schema."""
    return ClassDescription(label=f"class {c}", synonyms=(f"synonym {c}",), description=f"description {c}",
                            parts={k: f"part {k} {c}" for k in PART_KEYS},
                            purls_parts={k: f"purls {k} {c}" for k in PURLS_PART_KEYS},
                            phases={k: f"phase {k} {c}" for k in PHASE_KEYS},
                            context={"environment": f"room {c}", "used_object": f"object {c}",
                                     "target_object": f"target {c}"},
                            context_sentence=f"context {c}", variants=(f"variant {c}",))


def class_text_from_vectors(fields: dict) -> ClassText:
    """A ClassText whose field ``f`` of class ``c`` embeds to ``fields[f][c]`` (rows: classes 0..K-1)."""
    k = len(next(iter(fields.values())))
    entries = tuple(toy_entry(c) for c in range(k))
    table = {}
    for name, vectors in fields.items():
        for c, entry in enumerate(entries):
            table[entry.field(name)] = np.asarray(vectors[c], dtype=np.float32)
    dim = int(np.asarray(next(iter(fields.values()))).shape[1])
    return ClassText(TextBank("toy", entries, "vectors given by the test"), TableEncoder(table, dim))


def load_script(name: str):
    """A script of ``scripts/`` imported as a module (scripts are not part of the package)."""
    path = Path(__file__).resolve().parent.parent / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
