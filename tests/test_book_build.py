"""The book shows one parameters cell per chapter, holding the values the chapter ran with."""
from pathlib import Path

from helpers import load_script

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _finish():
    return load_script("finish_notebook")


def _cell(source, *tags):
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": source, "outputs": []}


def test_injected_values_are_written_into_the_parameters_cell_and_the_injected_cell_is_hidden():
    nb = {"cells": [_cell('dataset = "synthetic"  # or kard\nseed = 0\nepochs = 3\n', "parameters"),
                    _cell('# Parameters\ndataset = "kard"\nseed = 2\n', "injected-parameters"),
                    _cell("print(dataset)")]}
    assert _finish().fold(nb) == 2
    assert nb["cells"][0]["source"] == 'dataset = "kard"  # or kard\nseed = 2\nepochs = 3\n'
    assert nb["cells"][1]["metadata"]["tags"] == ["injected-parameters", "remove-cell"]
    assert nb["cells"][2]["metadata"]["tags"] == []


def test_a_notebook_without_injected_parameters_is_left_alone():
    nb = {"cells": [_cell(["seed = 0\n"], "parameters"), _cell("print(seed)")]}
    assert _finish().fold(nb) == 0
    assert nb["cells"][0]["source"] == ["seed = 0\n"]


def test_every_chapter_checks_outputs_by_tag_not_by_a_comment_in_its_code():
    import json

    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            assert "NBVAL_" not in source, f"{path.name}: use the cell tag nbval-check-output, not a comment"


def test_every_chapter_that_runs_a_method_takes_a_description_file_and_passes_it_on():
    import json
    import re

    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        runs = [src for src in code if re.search(r"RunConfig\([^)]*data_root=data_root", src, re.S)]
        if not runs:
            continue
        params = next("".join(c["source"]) for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
        assert re.search(r"^descriptions = None", params, re.M), f"{path.name}: no descriptions parameter"
        assert all("descriptions=descriptions" in src for src in runs), f"{path.name}: a run ignores descriptions"


def test_no_chapter_states_a_finding_its_numbers_may_not_show():
    """Prose is written before the numbers of a rerun are known (another dataset, seed or split): a
    finding belongs in a printed, computed sentence, never in fixed prose with words like these."""
    import json
    import re

    claims = re.compile(r"\b(clearly|outperform\w*|significantly|dramatically|substantially|always (?:better|higher|"
                        r"wins)|tight clusters|as expected|state[- ]of[- ]the[- ]art|remarkabl\w*|impressive\w*)\b",
                        re.I)
    found = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                found += [f"{path.name}: {m.group(0)!r}" for m in claims.finditer("".join(cell["source"]))]
    assert not found, found
