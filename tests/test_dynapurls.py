"""DynaPURLS: starts exactly at PURLS, refines only S and dF, balanced bank, fresh stream per call."""
import numpy as np
import pytest

from zssar.errors import InvalidConfig
from zssar.evaluate import entropy_gate
from zssar.methods.base import Stream, make_method
from zssar.methods.dynapurls import MemoryBank
from test_purls import SEEN, SMALL, _fit, toy  # noqa: F401  (toy is a fixture)

UNSEEN = [6, 7]


@pytest.fixture(scope="module")
def pair(toy):  # noqa: F811
    return _fit(toy), _fit(toy, name="dynapurls", refine_batch=4, min_bank=2)


def test_without_updates_dynapurls_is_purls(toy, pair):  # noqa: F811
    feats, _, text, _ = toy
    purls, dyna = pair
    assert purls.state_digest() == dyna.state_digest()  # same frozen network
    dyna.apply_selected(refine_lr=0.0)
    np.testing.assert_allclose(dyna.scores(feats, text, stream=Stream()).values, purls.scores(feats, text).values,
                               atol=1e-5)
    dyna.apply_selected(refine_lr=1e-2)
    # without a stream there is nothing to adapt to: it scores as fitted
    np.testing.assert_array_equal(dyna.scores(feats, text).values, purls.scores(feats, text).values)


def test_refinement_changes_later_scores_only_and_keeps_network_frozen(toy, pair):  # noqa: F811
    feats, y, text, _ = toy
    purls, dyna = pair
    digest = dyna.state_digest()
    unseen = np.flatnonzero(np.isin(y, UNSEEN))
    stream = feats.subset(unseen)
    out = dyna.scores(stream, text.take(UNSEEN), stream=Stream())
    a, trace = out.values, out.trace
    first = trace["order"][0]
    base = purls.scores(stream, text.take(UNSEEN)).values
    np.testing.assert_allclose(a[first], base[first], atol=1e-5)  # nothing adapted before the first row
    assert trace["updates"] > 0 and not np.allclose(a, base)
    assert dyna.state_digest() == digest
    # every stream starts afresh: same input, same scores
    np.testing.assert_array_equal(dyna.scores(stream, text.take(UNSEEN), stream=Stream()).values, a)
    assert sum(trace["bank_sizes"]) <= dyna.bank_size * len(UNSEEN)


def test_candidate_permutation_permutes_columns_before_any_update(toy, pair):  # noqa: F811
    feats, _, text, _ = toy
    _, dyna = pair
    dyna.apply_selected(refine_lr=0.0)
    perm = np.array([5, 1, 7, 0, 3, 6, 2, 4])
    np.testing.assert_allclose(dyna.scores(feats, text.take(perm), stream=Stream()).values,
                               dyna.scores(feats, text, stream=Stream()).values[:, perm], atol=1e-5)
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
    feats, y, text, _ = toy
    _, dyna = pair
    unseen = feats.subset(np.flatnonzero(np.isin(y, UNSEEN)))
    for kind in ("fifo", "none"):
        dyna.bank = kind
        assert dyna.scores(unseen, text.take(UNSEEN), stream=Stream()).values.shape == (len(unseen), 2)
    dyna.bank = "balanced"
    assert set(dyna.selectable()) == {"bank_size", "confidence", "refine_lr"}
    with pytest.raises(InvalidConfig, match="cannot select"):
        dyna.apply_selected(epochs=3)
    with pytest.raises(InvalidConfig):
        make_method("dynapurls", bank="queue")
    with pytest.raises(InvalidConfig, match="cannot select"):
        make_method("dynapurls", grid={"hidden": [1, 2]})


def test_gated_gzsl_stream_pseudo_labels_only_on_the_routed_side(toy, pair):  # noqa: F811
    feats, _, text, _ = toy
    _, dyna = pair
    seen_cols = np.isin(text.class_ids, SEEN)
    out = dyna.scores(feats, text, stream=Stream(seen_cols, entropy_gate(0.0, 1.0)))  # entropy is never < 0: all unseen
    sizes = np.array(out.trace["bank_sizes"])
    assert not out.trace["routed_seen"].any()
    assert sizes[seen_cols].sum() == 0 and sizes[~seen_cols].sum() > 0
    out = dyna.scores(feats, text, stream=Stream(seen_cols, entropy_gate(1.01, 1.0)))  # every sample routed seen
    sizes = np.array(out.trace["bank_sizes"])
    assert sizes[~seen_cols].sum() == 0 and sizes[seen_cols].sum() > 0
    with pytest.raises(InvalidConfig, match="marks 8 candidates"):
        dyna.scores(feats, text.take(UNSEEN), stream=Stream(seen_cols, entropy_gate(0.5, 1.0)))  # another candidate list
    assert dyna.scores(feats, text, stream=Stream()).trace["routed_seen"] is None  # ZSL: no gate


def test_gate_reads_the_static_purls_scores(toy, pair):  # noqa: F811
    feats, _, text, _ = toy
    purls, dyna = pair
    out = dyna.scores(feats, text, stream=Stream(np.isin(text.class_ids, SEEN), entropy_gate(0.5, 1.0)))
    np.testing.assert_array_equal(out.gate, purls.scores(feats, text).values)


def test_dynapurls_fits_the_same_network_as_purls_without_sharing_it(toy):  # noqa: F811
    """No in-process cache: DynaPURLS trains its own copy, bit-identical to PURLS's, then freezes it."""
    first = _fit(toy)
    again = _fit(toy, name="dynapurls")
    assert again.state_digest() == first.state_digest()
    assert again.net is not first.net
    assert any(p.requires_grad for p in first.net.parameters())
    assert not any(p.requires_grad for p in again.net.parameters())
