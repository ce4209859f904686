"""Property-based checks over shapes, dtypes and values: every estimator
gives a clear error or a finite, well-formed output, never garbage."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone, is_regressor

from conftest import small_learners
from sklmeta import EncoderTransformer, ProtoNetClassifier, make_meta_pipeline
from sklmeta.datasets import SinusoidTasks

N_FEATURES = 4
SMALL = dict(max_epochs=1, verbose=0, random_state=0, device="cpu")
EPISODES = dict(n_way=3, n_shot=2, n_query=2, episodes_per_epoch=3)
PROPERTY = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
# hypothesis casts the huge values it draws to float16 and float32
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
# what a clear error is: scikit-learn's kinds, with a message
CLEAR_ERRORS = (ValueError, TypeError)


def _learners():
    """The eight classifiers and a meta-pipeline."""
    protonet = ProtoNetClassifier(encoder="mlp", **SMALL, **EPISODES)
    pipeline = make_meta_pipeline(EncoderTransformer(protonet), clone(protonet))
    return small_learners(FineTuneClassifier={"n_adapt_steps": 5})[:8] + [pipeline]


@pytest.fixture(scope="module")
def meta_fitted():
    rng = np.random.RandomState(0)
    X = rng.randn(60, N_FEATURES)
    y = np.repeat(np.arange(10), 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [est.meta_fit(X, y) for est in _learners()]


@pytest.fixture(scope="module")
def meta_fitted_regressors():
    tasks = SinusoidTasks(n_shot=3, n_query=3, random_state=0)
    return [est.meta_fit(tasks) for est in small_learners()[8:]]


finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)
values = st.one_of(
    finite,
    st.sampled_from([np.nan, np.inf, -np.inf, 1e39, -1e39, 1e30, 1e-30, 0.0]),
)
dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.float16])


@st.composite
def support_sets(draw):
    n = draw(st.integers(0, 12))
    n_features = draw(st.sampled_from([N_FEATURES, N_FEATURES, N_FEATURES, 1, 7]))
    dtype = draw(dtypes)
    elements = values if np.dtype(dtype).kind == "f" else st.integers(-100, 100)
    X = draw(arrays(dtype, (n, n_features), elements=elements))
    labels = draw(st.sampled_from(["ints", "strs", "mixed", "one", "floats"]))
    k = draw(st.integers(1, 4))
    y = np.arange(n) % k
    if labels == "strs":
        y = np.array([f"c{v}" for v in y], dtype=object)
    elif labels == "mixed":
        y = np.array([v if v % 2 else str(v) for v in y], dtype=object)
    elif labels == "one":
        y = np.zeros(n, dtype=int)
    elif labels == "floats":
        y = y + 0.5
    return X, y


def _check_outputs(est, X, y_pred, proba=None):
    assert len(y_pred) == len(X)
    if is_regressor(est):
        assert np.isfinite(y_pred).all()
        return
    assert set(np.asarray(y_pred).tolist()) <= set(np.asarray(est.classes_).tolist())
    if proba is not None:
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)


def _fit_and_predict(est, X, y):
    X_before, y_before = X.copy(), np.array(y, copy=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
            y_pred = est.predict(X)
            proba = None if is_regressor(est) else est.predict_proba(X)
    except CLEAR_ERRORS as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        return
    finally:
        # nothing the user gave is modified in place
        np.testing.assert_array_equal(X, X_before)
        np.testing.assert_array_equal(np.asarray(y), y_before)
    _check_outputs(est, X, y_pred, proba)


@pytest.mark.parametrize("index", range(9))
@PROPERTY
@given(data=support_sets())
def test_fit_predict_gives_a_clear_error_or_a_finite_answer(meta_fitted, index, data):
    X, y = data
    _fit_and_predict(clone(meta_fitted[index]), X, y)


@pytest.mark.parametrize("index", range(2))
@PROPERTY
@given(X=arrays(np.float64, st.tuples(st.integers(0, 8), st.sampled_from([1, 2])),
                elements=values),
       targets=st.lists(values, min_size=0, max_size=8))
def test_regressors_give_a_clear_error_or_a_finite_answer(meta_fitted_regressors, index, X,
                                                         targets):
    y = np.resize(np.asarray(targets, dtype=float), len(X)) if targets else np.zeros(len(X))
    _fit_and_predict(clone(meta_fitted_regressors[index]), X, y)


@pytest.mark.parametrize("make", [_learners()[0], _learners()[4]],
                         ids=["protonet", "maml"])
@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=support_sets(), scale=st.sampled_from([1.0, 1e30, 1e39]))
def test_meta_fit_gives_a_clear_error_or_finite_weights(make, data, scale):
    X, y = data
    X = np.tile(X, (6, 1)) * scale if len(X) else X
    y = np.tile(y, 6)
    est = clone(make)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.meta_fit(X, y)
    except CLEAR_ERRORS as exc:
        assert str(exc)
        return
    assert all(bool(torch.isfinite(p).all()) for p in est.module_.parameters())


@pytest.mark.parametrize("index", range(9))
def test_a_well_formed_support_set_gets_an_answer(meta_fitted, index):
    """The other side of the properties: valid input is answered, not refused."""
    rng = np.random.RandomState(1)
    X, y = rng.randn(9, N_FEATURES), np.repeat(["a", "b", "c"], 3)
    est = clone(meta_fitted[index]).fit(X, y)
    _check_outputs(est, X, est.predict(X), est.predict_proba(X))
