"""``zssar text``: fields present per class, from the project's text or a published file."""
from __future__ import annotations

import json

from zssar.cli import main as cli_main
from zssar.data.synthetic import CLASS_NAMES


def _run(capsys, *argv) -> tuple[int, dict | str]:
    code = cli_main(["text", *argv])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if "--json" in argv and code == 0 else captured.err)


def test_text_project_synthetic(capsys):
    code, out = _run(capsys, "--dataset", "synthetic", "--json")
    assert code == 0 and out["classes"] == len(CLASS_NAMES) == out["complete_classes"]
    assert out["totals"]["gap4.hand_arm"] == len(CLASS_NAMES)
    assert "parts.hip" in out["per_class"]["nod head"]["fields"]


def test_text_from_a_star_file(capsys, tmp_path):
    f = tmp_path / "parts.txt"
    f.write_text("walk; Head: up; Hand: swing; Arm: swing; Hip: sway; Leg: step; Foot: land\n"
                 "sit down; Head: level; Hand: rest; Arm: rest; Hip: lower; Leg: bend; Foot: flat\n")
    code, out = _run(capsys, "--dataset", "my-data", "--source", "star", "--path", str(f), "--json")
    assert code == 0 and out["classes"] == 2 and out["complete_classes"] == 0
    assert out["totals"]["parts.leg"] == 2 and out["totals"]["description"] == 0


def test_text_missing_source_file_is_an_error(capsys, tmp_path):
    code, err = _run(capsys, "--dataset", "ntu60", "--source", "gap", "--path", str(tmp_path / "none"))
    assert code == 2 and "no gap description file" in err
