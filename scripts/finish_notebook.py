"""Fold papermill's injected parameters into a notebook's own parameters cell, for the book.

papermill writes the values it was given into a new cell (tag ``injected-parameters``) after the
notebook's ``parameters`` cell, so every chapter would show two parameter cells. This script writes
each injected value into the matching assignment of the ``parameters`` cell (keeping its comment),
so the one cell a reader sees holds the values the chapter ran with, and tags the injected cell
``remove-cell`` (Jupyter Book leaves it out; the notebook file keeps it).

    python scripts/finish_notebook.py book/notebooks/02_data.ipynb [...]
"""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _assignments(source: str) -> dict[str, str]:
    """Top-level ``name = value`` of a cell: name -> the value's source text."""
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = ast.get_source_segment(source, node.value)
    return out


def fold(nb: dict) -> int:
    """Fold the injected values into the parameters cell; returns how many values were written."""
    cells = nb["cells"]
    tags = [c.get("metadata", {}).get("tags", []) for c in cells]
    own = next((c for c, t in zip(cells, tags) if "parameters" in t), None)
    injected = next((c for c, t in zip(cells, tags) if "injected-parameters" in t), None)
    if own is None or injected is None:
        return 0
    values = _assignments(_source(injected))
    lines = _source(own).splitlines(keepends=True)
    tree = ast.parse(_source(own))
    written = 0
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        if name not in values or node.lineno != node.end_lineno:
            continue
        line = lines[node.lineno - 1]
        start, end = node.value.col_offset, node.value.end_col_offset  # byte offsets; ASCII source
        lines[node.lineno - 1] = line[:start] + values[name] + line[end:]
        written += 1
    text = "".join(lines)
    own["source"] = text if isinstance(own["source"], str) else text.splitlines(keepends=True)
    meta_tags = injected.setdefault("metadata", {}).setdefault("tags", [])
    if "remove-cell" not in meta_tags:
        meta_tags.append("remove-cell")
    return written


def main(paths: list[str]) -> None:
    for path in map(Path, paths):
        nb = json.loads(path.read_text())
        fold(nb)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
