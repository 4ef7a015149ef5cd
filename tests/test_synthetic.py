"""Tests of the embedded synthetic skeleton generator."""
import re

import numpy as np
import pytest

from zssar.data.layouts import NTU25
from zssar.data.synthetic import CLASS_COMPOSITIONS, CLASS_NAMES, SyntheticConfig, generate
from zssar.text.synthetic import class_texts
from zssar.errors import InvalidConfig

SMALL = SyntheticConfig(num_subjects=2, repetitions=2)
HEAD, LEFT_HAND, RIGHT_HAND = NTU25.index("head"), NTU25.index("left_hand"), NTU25.index("right_hand")
FEET = [NTU25.index("left_foot"), NTU25.index("right_foot")]


@pytest.fixture(scope="module")
def default_set():
    return generate()


@pytest.fixture(scope="module")
def clean_set():
    return generate(SyntheticConfig(num_subjects=3, repetitions=3, noise_std=0.0))


def _valid(ds):
    """(N, T) mask of the frames inside each sample's length."""
    return np.arange(ds.x.shape[2])[None] < ds.lengths[:, None]


def test_shapes_dtypes_and_metadata(default_set):
    ds, n = default_set, len(CLASS_NAMES) * 10 * 4
    assert ds.x.shape == (n, 1, 64, 25, 3) and ds.x.dtype == np.float32
    assert ds.class_names == CLASS_NAMES and ds.layout is NTU25 and ds.name == "synthetic"
    assert ds.labels.dtype == np.int64 and set(ds.labels.tolist()) == set(range(len(CLASS_NAMES)))
    assert sorted(set(ds.subjects.tolist())) == list(range(1, 11))
    assert len(set(ds.sample_ids)) == n and all(re.fullmatch(r"c\d\d_s\d\d_r\d\d", s) for s in ds.sample_ids)
    reps = np.array([int(s[-2:]) - 1 for s in ds.sample_ids])
    assert np.array_equal(ds.views, reps % 3)
    assert "seed=0" in ds.source
    assert np.isfinite(ds.x).all()


def test_class_count_and_names():
    assert 25 <= len(CLASS_NAMES) <= 40
    assert len(set(CLASS_NAMES)) == len(CLASS_NAMES)
    assert all(name == name.lower() and name.strip() for name in CLASS_NAMES)


def test_deterministic_and_seed_dependent():
    a, b = generate(SMALL), generate(SMALL)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.lengths, b.lengths)
    assert np.array_equal(a.views, b.views) and a.sample_ids == b.sample_ids
    c = generate(SyntheticConfig(num_subjects=2, repetitions=2, seed=1))
    assert not np.array_equal(a.x, c.x)


def test_each_sample_reproducible_on_its_own():
    small, larger = generate(SMALL), generate(SyntheticConfig(num_subjects=3, repetitions=3))
    for i, sid in enumerate(small.sample_ids):
        j = larger.sample_ids.index(sid)
        assert np.array_equal(small.x[i], larger.x[j])


def test_head_above_feet_in_every_frame(default_set):
    ds, valid = default_set, _valid(default_set)
    head_y, feet_y = ds.x[:, 0, :, HEAD, 1], ds.x[:, 0][:, :, FEET, 1].max(-1)
    assert (head_y > feet_y + 0.5)[valid].all()
    assert (ds.x[:, 0, :, :, 1][valid] > -0.1).all()  # nothing far below the floor


def test_person_left_side_appears_on_camera_right_in_front_view(clean_set):
    front = clean_set.views == 1
    x0 = clean_set.x[front, 0, 0]
    assert (x0[:, NTU25.index("left_shoulder"), 0] > x0[:, NTU25.index("right_shoulder"), 0]).all()


def test_bone_lengths_constant_within_a_sample(clean_set, default_set):
    child, parent = np.array(NTU25.bones).T
    for ds, tol in ((clean_set, 1e-4), (default_set, 0.03)):
        for i in range(0, len(ds), 37):
            seq = ds.x[i, 0, : ds.lengths[i]]
            lengths = np.linalg.norm(seq[:, child] - seq[:, parent], axis=-1)  # (T, bones)
            assert lengths.std(0).max() < tol, ds.sample_ids[i]
            assert (lengths.mean(0) > 0.02).all()


def test_lengths_vary_and_padding_is_zero(default_set):
    ds, valid = default_set, _valid(default_set)
    assert len(np.unique(ds.lengths)) > 5
    assert ds.lengths.min() >= round(64 * 0.7) - 1 and ds.lengths.max() <= 64
    assert (ds.x[:, 0][~valid] == 0).all()
    assert (np.abs(ds.x[:, 0]).sum((-1, -2)) > 0)[valid].all()


@pytest.mark.parametrize("name, moving, still", [
    ("wave left hand", LEFT_HAND, RIGHT_HAND), ("wave right hand", RIGHT_HAND, LEFT_HAND),
    ("raise left arm", LEFT_HAND, RIGHT_HAND), ("kick with right leg", FEET[1], FEET[0]),
])
def test_primitive_acts_on_the_named_side(clean_set, name, moving, still):
    ds = clean_set
    for i in np.flatnonzero(ds.labels == CLASS_NAMES.index(name)):
        seq = ds.x[i, 0, : ds.lengths[i]]
        rel = seq - seq[:, NTU25.index("spine_base")][:, None]  # motion relative to the body
        travel = np.linalg.norm(rel - rel[0], axis=-1).max(0)
        assert travel[moving] > 0.3 and travel[moving] > 3 * travel[still], ds.sample_ids[i]


def test_class_texts_complete():
    texts = class_texts(CLASS_COMPOSITIONS)
    assert list(texts) == list(CLASS_NAMES)
    for name, t in texts.items():
        assert set(t) == {"label", "synonyms", "description", "parts", "phases", "purls_parts", "context",
                          "context_sentence", "variants", "contexts", "key_parts"}
        assert t["label"] == name
        assert 2 <= len(t["synonyms"]) <= 3 and name not in t["synonyms"]
        assert all(isinstance(s, str) and s.strip() for s in t["synonyms"])
        assert isinstance(t["description"], str) and len(t["description"].split()) >= 8
        assert set(t["parts"]) == {"head", "hand", "arm", "hip", "leg", "foot"}
        assert set(t["phases"]) == {"start", "middle", "end"}
        for sentence in list(t["parts"].values()) + list(t["phases"].values()):
            assert isinstance(sentence, str) and sentence.strip() and "{" not in sentence


def test_the_shipped_description_file_is_the_generators_output():
    """zssar/text/data/synthetic.json is what scripts/write_synthetic_descriptions.py writes now."""
    from zssar.text.descriptions import project_descriptions

    shipped = project_descriptions("synthetic")
    assert [c.to_dict() for c in shipped.classes] == list(class_texts(CLASS_COMPOSITIONS).values()), (
        "run scripts/write_synthetic_descriptions.py")


def test_class_texts_are_compositional():
    t = class_texts(CLASS_COMPOSITIONS)
    combo = t["raise both arms while squatting"]
    assert combo["parts"]["arm"] == t["raise both arms"]["parts"]["arm"]
    assert combo["parts"]["leg"] == t["squat down"]["parts"]["leg"]
    assert "the left arm" in t["raise left arm"]["description"].lower()
    assert "the right arm" in t["raise right arm"]["description"].lower()
    assert t["wave left hand"]["parts"]["leg"] == t["nod head"]["parts"]["leg"]  # idle parts are shared


@pytest.mark.parametrize("kwargs", [
    {"num_subjects": 1}, {"repetitions": 0}, {"frames": 4}, {"noise_std": -0.1}, {"noise_std": float("nan")},
    {"min_speed": 0.0}, {"min_speed": 0.9, "max_speed": 0.8}, {"seed": -1}, {"num_subjects": 2.5},
    {"amplitude_jitter": 0.7}, {"camera_yaws": ()},
])
def test_invalid_config_raises(kwargs):
    with pytest.raises(InvalidConfig):
        SyntheticConfig(**kwargs)


def test_generate_rejects_wrong_config_type():
    with pytest.raises(InvalidConfig):
        generate({"num_subjects": 3})
