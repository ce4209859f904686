"""Out-of-scope rejection: RejectOption and choose_rejection_threshold."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from sklmeta import ProtoNetClassifier
from sklmeta.model_selection import EpisodeSplit
from sklmeta.rejection import RejectOption, choose_rejection_threshold

X_LINE = np.array([[-2.0], [-1.0], [1.0], [2.0]])


def clusters(n_classes=8, per_class=12, seed=0):
    """Classes as tight clusters on a line; out-of-scope points far from all."""
    rng = np.random.RandomState(seed)
    X = np.repeat(np.arange(n_classes) * 10.0, per_class)[:, None] + rng.randn(
        n_classes * per_class, 1)
    y = np.repeat(np.arange(n_classes), per_class)
    X_out = 5.0 + 10.0 * rng.randint(0, n_classes - 1, size=(40, 1)) + 0.3 * rng.randn(40, 1)
    return X, y, X_out


def test_confident_inputs_get_their_class_and_the_rest_the_reject_label():
    clf = RejectOption(LogisticRegression(), threshold=0.6).fit(X_LINE, [0, 0, 1, 1])
    assert clf.predict([[-3.0], [0.0], [3.0]]).tolist() == [0, -1, 1]
    proba = clf.predict_proba([[0.0]])
    assert proba.max() < 0.6


def test_threshold_zero_never_rejects_and_one_always_does():
    X, y, _ = clusters()
    never = RejectOption(LogisticRegression(), threshold=0.0).fit(X, y)
    assert np.array_equal(never.predict(X), never.estimator_.predict(X))
    always = RejectOption(LogisticRegression(), threshold=1.0).fit(X, y)
    assert set(always.predict(X).tolist()) == {-1}


def test_string_classes_and_labels_mix_as_the_user_gave_them():
    y = np.array(["in", "in", "other", "other"])
    clf = RejectOption(LogisticRegression(), threshold=0.6, reject_label="out_of_scope")
    answers = clf.fit(X_LINE, y).predict([[-3.0], [0.0]])
    assert answers.tolist() == ["in", "out_of_scope"]
    numbers = RejectOption(LogisticRegression(), threshold=0.6, reject_label="oos")
    answers = numbers.fit(X_LINE, [0, 0, 1, 1]).predict([[-3.0], [0.0]])
    assert answers.tolist() == [0, "oos"] and answers.dtype == object


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="threshold must be <= 1"):
        RejectOption(LogisticRegression(), threshold=1.5).fit(X_LINE, [0, 0, 1, 1])
    with pytest.raises(TypeError, match="estimator must have predict_proba"):
        RejectOption(LinearSVC()).fit(X_LINE, [0, 0, 1, 1])
    with pytest.raises(ValueError, match="reject_label=-1 is a class of y"):
        RejectOption(LogisticRegression()).fit(X_LINE, [0, 0, -1, -1])


def test_it_is_a_scikit_learn_estimator():
    clf = RejectOption(LogisticRegression(), threshold=0.7)
    assert clone(clf).get_params()["threshold"] == 0.7
    fitted = pickle.loads(pickle.dumps(clf.fit(X_LINE, [0, 0, 1, 1])))
    assert fitted.predict([[0.0]]).tolist() == [-1]


def test_a_meta_fitted_learner_keeps_its_meta_training():
    X, y, _ = clusters(n_classes=12)
    learner = ProtoNetClassifier(encoder="mlp", n_way=4, n_shot=2, n_query=4, max_epochs=2,
                                 verbose=0, random_state=0, device="cpu")
    learner.meta_fit(X[y < 8], y[y < 8])
    clf = RejectOption(learner, threshold=0.0).fit(X[y >= 8][::6], y[y >= 8][::6])
    weights = learner.encoder_.state_dict()
    for name, value in clf.estimator_.encoder_.state_dict().items():
        assert np.array_equal(value.numpy(), weights[name].numpy())


def test_the_chosen_threshold_separates_in_scope_from_out_of_scope():
    X, y, X_out = clusters()
    cv = EpisodeSplit(n_way=3, n_shot=5, n_query=5, n_episodes=10, random_state=0)
    result = choose_rejection_threshold(LogisticRegression(), X, y, X_out, cv=cv)
    best = np.argmin(np.abs(result.thresholds - result.threshold))
    both = result.in_scope_accuracy + result.out_of_scope_recall
    assert both[best] == both.max()
    # rejecting some inputs beats rejecting none or all
    assert both[best] > max(both[0], both[-1]) + 0.2
    assert result.in_scope_accuracy[best] > 0.8
    # the end points: nothing rejected, everything rejected
    assert result.out_of_scope_recall[0] == 0 and result.in_scope_accuracy[-1] <= 0.1
    assert "threshold=" in repr(result)


def test_a_floor_on_in_scope_accuracy_is_respected():
    X, y, X_out = clusters()
    cv = EpisodeSplit(n_way=3, n_shot=5, n_query=5, n_episodes=10, random_state=0)
    result = choose_rejection_threshold(LogisticRegression(), X, y, X_out, cv=cv,
                                        min_in_scope_accuracy=0.99)
    best = np.argmin(np.abs(result.thresholds - result.threshold))
    assert result.in_scope_accuracy[best] >= 0.99
    loose = choose_rejection_threshold(LogisticRegression(), X, y, X_out, cv=cv,
                                       min_in_scope_accuracy=0.0)
    assert loose.out_of_scope_recall.max() == loose.out_of_scope_recall[
        np.argmin(np.abs(loose.thresholds - loose.threshold))]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(thresholds=[]), ValueError, "thresholds must be a non-empty"),
    (dict(min_in_scope_accuracy=2.0), ValueError, "min_in_scope_accuracy must be <= 1"),
    (dict(min_in_scope_accuracy=1.0, thresholds=[1.0]), ValueError, "no threshold keeps"),
])
def test_bad_choices_are_named(kwargs, error, match):
    X, y, X_out = clusters()
    cv = EpisodeSplit(n_way=3, n_shot=5, n_query=5, n_episodes=2, random_state=0)
    with pytest.raises(error, match=match):
        choose_rejection_threshold(LogisticRegression(), X, y, X_out, cv=cv, **kwargs)


def test_out_of_scope_inputs_are_required():
    X, y, _ = clusters()
    cv = EpisodeSplit(n_way=3, n_shot=5, n_query=5, n_episodes=2, random_state=0)
    with pytest.raises(ValueError, match="X_out is empty"):
        choose_rejection_threshold(LogisticRegression(), X, y, np.empty((0, 1)), cv=cv)
    with pytest.raises(TypeError, match="estimator must have predict_proba"):
        choose_rejection_threshold(LinearSVC(), X, y, X[:3], cv=cv)
