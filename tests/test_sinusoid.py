"""The sinusoid task family of the MAML paper."""

import math

import numpy as np
import pytest

from sklmeta import Task
from sklmeta.datasets._sinusoid import SinusoidTasks
from sklmeta.gradient_based._base import SinusoidEpisodes


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
    stream = SinusoidEpisodes(tasks, "cpu")
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
