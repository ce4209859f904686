"""Evaluation and search on a dask cluster give the serial results."""

import numpy as np
import pytest
from joblib import effective_n_jobs, parallel_config
from sklearn.model_selection import cross_val_score

from conftest import make_few_shot_blobs
from sklmeta import EpisodeSplit, ProtoNetClassifier, evaluate_episodes

EPISODES = dict(n_way=3, n_shot=2, n_query=4, n_episodes=12, random_state=0)


@pytest.fixture(scope="module")
def learner_and_test_pool():
    X, y = make_few_shot_blobs()
    seen = y < 20  # meta-train on 20 classes, evaluate on the 10 others
    learner = ProtoNetClassifier(encoder="mlp", n_way=5, n_shot=2, n_query=4, max_epochs=2,
                                 episodes_per_epoch=20, verbose=0, random_state=0)
    return learner.meta_fit(X[seen], y[seen]), X[~seen], y[~seen]


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    try:
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
    except Exception as error:  # no processes or sockets here
        pytest.skip(f"a local dask cluster cannot be started here: {error}")
    with cluster, distributed.Client(cluster) as client:
        yield client


def test_evaluate_episodes_on_dask_gives_the_serial_scores(learner_and_test_pool, dask_client):
    learner, X, y = learner_and_test_pool
    serial = evaluate_episodes(learner, X, y, **EPISODES)
    with parallel_config(backend="dask"):
        assert effective_n_jobs(-1) == 2  # one block of episodes per worker
        spread = evaluate_episodes(learner, X, y, n_jobs=-1, **EPISODES)
    np.testing.assert_array_equal(spread.scores, serial.scores)
    assert 0.5 < serial.mean < 1.0  # a meta-trained learner, far above chance (1/3)


def test_cross_val_score_over_episodes_on_dask_gives_the_serial_scores(
        learner_and_test_pool, dask_client):
    learner, X, y = learner_and_test_pool
    cv = EpisodeSplit(**EPISODES)
    serial = cross_val_score(learner, X, y, cv=cv)
    with parallel_config(backend="dask"):
        spread = cross_val_score(learner, X, y, cv=cv, n_jobs=-1)
    np.testing.assert_array_equal(spread, serial)


def test_evaluate_episodes_in_blocks_keeps_each_episode_in_its_place(learner_and_test_pool):
    learner, X, y = learner_and_test_pool
    serial = evaluate_episodes(learner, X, y, **EPISODES)
    for n_jobs in (2, 5):
        blocks = evaluate_episodes(learner, X, y, n_jobs=n_jobs, **EPISODES)
        np.testing.assert_array_equal(blocks.scores, serial.scores)
