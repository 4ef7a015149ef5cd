"""The classic baselines (CADA-VAE, SynSE, SMIE, SA-DVAE) on tiny random data: shapes, candidate
order, text-only scoring of new classes, determinism, settings, training progress, early stopping on
val, SynSE's phrases and gate, SMIE's temporal mask, SA-DVAE's discriminator."""
import numpy as np
import pytest
import torch

from helpers import TableEncoder, toy_entry
from zssar.data.layouts import NTU25
from zssar.errors import InvalidConfig
from zssar.features import FeatureSet
from zssar.methods.base import make_method
from zssar.methods.smie import degraded_sequences
from zssar.methods.synse import syntactic_phrases
from zssar.text.classtext import ClassText
from zssar.text.descriptions import TextBank

K, T, V, C, D = 8, 6, 4, 16, 24
SEEN = list(range(6))
METHODS = ("cada_vae", "synse", "smie", "sadvae")
VAE = dict(latent=8, hidden=32, epochs=40, batch_size=16, patience=None, classifier_samples=100)
SMALL = {"cada_vae": VAE, "synse": VAE | {"gate_temperatures": (1, 4)}, "sadvae": VAE | {"style": 2},
         "smie": dict(hidden=(32, 16), epochs=40, warmup=0.05, batch_size=16, lr=3e-3, patience=None)}


def toy_text(vectors: np.ndarray, only=None) -> ClassText:
    """Class c's every field, and its label's phrases, embed to ``vectors[c]`` (+ noise per string);
    with ``only``, the encoder knows the strings of those classes and no other."""
    entries = tuple(toy_entry(c) for c in range(len(vectors)))
    rng, table = np.random.default_rng(7), {}
    for c, entry in enumerate(entries):
        verb, noun = syntactic_phrases(entry.label)
        noise = rng.normal(size=(3, vectors.shape[1]))
        if only is not None and c not in only:
            continue
        table[noun], table[verb] = vectors[c], noise[0]
        table[entry.field("label+description")] = vectors[c] + 0.1 * noise[1]
    return ClassText(TextBank("toy", entries, "vectors given by the test"), TableEncoder(table, vectors.shape[1]))


@pytest.fixture(scope="module")
def toy():
    """Class c moves along a class pattern over time (so the token maps have a time course) and its
    text is a noisy linear image of that pattern; the patterns span 3 dimensions, which the six seen
    classes cover, so that the unseen ones are within reach."""
    rng = np.random.default_rng(0)
    pattern = rng.normal(size=(K, 3)) @ rng.normal(size=(3, C))
    y = np.repeat(np.arange(K), 14)
    ramp = np.linspace(-1, 1, T)[None, :, None, None]
    tokens = rng.normal(scale=0.4, size=(len(y), T, V, C)) + pattern[y][:, None, None, :] * (1 + ramp)
    feats = FeatureSet(tokens.mean((1, 2)).astype(np.float32), tokens.astype(np.float32),
                       tuple(str(i) for i in range(len(y))), NTU25)
    vectors = (pattern @ rng.normal(size=(C, D)) + 0.2 * rng.normal(size=(K, D))).astype(np.float32)
    return feats, y, toy_text(vectors), vectors


def _split(y):
    seen = np.isin(y, SEEN)
    return (np.flatnonzero(seen & (np.arange(len(y)) % 4 != 0)), np.flatnonzero(seen & (np.arange(len(y)) % 4 == 0)),
            np.flatnonzero(~seen))


def _fit(toy, name, seed=0, with_val=True, **changes):
    feats, y, text, _ = toy
    train, val, _ = _split(y)
    method = make_method(name, **(SMALL[name] | changes))
    return method.fit(feats.subset(train), y[train], text.take(SEEN),
                      val=(feats.subset(val), y[val]) if with_val else None, seed=seed)


@pytest.fixture(scope="module")
def fitted(toy):
    return {name: _fit(toy, name) for name in METHODS}


@pytest.mark.parametrize("name", METHODS)
def test_shapes_and_candidate_permutation_permutes_columns(name, toy, fitted):
    feats, _, text, _ = toy
    full = fitted[name].scores(feats, text).values
    assert full.shape == (len(feats), K) and np.isfinite(full).all()
    perm = np.random.default_rng(1).permutation(K)
    np.testing.assert_allclose(fitted[name].scores(feats, text.take(perm)).values, full[:, perm], atol=1e-4)


@pytest.mark.parametrize("name", METHODS)
def test_new_classes_are_scored_from_their_text_alone(name, toy, fitted):
    """Candidates no fit saw: a text holding only them (any other string is an error) suffices, the
    scores follow that text, and scoring trains nothing of the fitted model."""
    feats, _, _, vectors = toy
    before = fitted[name].state_digest()
    text = toy_text(vectors, only=(6, 7)).take([6, 7])  # their strings only: any other is a KeyError
    a = fitted[name].scores(feats, text).values
    assert a.shape == (len(feats), 2)
    swapped = vectors.copy()
    swapped[[6, 7]] = vectors[[7, 6]]
    assert not np.allclose(a, fitted[name].scores(feats, toy_text(swapped, only=(6, 7)).take([6, 7])).values)
    assert fitted[name].state_digest() == before


def _accuracies(method, toy):
    feats, y, text, _ = toy
    _, val, unseen = _split(y)
    seen = np.asarray(SEEN)[method.scores(feats.subset(val), text.take(SEEN)).values.argmax(1)]
    zsl = np.array([6, 7])[method.scores(feats.subset(unseen), text.take([6, 7])).values.argmax(1)]
    return np.mean(seen == y[val]), np.mean(zsl == y[unseen])


@pytest.mark.parametrize("name", METHODS)
def test_training_learns_the_seen_classes_and_is_deterministic(name, toy, fitted):
    """Held-out seen samples and the unseen classes (from their text) are recognised above chance
    (1/6 and 1/2); the VAEs by both latent classifiers, chosen as the runner does (apply_selected)."""
    method = fitted[name]
    seen, zsl = _accuracies(method, toy)
    assert seen > 0.4
    if name != "smie":
        method.apply_selected(classifier="nearest")
        try:
            seen, zsl = _accuracies(method, toy)
        finally:
            method.apply_selected(classifier="softmax")
        assert seen > 0.8
    assert zsl > 0.7
    first, last = method.history[0], method.history[-1]
    if name == "smie":
        assert last["information"] > first["information"]
    else:
        assert last["reconstruction"] < first["reconstruction"]
    assert _fit(toy, name).state_digest() == method.state_digest()
    assert _fit(toy, name, seed=1).state_digest() != method.state_digest()


@pytest.mark.parametrize("name", METHODS)
def test_early_stopping_keeps_the_best_seen_val_epoch(name, toy, fitted):
    """The epoch kept is the best of the val criterion among the selectable epochs, restored; without
    val the last epoch is kept; a val sample of a class fit did not get is refused."""
    feats, y, text, _ = toy
    method = fitted[name]
    key = "val_accuracy" if name == "smie" else "val_score"
    first = method.warmup_epochs if name == "smie" else int(method.select_from * method.epochs)
    curve = [row[key] for row in method.history]
    assert method.best_epoch == first + int(np.argmax(curve[first:]))
    if name != "smie":  # the restored weights give the kept epoch's val score again
        train, val, _ = _split(y)
        xv = method.standardise(feats.subset(val).pooled)
        yv = torch.from_numpy(np.searchsorted(SEEN, y[val]))
        t = torch.nn.functional.normalize(torch.from_numpy(method.text_matrix(text.take(SEEN))), dim=-1)
        assert method.val_score(xv, yv, t)[1] == pytest.approx(curve[method.best_epoch], abs=1e-6)
    assert _fit(toy, name, with_val=False, epochs=5).best_epoch == 4
    train, _, unseen = _split(y)
    with pytest.raises(InvalidConfig, match="not one of the text's classes"):
        make_method(name, **SMALL[name]).fit(feats.subset(train), y[train], text.take(SEEN),
                                             val=(feats.subset(unseen), y[unseen]))


BAD = {"cada_vae": [{"beta": -1}, {"latent": 0}, {"epochs": 0}, {"patience": 0}, {"classifier_samples": 0}],
       "synse": [{"cross_start": 1.0}, {"gate_fraction": 1.0}, {"latent": 1}, {"gate_temperatures": ()}],
       "smie": [{"mask": 0.5}, {"warmup": 1.0}, {"hidden": (8,)}, {"margin": -0.1}],
       "sadvae": [{"style": 0}, {"tc_weight": -1}, {"discriminator_every": 0}, {"cross_start": -0.1}]}


@pytest.mark.parametrize("name", METHODS)
def test_settings_are_validated_and_recorded(name):
    for bad in BAD[name]:
        with pytest.raises(InvalidConfig, match=name):
            make_method(name, **bad)
    with pytest.raises(InvalidConfig, match="has no setting"):
        make_method(name, temperature=1.0)
    method = make_method(name)
    assert make_method(name, **method.settings()).settings() == method.settings()


def test_syntactic_phrases_split_verbs_and_nouns():
    assert syntactic_phrases("horizontal arm wave") == ("wave", "horizontal arm")
    assert syntactic_phrases("pick up with one hand") == ("pick up", "one hand")
    assert syntactic_phrases("take off a hat/cap") == ("take off", "hat cap")
    assert syntactic_phrases("kicking something") == ("kicking", "something")
    label = "standing up (from sitting position)"
    assert syntactic_phrases(label) == ("standing up", label)  # brackets dropped; no noun: the label
    assert syntactic_phrases("sit down") == ("sit down", "sit down")  # no noun: the label
    assert syntactic_phrases("donning") == ("donning", "donning")
    with pytest.raises(InvalidConfig, match="no words"):
        syntactic_phrases("(...)")


def test_synse_gate_is_trained_on_seen_classes_and_read_through_scores_gate(toy, fitted):
    feats, _, text, _ = toy
    synse = fitted["synse"]
    assert set(synse.gates) == {"softmax", "nearest"}  # one per latent classifier the runner may select
    assert all(set(g["pseudo_unseen"]) < set(SEEN) for g in synse.gates.values())
    gzsl = synse.scores(feats, text)
    np.testing.assert_allclose(np.exp(gzsl.values.astype(np.float64)).sum(1), 1.0, atol=1e-4)  # log p(c | x)
    assert gzsl.gate.shape == (len(feats), 2)
    p_seen = np.exp(gzsl.values[:, SEEN].astype(np.float64)).sum(1)  # g, the gate's "seen" probability
    q = np.exp(gzsl.gate)
    entropy = -(q * np.log(q)).sum(1)
    order = np.argsort(p_seen)
    assert (np.diff(entropy[order]) <= 1e-5).all()  # more "seen" -> lower entropy -> the seen side
    assert synse.scores(feats, text.take(SEEN)).gate is None  # one side only: nothing to gate
    assert synse.scores(feats, text.take([6, 7])).gate is None
    no_gate = _fit(toy, "synse", gate_fraction=0.0, epochs=4)
    assert no_gate.gates == {} and np.allclose(no_gate.scores(feats, text).gate, np.log([0.75, 0.25]))  # g = 1/2


def test_smie_degrades_the_most_moving_steps_and_needs_time():
    tokens = torch.zeros(2, 10, V, 3)
    tokens[:, 4] = 5.0  # a burst of motion around step 4
    kept = degraded_sequences(tokens, 0.1, torch.Generator().manual_seed(0))
    assert kept.shape == (2, 3) and torch.all(kept == 0)  # step 4 and a random one dropped, the rest still
    short = FeatureSet(np.zeros((4, C), np.float32), np.zeros((4, 2, V, C), np.float32), tuple("abcd"), NTU25)
    text = toy_text(np.eye(2, D, dtype=np.float32))
    with pytest.raises(InvalidConfig, match="temporal_weight=0"):
        make_method("smie").fit(short, np.array([0, 0, 1, 1]), text)
    make_method("smie", temporal_weight=0.0, epochs=2).fit(short, np.array([0, 0, 1, 1]), text)


def test_sadvae_trains_its_discriminator_and_scores_the_semantic_part(toy, fitted):
    feats, _, _, _ = toy
    method = fitted["sadvae"]
    assert "discriminator" in method.history[-1] and method.history[-1]["tc"] > 0
    with torch.no_grad():
        mu, _ = method.skeleton_latent(method.net, method.standardise(feats.pooled))
    assert mu.shape[1] == method.latent  # the semantic-irrelevant part never enters the scores
