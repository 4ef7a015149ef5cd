"""Rewrite zssar/text/data/synthetic.json from the synthetic classes' compositions.

The synthetic dataset's descriptions are stored like every other dataset's; this script is the one
place where the generator's class list (zssar.data) and the text templates (zssar.text) meet.
Run it after changing either: ``.venv/bin/python scripts/write_synthetic_descriptions.py``.
"""
from pathlib import Path

from zssar.data.synthetic import CLASS_COMPOSITIONS
from zssar.text.synthetic import write_descriptions

if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "zssar" / "text" / "data" / "synthetic.json"
    write_descriptions(CLASS_COMPOSITIONS, target)
    print(f"wrote {target}")
