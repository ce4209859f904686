"""The example learner of docs/writing_a_learner.rst: scikit-learn's checks,
its size, and that what it meta-learns helps and survives cloning.

The learner is imported from the file that the page includes, so these
tests run the exact code a reader sees.
"""

import ast
import importlib.util
import math
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklmeta import evaluate_episodes

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "cosine_centroid.py"


def _import_example():
    # Registered in sys.modules so that pickle finds the classes by name.
    name = EXAMPLE.stem
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


CosineCentroidClassifier = _import_example().CosineCentroidClassifier


def small(**params):
    return CosineCentroidClassifier(encoder="mlp", verbose=0, random_state=0,
                                    device="cpu", **params)


# No expected failures: the page promises that a learner written this way
# passes every check that ProtoNetClassifier passes (tests/test_common.py).
@parametrize_with_checks([small()], expected_failed_checks=lambda est: {})
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_the_learner_class_is_at_most_80_lines():
    source = EXAMPLE.read_text()
    lines = source.splitlines()
    (node,) = [n for n in ast.parse(source).body
               if isinstance(n, ast.ClassDef) and n.name == "CosineCentroidClassifier"]
    code = [line for line in lines[node.lineno - 1:node.end_lineno] if line.strip()]
    assert len(code) <= 80


@pytest.fixture(scope="module")
def meta_fitted(blobs):
    X, y = blobs
    est = small(n_way=5, n_shot=1, n_query=5, max_epochs=3, episodes_per_epoch=30,
                meta_lr=3e-3)
    return est.meta_fit(X[y < 20], y[y < 20])


def test_meta_training_helps_on_unseen_classes(meta_fitted, blobs):
    X, y = blobs
    held_out = y >= 20
    kwargs = dict(n_way=5, n_shot=1, n_query=5, n_episodes=40, random_state=1)
    trained = evaluate_episodes(meta_fitted, X[held_out], y[held_out], **kwargs).mean
    untrained = evaluate_episodes(small(), X[held_out], y[held_out], **kwargs).mean
    assert trained > untrained + 0.2


def test_the_temperature_is_meta_learned(meta_fitted):
    start = math.log(meta_fitted.initial_scale)
    assert abs(meta_fitted.temperature_.log_scale.item() - start) > 1e-3
    names = [name for name, _ in meta_fitted._named_meta_parameters()]
    assert "temperature.log_scale" in names


def test_clone_and_pickle_keep_the_temperature(meta_fitted, blobs):
    X, y = blobs
    support = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(20, 25)])
    adapted = clone(meta_fitted).fit(X[support], y[support])
    for copy in (clone(adapted), pickle.loads(pickle.dumps(adapted))):
        assert copy.temperature_ is not meta_fitted.temperature_
        assert torch.equal(copy.temperature_.log_scale, meta_fitted.temperature_.log_scale)
    assert not hasattr(clone(adapted), "centroids_")
    restored = pickle.loads(pickle.dumps(adapted))
    np.testing.assert_allclose(restored.predict_proba(X), adapted.predict_proba(X))


def test_initial_scale_is_checked(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="initial_scale must be positive; got 0"):
        small(initial_scale=0).fit(X[:10], y[:10])
