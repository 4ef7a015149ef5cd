"""The command line with bad input: a message that says what was wrong and how to fix it, exit code 2,
no traceback, and nothing lost."""
import json
import os

import numpy as np
import pytest

from zssar.cli import main


def _err(capsys) -> str:
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return out.err


def test_a_negative_seed_is_refused(capsys):
    assert main(["run", "--seed", "-1", "--quiet"]) == 2
    assert "seed -1: use a whole number >= 0" in _err(capsys)
    assert main(["pretrain", "--seed", "-3", "--quiet"]) == 2
    assert "seed -3" in _err(capsys)


def test_an_unknown_method_setting_names_the_methods_settings(capsys):
    assert main(["run", "--set", "nosuch=1", "--quiet"]) == 2
    err = _err(capsys)
    assert "method 'global' has no setting 'nosuch'; its settings: text_field, hidden" in err
    assert "__init__" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; the folder check below still runs")
def test_an_unwritable_results_file_is_refused_before_any_work(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    assert main(["run", "--results", str(folder / "x.jsonl"), "--quiet", "--cache", str(tmp_path / "c")]) == 2
    assert "cannot write results to" in _err(capsys)
    assert not (tmp_path / "c" / "features").exists()


def test_results_under_a_file_are_refused_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    assert main(["run", "--results", str(blocker / "x.jsonl"), "--quiet", "--cache", str(tmp_path / "c")]) == 2
    err = _err(capsys)
    assert "cannot write results to" in err and "pass --results with a file in a folder you can write to" in err
    assert not (tmp_path / "c" / "features").exists()  # refused before a backbone was trained


def test_a_finished_record_is_never_lost(tmp_path, monkeypatch):
    from zssar.errors import InvalidConfig
    from zssar.results import append_record

    monkeypatch.setenv("ZSSAR_CACHE", str(tmp_path / "cache"))
    target = tmp_path / "gone" / "x.jsonl"
    target.parent.write_text("now a file")  # the results folder vanished while the run was going on
    with pytest.raises(InvalidConfig, match="the finished record is kept in") as info:
        append_record({"dataset": "d", "metrics": {"zsl_top1": 0.5}}, target)
    kept = str(info.value).split("kept in ")[1].split(":")[0]
    assert json.loads(open(kept).read())["metrics"] == {"zsl_top1": 0.5}


def test_a_corrupt_npz_is_named_and_never_loaded_with_pickle(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["data", "--dataset", f"npz:{bad}"]) == 2
    err = _err(capsys)
    assert "is not a valid interchange file" in err and "allow_pickle" not in err
    objects = tmp_path / "objects.npz"
    np.savez(objects, x=np.array([{"a": 1}], dtype=object))
    assert main(["data", "--dataset", f"npz:{objects}"]) == 2
    err = _err(capsys)
    assert "holds Python objects, which are never loaded" in err and "allow_pickle" not in err


def test_json_has_one_shape_for_one_run_and_many(tmp_path, capsys):
    common = ["run", "--dataset", "synthetic", "--split", "random:5:seed=0", "--epochs", "1", "--cache",
              str(tmp_path), "--json", "--quiet", "--set", "epochs=2"]
    assert main(common) == 0
    one = json.loads(capsys.readouterr().out)
    assert main(common + ["--seed", "0", "1"]) == 0
    two = json.loads(capsys.readouterr().out)
    assert set(one) == set(two) == {"runs", "aggregate", "records"}
    assert one["runs"] == 1 and two["runs"] == 2 and len(two["records"]) == 2


def test_quiet_prints_no_progress_bars(tmp_path, capfd):
    assert main(["run", "--dataset", "synthetic", "--epochs", "1", "--set", "epochs=1", "--cache", str(tmp_path),
                 "--quiet"]) == 0
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "it/s" not in err
