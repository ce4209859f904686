"""scikit-learn's own estimator checks on every sklmeta estimator."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklmeta import ProtoNetClassifier

# Small, fast configurations: the checks call fit many times on tiny data.
ESTIMATORS = [
    ProtoNetClassifier(encoder="mlp", verbose=0, random_state=0, device="cpu"),
]

# Expected failures, each with its reason.
EXPECTED_FAILURES = {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_checks_cover_every_public_estimator():
    import sklmeta

    public = {
        name for name in sklmeta.__all__
        if name.endswith(("Classifier", "Regressor", "Transformer"))
    }
    assert public == {type(est).__name__ for est in ESTIMATORS}


_ = pytest
