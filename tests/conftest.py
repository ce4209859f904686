"""Shared data for the tests: small few-shot problems that train in seconds."""

import numpy as np
import pytest


def interrupt_at_call(monkeypatch, cls, name, n):
    """Make the method ``cls.name`` raise KeyboardInterrupt (a Ctrl-C) on
    its ``n``-th call, and run as before on the others."""
    calls = []
    original = getattr(cls, name)

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, interrupted)


def make_few_shot_blobs(n_classes=30, per_class=20, n_informative=4, n_noise=8, seed=0):
    """Gaussian classes in a few informative features, hidden among loud noise.

    Every class differs only in the informative features, so a learner that
    meta-learns to ignore the noise does far better on new classes than an
    untrained one: the meta-learning problem in miniature.
    """
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=1.5, size=(n_classes, n_informative))
    y = np.repeat(np.arange(n_classes), per_class)
    signal = centers[y] + 0.4 * rng.normal(size=(len(y), n_informative))
    noise = 3.0 * rng.normal(size=(len(y), n_noise))
    return np.hstack([signal, noise]).astype(np.float32), y


def small_learners(n_way=3, **overrides):
    """One small, fast instance of every learner, classifiers then the two
    regressors; ``overrides`` maps a class name to extra parameters."""
    import sklmeta

    small = dict(max_epochs=1, verbose=0, random_state=0, device="cpu")
    episodes = dict(n_way=n_way, n_shot=2, n_query=2, episodes_per_epoch=4)
    meta_batches = dict(meta_batch_size=2)
    specs = {
        "ProtoNetClassifier": episodes, "MatchingNetClassifier": episodes,
        "RelationNetClassifier": episodes, "SiameseClassifier": episodes,
        "MAMLClassifier": {**episodes, **meta_batches},
        "ReptileClassifier": {**episodes, **meta_batches},
        "MANNClassifier": {**episodes, **meta_batches, "n_way": max(n_way, 5)},
        "FineTuneClassifier": {},
        "MAMLRegressor": {**meta_batches, "episodes_per_epoch": 4},
        "ReptileRegressor": {**meta_batches, "episodes_per_epoch": 4},
    }
    learners = []
    for name, params in specs.items():
        encoder = {} if name.endswith("Regressor") else {"encoder": "mlp"}
        learners.append(getattr(sklmeta, name)(**encoder, **small, **params,
                                               **overrides.get(name, {})))
    return learners


@pytest.fixture(scope="session")
def blobs():
    return make_few_shot_blobs()


@pytest.fixture(scope="session")
def meta_fitted_protonet(blobs):
    from sklmeta import ProtoNetClassifier

    X, y = blobs
    clf = ProtoNetClassifier(
        encoder="mlp", n_way=5, n_shot=2, n_query=5, max_epochs=2,
        episodes_per_epoch=20, verbose=0, random_state=0, device="cpu",
    )
    return clf.meta_fit(X[y < 20], y[y < 20])
