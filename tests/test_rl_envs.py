"""The task families of meta-reinforcement learning, as gymnasium environments."""

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")
from gymnasium.utils.env_checker import check_env  # noqa: E402

from sklmeta.rl import BernoulliBanditEnv, PointNavigationEnv, TabularMDPEnv  # noqa: E402

ENVS = [
    lambda: BernoulliBanditEnv(n_arms=4, horizon=20),
    lambda: TabularMDPEnv(n_states=5, n_actions=3, horizon=8),
    lambda: PointNavigationEnv(horizon=30),
]


def _play(env, seed, n_steps, options=None):
    """Rewards and observations of ``n_steps`` random actions, all seeded."""
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed, options=options)
    trace = [np.asarray(obs, dtype=float).ravel()]
    for _ in range(n_steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        trace.append(np.append(np.asarray(obs, dtype=float).ravel(), reward))
        if truncated:
            env.reset()
    return info["task"], trace


@pytest.mark.parametrize("make_env", ENVS)
def test_gymnasium_accepts_the_environment(make_env):
    check_env(make_env(), skip_render_check=True)


@pytest.mark.parametrize("make_env", ENVS)
def test_a_seed_repeats_the_task_and_the_episode(make_env):
    task_a, trace_a = _play(make_env(), seed=3, n_steps=50)
    task_b, trace_b = _play(make_env(), seed=3, n_steps=50)
    task_c, _ = _play(make_env(), seed=4, n_steps=50)
    for key in task_a:
        np.testing.assert_array_equal(task_a[key], task_b[key])
        assert not np.array_equal(task_a[key], task_c[key])
    for a, b in zip(trace_a, trace_b):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make_env", ENVS)
def test_the_task_stays_until_a_new_one_is_asked_for(make_env):
    env = make_env()
    _, info = env.reset(seed=0)
    first = info["task"]
    _, info = env.reset()  # a new episode of the same task: one trial
    assert info["task"] is first
    _, info = env.reset(options={"new_task": True})
    assert any(not np.array_equal(first[k], info["task"][k]) for k in first)
    given = env.sample_tasks(1, random_state=1)[0]
    _, info = env.reset(options={"task": given})
    for key in given:
        np.testing.assert_array_equal(info["task"][key], given[key])


@pytest.mark.parametrize("make_env", ENVS)
def test_episodes_end_at_the_horizon(make_env):
    env = make_env()
    env.reset(seed=0)
    env.action_space.seed(0)
    for step in range(1, env.horizon + 1):
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
        assert truncated == (step == env.horizon)


def test_sample_tasks_is_seeded_and_shared():
    env = BernoulliBanditEnv(n_arms=3)
    a, b = env.sample_tasks(5, random_state=0), env.sample_tasks(5, random_state=0)
    assert len(a) == 5
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x["means"], y["means"])


def test_bandit_rewards_follow_the_arm_means():
    env = BernoulliBanditEnv(n_arms=2, horizon=4000)
    env.reset(seed=0, options={"task": {"means": np.array([0.2, 0.9])}})
    rewards = [env.step(arm)[1] for arm in [0] * 2000 + [1] * 1999]
    assert set(rewards) <= {0.0, 1.0}
    assert abs(np.mean(rewards[:2000]) - 0.2) < 0.03
    assert abs(np.mean(rewards[2000:]) - 0.9) < 0.03


def test_mdp_follows_its_transitions_and_rewards():
    env = TabularMDPEnv(n_states=2, n_actions=1, horizon=10_000)
    task = {"rewards": np.array([[5.0], [-5.0]]),
            "transitions": np.array([[[0.0, 1.0]], [[1.0, 0.0]]])}  # 0 -> 1 -> 0 -> ...
    state, _ = env.reset(seed=0, options={"task": task})
    states, rewards = [state], []
    for _ in range(2000):
        state, reward, *_ = env.step(0)
        states.append(state)
        rewards.append(reward)
    assert states[:5] == [0, 1, 0, 1, 0]
    assert abs(np.mean(rewards[::2]) - 5.0) < 0.1  # from state 0, with N(0, 1) noise
    assert abs(np.mean(rewards[1::2]) + 5.0) < 0.1


def test_navigation_reward_is_minus_the_distance_and_moves_are_clipped():
    env = PointNavigationEnv(max_step=0.1)
    env.reset(options={"task": {"goal": np.array([0.3, -0.4])}})
    position, reward, *_ = env.step(np.array([1.0, -1.0], dtype=np.float32))
    np.testing.assert_allclose(position, [0.1, -0.1], rtol=1e-6)
    assert reward == pytest.approx(-np.hypot(0.2, 0.3), rel=1e-6)
    assert all(-np.sqrt(2) <= r <= 0 for r in [reward])


@pytest.mark.parametrize("make_env, task, match", [
    (ENVS[0], {"means": [0.5, 2.0, 0.1, 0.1]}, "probabilities"),
    (ENVS[0], {"means": [0.5]}, "4 probabilities"),
    (ENVS[1], {"rewards": np.zeros((5, 3))}, "transitions"),
    (ENVS[2], {"goal": [np.nan, 0.0]}, "goal"),
])
def test_bad_tasks_are_named(make_env, task, match):
    with pytest.raises(ValueError, match=match):
        make_env().reset(options={"task": task})


def test_bad_parameters_actions_and_options_are_named():
    with pytest.raises(ValueError, match="n_arms"):
        BernoulliBanditEnv(n_arms=1)
    with pytest.raises(ValueError, match="horizon"):
        TabularMDPEnv(horizon=0)
    with pytest.raises(ValueError, match="max_step"):
        PointNavigationEnv(max_step=0.0)
    env = BernoulliBanditEnv(n_arms=3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(3)
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"goal": 1})
