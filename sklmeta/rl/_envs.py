"""Task families of meta-reinforcement learning as gymnasium environments.

Each environment holds one task (a bandit's arm means, an MDP's rewards
and transitions, a navigation goal) and keeps it across ``reset`` calls, so
that several episodes can be played in one task: a *trial*, in the words of
RL². A new task is drawn with ``reset(options={"new_task": True})`` from
the environment's seeded generator, or given with
``reset(options={"task": task})``; :meth:`sample_tasks` draws a list of
tasks to share between agents, so that every agent meets the same ones.
"""

import numpy as np
from gymnasium import Env, spaces

from ..utils._validation import check_float, check_int

__all__ = ["BernoulliBanditEnv", "PointNavigationEnv", "TabularMDPEnv"]


class _TaskEnv(Env):
    """What the task families share: a task kept across resets."""

    task = None

    def sample_tasks(self, n_tasks, random_state=None):
        """Draw ``n_tasks`` tasks of this family.

        Parameters
        ----------
        n_tasks : int
            Number of tasks.
        random_state : int, numpy Generator or None, default=None
            Seeds the draw; None uses fresh entropy.

        Returns
        -------
        tasks : list of dict
            Each a task to give as ``reset(options={"task": task})``.
        """
        check_int(n_tasks, "n_tasks", min_value=0)
        rng = np.random.default_rng(random_state)
        return [self._draw_task(rng) for _ in range(n_tasks)]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        options = options or {}
        unknown = set(options) - {"task", "new_task"}
        if unknown:
            raise ValueError(f"options may hold 'task' and 'new_task'; got {sorted(unknown)}.")
        if "task" in options:
            self.task = self._check_task(options["task"])
        elif options.get("new_task") or self.task is None or seed is not None:
            self.task = self._draw_task(self.np_random)
        self.elapsed = 0
        return self._start(), {"task": self.task}

    def _truncated(self):
        self.elapsed += 1
        return self.elapsed >= self.horizon


class BernoulliBanditEnv(_TaskEnv):
    """A multi-armed bandit with Bernoulli rewards; a task is its arm means.

    Each step pulls an arm, ``action`` in ``0 .. n_arms - 1``, and pays 1
    with that arm's probability, else 0. An episode lasts ``horizon``
    pulls; the observation carries nothing (a single zero), so an agent
    must learn from its rewards. Arm means are drawn uniformly in [0, 1]
    per task, as in RL² (Duan et al., 2016, Sec. 4.1).

    Parameters
    ----------
    n_arms : int, default=5
        Number of arms.
    horizon : int, default=100
        Pulls per episode.

    Examples
    --------
    >>> from sklmeta.rl import BernoulliBanditEnv
    >>> env = BernoulliBanditEnv(n_arms=3, horizon=10)
    >>> obs, info = env.reset(seed=0)
    >>> info["task"]["means"].shape
    (3,)
    >>> obs, reward, terminated, truncated, info = env.step(1)
    >>> reward in (0.0, 1.0)
    True
    """

    def __init__(self, n_arms=5, horizon=100):
        self.n_arms = check_int(n_arms, "n_arms", min_value=2)
        self.horizon = check_int(horizon, "horizon", min_value=1)
        self.action_space = spaces.Discrete(self.n_arms)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.reward_range = (0.0, 1.0)

    def _draw_task(self, rng):
        return {"means": rng.uniform(0.0, 1.0, size=self.n_arms)}

    def _check_task(self, task):
        means = np.asarray(task.get("means") if isinstance(task, dict) else None, dtype=float)
        if means.shape != (self.n_arms,) or not np.all((means >= 0) & (means <= 1)):
            raise ValueError(
                f"a task of BernoulliBanditEnv is {{'means': array of {self.n_arms} "
                f"probabilities}}; got {task!r}."
            )
        return {"means": means}

    def _start(self):
        return np.zeros(1, dtype=np.float32)

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an arm in 0..{self.n_arms - 1}; got {action!r}.")
        reward = float(self.np_random.random() < self.task["means"][int(action)])
        return self._start(), reward, False, self._truncated(), {}


class TabularMDPEnv(_TaskEnv):
    """A random finite MDP; a task is its reward means and transitions.

    Per task, the mean reward of each (state, action) pair is drawn from a
    normal distribution N(1, 1) and each transition distribution from a
    flat Dirichlet; a step pays the mean plus standard normal noise, as in
    RL²'s tabular MDPs (Duan et al., 2016, Sec. 4.2). Episodes start in
    state 0 and last ``horizon`` steps; the observation is the state.

    Parameters
    ----------
    n_states : int, default=10
        Number of states.
    n_actions : int, default=5
        Number of actions.
    horizon : int, default=10
        Steps per episode.

    Examples
    --------
    >>> from sklmeta.rl import TabularMDPEnv
    >>> env = TabularMDPEnv(n_states=4, n_actions=2, horizon=5)
    >>> state, info = env.reset(seed=0)
    >>> int(state), info["task"]["transitions"].shape
    (0, (4, 2, 4))
    """

    def __init__(self, n_states=10, n_actions=5, horizon=10):
        self.n_states = check_int(n_states, "n_states", min_value=1)
        self.n_actions = check_int(n_actions, "n_actions", min_value=1)
        self.horizon = check_int(horizon, "horizon", min_value=1)
        self.action_space = spaces.Discrete(self.n_actions)
        self.observation_space = spaces.Discrete(self.n_states)

    def _draw_task(self, rng):
        shape = (self.n_states, self.n_actions)
        return {"rewards": rng.normal(1.0, 1.0, size=shape),
                "transitions": rng.dirichlet(np.ones(self.n_states), size=shape)}

    def _check_task(self, task):
        shape = (self.n_states, self.n_actions)
        ok = isinstance(task, dict) and {"rewards", "transitions"} <= set(task)
        if ok:
            rewards = np.asarray(task["rewards"], dtype=float)
            transitions = np.asarray(task["transitions"], dtype=float)
            ok = (rewards.shape == shape and transitions.shape == shape + (self.n_states,)
                  and np.allclose(transitions.sum(axis=-1), 1) and np.all(transitions >= 0))
        if not ok:
            raise ValueError(
                "a task of TabularMDPEnv is {'rewards': array of shape "
                f"{shape}, 'transitions': array of shape {shape + (self.n_states,)} whose "
                f"last axis sums to 1}}; got {task!r}."
            )
        return {"rewards": rewards, "transitions": transitions}

    def _start(self):
        self.state = 0
        return self.state

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(
                f"action must be in 0..{self.n_actions - 1}; got {action!r}.")
        a = int(action)
        reward = self.task["rewards"][self.state, a] + self.np_random.normal()
        self.state = int(self.np_random.choice(self.n_states,
                                               p=self.task["transitions"][self.state, a]))
        return self.state, float(reward), False, self._truncated(), {}


class PointNavigationEnv(_TaskEnv):
    """A point in the plane moving to a goal; a task is the goal.

    The point starts at the origin; an action moves it by at most
    ``max_step`` along each axis; the reward is minus its distance to the
    goal after the move. Goals are drawn uniformly in the square
    ``[-goal_range, goal_range]^2``; the observation is the position, not
    the goal, which an agent must find from its rewards (Finn et al., 2017,
    Sec. 5.3).

    Parameters
    ----------
    goal_range : float, default=0.5
        Half-width of the square of goals.
    max_step : float, default=0.1
        Largest move along each axis per step; larger actions are clipped.
    horizon : int, default=100
        Steps per episode.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta.rl import PointNavigationEnv
    >>> env = PointNavigationEnv()
    >>> position, info = env.reset(options={"task": {"goal": np.array([0.1, 0.0])}})
    >>> position, reward, *_ = env.step(np.array([0.1, 0.0], dtype=np.float32))
    >>> round(reward, 6)
    -0.0
    """

    def __init__(self, goal_range=0.5, max_step=0.1, horizon=100):
        self.goal_range = check_float(goal_range, "goal_range", min_value=0.0)
        self.max_step = check_float(max_step, "max_step", min_value=0.0, strict_min=True)
        self.horizon = check_int(horizon, "horizon", min_value=1)
        self.action_space = spaces.Box(-self.max_step, self.max_step, shape=(2,),
                                       dtype=np.float32)
        reach = self.max_step * self.horizon  # the farthest a point can go
        self.observation_space = spaces.Box(-reach, reach, shape=(2,), dtype=np.float32)

    def _draw_task(self, rng):
        return {"goal": rng.uniform(-self.goal_range, self.goal_range, size=2)}

    def _check_task(self, task):
        goal = np.asarray(task.get("goal") if isinstance(task, dict) else None, dtype=float)
        if goal.shape != (2,) or not np.all(np.isfinite(goal)):
            raise ValueError(
                f"a task of PointNavigationEnv is {{'goal': array of 2 numbers}}; got {task!r}.")
        return {"goal": goal}

    def _start(self):
        self.position = np.zeros(2, dtype=np.float32)
        return self.position.copy()

    def step(self, action):
        action = np.asarray(action, dtype=np.float32)
        if action.shape != (2,) or not np.all(np.isfinite(action)):
            raise ValueError(f"action must be 2 finite numbers; got {action!r}.")
        self.position = self.position + np.clip(action, -self.max_step, self.max_step)
        reward = -float(np.linalg.norm(self.position - self.task["goal"]))
        return self.position.copy(), reward, False, self._truncated(), {}
