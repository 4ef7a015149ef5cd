"""Preprocessing: defaults unchanged, view and scale normalisation invariances, persons, degenerate counts."""
import numpy as np
import pytest

from zssar.data.layouts import get_layout
from zssar.data.preprocess import (centre, drop_short, fix_persons, prepare, resample, scale_normalised, screen,
                                   torso_joints, torso_lengths, view_normalised, view_rotations)
from zssar.data.skeleton import from_arrays
from zssar.errors import InvalidConfig, InvalidData


def _rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q  # a proper rotation (det +1)


def _random_set(layout="ntu25", n=6, persons=2, frames=12, seed=0):
    rng = np.random.default_rng(seed)
    v = get_layout(layout).num_joints
    x = rng.normal(size=(n, persons, frames, v, 3)).astype(np.float32)
    lengths = rng.integers(4, frames + 1, size=n)
    for i, length in enumerate(lengths):
        x[i, :, length:] = 0.0
    x[0, 1] = 0.0  # one sample with a single person
    return from_arrays(x, np.arange(n) % 3, ["a", "b", "c"], layout, lengths=lengths)


def test_defaults_are_the_plain_centred_resampled_input(tiny_data):
    data = _random_set()
    expected = centre(resample(data.x, data.lengths, 16), data.layout.centre)
    np.testing.assert_array_equal(prepare(data, 16), expected)
    np.testing.assert_array_equal(prepare(tiny_data, 8), centre(resample(tiny_data.x, tiny_data.lengths, 8), 1))


@pytest.mark.parametrize("layout", ["ntu25", "kinect20", "openni15"])
def test_view_normalisation_undoes_any_rotation(layout):
    data = _random_set(layout)
    rng = np.random.default_rng(1)
    rotated = np.stack([sample @ _rotation(rng).T for sample in data.x]).astype(np.float32)
    np.testing.assert_allclose(view_normalised(rotated, data.layout), view_normalised(data.x, data.layout), atol=1e-4)
    assert not view_normalised(rotated, data.layout)[0, 1].any()  # padding and absent persons stay zero


def test_view_normalisation_puts_hips_on_x_and_spine_on_y():
    data = _random_set()
    out = view_normalised(data.x, data.layout)
    j = torso_joints(data.layout)
    pose = out[:, 0, 0]  # every sample's first person is present in frame 0
    hips = pose[:, j["right_hip"]] - pose[:, j["left_hip"]]
    assert np.allclose(hips[:, 1:], 0, atol=1e-5) and (hips[:, 0] > 0).all()
    shoulders = pose[:, j["left_shoulder"]] + pose[:, j["right_shoulder"]]
    spine = (shoulders - pose[:, j["left_hip"]] - pose[:, j["right_hip"]]) / 2
    assert np.allclose(spine[:, 2], 0, atol=1e-5) and (spine[:, 1] > 0).all()
    rot = view_rotations(data.x, data.layout)
    np.testing.assert_allclose(rot @ rot.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rot.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0)


def test_scale_normalisation_removes_body_size():
    data = _random_set()
    sizes = np.array([0.5, 1.0, 2.0, 3.0, 0.1, 7.0], dtype=np.float32)[:, None, None, None, None]
    np.testing.assert_allclose(scale_normalised(data.x * sizes, data.layout), scale_normalised(data.x, data.layout),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(torso_lengths(scale_normalised(data.x, data.layout), data.layout), 1.0, rtol=1e-5)


def test_prepare_with_both_normalisations_is_invariant_to_pose_and_size():
    data = _random_set()
    rng = np.random.default_rng(2)
    moved = np.stack([2.5 * sample @ _rotation(rng).T for sample in data.x]).astype(np.float32)
    other = from_arrays(moved, data.labels, data.class_names, data.layout, lengths=data.lengths)
    a = prepare(data, 10, normalise_view=True, normalise_scale=True)
    b = prepare(other, 10, normalise_view=True, normalise_scale=True)
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert not np.allclose(prepare(data, 10), prepare(other, 10), atol=1e-2)  # without them it is not


def test_degenerate_axes_keep_the_identity():
    x = np.zeros((2, 1, 3, 25, 3), dtype=np.float32)
    x[1, 0, :, :, 0] = 1.0  # every joint at one point: no hip axis, no spine
    rot = view_rotations(x, get_layout("ntu25"))
    np.testing.assert_array_equal(rot, np.broadcast_to(np.eye(3), (2, 3, 3)))
    np.testing.assert_array_equal(scale_normalised(x, get_layout("ntu25")), x)


def test_person_axis_padded_or_cut():
    data = _random_set(persons=2)
    assert fix_persons(data.x, 3).shape[1] == 3 and not fix_persons(data.x, 3)[:, 2].any()
    np.testing.assert_array_equal(fix_persons(data.x, 1), data.x[:, :1])
    assert prepare(data, 8, persons=4).shape == (6, 4, 8, 25, 3)
    with pytest.raises(InvalidConfig, match="persons must be at least 1"):
        fix_persons(data.x, 0)


def test_screen_counts_what_it_drops_and_why():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 8, 15, 3)).astype(np.float32)
    x[1, 3, 2, 0] = np.nan
    x[2] = 0.0
    x[3, 1:] = 0.0  # one frame only
    x[4, 5, 0, 1] = np.inf
    keep, counts = screen(x)
    assert keep.tolist() == [True, False, False, False, False, True]
    assert counts == {"nan": 2, "all_zero": 1, "too_short": 1}
    keep, counts = screen(x, min_frames=1)
    assert counts == {"nan": 2, "all_zero": 1} and keep.sum() == 3
    with_persons = screen(x[:, None], lengths=[8, 8, 8, 1, 8, 8])  # (N, M, T, V, 3) with explicit lengths
    assert with_persons[0].tolist() == [True, False, False, False, False, True]
    assert with_persons[1] == {"nan": 2, "all_zero": 1, "too_short": 1}


def test_drop_short_on_a_dataset():
    data = _random_set()
    threshold = int(np.median(data.lengths)) + 1
    short, counts = drop_short(data, threshold)
    expected = data.lengths >= threshold
    assert 0 < expected.sum() < len(data)
    assert len(short) == int(expected.sum()) and counts == {"too_short": int((~expected).sum())}
    assert short.dropped["too_short"] == tuple(s for s, ok in zip(data.sample_ids, expected) if not ok)
    assert drop_short(data, 1) == (data, {})


def test_layout_without_hips_is_refused_for_normalisation():
    from zssar.data.layouts import Layout

    layout = Layout("nohips", ("head", "neck", "left_shoulder", "right_shoulder", "spine"),
                    ((1, 0), (2, 1), (3, 1), (4, 1)), centre=4)
    with pytest.raises(InvalidData, match="no joint playing \\['left_hip', 'right_hip'\\]"):
        torso_joints(layout)
