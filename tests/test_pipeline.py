"""MetaPipeline: preprocessing fitted on the meta-training pool, kept at adaptation."""

import itertools
import pickle
import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklmeta import EpisodeSampler, EpisodeSplit, ProtoNetClassifier, evaluate_episodes
from sklmeta.baselines import FineTuneClassifier
from sklmeta.pipeline import MetaPipeline, make_meta_pipeline
from sklmeta.transformers import EncoderTransformer

PROTONET = dict(encoder="mlp", n_way=5, n_shot=2, n_query=5, max_epochs=2,
                episodes_per_epoch=20, verbose=0, random_state=0, device="cpu")


# Steps are fitted in place, as by scikit-learn's Pipeline: fitting changes them.
EXPECTED_FAILURES = {
    "check_estimators_overwrite_params": "steps are fitted in place, as in Pipeline",
    "check_dont_overwrite_parameters": "steps are fitted in place, as in Pipeline",
}


@parametrize_with_checks(
    [MetaPipeline([("scale", StandardScaler()),
                   ("learner", ProtoNetClassifier(encoder="mlp", verbose=0,
                                                  random_state=0, device="cpu"))])],
    expected_failed_checks=lambda est: EXPECTED_FAILURES,
)
def test_sklearn_compatible_pipeline(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def meta_fitted_pipeline(blobs):
    X, y = blobs
    pipe = make_meta_pipeline(StandardScaler(), PCA(8), ProtoNetClassifier(**PROTONET))
    return pipe.meta_fit(X[y < 20], y[y < 20])


def support_and_queries(blobs, classes=(20, 21, 22, 23, 24), n_shot=2):
    X, y = blobs
    support = np.concatenate([np.flatnonzero(y == c)[:n_shot] for c in classes])
    query = np.concatenate([np.flatnonzero(y == c)[n_shot:] for c in classes])
    return X[support], y[support], X[query], y[query]


def test_meta_fit_clone_fit_equals_meta_fit_fit(meta_fitted_pipeline, blobs):
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    copy = clone(meta_fitted_pipeline)
    expected = clone(meta_fitted_pipeline).fit(X_s, y_s).predict_proba(X_q)
    np.testing.assert_array_equal(copy.fit(X_s, y_s).predict_proba(X_q), expected)
    direct = pickle.loads(pickle.dumps(meta_fitted_pipeline))
    np.testing.assert_array_equal(direct.fit(X_s, y_s).predict_proba(X_q), expected)
    # the clone's steps are copies: nothing is shared with the original
    for (_, a), (_, b) in zip(copy.steps, meta_fitted_pipeline.steps):
        assert a is not b
    assert copy[-1].encoder_ is not meta_fitted_pipeline[-1].encoder_


def test_fit_adapts_only_the_final_step(meta_fitted_pipeline, blobs):
    X, y = blobs
    X_s, y_s, X_q, y_q = support_and_queries(blobs)
    pipe = clone(meta_fitted_pipeline)
    mean, components = pipe[0].mean_.copy(), pipe[1].components_.copy()
    pipe.fit(X_s, y_s)
    np.testing.assert_array_equal(pipe[0].mean_, mean)
    np.testing.assert_array_equal(pipe[1].components_, components)
    assert pipe[1].n_samples_ == int(np.sum(y < 20))
    assert list(pipe.classes_) == [20, 21, 22, 23, 24]
    assert pipe.score(X_q, y_q) > 0.5
    # without meta_fit it is a plain pipeline: every step is fitted
    plain = make_meta_pipeline(StandardScaler(), PCA(4), ProtoNetClassifier(**PROTONET))
    plain.fit(X_s, y_s)
    assert plain[1].n_samples_ == len(y_s)


def test_cross_val_score_in_two_processes(meta_fitted_pipeline, blobs):
    X, y = blobs
    held_out = y >= 20
    cv = EpisodeSplit(n_way=5, n_shot=2, n_query=5, n_episodes=4, random_state=0)
    serial = cross_val_score(meta_fitted_pipeline, X[held_out], y[held_out], cv=cv)
    parallel = cross_val_score(meta_fitted_pipeline, X[held_out], y[held_out], cv=cv,
                               n_jobs=2)
    np.testing.assert_array_equal(serial, parallel)
    expected = evaluate_episodes(meta_fitted_pipeline, X[held_out], y[held_out],
                                 n_way=5, n_shot=2, n_query=5, n_episodes=4,
                                 random_state=0)
    np.testing.assert_allclose(serial, expected.scores)


def test_grid_search_tunes_adaptation_without_meta_training_again(blobs):
    X, y = blobs
    pipe = make_meta_pipeline(
        StandardScaler(),
        FineTuneClassifier(encoder="mlp", max_epochs=3, n_adapt_steps=20, verbose=0,
                           random_state=0, device="cpu"),
    ).meta_fit(X[y < 20], y[y < 20])
    held_out = y >= 20
    cv = EpisodeSplit(n_way=5, n_shot=2, n_query=5, n_episodes=3, random_state=0)
    grid = {"finetuneclassifier__adapt_lr": [1e-4, 1e-2]}
    search = GridSearchCV(pipe, grid, cv=cv, refit=False).fit(X[held_out], y[held_out])
    for i, lr in enumerate(grid["finetuneclassifier__adapt_lr"]):
        tuned = clone(pipe).set_params(finetuneclassifier__adapt_lr=lr)
        assert tuned._is_meta_fitted()
        expected = evaluate_episodes(tuned, X[held_out], y[held_out], n_way=5, n_shot=2,
                                     n_query=5, n_episodes=3, random_state=0)
        assert search.cv_results_["mean_test_score"][i] == pytest.approx(expected.mean)


def test_changing_a_preprocessing_step_discards_meta_training(meta_fitted_pipeline, blobs):
    X_s, y_s, _, _ = support_and_queries(blobs, n_shot=4)
    pipe = clone(meta_fitted_pipeline).set_params(protonetclassifier__verbose=0)
    assert pipe._is_meta_fitted()
    pipe.set_params(pca__n_components=8)  # unchanged value
    assert pipe._is_meta_fitted()
    pipe.set_params(pca__n_components=3)
    assert not pipe._is_meta_fitted() and not hasattr(pipe[-1], "history_")
    pipe.fit(X_s, y_s)
    assert pipe[1].n_samples_ == len(y_s)
    pipe = clone(meta_fitted_pipeline).set_params(protonetclassifier__meta_lr=0.5)
    assert not pipe._is_meta_fitted()


def test_meta_fit_on_task_collections_and_validation(blobs):
    X, y = blobs
    pool = y < 20
    pipe = make_meta_pipeline(StandardScaler(), ProtoNetClassifier(**PROTONET,
                                                                   n_val_episodes=3))
    sampler = EpisodeSampler(X[pool], y[pool], n_way=5, n_shot=2, n_query=3,
                             random_state=0)
    pipe.meta_fit(sampler, validation_data=(X[~pool], y[~pool]))
    np.testing.assert_allclose(pipe[0].mean_, X[pool].mean(axis=0), rtol=1e-5)
    assert "valid_acc" in pipe[-1].history_[-1]
    tasks = list(EpisodeSampler(X[pool], y[pool], n_way=5, n_shot=2, n_query=3,
                                n_episodes=5, random_state=0))
    pipe.meta_fit(tasks, validation_data=tasks[:2])
    assert pipe[0].n_samples_seen_ == 5 * 25
    with pytest.raises(TypeError, match="labelled pool"):
        pipe.meta_fit(X[pool])
    with pytest.raises(ValueError, match="<step>__<parameter>"):
        pipe.meta_fit(X[pool], y[pool], epochs=3)


def test_encoder_step_then_a_plain_classifier(blobs):
    X, y = blobs
    pool = y < 20
    pipe = make_meta_pipeline(
        StandardScaler(),
        EncoderTransformer(ProtoNetClassifier(**PROTONET), device="cpu"),
        LogisticRegression(),
    ).meta_fit(X[pool], y[pool])
    assert len(pipe[1].learner_.history_) == 2
    X_s, y_s, X_q, y_q = support_and_queries(blobs)
    a = clone(pipe).fit(X_s, y_s).predict_proba(X_q)
    b = clone(pipe).fit(X_s, y_s).predict_proba(X_q)
    np.testing.assert_array_equal(a, b)
    assert clone(pipe)[1].encoder_ is not pipe[1].encoder_


def few_shot_texts(n_classes=12, per_class=12, seed=0):
    """Sentences from one vocabulary; each class favours its own few words."""
    rng = np.random.RandomState(seed)
    vocabulary = np.array([f"w{i}" for i in range(60)])
    texts, labels = [], []
    for c in range(n_classes):
        topic = rng.choice(vocabulary, 5, replace=False)
        for _ in range(per_class):
            words = list(rng.choice(topic, 4)) + list(rng.choice(vocabulary, 4))
            rng.shuffle(words)
            texts.append(" ".join(words))
            labels.append(c)
    return texts, np.array(labels)


def test_text_pipeline(blobs):
    texts, y = few_shot_texts()
    pool = np.flatnonzero(y < 8)
    pipe = make_meta_pipeline(
        TfidfVectorizer(),
        ProtoNetClassifier(encoder="mlp", n_way=4, n_shot=2, n_query=4, max_epochs=2,
                           episodes_per_epoch=10, verbose=0, random_state=0, device="cpu"),
    ).meta_fit([texts[i] for i in pool], y[pool])
    vocabulary = dict(pipe[0].vocabulary_)
    held_out = np.flatnonzero(y >= 8)
    cv = EpisodeSplit(n_way=4, n_shot=1, n_query=5, n_episodes=3, random_state=0)
    scores = cross_val_score(pipe, [texts[i] for i in held_out], y[held_out], cv=cv)
    assert scores.shape == (3,) and scores.mean() > 0.4
    support = [texts[i] for i in held_out[::12]]
    pipe.fit(support, y[held_out[::12]])
    assert pipe[0].vocabulary_ == vocabulary
    assert set(pipe.predict(["w1 w2 w3"])) <= {8, 9, 10, 11}


def test_prediction_methods_delegate_to_the_final_step(blobs):
    X, y = blobs
    X_s, y_s, X_q, y_q = support_and_queries(blobs)
    pipe = make_meta_pipeline(StandardScaler(), LogisticRegression())
    with pytest.raises(NotFittedError):
        pipe.predict(X_q)
    pipe.fit(X_s, y_s)
    reference = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_s, y_s)
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        np.testing.assert_allclose(getattr(pipe, method)(X_q), getattr(reference, method)(X_q))
    assert pipe.score(X_q, y_q) == reference.score(X_q, y_q)
    # a method the final step lacks is absent, as in Pipeline
    assert not hasattr(pipe, "score_samples") and not hasattr(pipe, "transform")
    assert not hasattr(make_meta_pipeline(StandardScaler(), PCA(2)), "predict")


# Pipeline's format: dots pad each line to 70 characters, unless the name is too long
LINE = re.compile(r"\[MetaPipeline\] \.* ?\(step (\d) of 3\) Processing (\w+), total= +\d+\.\ds")


def test_verbose_prints_the_time_of_each_step_fitted(blobs, capsys):
    X, y = blobs
    X_s, y_s, _, _ = support_and_queries(blobs)
    pipe = make_meta_pipeline(StandardScaler(), PCA(4), ProtoNetClassifier(**PROTONET),
                              verbose=True)
    names = ["standardscaler", "pca", "protonetclassifier"]

    def printed():
        lines = capsys.readouterr().out.splitlines()
        assert all(len(line) >= 70 and LINE.fullmatch(line) for line in lines), lines
        return [LINE.fullmatch(line).groups() for line in lines]

    pipe.meta_fit(X[y < 20], y[y < 20])
    assert printed() == [("1", names[0]), ("2", names[1]), ("3", names[2])]
    pipe.fit(X_s, y_s)  # adaptation fits the final step alone
    assert printed() == [("3", names[2])]
    pipe.set_params(verbose=False).fit(X_s, y_s)
    assert printed() == []
    pipe.set_params(verbose=True, pca__n_components=3).fit(X_s, y_s)
    assert printed() == [("1", names[0]), ("2", names[1]), ("3", names[2])]


class StampedScaler(StandardScaler):
    """A scaler that records which fit made it, to tell a cache hit from a refit."""

    fits = itertools.count()

    def fit(self, X, y=None, sample_weight=None):
        self.fit_number_ = next(StampedScaler.fits)
        return super().fit(X, y, sample_weight)


def test_memory_fits_a_preprocessing_step_once(blobs, tmp_path):
    X, y = blobs
    X_s, y_s, X_q, _ = support_and_queries(blobs)
    scaler = StampedScaler()

    def build(step=scaler):
        return make_meta_pipeline(step, PCA(4), ProtoNetClassifier(**PROTONET),
                                  memory=str(tmp_path))

    first = build().meta_fit(X[y < 20], y[y < 20])
    second = build().meta_fit(X[y < 20], y[y < 20])
    assert not hasattr(scaler, "fit_number_")  # steps are cloned, not fitted in place
    assert second[0].fit_number_ == first[0].fit_number_
    np.testing.assert_array_equal(second[1].components_, first[1].components_)
    np.testing.assert_array_equal(first.fit(X_s, y_s).predict_proba(X_q),
                                  second.fit(X_s, y_s).predict_proba(X_q))
    # other data, or another parameter, is fitted anew
    other_data = build().meta_fit(X[y < 15], y[y < 15])
    other_param = build(StampedScaler(with_mean=False)).meta_fit(X[y < 20], y[y < 20])
    stamps = {first[0].fit_number_, other_data[0].fit_number_, other_param[0].fit_number_}
    assert len(stamps) == 3
    # a fit of every step, without meta_fit, is cached too
    plain = [build().fit(X_s, y_s)[0].fit_number_ for _ in range(2)]
    assert plain[0] == plain[1] and plain[0] not in stamps
