"""Generative meta-learning: feature hallucination and the data-augmentation GAN."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from conftest import interrupt_at_call

from sklmeta import (
    MatchingNetClassifier,
    ProtoNetClassifier,
    load_estimator,
    save_estimator,
)
from sklmeta.exceptions import MetaTrainingInterrupted
from sklmeta.generative import (
    AugmentedSupportClassifier,
    DataAugmentationGAN,
    FeatureHallucinator,
)


class JitterGenerator:
    """A stand-in generator: draws are the source plus Gaussian noise. It
    records the labels it was trained on. Without get_params, clone copies
    it whole, trained state included."""

    def __init__(self, scale=0.1, count_calls=False):
        self.scale = scale
        self.count_calls = count_calls

    def meta_fit(self, X, y):
        self.seen_labels_ = np.unique(y)
        self.generator_ = "trained"
        self.n_calls_ = 0
        return self

    def generate(self, X, n_per_image=1, random_state=None):
        self.n_calls_ += self.count_calls
        rng = np.random.RandomState(random_state)
        X = np.repeat(np.asarray(X, dtype=float), n_per_image, axis=0)
        return X + self.scale * rng.randn(*X.shape)


def _trained_jitter():
    return JitterGenerator().meta_fit(np.zeros((2, 2)), [0, 1])


@parametrize_with_checks([
    ProtoNetClassifier(encoder="mlp", n_hallucinated=2, verbose=0, random_state=0,
                       device="cpu"),
    MatchingNetClassifier(encoder="mlp", n_hallucinated=2, verbose=0, random_state=0,
                          device="cpu"),
    AugmentedSupportClassifier(LogisticRegression(), _trained_jitter(), random_state=0),
])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# ----------------------------------------------------------------------------
# feature hallucination
# ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=600, centers=30, n_features=10, cluster_std=2.0,
                      random_state=0)
    return X.astype(np.float32), y


def test_hallucinator_starts_as_copies_of_its_seeds():
    seeds = torch.randn(5, 8)
    assert torch.equal(FeatureHallucinator(8)(seeds), seeds)
    assert FeatureHallucinator(8, noise_dim=3, hidden_size=16)(seeds).shape == (5, 8)


@pytest.mark.parametrize("learner", [ProtoNetClassifier, MatchingNetClassifier])
def test_hallucinator_is_meta_trained_and_fit_leaves_it(blobs, learner):
    X, y = blobs
    clf = learner(encoder="mlp", n_hallucinated=3, n_way=5, max_epochs=4,
                  episodes_per_epoch=30, verbose=0, random_state=0)
    clf.meta_fit(X[y < 20], y[y < 20])
    losses = clf.history_[:, "train_loss"]
    assert losses[-1] < losses[0]
    last = clf.hallucinator_.net[-1].weight
    assert last.abs().sum() > 0  # it moved from its zero start: it was trained
    assert set(dict(clf.module_.named_children())) >= {"encoder", "hallucinator"}
    before = {k: v.clone() for k, v in clf.hallucinator_.state_dict().items()}
    new = y >= 20
    clf.fit(X[new][:10], y[new][:10])
    after = clf.hallucinator_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_hallucinated_examples_enter_the_prototypes(blobs):
    X, y = blobs
    clf = ProtoNetClassifier(encoder="mlp", n_hallucinated=2, n_way=5, max_epochs=2,
                             episodes_per_epoch=20, verbose=0, random_state=0)
    clf.meta_fit(X[y < 20], y[y < 20])
    new = y >= 20
    Xs, ys = X[new][:10], y[new][:10]
    with_generator = clf.fit(Xs, ys).prototypes_.clone()
    plain = clone(clf).set_params(n_hallucinated=0)
    plain.hallucinator_ = None  # same encoder, no hallucination
    plain.encoder_ = clf.encoder_
    plain.history_ = clf.history_
    plain.n_features_in_ = clf.n_features_in_
    assert not torch.allclose(plain.fit(Xs, ys).prototypes_, with_generator)
    # the drawings are seeded: the same random_state gives the same prototypes
    assert torch.equal(clf.fit(Xs, ys).prototypes_, with_generator)


def test_hallucination_survives_clone_pickle_and_save(blobs, tmp_path):
    X, y = blobs
    clf = ProtoNetClassifier(encoder="mlp", n_hallucinated=2, hallucinator__hidden_size=12,
                             n_way=5, max_epochs=1, episodes_per_epoch=10, verbose=0,
                             random_state=0).meta_fit(X[y < 20], y[y < 20])
    assert clf.hallucinator_.net[0].out_features == 12
    new = y >= 20
    expected = clf.fit(X[new][:10], y[new][:10]).predict_proba(X[new][10:])
    save_estimator(clf, tmp_path / "model.skm")
    copies = (clone(clf), pickle.loads(pickle.dumps(clf)),
              load_estimator(tmp_path / "model.skm"))
    for copy in copies:
        assert copy.hallucinator_ is not clf.hallucinator_
        got = copy.fit(X[new][:10], y[new][:10]).predict_proba(X[new][10:])
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_hallucinator_class_and_instance(blobs):
    X, y = blobs

    class Shift(torch.nn.Module):
        def __init__(self, dim, amount=0.0):
            super().__init__()
            self.offset = torch.nn.Parameter(torch.full((dim,), float(amount)))

        def forward(self, seeds):
            return seeds + self.offset

    for spec, routed in ((Shift, {"hallucinator__amount": 0.5}), (Shift(16), {})):
        clf = ProtoNetClassifier(encoder="mlp", encoder__out_features=16, n_hallucinated=1,
                                 hallucinator=spec, n_way=5, max_epochs=1,
                                 episodes_per_epoch=5, verbose=0, random_state=0, **routed)
        clf.meta_fit(X[y < 20], y[y < 20])
        assert isinstance(clf.hallucinator_, Shift)
        assert clf.hallucinator_ is not spec


def test_init_from_a_learner_without_hallucinator(blobs):
    X, y = blobs
    plain = ProtoNetClassifier(encoder="mlp", n_way=5, max_epochs=1, episodes_per_epoch=5,
                               verbose=0, random_state=0).meta_fit(X[y < 20], y[y < 20])
    clf = ProtoNetClassifier(encoder="mlp", n_hallucinated=2, n_way=5, max_epochs=1,
                             episodes_per_epoch=5, verbose=0, random_state=0,
                             init_from=plain).meta_fit(X[y < 20], y[y < 20])
    assert isinstance(clf.hallucinator_, FeatureHallucinator)


@pytest.mark.parametrize("params, error, match", [
    ({"n_hallucinated": -1}, ValueError, "n_hallucinated"),
    ({"n_hallucinated": 1.5}, TypeError, "n_hallucinated"),
    ({"n_hallucinated": 1, "hallucinator": "gan"}, TypeError, "hallucinator"),
    ({"n_hallucinated": 1, "hallucinator": FeatureHallucinator(4),
      "hallucinator__hidden_size": 3}, ValueError, "hallucinator__"),
    ({"halucinator__hidden_size": 3}, TypeError, "unexpected keyword"),
])
def test_hallucination_bad_params(blobs, params, error, match):
    X, y = blobs
    clf = ProtoNetClassifier(encoder="mlp", verbose=0, **params)
    with pytest.raises(error, match=match):
        clf.meta_fit(X, y)


# ----------------------------------------------------------------------------
# data-augmentation GAN
# ----------------------------------------------------------------------------
def _pattern_images(n_classes, n_per_class, seed):
    """8x8 images: each class a random binary pattern, each image that
    pattern with a few pixels flipped."""
    rng = np.random.RandomState(seed)
    templates = rng.rand(n_classes, 64) < 0.3
    X = np.repeat(templates, n_per_class, axis=0)
    flips = rng.rand(*X.shape) < 0.05
    X = np.logical_xor(X, flips).astype(np.float32)
    return X, np.repeat(np.arange(n_classes), n_per_class)


@pytest.fixture(scope="module")
def patterns():
    return _pattern_images(40, 10, seed=0)


@pytest.fixture(scope="module")
def trained_gan(patterns):
    X, y = patterns
    gan = DataAugmentationGAN(n_filters=8, noise_dim=8, max_epochs=6, steps_per_epoch=40,
                              lr=1e-3, verbose=0, random_state=0)
    return gan.meta_fit(X[y < 30], y[y < 30])


def test_gan_draws_images_of_unseen_classes(patterns, trained_gan):
    X, y = patterns
    new = y >= 30  # never seen in training
    untrained = DataAugmentationGAN(n_filters=8, noise_dim=8, max_epochs=0, verbose=0,
                                    random_state=0).meta_fit(X[y < 30], y[y < 30])

    def error(gan):
        drawn = gan.generate(X[new], n_per_image=3)
        means = np.stack([X[y == c].mean(axis=0) for c in range(30, 40)])
        return np.mean((drawn - np.repeat(means, 30, axis=0)) ** 2)

    assert error(trained_gan) < 0.5 * error(untrained)
    assert len(trained_gan.history_) == 6
    assert {"generator_loss", "discriminator_loss", "dur"} <= set(trained_gan.history_[0])


def test_gan_generate_is_seeded_and_leaves_the_networks(patterns, trained_gan):
    X, _ = patterns
    state = {k: v.clone() for k, v in trained_gan.generator_.state_dict().items()}
    first = trained_gan.generate(X[:4], n_per_image=2)
    assert first.shape == (8, 64)
    np.testing.assert_array_equal(first, trained_gan.generate(X[:4], n_per_image=2))
    assert not np.array_equal(first, trained_gan.generate(X[:4], 2, random_state=1))
    assert all(torch.equal(v, trained_gan.generator_.state_dict()[k]) for k, v in state.items())
    X_copy = X.copy()
    trained_gan.generate(X, 1)
    np.testing.assert_array_equal(X, X_copy)


def test_gan_clone_and_pickle_keep_the_networks(patterns, trained_gan):
    X, _ = patterns
    expected = trained_gan.generate(X[:3])
    for copy in (clone(trained_gan), pickle.loads(pickle.dumps(trained_gan))):
        assert copy.generator_ is not trained_gan.generator_
        np.testing.assert_array_equal(copy.generate(X[:3]), expected)


@pytest.mark.parametrize("params, X_shape, match", [
    ({"image_shape": "auto"}, (10, 10), "square"),
    ({"image_shape": (1, 6, 6)}, (10, 36), "multiples of 4"),
    ({"image_shape": (1, 8, 8)}, (10, 36), "holds 64"),
    ({"image_shape": (8, 8)}, (10, 64), "image_shape"),
    ({"lr": 0.0}, (10, 64), "lr"),
    ({"batch_size": 0}, (10, 64), "batch_size"),
])
def test_gan_bad_params(params, X_shape, match):
    X = np.zeros(X_shape, dtype=np.float32)
    with pytest.raises(ValueError, match=match):
        DataAugmentationGAN(verbose=0, **params).meta_fit(X, np.repeat([0, 1], 5))


def test_gan_needs_pairs_and_training():
    with pytest.raises(ValueError, match="two images"):
        DataAugmentationGAN(verbose=0).meta_fit(np.zeros((3, 16)), [0, 1, 2])
    with pytest.raises(NotFittedError):
        DataAugmentationGAN().generate(np.zeros((1, 16)))


def test_gan_interrupt_keeps_what_was_learned(patterns, monkeypatch):
    X, y = patterns
    gan = DataAugmentationGAN(n_filters=4, noise_dim=4, max_epochs=3, steps_per_epoch=3,
                              verbose=0, random_state=0)
    interrupt_at_call(monkeypatch, DataAugmentationGAN, "_step", 5)
    with pytest.warns(MetaTrainingInterrupted, match="1 whole epochs"):
        gan.meta_fit(X, y)
    assert len(gan.history_) == 1
    assert gan.generate(X[:1]).shape == (1, 64)


# ----------------------------------------------------------------------------
# a classifier on enlarged support sets
# ----------------------------------------------------------------------------
def test_generator_never_sees_the_new_classes(patterns):
    X, y = patterns
    clf = AugmentedSupportClassifier(KNeighborsClassifier(1), JitterGenerator(),
                                     n_generated=2, random_state=0)
    clf.meta_fit(X[y < 30], y[y < 30])
    assert set(clf.generator_.seen_labels_) == set(range(30))
    new = y >= 30
    clf.fit(X[new][::10], y[new][::10])
    assert set(clf.generator_.seen_labels_) == set(range(30))
    assert clf.estimator_.n_samples_fit_ == 30  # 10 real and 20 drawn
    np.testing.assert_array_equal(clf.classes_, np.arange(30, 40))
    assert clf.score(X[new], y[new]) > 0.9


def test_augmented_classifier_meta_trains_a_meta_learner(patterns, trained_gan):
    X, y = patterns
    learner = ProtoNetClassifier(encoder="mlp", n_way=5, max_epochs=1, episodes_per_epoch=5,
                                 verbose=0, random_state=0)
    clf = AugmentedSupportClassifier(learner, trained_gan, n_generated=1, random_state=0)
    clf.meta_fit(X[y < 30], y[y < 30])
    assert clf.meta_estimator_._is_meta_fitted()
    assert not hasattr(learner, "history_")  # the given estimator is untouched
    new = y >= 30
    proba = clf.fit(X[new][::10], y[new][::10]).predict_proba(X[new])
    assert proba.shape == (100, 10)
    # the meta-fitted state survives clone, with the trained generator
    copy = clone(clf)
    np.testing.assert_allclose(
        copy.fit(X[new][::10], y[new][::10]).predict_proba(X[new]), proba, rtol=1e-6)


@pytest.mark.parametrize("augment", [True, False])
def test_meta_training_on_enlarged_episodes(patterns, augment):
    X, y = patterns
    learner = ProtoNetClassifier(encoder="mlp", n_way=4, n_shot=1, n_query=2, max_epochs=2,
                                 episodes_per_epoch=5, verbose=0, random_state=0)
    clf = AugmentedSupportClassifier(learner, JitterGenerator(count_calls=True),
                                     n_generated=2, augment_meta_training=augment,
                                     random_state=0)
    clf.meta_fit(X[y < 30], y[y < 30])
    # one drawing call per meta-training episode, or none
    assert clf.generator_.n_calls_ == (10 if augment else 0)
    assert set(clf.generator_.seen_labels_) == set(range(30))
    again = clone(clf).set_params(estimator=learner).meta_fit(X[y < 30], y[y < 30])
    np.testing.assert_array_equal(  # seeded: the same episodes and drawings
        again.meta_estimator_.history_[:, "train_loss"],
        clf.meta_estimator_.history_[:, "train_loss"])


def test_augmented_classifier_errors(patterns):
    X, y = patterns
    with pytest.raises(NotFittedError, match="trained generator"):
        AugmentedSupportClassifier(LogisticRegression(), JitterGenerator()).fit(X, y)
    with pytest.raises(TypeError, match="augment_meta_training"):
        AugmentedSupportClassifier(LogisticRegression(), augment_meta_training=1).fit(X, y)
    with pytest.raises(ValueError, match="n_generated"):
        AugmentedSupportClassifier(LogisticRegression(), n_generated=-1).fit(X, y)
    with pytest.raises(TypeError, match="generator"):
        AugmentedSupportClassifier(LogisticRegression(), generator="gan").fit(X, y)
    with pytest.raises(NotFittedError, match="support set"):
        AugmentedSupportClassifier(LogisticRegression()).predict(X)
    fitted = AugmentedSupportClassifier(LogisticRegression(), n_generated=0).fit(X, y)
    assert fitted.estimator_.coef_.shape == (40, 64)
