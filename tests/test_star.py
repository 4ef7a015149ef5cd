"""STAR on tiny random token maps: its part groupings, per-candidate scoring, axes, leak-free text, settings."""
import numpy as np
import pytest

from helpers import class_text_from_vectors
from zssar.data.custom_layout import layout_from_joint_names
from zssar.data.layouts import KINECT20, LAYOUTS, NTU25, OPENNI15
from zssar.errors import InvalidConfig
from zssar.features import FeatureSet
from zssar.methods.base import make_method
from zssar.methods.star import PAPER_SETTINGS, Star
from zssar.text.schema import PART_KEYS

K, T, V, C, D = 8, 4, 25, 8, 16
SEEN = list(range(6))
SMALL = dict(epochs=6, attributes=8, prompt_dim=16, heads=2, hidden=32, batch_size=16, lr=3e-3, patience=None)
TEXT_FIELDS = ("label",) + tuple(f"parts.{k}" for k in PART_KEYS) + tuple(
    f"gap4.{k}" for k in ("head", "hand_arm", "hip", "leg_foot")) + ("gap2.upper", "gap2.lower")


# ---------------------------------------------------------------- the part groupings
def _names(layout, grouping):
    return {part: {layout.joints[i] for i in ids} for part, ids in layout.part_groups(grouping).items()}


def test_star_groupings_follow_joint_names_on_ntu25():
    six = _names(NTU25, "star6")
    assert six == {"head": {"neck", "head", "spine_shoulder"},
                   "hand": {"left_hand", "right_hand", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb"},
                   "arm": {"left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist"},
                   "hip": {"spine_base", "spine_mid"},
                   "leg": {"left_hip", "left_knee", "right_hip", "right_knee"},
                   "foot": {"left_ankle", "left_foot", "right_ankle", "right_foot"}}
    # the public code's 0-based lists: hip [0, 1], leg [12, 13, 16, 17] (GAP puts 12 and 16 in the hip)
    assert NTU25.part_groups("star6")["hip"] == (0, 1) and NTU25.part_groups("star6")["leg"] == (12, 13, 16, 17)
    assert _names(NTU25, "gap6")["hip"] == {"spine_base", "spine_mid", "left_hip", "right_hip"}  # unchanged
    four, two = _names(NTU25, "star4"), _names(NTU25, "star2")
    assert four["hand_arm"] == six["hand"] | six["arm"] and four["leg_foot"] == six["leg"] | six["foot"]
    assert four["hip"] == six["hip"] and four["head"] == six["head"]
    assert two == {"upper": six["head"] | six["hand"] | six["arm"], "lower": six["hip"] | six["leg"] | six["foot"]}


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
@pytest.mark.parametrize("grouping", ["star6", "star4", "star2"])
def test_every_layout_forms_the_star_groupings_as_partitions(layout, grouping):
    parts = layout.part_groups(grouping)
    joints = [j for ids in parts.values() for j in ids]
    assert all(parts.values()) and len(joints) == len(set(joints))
    assert sorted(joints) == list(range(layout.num_joints))  # every joint of these layouts has a part


def test_star_hip_on_other_layouts_and_without_a_spine():
    assert _names(KINECT20, "star6")["hip"] == {"hip_center", "spine"}
    assert _names(OPENNI15, "star6")["hip"] == {"torso"} and _names(OPENNI15, "star6")["foot"] == {"left_foot",
                                                                                                    "right_foot"}
    coco = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
            "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
            "right_knee", "left_ankle", "right_ankle"]
    layout = layout_from_joint_names(coco, [(1, 0)], centre="left_hip")  # no spine joint: the hips stand in
    assert _names(layout, "star6")["hip"] == {"left_hip", "right_hip"}
    assert _names(layout, "star6")["leg"] == {"left_knee", "right_knee"}
    assert _names(layout, "star4")["leg_foot"] == {"left_knee", "right_knee", "left_ankle", "right_ankle"}


# ---------------------------------------------------------------- a toy problem
@pytest.fixture(scope="module")
def toy():
    """Class c lights up a class pattern on a class-specific set of joints; every text field of c is a
    noisy linear image of that pattern, so text predicts tokens."""
    rng = np.random.default_rng(0)
    pattern = rng.normal(size=(K, C))
    joints = [rng.choice(V, size=5, replace=False) for _ in range(K)]
    y = np.repeat(np.arange(K), 12)
    tokens = rng.normal(scale=0.3, size=(len(y), T, V, C))
    for i, c in enumerate(y):
        tokens[i][:, joints[c]] += pattern[c]
    lift = rng.normal(size=(C, D))
    fields = {f: (pattern @ lift + 0.3 * rng.normal(size=(K, D))).astype(np.float32) for f in TEXT_FIELDS}
    feats = FeatureSet(tokens.mean((1, 2)).astype(np.float32), tokens.astype(np.float32),
                       tuple(str(i) for i in range(len(y))), NTU25)
    return feats, y, class_text_from_vectors(fields), fields


def _split(y):
    train = np.flatnonzero(np.isin(y, SEEN) & (np.arange(len(y)) % 3 != 0))
    val = np.flatnonzero(np.isin(y, SEEN) & (np.arange(len(y)) % 3 == 0))
    return train, val


def _fit(toy, text=None, val=False, all_class_text=None, seed=0, **kw):
    feats, y, full, _ = toy
    train, held = _split(y)
    method = make_method("star", **{**SMALL, **kw})
    return method.fit(feats.subset(train), y[train], (text or full).take(SEEN), seed=seed,
                      val=(feats.subset(held), y[held]) if val else None, all_class_text=all_class_text)


@pytest.fixture(scope="module")
def fitted(toy):
    return _fit(toy)


def test_shapes_and_attention_distributions(toy, fitted):
    feats, _, text, _ = toy
    sub = feats.subset([0, 1, 2])
    assert fitted.scores(sub, text).values.shape == (3, K)
    assert fitted.part_embeddings(sub).shape == (3, 6, 8) and fitted.skeleton_embeddings(sub).shape == (3, 8)
    space = fitted.semantic_embeddings(text)
    assert space["names"].shape == (K, 8) and space["parts"].shape == (K, 6, 8)
    att = fitted.attention_maps(sub)
    assert att.shape == (3, 6, 8, T, V)
    np.testing.assert_allclose(att.sum((-2, -1)), 1.0, atol=1e-5)  # each prompt over its part's tokens
    for e, joints in enumerate(NTU25.part_groups("star6").values()):
        outside = [j for j in range(V) if j not in joints]
        assert (att[:, e][..., outside] == 0).all()


def test_candidate_permutation_permutes_score_columns(toy, fitted):
    feats, _, text, _ = toy
    full = fitted.scores(feats, text).values
    perm = np.random.default_rng(1).permutation(K)
    np.testing.assert_allclose(fitted.scores(feats, text.take(perm)).values, full[:, perm], atol=1e-5)
    np.testing.assert_allclose(fitted.scores(feats, text.take([6, 2])).values, full[:, [6, 2]], atol=1e-5)


def test_changing_one_class_text_changes_only_its_column(toy, fitted):
    feats, _, text, fields = toy
    fields = {k: v.copy() for k, v in fields.items()}
    for v in fields.values():
        v[3] = np.random.default_rng(2).normal(size=D)
    a, b = fitted.scores(feats, text).values, fitted.scores(feats, class_text_from_vectors(fields)).values
    keep = [c for c in range(K) if c != 3]
    np.testing.assert_allclose(a[:, keep], b[:, keep], atol=1e-6)
    assert not np.allclose(a[:, 3], b[:, 3])


def test_an_unseen_candidate_needs_only_its_own_name(toy, fitted):
    feats, _, text, fields = toy
    names_only = class_text_from_vectors({"label": fields["label"]})  # no part descriptions at all
    np.testing.assert_allclose(fitted.scores(feats, names_only.take([7])).values,
                               fitted.scores(feats, text).values[:, [7]], atol=1e-6)


def test_training_fits_seen_classes_and_is_deterministic(toy, fitted):
    feats, y, text, _ = toy
    assert fitted.history[-1]["train_loss"] < fitted.history[0]["train_loss"]
    _, held = _split(y)
    pred = np.argmax(fitted.scores(feats.subset(held), text.take(SEEN)).values, 1)
    assert np.mean(np.array(SEEN)[pred] == y[held]) > 0.5  # chance is 1/6
    assert _fit(toy).state_digest() == fitted.state_digest()
    assert _fit(toy, seed=1).state_digest() != fitted.state_digest()


def test_early_stopping_keeps_the_best_seen_val_epoch(toy):
    feats, y, text, _ = toy
    method = _fit(toy, val=True, epochs=8, patience=2, lr=3e-2)
    _, held = _split(y)
    accuracy = [h["seen_val_accuracy"] for h in method.history]
    restored = np.mean(np.array(SEEN)[method.scores(feats.subset(held), text.take(SEEN)).values.argmax(1)] == y[held])
    assert restored == pytest.approx(max(accuracy)) and method.best_epoch == 1 + int(np.argmax(accuracy))


def test_a_token_affects_only_the_part_it_belongs_to(toy, fitted):
    feats, _, _, _ = toy
    sub = feats.subset([0, 1])
    tokens = sub.tokens.copy()
    joint, step = NTU25.index("left_knee"), 2
    tokens[0, step, joint] += 5.0  # one joint at one token time step of sample 0
    moved = FeatureSet(sub.pooled, tokens, sub.sample_ids, sub.layout)
    before, after = fitted.part_embeddings(sub), fitted.part_embeddings(moved)
    changed = [e for e in range(6) if not np.allclose(before[0, e], after[0, e], atol=1e-6)]
    assert changed == [list(NTU25.part_groups("star6")).index("leg")]
    np.testing.assert_allclose(before[1], after[1], atol=1e-6)  # the other sample is untouched
    att = fitted.attention_maps(moved)[0, 4]  # leg prompts over (T', V)
    assert not np.allclose(att, fitted.attention_maps(sub)[0, 4])


# ---------------------------------------------------------------- leak-free text
def test_the_default_never_needs_unseen_text(toy, fitted):
    feats, y, text, fields = toy
    seen_only = class_text_from_vectors({k: v[:len(SEEN)] for k, v in fields.items()})  # no unseen class exists
    assert _fit(toy, text=seen_only).state_digest() == fitted.state_digest()
    changed = {k: v.copy() for k, v in fields.items()}
    for v in changed.values():
        v[len(SEEN):] = np.random.default_rng(3).normal(size=(K - len(SEEN), D))
    assert _fit(toy, text=class_text_from_vectors(changed)).state_digest() == fitted.state_digest()
    with pytest.raises(InvalidConfig, match="only read with text_during_training='all_classes'"):
        _fit(toy, all_class_text=text)


def test_the_all_class_variant_is_a_study_switch_that_reads_unseen_text(toy):
    _, _, text, fields = toy
    with pytest.raises(InvalidConfig, match="never gives a method"):
        _fit(toy, text_during_training="all_classes")
    with pytest.raises(InvalidConfig, match="lacks the training classes"):
        _fit(toy, text_during_training="all_classes", all_class_text=text.take([6, 7]))
    changed = {k: v.copy() for k, v in fields.items()}
    for v in changed.values():
        v[7] = np.random.default_rng(4).normal(size=D)
    other = class_text_from_vectors(changed)
    for prompts in ("per_class", "generated"):
        a = _fit(toy, text_during_training="all_classes", all_class_text=text, semantic_prompts=prompts, epochs=2)
        b = _fit(toy, text=other, text_during_training="all_classes", all_class_text=other,
                 semantic_prompts=prompts, epochs=2)
        assert a.state_digest() != b.state_digest()  # unseen text did shape training
        assert a.settings()["text_during_training"] == "all_classes"  # and the record says so


# ---------------------------------------------------------------- settings and variants
@pytest.mark.parametrize("bad, message", [
    ({"grouping": "gap6"}, "grouping='gap6'"), ({"semantic_prompts": "free"}, "semantic_prompts"),
    ({"visual_prompts": "fixed"}, "visual_prompts"), ({"text_during_training": "test"}, "text_during_training"),
    ({"prompt_dim": 10, "heads": 4}, "multiple of heads"), ({"attributes": 0}, "attributes"),
    ({"alpha": -0.1}, "loss weights"), ({"mpce_weight": 0, "alpha": 0, "beta": 0}, "not all 0"),
    ({"temperature": 0}, "temperature"), ({"epochs": 0}, "epochs"), ({"patience": 0}, "patience"),
    ({"lr_steps": (0,)}, "lr_steps"), ({"optimizer": "rmsprop"}, "optimizer")])
def test_settings_are_validated(bad, message):
    with pytest.raises(InvalidConfig, match=message):
        make_method("star", **bad)
    with pytest.raises(InvalidConfig, match="has no setting 'm'"):
        make_method("star", m=4)


def test_the_paper_configuration_and_needs():
    paper = Star.paper()
    assert {k: paper.settings()[k] for k in ("attributes", "heads", "optimizer", "batch_size", "lr")} == {
        "attributes": 100, "heads": 8, "optimizer": "sgd", "batch_size": 64, "lr": 1e-3}
    assert paper.settings()["text_during_training"] == "seen_classes" and PAPER_SETTINGS["prompt_dim"] == 768
    assert make_method("star").needs.text_fields == ("label",) + tuple(f"parts.{k}" for k in PART_KEYS)
    assert make_method("star", grouping="star2").needs.text_fields == ("label", "gap2.upper", "gap2.lower")
    assert make_method("star", side_information=False).needs.text_fields == ("label",)


@pytest.mark.parametrize("variant", [
    {"grouping": "star4"}, {"grouping": "star2"}, {"visual_prompts": "none"}, {"semantic_prompts": "none"},
    {"semantic_prompts": "per_class"}, {"side_information": False}, {"mpce_weight": 0.0}, {"alpha": 0.0},
    {"beta": 0.0}, {"optimizer": "sgd", "lr_steps": (1,)}])
def test_every_ablation_variant_fits_and_scores(toy, variant):
    feats, _, text, _ = toy
    method = _fit(toy, epochs=2, **variant)
    values = method.scores(feats, text).values
    assert values.shape == (len(feats), K) and np.isfinite(values).all()
    parts = method.part_embeddings(feats.subset([0]))
    assert parts.shape == (1, len(method.part_names), 8)
    if variant == {"visual_prompts": "none"}:
        with pytest.raises(InvalidConfig, match="no attention"):
            method.attention_maps(feats.subset([0]))


def test_scoring_before_fit_is_a_clear_error(toy):
    with pytest.raises(RuntimeError, match="fit the method"):
        make_method("star").scores(toy[0], toy[2])


def test_a_run_gives_the_all_class_variant_unseen_text_only_when_asked_and_says_so(tiny_data, tiny_backbone,
                                                                                  tmp_path):
    from dataclasses import replace

    from zssar.runner import RunConfig, run_experiment

    small = {"epochs": 2, "attributes": 4, "prompt_dim": 8, "hidden": 16, "heads": 1, "side_information": False}
    config = RunConfig(dataset="tiny", split="unseen=0,4,8", method="star", backbone=tiny_backbone,
                       cache_dir=str(tmp_path), text="label",
                       method_settings={**small, "text_during_training": "all_classes"})
    with pytest.raises(InvalidConfig, match="trains on the unseen classes' text.*--unseen-text-in-training"):
        run_experiment(config, data=tiny_data, show_progress=False)
    assert not (tmp_path / "features").exists()  # refused before any training
    record = run_experiment(replace(config, unseen_text_in_training=True), data=tiny_data, show_progress=False).record
    assert record.unseen_text_in_training and record.method_settings["text_during_training"] == "all_classes"
    plain = run_experiment(replace(config, method_settings=small), data=tiny_data, show_progress=False).record
    assert not plain.unseen_text_in_training
