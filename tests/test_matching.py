"""Matching Networks: behaviour, properties and learning."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklmeta import evaluate_episodes
from sklmeta.metric_based import MatchingNetClassifier

FAST = dict(encoder="mlp", n_way=5, n_shot=2, n_query=5, max_epochs=2,
            episodes_per_epoch=20, verbose=0, random_state=0, device="cpu")


@parametrize_with_checks(
    [
        MatchingNetClassifier(encoder="mlp", verbose=0, random_state=0, device="cpu"),
        MatchingNetClassifier(encoder="mlp", fce=True, verbose=0, random_state=0,
                              device="cpu"),
    ],
    expected_failed_checks=lambda est: {},
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def meta_fitted(blobs):
    X, y = blobs
    return MatchingNetClassifier(**FAST).meta_fit(X[y < 20], y[y < 20])


@pytest.fixture(scope="module")
def meta_fitted_fce(blobs):
    X, y = blobs
    params = {**FAST, "max_epochs": 1, "episodes_per_epoch": 10}
    return MatchingNetClassifier(fce=True, n_fce_steps=2, **params).meta_fit(X[y < 20], y[y < 20])


def support_and_queries(blobs, classes=(20, 21, 22, 23, 24), n_shot=2):
    X, y = blobs
    support = np.concatenate([np.flatnonzero(y == c)[:n_shot] for c in classes])
    query = np.concatenate([np.flatnonzero(y == c)[n_shot:] for c in classes])
    return X[support], y[support], X[query], y[query]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 2))
def test_predictions_do_not_depend_on_support_order_without_fce(meta_fitted, blobs, seed):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    order = np.random.RandomState(seed).permutation(len(y_s))
    a = clone(meta_fitted).fit(X_s, y_s).predict_proba(X_q)
    b = clone(meta_fitted).fit(X_s[order], y_s[order]).predict_proba(X_q)
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


def test_probabilities_are_the_attention_each_class_receives(meta_fitted, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    est = clone(meta_fitted).fit(X_s, y_s)
    with torch.no_grad():
        f = torch.nn.functional.normalize(est.encoder_(torch.as_tensor(X_q)), dim=1)
        g = torch.nn.functional.normalize(est.encoder_(torch.as_tensor(X_s)), dim=1)
        attention = torch.softmax(f @ g.T / est.temperature, dim=1).numpy()
    expected = np.stack([attention[:, y_s == c].sum(axis=1) for c in est.classes_], axis=1)
    np.testing.assert_allclose(est.predict_proba(X_q), expected, atol=1e-5)


def test_fce_depends_on_support_order_but_not_on_other_queries(meta_fitted_fce, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    est = clone(meta_fitted_fce).fit(X_s, y_s)
    proba = est.predict_proba(X_q)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # each query attends on its own: asking fewer queries changes nothing
    np.testing.assert_allclose(est.predict_proba(X_q[::7]), proba[::7], atol=1e-6)
    reversed_ = clone(meta_fitted_fce).fit(X_s[::-1], y_s[::-1]).predict_proba(X_q)
    assert not np.allclose(reversed_, proba, atol=1e-9)


def test_clone_keeps_meta_state_fce_included(meta_fitted_fce, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    adapted = clone(meta_fitted_fce).fit(X_s, y_s)
    copy = clone(adapted)
    assert not hasattr(copy, "classes_") and not hasattr(copy, "support_embeddings_")
    assert copy.fce_ is not adapted.fce_
    for a, b in zip(copy.module_.parameters(), meta_fitted_fce.module_.parameters()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
    assert set(copy.module_) == {"encoder", "fce"}
    np.testing.assert_allclose(copy.fit(X_s, y_s).predict_proba(X_q), adapted.predict_proba(X_q))


def test_meta_training_moves_fce_weights_and_fit_does_not(meta_fitted_fce, blobs):
    X, y = blobs
    fresh = MatchingNetClassifier(fce=True, n_fce_steps=2, **{**FAST, "max_epochs": 0})
    fresh.meta_fit(X[y < 20], y[y < 20])
    moved = [not torch.equal(a, b) for a, b in zip(
        fresh.fce_.parameters(), meta_fitted_fce.fce_.parameters())]
    assert all(moved)
    est = clone(meta_fitted_fce)
    before = {k: v.clone() for k, v in est.module_.state_dict().items()}
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    est.fit(X_s, y_s).predict(X_q)
    for key, value in est.module_.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_meta_training_helps_on_unseen_classes(blobs):
    X, y = blobs
    params = {**FAST, "n_shot": 1, "max_epochs": 3, "episodes_per_epoch": 30}
    meta = MatchingNetClassifier(**params)
    meta.meta_fit(X[y < 20], y[y < 20])
    untrained = MatchingNetClassifier(encoder="mlp", verbose=0, random_state=0, device="cpu")
    kwargs = dict(n_way=5, n_shot=1, n_query=5, n_episodes=30, random_state=1)
    trained = evaluate_episodes(meta, X[y >= 20], y[y >= 20], **kwargs)
    baseline = evaluate_episodes(untrained, X[y >= 20], y[y >= 20], **kwargs)
    assert trained.mean > baseline.mean + 0.1, (trained, baseline)


def tabular_few_shot_problem():
    """30 classes in 5 informative features among 35 noise ones (scikit-learn's generator)."""
    X, y = make_classification(n_samples=1200, n_features=40, n_informative=5, n_redundant=0,
                               n_classes=30, n_clusters_per_class=1, class_sep=3.0,
                               random_state=0)
    return X.astype(np.float32), y


def test_tabular_few_shot_with_mlp_encoder():
    X, y = tabular_few_shot_problem()
    train, test = y < 20, y >= 20
    params = {**FAST, "n_shot": 1, "max_epochs": 4, "episodes_per_epoch": 30}
    meta = MatchingNetClassifier(**params)
    meta.meta_fit(X[train], y[train])
    untrained = MatchingNetClassifier(encoder="mlp", verbose=0, random_state=0, device="cpu")
    kwargs = dict(n_way=5, n_shot=1, n_query=5, n_episodes=30, random_state=0)
    trained = evaluate_episodes(meta, X[test], y[test], **kwargs)
    baseline = evaluate_episodes(untrained, X[test], y[test], **kwargs)
    assert trained.mean > baseline.mean + 0.05, (trained, baseline)


def test_temperature_divides_the_cosines(meta_fitted, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    X, y = blobs
    sharp = clone(meta_fitted).set_params(temperature=0.5)
    assert not hasattr(sharp, "encoder_")  # a new temperature is a new model
    sharp.meta_fit(X[y < 20], y[y < 20]).fit(X_s, y_s)
    with torch.no_grad():
        f = torch.nn.functional.normalize(sharp.encoder_(torch.as_tensor(X_q)), dim=1)
        g = torch.nn.functional.normalize(sharp.encoder_(torch.as_tensor(X_s)), dim=1)
        attention = torch.softmax(f @ g.T / 0.5, dim=1).numpy()
    expected = np.stack([attention[:, y_s == c].sum(axis=1) for c in sharp.classes_], axis=1)
    np.testing.assert_allclose(sharp.predict_proba(X_q), expected, atol=1e-5)


def test_parameters_are_checked():
    X, y = np.zeros((4, 3)), [0, 1, 0, 1]
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            MatchingNetClassifier(temperature=bad, verbose=0).fit(X, y)
    with pytest.raises(TypeError, match="temperature"):
        MatchingNetClassifier(temperature="low", verbose=0).fit(X, y)
    with pytest.raises(TypeError, match="fce must be a bool"):
        MatchingNetClassifier(fce="yes", verbose=0).fit(X, y)
    with pytest.raises(ValueError, match="n_fce_steps must be >= 1"):
        MatchingNetClassifier(fce=True, n_fce_steps=0, verbose=0).fit(X, y)
