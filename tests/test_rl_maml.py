"""MAML on policies: an initial policy that a policy-gradient step adapts."""

import pickle

import numpy as np
import pytest

pytest.importorskip("gymnasium")
import torch  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from conftest import interrupt_at_call  # noqa: E402

from sklmeta.exceptions import DivergenceError, MetaTrainingInterrupted  # noqa: E402
from sklmeta.rl import BernoulliBanditEnv, MAMLAgent, PointNavigationEnv  # noqa: E402

SMALL = dict(hidden_layer_sizes=(32, 32), n_tasks_per_update=8, n_trajectories=10,
             verbose=0)


@pytest.fixture(scope="module")
def env():
    return PointNavigationEnv(horizon=10)


@pytest.fixture(scope="module")
def trained(env):
    return MAMLAgent(max_updates=40, random_state=0, **SMALL).meta_fit(env)


def _weights(agent):
    return {k: v.detach().clone() for k, v in agent.policy_.state_dict().items()}


def test_meta_training_beats_an_untrained_policy_and_adaptation_helps(env, trained):
    tasks = env.sample_tasks(50, random_state=7)  # goals never met in training
    untrained = MAMLAgent(max_updates=0, random_state=0, **SMALL).meta_fit(env)
    before = untrained.run_trials(env, tasks, n_adaptation_steps=1, random_state=1)[0]
    after = trained.run_trials(env, tasks, n_adaptation_steps=1, random_state=1)[0]
    # returns over 10 steps are minus summed distances, about -4 standing still
    assert after[:, 1].mean() > before[:, 1].mean() + 0.8
    assert after[:, 1].mean() > after[:, 0].mean() + 0.8
    history = trained.history_
    assert np.mean([h["return_after"] for h in history[-10:]]) > np.mean(
        [h["return_after"] for h in history[:10]])


def test_trials_are_seeded_shaped_and_change_nothing(env, trained):
    tasks = env.sample_tasks(3, random_state=0)
    weights = _weights(trained)
    returns, paths = trained.run_trials(env, tasks, n_adaptation_steps=2, random_state=4)
    assert returns.shape == (3, 3) and paths.shape == (3, 3, 11, 2)
    np.testing.assert_array_equal(paths[:, :, 0], 0.0)  # every path starts at the origin
    again = trained.run_trials(env, tasks, n_adaptation_steps=2, random_state=4)
    np.testing.assert_array_equal(returns, again[0])
    np.testing.assert_array_equal(paths, again[1])
    for key, value in _weights(trained).items():
        torch.testing.assert_close(value, weights[key], rtol=0, atol=0)
    assert trained.run_trials(env, tasks, random_state=0)[0].shape == (3, 2)  # n_inner_steps


def test_the_meta_gradient_flows_through_the_inner_step(env):
    """Second-order, first-order and pretraining see the same episodes (one
    seed) and differ only in the meta-gradient, so they end apart."""
    fitted = {}
    for name, params in {"second": {}, "first": {"first_order": True},
                         "pretrain": {"n_inner_steps": 0}}.items():
        agent = MAMLAgent(max_updates=1, random_state=0, **SMALL, **params).meta_fit(env)
        fitted[name] = _weights(agent)
    start = _weights(MAMLAgent(max_updates=0, random_state=0, **SMALL).meta_fit(env))
    key = "network.body.layers.0.weight"
    moved = {name: (w[key] - start[key]).abs().max().item() for name, w in fitted.items()}
    assert min(moved.values()) > 0
    assert not torch.allclose(fitted["second"][key], fitted["first"][key])


def test_clone_and_pickle_keep_the_policy(env, trained):
    tasks = env.sample_tasks(4, random_state=5)
    expected = trained.run_trials(env, tasks, random_state=2)[0]
    for copy in (clone(trained), pickle.loads(pickle.dumps(trained))):
        assert copy.policy_ is not trained.policy_
        np.testing.assert_array_equal(copy.run_trials(env, tasks, random_state=2)[0], expected)


def test_a_seed_repeats_meta_training(env):
    runs = [MAMLAgent(max_updates=2, random_state=0, **SMALL).meta_fit(env) for _ in range(2)]
    assert runs[0].history_ == runs[1].history_


def test_interrupt_keeps_the_policy(env, monkeypatch):
    agent = MAMLAgent(max_updates=5, random_state=0, **SMALL)
    interrupt_at_call(monkeypatch, MAMLAgent, "_adapt", 3)
    with pytest.warns(MetaTrainingInterrupted, match="2 updates"):
        agent.meta_fit(env)
    assert len(agent.history_) == 2


def test_divergence_names_the_learning_rates(env):
    with pytest.raises(DivergenceError, match="inner_lr"):
        MAMLAgent(max_updates=3, inner_lr=1e38, random_state=0, **SMALL).meta_fit(env)


@pytest.mark.parametrize("params, match", [
    ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": 32}, "hidden_layer_sizes"),
    ({"inner_lr": -0.1}, "inner_lr"),
    ({"n_inner_steps": -1}, "n_inner_steps"),
    ({"n_trajectories": 0}, "n_trajectories"),
    ({"lr": 0.0}, "lr"),
    ({"first_order": "yes"}, "first_order"),
    ({"gamma": 2.0}, "gamma"),
])
def test_bad_parameters_are_named(env, params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        MAMLAgent(verbose=0, **params).meta_fit(env)


def test_bad_environments_and_unfitted_use(env, trained):
    with pytest.raises(ValueError, match="action_space"):
        MAMLAgent(verbose=0).meta_fit(BernoulliBanditEnv())
    with pytest.raises(TypeError, match="task-family"):
        MAMLAgent(verbose=0).meta_fit("Pendulum-v1")
    with pytest.raises(NotFittedError):
        MAMLAgent().run_trials(env, env.sample_tasks(1))
    with pytest.raises(ValueError, match="tasks"):
        trained.run_trials(env, [])
    with pytest.raises(ValueError, match="n_adaptation_steps"):
        trained.run_trials(env, env.sample_tasks(1), n_adaptation_steps=-1)
