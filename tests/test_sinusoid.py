"""The sinusoid task family of the MAML paper."""

import math

import numpy as np
import torch
import pytest

from sklmeta import Task
from sklmeta import MAMLRegressor, ProtoNetClassifier
from sklmeta._episodes import FamilyEpisodes
from sklmeta.datasets import SinusoidTasks


def test_tasks_follow_the_paper_distribution():
    tasks = SinusoidTasks(n_shot=5, n_query=15, n_tasks=300, random_state=0)
    amplitudes, phases = [], []
    for x, y, amplitude, phase in tasks.blocks():
        np.testing.assert_allclose(y, amplitude[:, None] * np.sin(x - phase[:, None]))
        assert x.min() >= -5 and x.max() <= 5
        amplitudes.append(amplitude)
        phases.append(phase)
    amplitudes, phases = np.concatenate(amplitudes), np.concatenate(phases)
    assert len(amplitudes) == 300
    assert 0.1 <= amplitudes.min() and amplitudes.max() <= 5.0
    assert 0 <= phases.min() and phases.max() <= math.pi
    assert abs(amplitudes.mean() - 2.55) < 0.3 and abs(phases.mean() - math.pi / 2) < 0.3


def test_iteration_yields_tasks_and_repeats_with_a_seed():
    tasks = SinusoidTasks(n_shot=5, n_query=7, n_tasks=4, random_state=0)
    first, again = list(tasks), list(tasks)
    assert len(first) == len(tasks) == 4
    assert all(isinstance(t, Task) for t in first)
    assert first[0].X_support.shape == (5, 1) and first[0].y_query.shape == (7,)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.X_query, b.X_query)
    other = list(SinusoidTasks(n_shot=5, n_query=7, n_tasks=4, random_state=1))
    assert not np.array_equal(first[0].y_support, other[0].y_support)
    with pytest.raises(TypeError, match="no length"):
        len(SinusoidTasks())


def test_tensor_stream_gives_the_tasks_of_iteration():
    tasks = SinusoidTasks(n_shot=3, n_query=4, n_tasks=150, random_state=0)
    stream = FamilyEpisodes(tasks, "cpu", classify=False)
    stream.seed(123)  # the family's own random_state wins
    for task in list(tasks) * 2:  # a finite family starts again
        episode = stream.draw()
        np.testing.assert_allclose(episode.x_support.numpy(), task.X_support, rtol=1e-6)
        np.testing.assert_allclose(episode.y_query.numpy(), task.y_query, rtol=1e-6)
        assert episode.n_way is None


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="amplitude_range must have low < high"):
        SinusoidTasks(amplitude_range=(5.0, 0.1))
    with pytest.raises(TypeError, match="x_range must be a"):
        SinusoidTasks(x_range=5)
    with pytest.raises(ValueError, match="n_shot must be >= 1"):
        SinusoidTasks(n_shot=0)


class _LineTasks:
    """A user's regression family: lines y = a x + b, drawn as arrays."""

    n_features = 1

    def __init__(self):
        self.calls = 0

    def episode_arrays(self, random_state):
        self.calls += 1
        rng = np.random.RandomState(random_state)
        while True:
            a, b = rng.uniform(-2, 2, size=(2, 10, 1))
            x = rng.uniform(-3, 3, size=(10, 8))
            y = a * x + b
            yield x[:, :4, None], y[:, :4], x[:, 4:, None], y[:, 4:]


class _BlobTasks:
    """A user's classification family: 3-way tasks of Gaussian classes."""

    n_features = 2

    def episode_arrays(self, random_state):
        rng = np.random.RandomState(random_state)
        while True:
            centers = rng.normal(scale=3.0, size=(5, 3, 1, 2))
            labels = np.repeat(np.arange(3), 4)
            x = centers[:, labels, 0] + rng.normal(size=(5, 12, 2))
            support = np.tile([True, False], 6)
            yield (x[:, support], np.tile(labels[support], (5, 1)),
                   x[:, ~support], np.tile(labels[~support], (5, 1)))


def test_any_task_family_meta_trains_through_the_same_path():
    family = _LineTasks()
    reg = MAMLRegressor(max_epochs=2, episodes_per_epoch=20, meta_batch_size=5,
                        verbose=0, random_state=0, device="cpu").meta_fit(family)
    assert family.calls == 1 and len(reg.history_) == 2
    assert np.isfinite(reg.history_[:, "train_loss"]).all()
    clf = ProtoNetClassifier(encoder="mlp", max_epochs=2, episodes_per_epoch=10,
                             verbose=0, random_state=0, device="cpu").meta_fit(_BlobTasks())
    assert len(clf.history_) == 2 and 0.0 <= clf.history_[-1, "train_acc"] <= 1.0
    stream = FamilyEpisodes(_BlobTasks(), "cpu", classify=True)
    stream.seed(0)
    episode = stream.draw()
    assert episode.n_way == 3 and episode.y_support.dtype == torch.long
