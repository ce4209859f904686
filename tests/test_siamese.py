"""Siamese networks: behaviour, properties, the pair decision and learning."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklmeta import evaluate_episodes
from sklmeta.metric_based import SiameseClassifier

FAST = dict(encoder="mlp", n_way=5, n_shot=2, n_query=5, max_epochs=3,
            episodes_per_epoch=30, verbose=0, random_state=0, device="cpu")


@parametrize_with_checks(
    [
        SiameseClassifier(encoder="mlp", verbose=0, random_state=0, device="cpu"),
        SiameseClassifier(encoder="mlp", loss="contrastive", aggregation="mean", verbose=0,
                          random_state=0, device="cpu"),
    ],
    expected_failed_checks=lambda est: {},
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module", params=["bce", "contrastive"])
def meta_fitted(request, blobs):
    X, y = blobs
    return SiameseClassifier(loss=request.param, **FAST).meta_fit(X[y < 20], y[y < 20])


def support_and_queries(blobs, classes=(20, 21, 22, 23, 24), n_shot=2):
    X, y = blobs
    support = np.concatenate([np.flatnonzero(y == c)[:n_shot] for c in classes])
    query = np.concatenate([np.flatnonzero(y == c)[n_shot:] for c in classes])
    return X[support], y[support], X[query], y[query]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 2))
def test_predictions_do_not_depend_on_support_order(meta_fitted, blobs, seed):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    order = np.random.RandomState(seed).permutation(len(y_s))
    for aggregation in ("nearest", "mean"):
        est = clone(meta_fitted).set_params(aggregation=aggregation)
        a = est.fit(X_s, y_s).predict_proba(X_q)
        b = clone(est).fit(X_s[order], y_s[order]).predict_proba(X_q)
        np.testing.assert_allclose(a, b, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 2))
def test_relabelling_classes_relabels_predictions(meta_fitted, blobs, seed):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    rng = np.random.RandomState(seed)
    names = np.array([f"class-{v}" for v in rng.permutation(1000)[:5]])
    mapping = dict(zip(np.unique(y_s), names))
    relabelled = np.array([mapping[v] for v in y_s])
    original = clone(meta_fitted).fit(X_s, y_s).predict(X_q)
    renamed = clone(meta_fitted).fit(X_s, relabelled).predict(X_q)
    np.testing.assert_array_equal(renamed, [mapping[v] for v in original])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 2))
def test_pair_decision_is_symmetric(meta_fitted, blobs, seed):
    X, _ = blobs
    rng = np.random.RandomState(seed)
    first, second = rng.randint(len(X), size=(2, 20))
    np.testing.assert_array_equal(meta_fitted.predict_pair(X[first], X[second]),
                                  meta_fitted.predict_pair(X[second], X[first]))
    np.testing.assert_allclose(meta_fitted.pair_score(X[first], X[second]),
                               meta_fitted.pair_score(X[second], X[first]), atol=1e-12)


def test_pair_decision_verifies_unseen_classes(meta_fitted, blobs):
    X, y = blobs
    rng = np.random.RandomState(0)
    held_out = np.flatnonzero(y >= 20)
    first, second = rng.choice(held_out, size=(2, 400))
    same = y[first] == y[second]
    pick = np.concatenate([np.flatnonzero(same)[:30], np.flatnonzero(~same)[:30]])
    a, b, same = X[first[pick]], X[second[pick]], same[pick]
    score = meta_fitted.pair_score(a, b)
    assert score[same].mean() > score[~same].mean()
    if meta_fitted.loss == "bce":
        # the threshold 0.5 is learned; a margin takes longer to shape distances
        assert np.mean(meta_fitted.predict_pair(a, b) == same) > 0.7
    score = meta_fitted.pair_score(X[:5], X[:5])
    if meta_fitted.loss == "bce":
        assert np.all((score > 0) & (score < 1))
    else:
        np.testing.assert_allclose(score, 0.0)  # an input is at distance 0 from itself


def test_nearest_support_rule_and_normalised_probabilities(meta_fitted, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs, n_shot=1)
    est = clone(meta_fitted).fit(X_s, y_s)
    # one shot: each class has one support example, the pair score decides
    scores = np.stack([est.pair_score(X_q, np.repeat(X_s[[i]], len(X_q), axis=0))
                       for i in range(len(X_s))], axis=1)
    np.testing.assert_array_equal(est.predict(X_q), y_s[scores.argmax(axis=1)])
    proba = est.predict_proba(X_q)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    if est.loss == "bce":
        np.testing.assert_allclose(proba, scores / scores.sum(axis=1, keepdims=True), rtol=1e-6)
    mean = clone(est).set_params(aggregation="mean").fit(X_s, y_s)
    np.testing.assert_allclose(mean.predict_proba(X_q), proba, rtol=1e-9)


def test_aggregation_is_an_adaptation_choice(meta_fitted, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs, n_shot=4)
    est = clone(meta_fitted).set_params(aggregation="nearest")
    assert hasattr(est, "encoder_")  # the meta-learned state is kept
    mean = clone(meta_fitted).fit(X_s, y_s).predict_proba(X_q)  # the default
    assert not np.allclose(est.fit(X_s, y_s).predict_proba(X_q), mean)


def test_clone_keeps_meta_state_head_included(blobs):
    X, y = blobs
    est = SiameseClassifier(**{**FAST, "max_epochs": 1}).meta_fit(X[y < 20], y[y < 20])
    assert set(est.module_) == {"encoder", "head"}
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    adapted = clone(est).fit(X_s, y_s)
    copy = clone(adapted)
    assert not hasattr(copy, "support_embeddings_") and copy.head_ is not est.head_
    for a, b in zip(copy.module_.parameters(), est.module_.parameters()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
    fresh = SiameseClassifier(**{**FAST, "max_epochs": 0}).meta_fit(X[y < 20], y[y < 20])
    assert not torch.equal(fresh.head_.linear.weight, est.head_.linear.weight)
    np.testing.assert_array_equal(copy.fit(X_s, y_s).predict(X_q), adapted.predict(X_q))
    contrastive = SiameseClassifier(loss="contrastive", **{**FAST, "max_epochs": 0})
    assert set(contrastive.meta_fit(X, y).module_) == {"encoder"}


@pytest.mark.parametrize("loss", ["bce", "contrastive"])
def test_meta_training_helps_on_unseen_classes(blobs, loss):
    X, y = blobs
    meta = SiameseClassifier(loss=loss, **{**FAST, "n_shot": 1}).meta_fit(X[y < 20], y[y < 20])
    untrained = SiameseClassifier(encoder="mlp", loss=loss, verbose=0, random_state=0,
                                  device="cpu")
    kwargs = dict(n_way=5, n_shot=1, n_query=5, n_episodes=30, random_state=1)
    trained = evaluate_episodes(meta, X[y >= 20], y[y >= 20], **kwargs)
    baseline = evaluate_episodes(untrained, X[y >= 20], y[y >= 20], **kwargs)
    assert trained.mean > baseline.mean + 0.1, (trained, baseline)


def test_tabular_few_shot_with_mlp_encoder():
    """30 classes in 5 informative features among 35 noise ones (scikit-learn's generator)."""
    X, y = make_classification(n_samples=1200, n_features=40, n_informative=5, n_redundant=0,
                               n_classes=30, n_clusters_per_class=1, class_sep=3.0,
                               random_state=0)
    X = X.astype(np.float32)
    train, test = y < 20, y >= 20
    # on tabular data a lower rate than the default (tuned on images) trains better
    meta = SiameseClassifier(**{**FAST, "n_shot": 1, "max_epochs": 4, "meta_lr": 1e-3})
    meta.meta_fit(X[train], y[train])
    untrained = SiameseClassifier(encoder="mlp", verbose=0, random_state=0, device="cpu")
    kwargs = dict(n_way=5, n_shot=1, n_query=5, n_episodes=30, random_state=0)
    trained = evaluate_episodes(meta, X[test], y[test], **kwargs)
    baseline = evaluate_episodes(untrained, X[test], y[test], **kwargs)
    assert trained.mean > baseline.mean + 0.05, (trained, baseline)


def test_pair_methods_check_their_inputs(blobs):
    X, y = blobs
    with pytest.raises(NotFittedError):
        SiameseClassifier(encoder="mlp", verbose=0).predict_pair(X[:2], X[:2])
    est = SiameseClassifier(encoder="mlp", verbose=0, device="cpu").fit(X[:10], y[:10])
    with pytest.raises(ValueError, match="same number of rows"):
        est.predict_pair(X[:3], X[:2])
    with pytest.raises(ValueError, match="features"):
        est.predict_pair(X[:2, :4], X[:2, :4])


def test_parameters_are_checked():
    X, y = np.zeros((4, 3)), [0, 1, 0, 1]
    with pytest.raises(ValueError, match="loss must be one of"):
        SiameseClassifier(loss="triplet", verbose=0).fit(X, y)
    with pytest.raises(ValueError, match="margin must be > 0"):
        SiameseClassifier(loss="contrastive", margin=0.0, verbose=0).fit(X, y)
    with pytest.raises(ValueError, match="aggregation must be one of"):
        SiameseClassifier(aggregation="max", verbose=0).fit(X, y)
