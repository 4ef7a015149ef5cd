"""Backbones on tiny random configurations; input streams; resumable, cached pretraining; the CLI."""
import json
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from zssar.backbones import checkpoints
from zssar.backbones.graph import directed_partition
from zssar.backbones.config import BackboneConfig, build_backbone
from zssar.backbones.pretrain import pretrain
from zssar.backbones.shiftgcn import TemporalShift, shift_indices
from zssar.backbones.streams import STREAMS, parents, to_stream
from zssar.data.layouts import get_layout
from zssar.data.protocol import build_protocol
from zssar.data.splits import parse_split
from zssar.errors import InvalidConfig

BACKBONES = ("stgcn", "shiftgcn", "ctrgcn")
LAYOUTS = ("ntu25", "kinect20", "openni15")
TINY = dict(channels=(8, 16), strides=(1, 2), frames=12, dropout=0.0)


def _model(name, layout_name, num_classes=5, seed=0):
    from zssar.utils import torch_seeded

    with torch_seeded(seed):
        return build_backbone(BackboneConfig(name=name, **TINY), get_layout(layout_name), num_classes)


@pytest.mark.parametrize("name", BACKBONES)
@pytest.mark.parametrize("layout_name", LAYOUTS)
@pytest.mark.parametrize("persons", [1, 2])
def test_output_shapes(name, layout_name, persons):
    v = get_layout(layout_name).num_joints
    model = _model(name, layout_name).eval()
    logits, pooled, tokens = model(torch.randn(3, persons, 12, v, 3))
    assert logits.shape == (3, 5) and pooled.shape == (3, 16)
    assert tokens.shape == (3, 6, v, 16)  # time stride 2 in the second block
    torch.testing.assert_close(pooled, tokens.mean(dim=(1, 2)))


@pytest.mark.parametrize("name", BACKBONES)
def test_an_absent_second_person_does_not_change_the_features(name):
    model = _model(name, "ntu25").eval()
    one = torch.randn(2, 1, 12, 25, 3)
    two = torch.cat([one, torch.zeros_like(one)], dim=1)
    with torch.no_grad():
        a, b = model(one), model(two)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)


@pytest.mark.parametrize("name", BACKBONES)
def test_backward_reaches_every_parameter(name):
    model = _model(name, "openni15").train()
    logits, _, _ = model(torch.randn(4, 2, 12, 15, 3))
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no finite gradient for {missing}"


@pytest.mark.parametrize("name", BACKBONES)
def test_same_seed_same_weights_after_one_step(name):
    x, y = torch.randn(4, 1, 12, 20, 3), torch.tensor([0, 1, 2, 3])

    def one_step(seed):
        model = _model(name, "kinect20", seed=seed).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        torch.nn.functional.cross_entropy(model(x)[0], y).backward()
        opt.step()
        return model.state_dict()

    a, b, c = one_step(0), one_step(0), one_step(1)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_spatial_shift_out_undoes_shift_in():
    v, c = 7, 5
    x = torch.arange(v * c)
    shifted = x[shift_indices(v, c, +1)]
    assert int(shifted.view(v, c)[0, 3]) == 3 * c + 3  # joint 0, channel 3 reads joint 3
    torch.testing.assert_close(shifted[shift_indices(v, c, -1)], x)


def test_temporal_shift_moves_whole_frames_and_learns_its_offset():
    shift = TemporalShift(2)
    with torch.no_grad():
        shift.offset.copy_(torch.tensor([1.0, -1.0]))
    x = torch.arange(5.0).view(1, 1, 5, 1).repeat(1, 2, 1, 1)
    y = shift(x)[0, :, :, 0]
    torch.testing.assert_close(y[0], torch.tensor([1.0, 2, 3, 4, 0]))  # reads the next frame
    torch.testing.assert_close(y[1], torch.tensor([0.0, 0, 1, 2, 3]))  # reads the previous frame
    with torch.no_grad():
        shift.offset.copy_(torch.tensor([0.25, 0.5]))
    (shift(x) ** 2).sum().backward()
    assert shift.offset.grad.abs().sum() > 0


def test_directed_partition_is_identity_inward_outward():
    layout = get_layout("openni15")
    a = directed_partition(layout)
    np.testing.assert_array_equal(a[0], np.eye(15))
    child, parent = layout.bones[0]
    assert a[1, parent, child] > 0 and a[1, child, parent] == 0 and a[2, child, parent] > 0
    np.testing.assert_allclose(a[1].sum(0)[a[1].sum(0) > 0], 1.0)


def test_streams_bone_and_motion():
    layout = get_layout("ntu25")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 2, 6, 25, 3)).astype(np.float32)
    x[1, 1] = 0  # an absent person stays zero in every stream
    bone = to_stream(x, layout, "bone")
    child, parent = layout.bones[3]
    np.testing.assert_allclose(bone[..., child, :], x[..., child, :] - x[..., parent, :])
    roots = sorted(set(range(25)) - {c for c, _ in layout.bones})
    assert roots == [layout.index("spine_shoulder")] and parents(layout)[roots[0]] == roots[0]
    assert np.all(bone[..., roots[0], :] == 0)
    jm = to_stream(x, layout, "joint_motion")
    np.testing.assert_allclose(jm[:, :, 2], x[:, :, 3] - x[:, :, 2])
    assert np.all(jm[:, :, -1] == 0)
    np.testing.assert_allclose(to_stream(x, layout, "bone_motion")[:, :, 0], bone[:, :, 1] - bone[:, :, 0])
    rot = np.linalg.qr(rng.normal(size=(3, 3)))[0].astype(np.float32)
    for s in STREAMS:  # every stream is linear: rotating before or after is the same
        assert np.all(to_stream(x, layout, s)[1, 1] == 0)
        np.testing.assert_allclose(to_stream(x @ rot.T, layout, s), to_stream(x, layout, s) @ rot.T, atol=1e-5)
    with pytest.raises(InvalidConfig, match="unknown input stream"):
        to_stream(x, layout, "velocity")
    with pytest.raises(InvalidConfig, match="layout 'openni15' has 15"):
        to_stream(x, get_layout("openni15"), "bone")


def test_config_is_checked_and_paper_configuration_available():
    with pytest.raises(InvalidConfig, match="unknown backbone 'resnet'"):
        BackboneConfig(name="resnet")
    with pytest.raises(InvalidConfig, match="unknown input stream"):
        BackboneConfig(stream="speed")
    with pytest.raises(InvalidConfig, match="same length"):
        BackboneConfig(channels=(8, 16), strides=(1,))
    paper = BackboneConfig.paper("ctrgcn")
    assert paper.channels[-1] == 256 and len(paper.channels) == 10 and paper.frames == 64
    assert paper.optimizer == "sgd" and paper.lr == 0.1 and paper.warmup_epochs == 5 and paper.lr_steps == (35, 55)
    # the SGD schedule's settings define the features only when SGD trains them
    assert "lr_steps" not in BackboneConfig().identity() and paper.identity()["lr_steps"] == (35, 55)
    with pytest.raises(InvalidConfig, match="unknown optimizer 'rmsprop'"):
        BackboneConfig(optimizer="rmsprop")


def _protocol(data, split="random:3:seed=1"):
    return build_protocol(data, parse_split(split, data.num_classes))


def test_interrupted_pretraining_resumes_to_the_same_numbers(tiny_data, tiny_backbone, tmp_path, monkeypatch):
    config = replace(tiny_backbone, name="shiftgcn", epochs=3, stream="bone")
    protocol = _protocol(tiny_data)
    whole = pretrain(tiny_data, protocol, config, cache_dir=tmp_path / "a", show_progress=False)

    real_save, saves = checkpoints.save, []

    def save_then_crash(*args):
        real_save(*args)
        saves.append(1)
        if len(saves) == 2:
            raise KeyboardInterrupt("simulated interruption after epoch 2")

    monkeypatch.setattr(checkpoints, "save", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        pretrain(tiny_data, protocol, config, cache_dir=tmp_path / "b", show_progress=False)
    assert (tmp_path / "b" / "features" / f".build-{whole.key}" / "state.pt").exists()
    monkeypatch.setattr(checkpoints, "save", real_save)
    resumed = pretrain(tiny_data, protocol, config, cache_dir=tmp_path / "b", show_progress=False)
    assert resumed.meta["resumed_from_epoch"] == 2 and not resumed.cache_hit
    assert resumed.history == whole.history and resumed.best_epoch == whole.best_epoch
    np.testing.assert_array_equal(resumed.features.tokens, whole.features.tokens)
    assert not (tmp_path / "b" / "features" / f".build-{whole.key}").exists()  # cleaned up


def test_second_run_reuses_the_cache_quickly(tiny_data, tiny_backbone, tmp_path):
    config = replace(tiny_backbone, name="ctrgcn", epochs=1)
    protocol = _protocol(tiny_data)
    first = pretrain(tiny_data, protocol, config, cache_dir=tmp_path, show_progress=False)
    start = time.perf_counter()
    again = pretrain(tiny_data, protocol, config, cache_dir=tmp_path, show_progress=False)
    assert again.cache_hit and time.perf_counter() - start < 5.0
    np.testing.assert_array_equal(first.logits, again.logits)
    assert again.seen_classes == protocol.seen and first.logits.shape == (len(tiny_data), len(protocol.seen))
    other = pretrain(tiny_data, protocol, replace(config, stream="joint_motion"), cache_dir=tmp_path,
                     show_progress=False)
    assert not other.cache_hit and other.key != first.key


def test_cli_pretrain_reports_seen_accuracy_and_cache(tiny_data, tmp_path, capsys):
    from zssar.cli import main
    from zssar.data.interchange import save_npz

    path = save_npz(tiny_data, tmp_path / "tiny.npz")
    args = ["pretrain", "--dataset", f"npz:{path}", "--split", "none", "--backbone", "shiftgcn", "--seed", "0",
            "--epochs", "2", "--frames", "12", "--cache", str(tmp_path / "cache"), "--json", "--quiet"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert not first["cache_hit"] and first["split"]["unseen"] == [] and first["backbone"]["name"] == "shiftgcn"
    assert 0.0 <= first["seen_test_top1"] <= 1.0 and first["protocol_sizes"]["seen_test"] > 0
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["cache_hit"] and second["cache_key"] == first["cache_key"]
    assert second["seen_test_top1"] == first["seen_test_top1"] and second["timings_s"]["pretrain"] < 5.0
    assert main(["pretrain", "--dataset", f"npz:{path}", "--backbone", "resnet", "--quiet"]) == 2
    assert "unknown backbone 'resnet'" in capsys.readouterr().err
