"""Episodic cross-validation, episode evaluation and class-disjoint splits."""

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from sklmeta import (
    ClassKFold,
    ClassShuffleSplit,
    EpisodeSplit,
    evaluate_episodes,
    train_test_class_split,
)


def blobs(n_classes=8, per_class=10, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=5.0, size=(n_classes, 4))
    y = np.repeat(np.arange(n_classes), per_class)
    return centers[y] + rng.normal(size=(len(y), 4)), y


def test_episode_split_yields_support_and_query():
    X, y = blobs()
    cv = EpisodeSplit(n_way=3, n_shot=2, n_query=4, n_episodes=7, random_state=0)
    splits = list(cv.split(X, y))
    assert len(splits) == cv.get_n_splits() == 7
    for support, query in splits:
        assert len(support) == 6 and len(query) == 12
        assert not set(support) & set(query)
        assert set(y[support]) == set(y[query])
    again = list(cv.split(X, y))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(splits, again))


def test_episode_split_in_cross_val_score():
    X, y = blobs()
    cv = EpisodeSplit(n_way=4, n_shot=1, n_query=5, n_episodes=10, random_state=0)
    scores = cross_val_score(KNeighborsClassifier(n_neighbors=1), X, y, cv=cv)
    assert scores.shape == (10,)
    assert scores.mean() > 0.9  # well-separated blobs


def test_evaluate_episodes_matches_manual_loop():
    X, y = blobs(seed=1)
    result = evaluate_episodes(
        KNeighborsClassifier(n_neighbors=1), X, y, n_way=5, n_shot=1, n_query=3,
        n_episodes=25, random_state=3,
    )
    manual = []
    for support, query in EpisodeSplit(5, 1, 3, 25, random_state=3).split(X, y):
        clf = KNeighborsClassifier(n_neighbors=1).fit(X[support], y[support])
        manual.append(clf.score(X[query], y[query]))
    np.testing.assert_allclose(result.scores, manual)
    assert result.mean == pytest.approx(np.mean(manual))
    assert result.ci95 == pytest.approx(1.96 * np.std(manual) / np.sqrt(25))
    assert "±" in str(result)


def test_episode_split_errors_name_the_problem():
    X, y = blobs(n_classes=3)
    with pytest.raises(ValueError, match="n_way=4 exceeds the 3 classes"):
        next(EpisodeSplit(n_way=4).split(X, y))
    with pytest.raises(ValueError, match="needs y"):
        next(EpisodeSplit().split(X, None))
    with pytest.raises(ValueError, match="n_episodes must be >= 1"):
        EpisodeSplit(n_episodes=0).get_n_splits()


def test_class_splitters_keep_classes_disjoint():
    X, y = blobs(n_classes=10)
    for train, test in ClassShuffleSplit(n_splits=3, test_size=0.3, random_state=0).split(X, y):
        assert not set(y[train]) & set(y[test])
        assert len(np.unique(y[test])) == 3
    seen = []
    for train, test in ClassKFold(n_splits=5).split(X, y):
        assert not set(y[train]) & set(y[test])
        seen.extend(np.unique(y[test]))
    assert sorted(seen) == list(range(10))


def test_train_test_class_split():
    X, y = blobs(n_classes=10)
    X_tr, X_te, y_tr, y_te = train_test_class_split(X, y, test_size=4, random_state=0)
    assert len(np.unique(y_te)) == 4 and len(np.unique(y_tr)) == 6
    assert not set(y_tr) & set(y_te)
    assert len(X_tr) + len(X_te) == len(X)
    with pytest.raises(ValueError, match="X has 3 samples but y has 100"):
        train_test_class_split(X[:3], y)


def test_model_selection_exports_its_public_names():
    import sklmeta
    from sklmeta import model_selection

    assert sorted(model_selection.__all__) == [
        "ClassKFold", "ClassShuffleSplit", "EpisodeEvaluation", "EpisodeSplit",
        "evaluate_episodes", "meta_cross_validate", "train_test_class_split",
    ]
    # the top-level names are the same objects
    for name in set(model_selection.__all__) & set(sklmeta.__all__):
        assert getattr(sklmeta, name) is getattr(model_selection, name)
    X, y = blobs()
    result = evaluate_episodes(KNeighborsClassifier(n_neighbors=1), X, y, n_way=3,
                               n_query=2, n_episodes=2, random_state=0)
    assert isinstance(result, model_selection.EpisodeEvaluation)
