"""PURLS on tiny random token maps: per-candidate scoring, static pools, determinism, settings."""
import numpy as np
import pytest

from helpers import class_text_from_vectors
from zssar.data.layouts import NTU25
from zssar.errors import InvalidConfig
from zssar.features import FeatureSet
from zssar.methods.base import make_method
from zssar.methods.purls import PART_FIELDS, PHASE_FIELDS

K, T, V, C, D = 8, 6, 25, 8, 16
SEEN = list(range(6))
SMALL = dict(epochs=8, attention_dim=16, hidden=32, batch_size=16, lr=3e-3)


@pytest.fixture(scope="module")
def toy():
    """Class c lights up a class-specific channel pattern on a class-specific set of joints, and
    every text item of c is a noisy linear image of that pattern, so text predicts tokens."""
    rng = np.random.default_rng(0)
    pattern = rng.normal(size=(K, C))
    joints = [rng.choice(V, size=5, replace=False) for _ in range(K)]
    y = np.repeat(np.arange(K), 12)
    tokens = rng.normal(scale=0.3, size=(len(y), T, V, C))
    for i, c in enumerate(y):
        tokens[i][:, joints[c]] += pattern[c]
    lift = rng.normal(size=(C, D))
    fields = {f: (pattern @ lift + 0.3 * rng.normal(size=(K, D))).astype(np.float32)
              for f in ("label+description",) + PART_FIELDS + PHASE_FIELDS}
    feats = FeatureSet(tokens.mean((1, 2)).astype(np.float32), tokens.astype(np.float32),
                       tuple(str(i) for i in range(len(y))), NTU25)
    return feats, y, class_text_from_vectors(fields), fields


def _fit(toy, **kw):
    feats, y, text, _ = toy
    train = np.flatnonzero(np.isin(y, SEEN) & (np.arange(len(y)) % 3 != 0))
    method = make_method(kw.pop("name", "purls"), **{**SMALL, **kw})
    return method.fit(feats.subset(train), y[train], text.take(SEEN), seed=0)


@pytest.fixture(scope="module")
def fitted(toy):
    return _fit(toy)


def test_candidate_permutation_permutes_score_columns(toy, fitted):
    feats, _, text, _ = toy
    full = fitted.scores(feats, text).values
    perm = np.random.default_rng(1).permutation(K)
    np.testing.assert_allclose(fitted.scores(feats, text.take(perm)).values, full[:, perm], atol=1e-5)
    # a class is scored with its own text only: a subset of candidates gives the same columns
    np.testing.assert_allclose(fitted.scores(feats, text.take([6, 2])).values, full[:, [6, 2]], atol=1e-5)


def test_changing_one_class_text_changes_only_its_column(toy, fitted):
    feats, _, text, fields = toy
    fields = {k: v.copy() for k, v in fields.items()}
    for v in fields.values():
        v[3] = np.random.default_rng(2).normal(size=D)
    other = class_text_from_vectors(fields)
    a, b = fitted.scores(feats, text).values, fitted.scores(feats, other).values
    keep = [c for c in range(K) if c != 3]
    np.testing.assert_allclose(a[:, keep], b[:, keep], atol=1e-6)
    assert not np.allclose(a[:, 3], b[:, 3])


def test_training_fits_seen_classes_and_is_deterministic(toy, fitted):
    feats, y, text, _ = toy
    assert fitted.history[-1]["train_loss"] < fitted.history[0]["train_loss"]
    held_out = np.flatnonzero(np.isin(y, SEEN) & (np.arange(len(y)) % 3 == 0))
    pred = np.argmax(fitted.scores(feats.subset(held_out), text.take(SEEN)).values, 1)
    assert np.mean(pred == y[held_out]) > 0.5  # chance is 1/6
    assert _fit(toy).state_digest() == fitted.state_digest()
    assert _fit(toy, lr=1e-3).state_digest() != fitted.state_digest()


def test_attention_is_a_distribution_over_tokens(toy, fitted):
    feats, _, text, _ = toy
    att = fitted.attention_maps(feats.subset([0, 1]), text.take([0, 5]))
    assert att.shape == (2, 2, 8, T, V)
    np.testing.assert_allclose(att.sum((-2, -1)), 1.0, atol=1e-5)
    weights = fitted.item_weights()
    assert list(weights) == list(fitted.text_fields) and sum(weights.values()) == pytest.approx(1.0)


def test_static_partition_pools_layout_parts_and_time_thirds(toy):
    """The pools come from the layout the features carry (here ntu25); no layout setting exists."""
    method = _fit(toy, partition="static", epochs=2)
    feats, _, text, _ = toy
    att = method.attention_maps(feats.subset([0]), text.take([0, 1]))[0, 0]  # (G, T, V)
    hands = NTU25.part_groups("purls4")["hands"]
    np.testing.assert_allclose(att[0], 1.0 / (T * V))  # global: every token
    assert (att[2][:, list(hands)] > 0).all() and att[2].sum() == pytest.approx(1.0)
    assert np.count_nonzero(att[2]) == T * len(hands)
    assert (att[5][:2] > 0).all() and (att[5][2:] == 0).all()  # start: the first third of time
    with pytest.raises(InvalidConfig, match="has no setting 'layout'"):
        make_method("purls", partition="static", layout="ntu25")


def test_granularity_selects_text_items_and_true_queries_train(toy):
    assert make_method("purls", granularity="global").text_fields == ("label+description",)
    assert make_method("purls", granularity="global+phases").text_fields[1:] == PHASE_FIELDS
    method = _fit(toy, granularity="global+parts", train_queries="true", weighting="average", epochs=2)
    feats, _, text, fields = toy
    assert method.scores(feats, text).values.shape == (len(feats), K)
    assert list(method.item_weights().values()) == pytest.approx([0.2] * 5)
    for bad in ({"partition": "grid"}, {"granularity": "parts"}, {"train_queries": "label"}):
        with pytest.raises(InvalidConfig):
            make_method("purls", **bad)
    with pytest.raises(KeyError, match="no vector"):  # a text without the part fields' embeddings
        method.scores(feats, class_text_from_vectors({"label+description": fields["label+description"]}))
