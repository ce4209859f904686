"""RL²: a recurrent policy that learns a new bandit within one trial."""

import pickle

import numpy as np
import pytest

pytest.importorskip("gymnasium")
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from conftest import interrupt_at_call  # noqa: E402

from sklmeta.exceptions import MetaTrainingInterrupted  # noqa: E402
from sklmeta.rl import BernoulliBanditEnv, PointNavigationEnv, RL2Agent, TabularMDPEnv  # noqa: E402


@pytest.fixture(scope="module")
def bandit():
    return BernoulliBanditEnv(n_arms=2, horizon=10)


@pytest.fixture(scope="module")
def trained(bandit):
    return RL2Agent(max_updates=150, n_tasks_per_update=64, verbose=0,
                    random_state=0).meta_fit(bandit)


def _expected_reward(agent, env, tasks, seed=1):
    _, actions = agent.run_trials(env, tasks, random_state=seed)
    means = np.stack([task["means"] for task in tasks])
    return np.take_along_axis(means, actions, axis=1).mean()


def test_a_short_meta_training_beats_a_random_policy(bandit, trained):
    tasks = bandit.sample_tasks(500, random_state=7)  # tasks never met in training
    random_policy = np.mean([task["means"].mean() for task in tasks])
    untrained = RL2Agent(max_updates=0, verbose=0, random_state=0).meta_fit(bandit)
    assert _expected_reward(untrained, bandit, tasks) < random_policy + 0.02
    # expected reward per pull: the random policy's 0.50 against a 0.67 ceiling
    assert _expected_reward(trained, bandit, tasks) > random_policy + 0.04
    rewards = [h["mean_reward"] for h in trained.history_]
    assert np.mean(rewards[-30:]) > np.mean(rewards[:30])


def test_trials_are_seeded_and_shaped(bandit, trained):
    task = bandit.sample_tasks(1, random_state=0)[0]
    first = trained.run_trial(bandit, task=task, random_state=3)
    assert first.shape == (10,) and set(np.unique(first)) <= {0.0, 1.0}
    np.testing.assert_array_equal(first, trained.run_trial(bandit, task=task, random_state=3))
    rewards, actions = trained.run_trials(bandit, [task] * 4, random_state=0)
    assert rewards.shape == actions.shape == (4, 10)


def test_clone_and_pickle_keep_the_policy(bandit, trained):
    tasks = bandit.sample_tasks(20, random_state=5)
    expected = trained.run_trials(bandit, tasks, random_state=2)[1]
    for copy in (clone(trained), pickle.loads(pickle.dumps(trained))):
        assert copy.policy_ is not trained.policy_
        np.testing.assert_array_equal(copy.run_trials(bandit, tasks, random_state=2)[1],
                                      expected)


def test_a_seed_repeats_meta_training(bandit):
    runs = [RL2Agent(max_updates=3, n_tasks_per_update=4, verbose=0,
                     random_state=0).meta_fit(bandit) for _ in range(2)]
    assert runs[0].history_ == runs[1].history_


def test_trials_of_several_episodes_on_an_mdp():
    env = TabularMDPEnv(n_states=3, n_actions=2, horizon=4)
    agent = RL2Agent(episodes_per_trial=3, max_updates=2, n_tasks_per_update=4, verbose=0,
                     random_state=0).meta_fit(env)
    assert agent.run_trial(env, random_state=0).shape == (12,)


def test_interrupt_keeps_the_policy(bandit, monkeypatch):
    agent = RL2Agent(max_updates=5, n_tasks_per_update=4, verbose=0, random_state=0)
    interrupt_at_call(monkeypatch, RL2Agent, "_ppo_update", 3)
    with pytest.warns(MetaTrainingInterrupted, match="2 updates"):
        agent.meta_fit(bandit)
    assert len(agent.history_) == 2


@pytest.mark.parametrize("params, error, match", [
    ({"hidden_size": 0}, ValueError, "hidden_size"),
    ({"lr": -1.0}, ValueError, "lr"),
    ({"gamma": 1.5}, ValueError, "gamma"),
    ({"ppo_epochs": 0}, ValueError, "ppo_epochs"),
])
def test_bad_parameters_are_named(bandit, params, error, match):
    with pytest.raises(error, match=match):
        RL2Agent(verbose=0, **params).meta_fit(bandit)


def test_bad_environments_and_unfitted_use():
    with pytest.raises(ValueError, match="discrete action space"):
        RL2Agent(verbose=0).meta_fit(PointNavigationEnv())
    with pytest.raises(TypeError, match="task-family"):
        RL2Agent(verbose=0).meta_fit("CartPole-v1")
    with pytest.raises(NotFittedError):
        RL2Agent().run_trial(BernoulliBanditEnv())


def test_run_trials_needs_tasks(bandit, trained):
    with pytest.raises(ValueError, match="tasks"):
        trained.run_trials(bandit, [])
