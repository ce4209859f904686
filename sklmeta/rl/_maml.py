"""MAML on policies: an initial policy that one policy-gradient step adapts.

The policy is the gradient-based learners' functional network (an
:class:`~sklmeta.gradient_based._functional.MLPBody` with a linear head)
giving the mean of a Gaussian over actions. A task's inner loop samples
trajectories with the current weights and takes a REINFORCE step on them
by :func:`~sklmeta.gradient_based._functional.sgd_steps`, the inner loop of
:class:`~sklmeta.gradient_based.MAMLRegressor`; the outer loss is the
policy-gradient loss of the adapted weights on new trajectories of the
same task, differentiated through the inner step (Finn et al., 2017,
Sec. 3.3). Like the paper, the meta-gradient does not account for the
inner trajectories' dependence on the weights that sampled them.
"""

import copy

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from .._torch import resolve_device, seeded
from ..exceptions import DivergenceError
from ..gradient_based._functional import LinearHead, MetaNetwork, MLPBody, sgd_steps
from ..utils._validation import check_bool, check_float, check_int, check_seed
from ._agent import MetaRLAgent, mean_of

__all__ = ["MAMLAgent"]


class GaussianPolicy(nn.Module):
    """A :class:`MetaNetwork` for the mean action and one learned log-std per
    action dimension, in units of half the action range."""

    def __init__(self, n_observations, n_actions, hidden_layer_sizes, inner_lr):
        super().__init__()
        body = MLPBody(n_observations, hidden_layer_sizes)
        head = LinearHead(hidden_layer_sizes[-1] if hidden_layer_sizes else n_observations,
                          n_actions)
        self.network = MetaNetwork(body, head, inner_lr)
        self.log_std = nn.Parameter(torch.zeros(n_actions))
        self.n_actions = n_actions

    def initial_params(self):
        """The weights every task starts from; the inner loop changes all but
        ``log_std``."""
        return {**self.network.task_params(self.n_actions), "log_std": self.log_std}

    def mean(self, params, observations):
        return self.network.output(params, observations)


class MAMLAgent(MetaRLAgent):
    """MAML for policies: a Gaussian policy meta-trained to adapt in a few steps.

    ``meta_fit(env)`` meta-trains on tasks drawn from a task-family
    environment of :mod:`sklmeta.rl` with continuous (box) observations
    and actions, such as :class:`PointNavigationEnv`. Each update draws
    ``n_tasks_per_update`` tasks; in each, ``n_trajectories`` episodes
    played by the policy give ``n_inner_steps`` policy-gradient steps of
    size ``inner_lr`` (the inner loop of the gradient-based learners), and
    ``n_trajectories`` more episodes of the adapted policy give the outer
    policy-gradient loss, whose gradient flows back through the inner steps
    to the initial weights (Finn et al., 2017). Adam takes the outer step
    (the paper used TRPO). With ``n_inner_steps=0`` this is plain policy
    gradient over all tasks: the *pretrained* policy of the paper's
    comparison.

    Policy gradients use the return to go, discounted by ``gamma``, less a
    baseline (the mean return to go of the task's other trajectories at
    the same step), normalised within each task.

    Reinforcement learning departs from scikit-learn's ``fit``/``predict``:
    ``meta_fit`` takes an environment, and :meth:`run_trials` adapts to
    new tasks and reports the returns before and after each step.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100, 100)
        Hidden layers of the policy (the paper's).
    inner_lr : float, default=0.1
        Step size of the policy-gradient steps that adapt to a task.
    n_inner_steps : int, default=1
        Adaptation steps in meta-training; 0 pretrains instead.
    n_trajectories : int, default=20
        Episodes sampled per task for each adaptation step and for the
        outer loss.
    n_tasks_per_update : int, default=20
        Tasks per meta-update.
    max_updates : int, default=300
        Meta-training updates.
    max_time : float, default=None
        Stop meta-training after this many seconds.
    lr : float, default=1e-2
        Learning rate of Adam on the outer loss.
    first_order : bool, default=False
        Treat the inner gradients as constants (first-order MAML): cheaper,
        and no second derivatives.
    gamma : float, default=0.99
        Discount of the returns to go.
    device : {'auto', 'cpu', 'cuda'} or torch.device, default='cpu'
        Where the policy runs; the CPU suits a policy this small.
    verbose : int, default=1
        1 prints the mean return before and after adaptation every 10% of
        the updates.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the tasks, the environments and the
        sampled actions.

    Attributes
    ----------
    policy_ : GaussianPolicy
        The meta-learned initial policy.
    history_ : list of dict
        Per update: ``'update'``, ``'return_before'`` and ``'return_after'``
        (mean return per episode before and after adaptation) and
        ``'loss'``.

    References
    ----------
    .. [1] C. Finn, P. Abbeel and S. Levine, "Model-Agnostic Meta-Learning
       for Fast Adaptation of Deep Networks", ICML 2017.

    Examples
    --------
    >>> from sklmeta.rl import MAMLAgent, PointNavigationEnv
    >>> env = PointNavigationEnv(horizon=10)
    >>> agent = MAMLAgent(max_updates=2, n_tasks_per_update=2, n_trajectories=4,
    ...                   verbose=0, random_state=0).meta_fit(env)
    >>> returns, paths = agent.run_trials(env, env.sample_tasks(3, random_state=0),
    ...                                   n_adaptation_steps=2, random_state=0)
    >>> returns.shape, paths.shape  # before and after 1 and 2 steps
    ((3, 3), (3, 3, 11, 2))
    """

    _example_env = "sklmeta.rl.PointNavigationEnv"

    def __init__(self, *, hidden_layer_sizes=(100, 100), inner_lr=0.1, n_inner_steps=1,
                 n_trajectories=20, n_tasks_per_update=20, max_updates=300, max_time=None,
                 lr=1e-2, first_order=False, gamma=0.99, device="cpu", verbose=1,
                 random_state=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.inner_lr = inner_lr
        self.n_inner_steps = n_inner_steps
        self.n_trajectories = n_trajectories
        self.n_tasks_per_update = n_tasks_per_update
        self.max_updates = max_updates
        self.max_time = max_time
        self.lr = lr
        self.first_order = first_order
        self.gamma = gamma
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _validate_params(self):
        sizes = self.hidden_layer_sizes
        if not (isinstance(sizes, (tuple, list))
                and all(isinstance(s, (int, np.integer)) and s > 0 for s in sizes)):
            raise ValueError(
                f"hidden_layer_sizes must be a tuple of positive ints; got {sizes!r}.")
        check_float(self.inner_lr, "inner_lr", min_value=0.0)
        check_int(self.n_inner_steps, "n_inner_steps", min_value=0)
        check_int(self.n_trajectories, "n_trajectories", min_value=1)
        check_int(self.n_tasks_per_update, "n_tasks_per_update", min_value=1)
        self._check_budget()
        check_float(self.lr, "lr", min_value=0.0, strict_min=True)
        check_bool(self.first_order, "first_order")
        check_float(self.gamma, "gamma", min_value=0.0, max_value=1.0)
        check_seed(self.random_state)
        return resolve_device(self.device)

    def _check_env(self, env):
        self._check_family(env)
        for name in ("action_space", "observation_space"):
            space = getattr(env, name)
            if not (isinstance(space, spaces.Box) and len(space.shape) == 1):
                raise ValueError(f"MAMLAgent needs a one-dimensional box {name}; env has "
                                 f"{space}.")
        low, high = env.action_space.low, env.action_space.high
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError(f"MAMLAgent needs a bounded action space; env has "
                             f"{env.action_space}.")

    def meta_fit(self, env):
        """Meta-train the initial policy over tasks drawn from ``env``'s family.

        Parameters
        ----------
        env : gymnasium.Env
            A task-family environment with box observations and actions;
            it is copied, never stepped itself.

        Returns
        -------
        self : MAMLAgent
        """
        device, init_seed, train_seed = self._start_meta_fit(env)
        with seeded(init_seed, device):
            self.policy_ = GaussianPolicy(env.observation_space.shape[0],
                                          env.action_space.shape[0],
                                          tuple(int(s) for s in self.hidden_layer_sizes),
                                          self.inner_lr).to(device)
        self.history_ = []
        optimizer = torch.optim.Adam(self.policy_.parameters(), lr=self.lr)
        task_rng = np.random.default_rng(train_seed)
        envs = _EnvGrid(env, self.n_tasks_per_update, self.n_trajectories)

        def update(_):
            envs.set_tasks(env.sample_tasks(self.n_tasks_per_update, random_state=task_rng),
                           task_rng)
            _, stage_returns, loss = self._adapt(envs, self.n_inner_steps, meta_train=True)
            if not np.isfinite(loss.item()):
                raise DivergenceError(
                    f"MAMLAgent: meta-training diverged (loss {loss.item()}); "
                    f"lower lr={self.lr:g} or inner_lr={self.inner_lr:g}.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.policy_.parameters(), 1.0)
            optimizer.step()
            return {"loss": loss.item(), "return_before": float(stage_returns[:, 0].mean()),
                    "return_after": float(stage_returns[:, -1].mean())}

        with seeded(train_seed, device):
            self._run_updates(update, lambda recent: (
                f"return before {mean_of(recent, 'return_before'):9.3f}  "
                f"after {mean_of(recent, 'return_after'):9.3f}"))
        return self

    def _adapt(self, envs, n_steps, meta_train, on_stage=None):
        """Adapt to every task of ``envs`` by ``n_steps`` policy-gradient steps.

        Returns the adapted weights of each task, the mean return per
        episode of each task at each stage (array of shape (n_tasks,
        n_steps + 1)) and, with ``meta_train``, the outer loss (else None).
        ``on_stage(params)`` is called with the weights of every stage.
        """
        policy = self.policy_
        start = policy.initial_params()
        if not meta_train:
            start = {k: v.detach() for k, v in start.items()}
        params = [start] * envs.n_tasks
        stage_returns = []
        for step in range(n_steps + 1):
            if on_stage is not None:
                on_stage(params)
            batch = self._play(envs, params)
            stage_returns.append(batch["returns"])
            if step == n_steps:
                break
            params = [sgd_steps(policy.network, p, 1,
                                lambda q, i=i: self._policy_loss(q, batch, i),
                                create_graph=meta_train and not self.first_order,
                                batched=False, lr=self.inner_lr, detach=not meta_train)
                      for i, p in enumerate(params)]
        loss = None
        if meta_train:
            loss = torch.stack([self._policy_loss(p, batch, i)
                                for i, p in enumerate(params)]).mean()
        return params, np.stack(stage_returns, axis=1), loss

    def _play(self, envs, params, greedy=False):
        """One episode in every copy of ``envs``, with advantages."""
        try:
            batch = envs.play(self.policy_, params, greedy=greedy)
        except FloatingPointError:
            raise DivergenceError(
                "MAMLAgent: the policy's actions are no longer finite, so an adaptation "
                f"step diverged; lower inner_lr={self.inner_lr:g}.") from None
        rewards, mask = batch["rewards"], batch["mask"]
        to_go = torch.zeros_like(rewards)
        running = torch.zeros_like(rewards[..., 0])
        for t in reversed(range(rewards.shape[-1])):
            running = rewards[..., t] + self.gamma * running * mask[..., t]
            to_go[..., t] = running
        n = to_go.shape[1]
        if n > 1:  # each trajectory's baseline: the task's other trajectories
            counts = mask.sum(1, keepdim=True) - mask
            baseline = ((to_go * mask).sum(1, keepdim=True) - to_go * mask) / counts.clamp(min=1)
            advantages = to_go - baseline
        else:
            advantages = to_go
        dims = (1, 2)
        total = mask.sum(dims, keepdim=True)
        centre = (advantages * mask).sum(dims, keepdim=True) / total
        spread = (((advantages - centre) ** 2 * mask).sum(dims, keepdim=True) / total).sqrt()
        batch["advantages"] = (advantages - centre) / (spread + 1e-8) * mask
        return batch

    def _policy_loss(self, params, batch, task):
        """REINFORCE loss of one task's trajectories under ``params``."""
        observations = batch["observations"][task]  # (n_trajectories, n_steps, d)
        mean = self.policy_.mean(params, observations.flatten(0, 1))
        mean = mean.view(*observations.shape[:2], -1)
        dist = torch.distributions.Normal(mean, params["log_std"].exp())
        log_prob = dist.log_prob(batch["actions"][task]).sum(-1)
        mask = batch["mask"][task]
        return -(log_prob * batch["advantages"][task]).sum() / mask.sum()

    def run_trials(self, env, tasks, n_adaptation_steps=None, random_state=None):
        """Adapt to each task and play it before and after every step.

        In each task, ``n_trajectories`` episodes of the policy give one
        policy-gradient step of size ``inner_lr``, and so on for
        ``n_adaptation_steps`` steps; the episodes of each stage are
        scored. The weights of the agent never change.

        Parameters
        ----------
        env : gymnasium.Env
            An environment of the family meta-trained on; it is copied.
        tasks : list of dict
            The tasks, e.g. from ``env.sample_tasks``.
        n_adaptation_steps : int, default=None
            Adaptation steps; None takes ``n_inner_steps``.
        random_state : int, RandomState instance or None, default=None
            Seeds the environments and the actions sampled.

        Returns
        -------
        returns : ndarray of shape (n_tasks, n_adaptation_steps + 1)
            Mean return per episode in each task, before adaptation and
            after each step.
        paths : ndarray of shape (n_tasks, n_adaptation_steps + 1, n_steps + 1, n_observations)
            In each task and at each stage, the observations of one episode
            played with the mean action, from the first observation.
        """
        tasks = self._check_trials(env, tasks)
        if n_adaptation_steps is None:
            n_adaptation_steps = self.n_inner_steps
        check_int(n_adaptation_steps, "n_adaptation_steps", min_value=0)
        seed = check_seed(random_state, "random_state").randint(2**31 - 1)
        task_rng = np.random.default_rng(seed)
        device = resolve_device(self.device)
        self.policy_.to(device)
        envs = _EnvGrid(env, len(tasks), self.n_trajectories)
        path_envs = _EnvGrid(env, len(tasks), 1)
        paths = []

        envs.set_tasks(tasks, task_rng)
        path_envs.set_tasks(tasks, task_rng)

        def play_mean_action(params):
            paths.append(self._play(path_envs, params, greedy=True)["path"][:, 0])

        with seeded(seed, device):
            _, returns, _ = self._adapt(envs, n_adaptation_steps, meta_train=False,
                                        on_stage=play_mean_action)
        return returns, np.stack(paths, axis=1)


class _EnvGrid:
    """``n_tasks`` x ``n_trajectories`` copies of a task-family environment,
    played together, one set of policy weights per task."""

    def __init__(self, env, n_tasks, n_trajectories):
        self.n_tasks, self.n_trajectories = n_tasks, n_trajectories
        self.envs = [copy.deepcopy(env) for _ in range(n_tasks * n_trajectories)]
        space = env.action_space
        self.center = (space.high + space.low) / 2
        self.scale = (space.high - space.low) / 2
        self.dtype = space.dtype

    def set_tasks(self, tasks, rng):
        """Play ``tasks`` from now on, seeding every episode from ``rng``."""
        self.tasks = [task for task in tasks for _ in range(self.n_trajectories)]
        self.rng = rng

    def play(self, policy, params, greedy=False):
        """One episode in every copy. Actions are drawn in units of half the
        action range around its centre, then scaled."""
        n, T = self.n_trajectories, self.n_tasks
        seeds = self.rng.integers(2**31 - 1, size=len(self.envs))
        first = [e.reset(seed=int(s), options={"task": t})[0]
                 for e, t, s in zip(self.envs, self.tasks, seeds)]
        observations = np.asarray(first, dtype=np.float32)
        done = np.zeros(len(self.envs), dtype=bool)
        obs_seq, action_seq, reward_seq, mask_seq = [], [], [], []
        path = [observations.copy()]
        while not done.all():
            obs_t = torch.as_tensor(observations).view(T, n, -1)
            with torch.no_grad():
                means = torch.stack([policy.mean(p, o) for p, o in zip(params, obs_t)])
                std = torch.stack([p["log_std"] for p in params]).exp()[:, None, :]
                actions = means if greedy else means + std * torch.randn_like(means)
            if not torch.isfinite(actions).all():
                raise FloatingPointError("the policy's actions are no longer finite")
            flat = actions.reshape(len(self.envs), -1).numpy()
            rewards = np.zeros(len(self.envs), dtype=np.float32)
            mask = ~done
            for i in np.flatnonzero(mask):
                env_action = (self.center + self.scale * flat[i]).astype(self.dtype)
                obs, reward, terminated, truncated, _ = self.envs[i].step(env_action)
                observations[i] = obs
                rewards[i] = reward
                done[i] = terminated or truncated
            obs_seq.append(obs_t)
            action_seq.append(actions)
            reward_seq.append(torch.as_tensor(rewards).view(T, n))
            mask_seq.append(torch.as_tensor(mask, dtype=torch.float32).view(T, n))
            path.append(observations.copy())
        rewards = torch.stack(reward_seq, dim=2)  # (T, n, steps)
        mask = torch.stack(mask_seq, dim=2)
        return {"observations": torch.stack(obs_seq, dim=2),
                "actions": torch.stack(action_seq, dim=2),
                "rewards": rewards, "mask": mask,
                "returns": (rewards * mask).sum(-1).mean(-1).numpy(),
                "path": np.stack(path, axis=1).reshape(T, n, len(path), -1)}
