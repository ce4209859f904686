"""Tasks, episodes and the episode sampler."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklmeta import Episode, EpisodeSampler, Task
from sklmeta.tasks import check_tasks


def make_pool(n_classes, per_class, n_features=3, seed=0, labels=None):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(n_classes) if labels is None else labels, per_class)
    X = rng.normal(size=(len(y), n_features))
    return X, y


@settings(max_examples=40, deadline=None)
@given(
    n_classes=st.integers(2, 8),
    per_class=st.integers(2, 9),
    data=st.data(),
)
def test_episodes_have_the_requested_shape(n_classes, per_class, data):
    n_way = data.draw(st.integers(1, n_classes))
    n_shot = data.draw(st.integers(1, per_class - 1))
    n_query = data.draw(st.integers(0, per_class - n_shot))
    seed = data.draw(st.integers(0, 2**31 - 2))
    X, y = make_pool(n_classes, per_class)
    sampler = EpisodeSampler(X, y, n_way, n_shot, n_query, n_episodes=3, random_state=seed)
    for episode in sampler.episodes():
        assert isinstance(episode, Episode)
        assert episode.n_way == n_way
        assert len(np.unique(episode.classes)) == n_way
        support, query = episode.support_indices, episode.query_indices
        assert len(support) == n_way * n_shot
        assert len(query) == n_way * n_query
        assert not set(support) & set(query)
        for i, label in enumerate(episode.classes):
            assert np.all(y[support[i * n_shot:(i + 1) * n_shot]] == label)
            assert np.all(y[query[i * n_query:(i + 1) * n_query]] == label)


def test_unequal_class_sizes_are_sampled_without_overlap():
    y = np.array([0] * 3 + [1] * 7 + [2] * 4)
    X = np.arange(len(y), dtype=float)[:, None]
    sampler = EpisodeSampler(X, y, n_way=3, n_shot=1, n_query=2, n_episodes=50, random_state=0)
    for task in sampler:
        assert sorted(np.unique(task.y_support)) == [0, 1, 2]
        assert not set(task.X_support[:, 0]) & set(task.X_query[:, 0])


def test_same_seed_same_episodes_and_each_iteration_restarts():
    X, y = make_pool(6, 5)
    sampler = EpisodeSampler(X, y, 3, 1, 2, n_episodes=4, random_state=7)
    first = [e.support_indices for e in sampler.episodes()]
    again = [e.support_indices for e in sampler.episodes()]
    other = EpisodeSampler(X, y, 3, 1, 2, n_episodes=4, random_state=8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(
        np.array_equal(a, b) for a, b in zip(first, (e.support_indices for e in other.episodes()))
    )


def test_tasks_keep_original_labels():
    X, y = make_pool(4, 3, labels=np.array(["cat", "dog", "emu", "fox"]))
    task = next(iter(EpisodeSampler(X, y, 2, 1, 1, random_state=0)))
    assert set(task.y_support) <= {"cat", "dog", "emu", "fox"}
    assert set(task.y_query) == set(task.y_support)


def test_infinite_sampler_has_no_length_but_iterates():
    X, y = make_pool(3, 4)
    sampler = EpisodeSampler(X, y, 2, 1, 1)
    with pytest.raises(TypeError, match="no length"):
        len(sampler)
    stream = sampler.episodes()
    assert len([next(stream) for _ in range(100)]) == 100


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_way": 5}, r"n_way=5 exceeds the 3 classes"),
        ({"n_shot": 3, "n_query": 2}, r"n_shot \+ n_query = 5 exceeds the 4 samples of class 0"),
        ({"n_way": 0}, "n_way must be >= 1"),
        ({"n_shot": 1.5}, "n_shot must be an int"),
        ({"n_query": -1}, "n_query must be >= 0"),
        ({"n_episodes": 0}, "n_episodes must be >= 1"),
    ],
)
def test_impossible_episodes_fail_at_construction(kwargs, match):
    X, y = make_pool(3, 4)
    params = {"n_way": 2, "n_shot": 1, "n_query": 1, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        EpisodeSampler(X, y, **params)


def test_class_named_in_error_for_small_class():
    y = np.array(["a"] * 5 + ["rare"] * 2)
    with pytest.raises(ValueError, match="class 'rare'"):
        EpisodeSampler(np.zeros((7, 1)), y, n_way=2, n_shot=2, n_query=1)


def test_task_validation():
    with pytest.raises(ValueError, match="X_support has 2 samples but y_support has 3"):
        Task(np.zeros((2, 2)), [0, 1, 1])
    with pytest.raises(ValueError, match="given together"):
        Task(np.zeros((2, 2)), [0, 1], X_query=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="X_query has 3 features"):
        Task(np.zeros((2, 2)), [0, 1], np.zeros((1, 3)), [0])


def test_check_tasks_accepts_tuples_and_rejects_arrays():
    tasks = check_tasks([(np.zeros((2, 2)), [0, 1], np.zeros((2, 2)), [1, 0])])
    assert isinstance(tasks[0], Task)
    with pytest.raises(TypeError, match="tasks must be an EpisodeSampler"):
        check_tasks(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="tasks is empty"):
        check_tasks([])
    with pytest.raises(TypeError, match=r"tasks\[0\] must be a Task"):
        check_tasks([np.zeros(3)])


def test_sampler_does_not_modify_its_input():
    X, y = make_pool(4, 5)
    X_copy, y_copy = X.copy(), y.copy()
    for task in EpisodeSampler(X, y, 2, 2, 2, n_episodes=5, random_state=0):
        task.X_support[:] = 0
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)
