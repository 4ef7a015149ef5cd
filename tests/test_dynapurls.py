"""DynaPURLS: starts exactly at PURLS, refines only S and dF, balanced bank, fresh stream per call."""
import numpy as np
import pytest

from zssar.errors import InvalidConfig
from zssar.methods.base import make_method
from zssar.methods.dynapurls import MemoryBank
from test_purls import SEEN, SMALL, _fit, toy  # noqa: F401  (toy is a fixture)

UNSEEN = [6, 7]


@pytest.fixture(scope="module")
def pair(toy):  # noqa: F811
    return _fit(toy), _fit(toy, name="dynapurls", refine_batch=4, min_bank=2)


def test_without_updates_dynapurls_is_purls(toy, pair):  # noqa: F811
    feats, _, text = toy
    purls, dyna = pair
    assert purls.state_digest() == dyna.state_digest()  # same frozen network
    dyna.apply_selected(refine_lr=0.0)
    np.testing.assert_allclose(dyna.scores(feats, text), purls.scores(feats, text), atol=1e-5)
    dyna.apply_selected(refine_lr=1e-2)


def test_refinement_changes_later_scores_only_and_keeps_network_frozen(toy, pair):  # noqa: F811
    feats, y, text = toy
    purls, dyna = pair
    digest = dyna.state_digest()
    unseen = np.flatnonzero(np.isin(y, UNSEEN))
    stream = feats.subset(unseen)
    a = dyna.scores(stream, text.take(UNSEEN))
    trace = dyna.last_stream
    first = trace["order"][0]
    base = purls.scores(stream, text.take(UNSEEN))
    np.testing.assert_allclose(a[first], base[first], atol=1e-5)  # nothing adapted before the first row
    assert trace["updates"] > 0 and not np.allclose(a, base)
    assert dyna.state_digest() == digest
    # every call is a fresh stream: same input, same scores
    np.testing.assert_array_equal(dyna.scores(stream, text.take(UNSEEN)), a)
    assert sum(trace["bank_sizes"]) <= dyna.bank_size * len(UNSEEN)


def test_candidate_permutation_permutes_columns_before_any_update(toy, pair):  # noqa: F811
    feats, _, text = toy
    _, dyna = pair
    dyna.apply_selected(refine_lr=0.0)
    perm = np.array([5, 1, 7, 0, 3, 6, 2, 4])
    np.testing.assert_allclose(dyna.scores(feats, text.take(perm)), dyna.scores(feats, text)[:, perm], atol=1e-5)
    dyna.apply_selected(refine_lr=1e-2)


def test_class_balanced_bank_keeps_the_most_confident_per_class():
    bank = MemoryBank("balanced", capacity=2, num_classes=3, rng=np.random.default_rng(0))
    for sample, (label, conf) in enumerate([(0, 0.5), (0, 0.9), (0, 0.7), (1, 0.4), (0, 0.2)]):
        bank.add(sample, label, conf)
    assert bank.sizes() == [2, 1, 0]
    assert sorted(s for _, s in bank.per_class[0]) == [1, 2]  # 0.5 and 0.2 left
    batch = bank.batch(2)
    assert sorted(label for _, label in batch) == [0, 1]  # one of each class before a second of any
    fifo = MemoryBank("fifo", capacity=1, num_classes=2, rng=np.random.default_rng(0))
    for sample in range(5):
        fifo.add(sample, 0, 0.9)
    assert [s for s, _ in fifo.queue] == [3, 4]


def test_bank_variants_run_and_settings_are_checked(toy, pair):  # noqa: F811
    feats, y, text = toy
    _, dyna = pair
    unseen = feats.subset(np.flatnonzero(np.isin(y, UNSEEN)))
    for kind in ("fifo", "none"):
        dyna.bank = kind
        assert dyna.scores(unseen, text.take(UNSEEN)).shape == (len(unseen), 2)
    dyna.bank = "balanced"
    assert set(dyna.selectable()) == {"bank_size", "confidence", "refine_lr"}
    with pytest.raises(InvalidConfig, match="cannot select"):
        dyna.apply_selected(epochs=3)
    with pytest.raises(InvalidConfig):
        make_method("dynapurls", bank="queue")
    with pytest.raises(InvalidConfig, match="cannot select"):
        make_method("dynapurls", grid={"hidden": [1, 2]})
