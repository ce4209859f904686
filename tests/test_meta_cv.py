"""Cross-validation of meta-training over class-disjoint folds."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import KFold
from sklearn.neighbors import NearestCentroid
from sklearn.preprocessing import StandardScaler

from sklmeta import ClassShuffleSplit, ProtoNetClassifier, evaluate_episodes
from sklmeta.model_selection import ClassKFold, meta_cross_validate
from sklmeta.pipeline import make_meta_pipeline

FAST = dict(encoder="mlp", n_way=5, n_shot=2, n_query=3, max_epochs=1,
            episodes_per_epoch=8, verbose=0, random_state=0, device="cpu")
EPISODES = dict(n_way=5, n_shot=2, n_query=3, n_episodes=6, random_state=0)


def test_each_fold_meta_trains_on_its_classes_and_tests_on_the_others(blobs):
    X, y = blobs
    results = meta_cross_validate(ProtoNetClassifier(**FAST), X, y, cv=3,
                                  return_estimator=True, **EPISODES)
    assert results["test_accuracy"].shape == (3,)
    assert results["test_scores"].shape == (3, 6)
    np.testing.assert_allclose(results["test_accuracy"], results["test_scores"].mean(axis=1))
    np.testing.assert_allclose(
        results["test_ci95"], 1.96 * results["test_scores"].std(axis=1) / np.sqrt(6)
    )
    assert np.all(results["fit_time"] > 0) and np.all(results["score_time"] > 0)
    folds = ClassKFold(n_splits=3).split(X, y)
    for i, ((train, test), est) in enumerate(zip(folds, results["estimator"])):
        assert len(est.history_) == 1
        assert not set(y[train]) & set(y[test])
        # the fold's scores are the episodic evaluation of its meta-fitted model
        expected = evaluate_episodes(est, X[test], y[test], **EPISODES)
        np.testing.assert_allclose(results["test_scores"][i], expected.scores)


def test_meta_state_of_the_given_estimator_is_ignored(blobs):
    X, y = blobs
    fresh = ProtoNetClassifier(**FAST)
    # meta-fitted on every class, warm_start on: the folds must still start afresh
    leaky = clone(fresh).set_params(warm_start=True).meta_fit(X, y)
    cv = ClassShuffleSplit(n_splits=2, test_size=0.3, random_state=0)
    a = meta_cross_validate(fresh, X, y, cv=cv, **EPISODES)
    b = meta_cross_validate(leaky, X, y, cv=cv, **EPISODES)
    np.testing.assert_array_equal(a["test_scores"], b["test_scores"])
    assert leaky.warm_start and len(leaky.history_) == 1  # the caller's copy is untouched


def test_meta_pipelines_refit_their_preprocessing_per_fold(blobs):
    X, y = blobs
    pipe = make_meta_pipeline(StandardScaler(), ProtoNetClassifier(**FAST))
    results = meta_cross_validate(pipe, X, y, cv=2, return_estimator=True, **EPISODES)
    for (train, _), fitted in zip(ClassKFold(n_splits=2).split(X, y), results["estimator"]):
        np.testing.assert_allclose(fitted[0].mean_, X[train].mean(axis=0), rtol=1e-5)
        assert fitted._is_meta_fitted()


def test_invalid_arguments(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="class-disjoint"):
        meta_cross_validate(ProtoNetClassifier(**FAST), X, y,
                            cv=KFold(3, shuffle=True, random_state=0), **EPISODES)
    with pytest.raises(TypeError, match="meta_fit"):
        meta_cross_validate(NearestCentroid(), X, y, **EPISODES)
    with pytest.raises(TypeError, match="cv must be"):
        meta_cross_validate(ProtoNetClassifier(**FAST), X, y, cv="five", **EPISODES)
    with pytest.raises(ValueError, match="samples"):
        meta_cross_validate(ProtoNetClassifier(**FAST), X[:10], y, **EPISODES)
