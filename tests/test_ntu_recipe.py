"""`make ntu60` end to end on a small generated NTU-60 file in CTR-GCN's format: the published SynSE
split, the papers' Shift-GCN configuration, a record per run in NTU_RESULTS, resumable."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from zssar.backbones.config import PAPER_CHANNELS
from zssar.data.settings import NTU60_TRAIN_SUBJECTS

ROOT = Path(__file__).resolve().parent.parent


def write_small_ntu60(root: Path, per_class: int = 4, frames: int = 24, seed: int = 0) -> None:
    """``root/ntu60/NTU60_CS.npz`` (random poses, every one of the 60 actions) and the sample list
    ``root/ntu-metadata/ntu60/skes_available_name.txt`` in the order CTR-GCN keeps."""
    rng = np.random.default_rng(seed)
    names, labels, train = [], [], []
    for action in range(1, 61):
        for k in range(per_class):
            performer = (1, 2, 3, 6)[k % 4]  # 1 and 2 train, 3 and 6 test (cross-subject)
            names.append(f"S001C001P{performer:03d}R{k // 4 + 1:03d}A{action:03d}")
            labels.append(action - 1)
            train.append(performer in NTU60_TRAIN_SUBJECTS)
    labels, train = np.array(labels), np.array(train)
    x = np.zeros((len(names), 300, 150), dtype=np.float32)
    x[:, :frames, :75] = rng.normal(size=(len(names), frames, 75))  # one person, then zero padding
    onehot = np.eye(60, dtype=np.float32)[labels]
    (root / "ntu60").mkdir(parents=True)
    np.savez(root / "ntu60" / "NTU60_CS.npz", x_train=x[train], y_train=onehot[train], x_test=x[~train],
             y_test=onehot[~train])
    (root / "ntu-metadata" / "ntu60").mkdir(parents=True)
    (root / "ntu-metadata" / "ntu60" / "skes_available_name.txt").write_text("\n".join(names) + "\n")


def _make(tmp_path: Path, results: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"ZSSAR_CACHE": str(tmp_path / "cache"), "ZSSAR_NTU_METADATA": str(tmp_path / "data" /
                                                                                           "ntu-metadata")}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "ntu60", f"NTU_ROOT={tmp_path / 'data'}",
         "NTU_METHODS=global", "NTU_SEEDS=0", "NTU_SPLITS=synse:55/5", f"NTU_RESULTS={results}",
         "NTU_FLAGS=--epochs 1 --frames 8 --set epochs=2 --quiet"],
        env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_make_ntu60_runs_the_published_split_with_the_papers_backbone_and_resumes(tmp_path):
    write_small_ntu60(tmp_path / "data")
    results = tmp_path / "results"
    done = _make(tmp_path, results)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = [json.loads(line) for line in (results / "ntu60.jsonl").read_text().splitlines()]
    assert len(records) == 1
    record = records[0]
    assert record["dataset"] == "ntu60" and record["split"]["name"] == "synse:55/5"
    assert sorted(record["split"]["unseen"]) == [10, 11, 19, 26, 56]  # SynSE's five unseen actions
    assert record["setting"] == "cross_subject" and record["backbone"]["name"] == "shiftgcn"
    assert tuple(record["backbone"]["channels"]) == tuple(PAPER_CHANNELS)
    assert record["backbone"]["optimizer"] == "sgd" and record["samples"] == 240
    assert "CTR-GCN file" in record["data_source"]
    again = _make(tmp_path, results)  # resumable: the recorded run is skipped
    assert again.returncode == 0, again.stderr[-3000:]
    assert len((results / "ntu60.jsonl").read_text().splitlines()) == 1


def test_make_ntu60_without_the_files_says_what_to_pass(tmp_path):
    done = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "ntu60", f"NTU_ROOT={tmp_path}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"make ntu60 reads {tmp_path}/ntu60: pass NTU_ROOT=DIR" in done.stdout + done.stderr
