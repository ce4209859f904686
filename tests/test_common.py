"""scikit-learn's own estimator checks on every sklmeta estimator."""

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
    """Every public estimator runs scikit-learn's checks in some test module.

    Each family's test module holds the checks of its own estimators, in
    small configurations; this test makes sure none is forgotten.
    """
    import inspect
    from pathlib import Path

    from sklearn.base import BaseEstimator

    import sklmeta

    public = {
        name for name in sklmeta.__all__
        if inspect.isclass(getattr(sklmeta, name))
        and issubclass(getattr(sklmeta, name), BaseEstimator)
    }
    checked = set()
    for path in Path(__file__).parent.glob("test_*.py"):
        source = path.read_text()
        if "parametrize_with_checks(" in source:
            checked |= {name for name in public if f"{name}(" in source}
    assert public - checked == set()
