"""The package's shape: which layer may import which, and modules that stay one idea each.

Layers (docs/ARCHITECTURE.md): data imports nothing from text, backbones, methods, evaluate or the
runner; text imports nothing from data; backbones import no method; methods import nothing from
evaluate, the runner, selection, analyses, sweeps or the command line. A module longer than 300
lines says at its top why ("Why this file is long: ...").
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "zssar"
RUNNER = {"runner", "run_config", "selection", "analyses", "sweep", "records", "cli", "commands"}
RULES = {  # layer -> the modules of zssar it must not import
    "data": {"text", "backbones", "methods", "evaluate", "features", "viz"} | RUNNER,
    "text": {"data", "backbones", "methods", "evaluate", "features", "viz"} | RUNNER,
    "backbones": {"methods", "evaluate", "text", "viz"} | RUNNER,
    "methods": {"evaluate", "viz"} | RUNNER,
    "evaluate": {"data", "text", "backbones", "methods", "features"} | RUNNER,
}


def _imports(path: Path) -> set[str]:
    """The first component below ``zssar`` of every zssar module ``path`` imports."""
    module = path.relative_to(PACKAGE.parent).with_suffix("").parts  # ("zssar", "data", "skeleton")
    package = module[:-1] if path.name != "__init__.py" else module[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names = [".".join(base + tuple(filter(None, [node.module])))]
                if not node.module:
                    names = [".".join(base + (a.name,)) for a in node.names]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "zssar" and len(parts) > 1:
                found.add(parts[1])
    return found


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE).parts
    return rel[0] if len(rel) > 1 else Path(rel[0]).stem


def test_layers_import_only_downwards():
    broken = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer(path)
        forbidden = RULES.get(layer, set()) - {layer}
        for imported in sorted(_imports(path) & forbidden):
            broken.append(f"{path.relative_to(PACKAGE.parent)} ({layer}) imports zssar.{imported}")
    assert not broken, "\n".join(broken)


def test_the_import_scan_sees_relative_and_absolute_imports(tmp_path):
    sample = PACKAGE / "methods" / "dynapurls.py"
    assert {"errors", "features", "methods"} <= _imports(sample)
    assert "evaluate" not in _imports(sample)
    assert "backbones" in _imports(PACKAGE / "runner.py") and "methods" in _imports(PACKAGE / "runner.py")


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_long_module_says_why(path):
    lines = len(path.read_text().splitlines())
    if lines <= 300:
        return
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert "Why this file is long:" in docstring, f"{path.name} has {lines} lines: split it or say why at its top"


def test_architecture_names_what_exists():
    """Every file ARCHITECTURE.md names exists, and every object of its table is in the file it names."""
    import importlib
    import re

    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text()
    paths = set(re.findall(r"`(zssar/[\w/]+\.py)`", text))
    assert paths and all((PACKAGE.parent / p).is_file() for p in paths), [p for p in paths
                                                                          if not (PACKAGE.parent / p).is_file()]
    rows = [line.split("|")[1:3] for line in text.splitlines() if line.startswith("| `") or line.startswith("| t")]
    checked = 0
    for objects, files in rows:
        modules = [importlib.import_module(p[:-3].replace("/", "."))
                   for p in re.findall(r"`(zssar/[\w/]+\.py)`", files)]
        for name in re.findall(r"`([A-Za-z_]\w*)`", objects):
            assert any(hasattr(m, name) for m in modules), f"{name} is in none of {files.strip()}"
            checked += 1
    assert checked > 30
