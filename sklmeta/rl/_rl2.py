"""RL²: fast reinforcement learning via slow reinforcement learning.

A recurrent policy sees, at each step, the observation together with the
previous action, reward and end-of-episode flag. Meta-trained by a policy
gradient across many tasks of a family, its hidden state learns to carry
what it has found out about the current task, so that in a new task it
explores and then exploits within one trial, with no gradient step (Duan
et al., 2016). Here the policy gradient is advantage actor-critic with
generalised advantage estimation.
"""

import copy

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

from .._torch import resolve_device, seeded
from ..exceptions import DivergenceError
from ..utils._validation import check_float, check_int, check_seed
from ._agent import MetaRLAgent, mean_of

__all__ = ["RL2Agent"]


class RecurrentPolicy(nn.Module):
    """A GRU cell with a policy head (action logits) and a value head."""

    def __init__(self, input_size, n_actions, hidden_size):
        super().__init__()
        self.cell = nn.GRUCell(input_size, hidden_size)
        self.policy = nn.Linear(hidden_size, n_actions)
        self.value = nn.Linear(hidden_size, 1)

    def forward(self, inputs, hidden):
        hidden = self.cell(inputs, hidden)
        return self.policy(hidden), self.value(hidden).squeeze(-1), hidden


class RL2Agent(MetaRLAgent):
    """RL²: a recurrent policy meta-trained to learn a new task within one trial.

    ``meta_fit(env)`` meta-trains on tasks drawn from a task-family
    environment of :mod:`sklmeta.rl` (any gymnasium environment with
    ``sample_tasks`` and ``reset(options={"task": task})``, a discrete
    action space and a discrete or box observation space). Each update
    plays one trial of ``episodes_per_trial`` episodes in each of
    ``n_tasks_per_update`` new tasks, keeping the hidden state across the
    episodes of a trial, and takes one advantage actor-critic step with
    generalised advantage estimation over the whole trial, by proximal
    policy optimisation (Duan et al., 2016, used TRPO). :meth:`run_trial` then plays a trial in a new task; learning
    that task happens in the hidden state, with no gradient step.

    Reinforcement learning departs from scikit-learn's ``fit``/``predict``:
    there is no fixed data set, so the agent has no ``fit`` or ``predict``;
    ``meta_fit`` takes an environment, and acting takes :meth:`run_trial`.
    Parameters, ``random_state``, ``clone`` (which keeps the meta-trained
    policy) and pickling follow the package's learners.

    Parameters
    ----------
    hidden_size : int, default=64
        Width of the GRU's hidden state.
    episodes_per_trial : int, default=1
        Episodes of one task played with one hidden state: 1 for bandits,
        several for tabular MDPs.
    n_tasks_per_update : int, default=128
        Tasks played in parallel per update.
    max_updates : int, default=500
        Meta-training updates.
    max_time : float, default=None
        Stop meta-training after this many seconds.
    lr : float, default=3e-3
        Learning rate of Adam.
    ppo_epochs : int, default=4
        Gradient steps on each batch of trials (proximal policy
        optimisation, Schulman et al., 2017); 1 is advantage actor-critic.
    clip_range : float, default=0.2
        How far PPO lets the probability ratio of an action move from 1.
    gamma : float, default=0.99
        Discount over the steps of a trial.
    gae_lambda : float, default=0.95
        Bias-variance trade-off of generalised advantage estimation.
    entropy_weight : float, default=0.01
        Weight of the entropy bonus, which keeps early exploration.
    value_weight : float, default=0.5
        Weight of the value loss. The value head predicts returns in units
        of their spread over the batch, so the weight holds for short and
        long trials alike.
    device : {'auto', 'cpu', 'cuda'} or torch.device, default='cpu'
        Where the policy runs. The CPU is the default: one step of a small
        GRU is faster there than a transfer to a GPU.
    verbose : int, default=1
        1 prints the mean reward per step every 10% of the updates.
    random_state : int, RandomState instance or None, default=None
        Seeds the policy's initial weights, the tasks, the environments and
        the sampled actions.

    Attributes
    ----------
    policy_ : RecurrentPolicy
        The meta-trained GRU policy.
    history_ : list of dict
        Per update: ``'update'``, ``'mean_reward'`` (per step, over the
        trials of the update) and ``'loss'``.
    n_actions_ : int
        Number of actions of the environment.

    References
    ----------
    .. [1] Y. Duan, J. Schulman, X. Chen, P. Bartlett, I. Sutskever and
       P. Abbeel, "RL²: Fast Reinforcement Learning via Slow Reinforcement
       Learning", arXiv:1611.02779, 2016.

    Examples
    --------
    >>> from sklmeta.rl import BernoulliBanditEnv, RL2Agent
    >>> env = BernoulliBanditEnv(n_arms=2, horizon=10)
    >>> agent = RL2Agent(max_updates=5, verbose=0, random_state=0).meta_fit(env)
    >>> agent.run_trial(env, random_state=0).shape  # rewards of a new task's trial
    (10,)
    """

    _meta_attributes = ("policy_", "history_", "n_actions_", "_observation_space")

    def __init__(self, *, hidden_size=64, episodes_per_trial=1, n_tasks_per_update=128,
                 max_updates=500, max_time=None, lr=3e-3, ppo_epochs=4, clip_range=0.2,
                 gamma=0.99, gae_lambda=0.95, entropy_weight=0.01, value_weight=0.5,
                 device="cpu", verbose=1, random_state=None):
        self.hidden_size = hidden_size
        self.episodes_per_trial = episodes_per_trial
        self.n_tasks_per_update = n_tasks_per_update
        self.max_updates = max_updates
        self.max_time = max_time
        self.lr = lr
        self.ppo_epochs = ppo_epochs
        self.clip_range = clip_range
        self.gamma = gamma
        self.gae_lambda = gae_lambda
        self.entropy_weight = entropy_weight
        self.value_weight = value_weight
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _validate_params(self):
        for name in ("hidden_size", "episodes_per_trial", "n_tasks_per_update"):
            check_int(getattr(self, name), name, min_value=1)
        self._check_budget()
        check_float(self.lr, "lr", min_value=0.0, strict_min=True)
        check_int(self.ppo_epochs, "ppo_epochs", min_value=1)
        check_float(self.clip_range, "clip_range", min_value=0.0, strict_min=True)
        check_float(self.gamma, "gamma", min_value=0.0, max_value=1.0)
        check_float(self.gae_lambda, "gae_lambda", min_value=0.0, max_value=1.0)
        check_float(self.entropy_weight, "entropy_weight", min_value=0.0)
        check_float(self.value_weight, "value_weight", min_value=0.0)
        check_seed(self.random_state)
        return resolve_device(self.device)

    def _check_env(self, env):
        self._check_family(env)
        if not isinstance(env.action_space, spaces.Discrete):
            raise ValueError(
                f"RL2Agent needs a discrete action space; env has {env.action_space}.")
        if not isinstance(env.observation_space, (spaces.Discrete, spaces.Box)):
            raise ValueError("RL2Agent needs a discrete or box observation space; env has "
                             f"{env.observation_space}.")

    def _encode(self, observations, space):
        if isinstance(space, spaces.Discrete):
            index = torch.as_tensor(np.asarray(observations, dtype=np.int64) - space.start)
            return F.one_hot(index, int(space.n)).float()
        return torch.as_tensor(np.stack([np.asarray(o, dtype=np.float32).ravel()
                                         for o in observations]))

    def _input_size(self, space, n_actions):
        width = int(space.n) if isinstance(space, spaces.Discrete) else int(np.prod(space.shape))
        return width + n_actions + 2

    def meta_fit(self, env):
        """Meta-train the policy over tasks drawn from ``env``'s family.

        Parameters
        ----------
        env : gymnasium.Env
            A task-family environment (see the class description). It is
            copied, never stepped itself.

        Returns
        -------
        self : RL2Agent
        """
        device, init_seed, train_seed = self._start_meta_fit(env)
        self.n_actions_ = int(env.action_space.n)
        self._observation_space = env.observation_space
        with seeded(init_seed, device):
            self.policy_ = RecurrentPolicy(self._input_size(env.observation_space,
                                                            self.n_actions_),
                                           self.n_actions_, self.hidden_size).to(device)
        self.history_ = []
        optimizer = torch.optim.Adam(self.policy_.parameters(), lr=self.lr)
        envs = [copy.deepcopy(env) for _ in range(self.n_tasks_per_update)]
        task_rng = np.random.default_rng(train_seed)

        def update(_):
            tasks = env.sample_tasks(len(envs), random_state=task_rng)
            seeds = task_rng.integers(2**31 - 1, size=len(envs))
            with torch.no_grad():
                trial = self._play(envs, tasks, seeds, device)
            loss = self._ppo_update(trial, optimizer)
            return {"loss": loss, "mean_reward": float(trial["rewards"].mean())}

        with seeded(train_seed, device):
            self._run_updates(update, lambda recent: "mean reward per step "
                              f"{mean_of(recent, 'mean_reward'):.4f}")
        self.policy_.eval()
        return self

    def _play(self, envs, tasks, seeds, device, greedy=False):
        """One trial in each environment: rewards, log-probabilities, values,
        entropies and episode ends, each of shape (n_steps, n_envs)."""
        n = len(envs)
        space = self._observation_space
        observations = [e.reset(seed=int(s), options={"task": t})[0]
                        for e, t, s in zip(envs, tasks, seeds)]
        hidden = torch.zeros(n, self.hidden_size, device=device)
        previous = torch.zeros(n, self.n_actions_ + 2, device=device)
        episodes_left = [self.episodes_per_trial] * n
        inputs_seq, action_seq, log_probs, values, rewards = [], [], [], [], []
        while episodes_left[0] > 0:
            inputs = torch.cat([self._encode(observations, space).to(device), previous], dim=1)
            logits, value, hidden = self.policy_(inputs, hidden)
            dist = torch.distributions.Categorical(logits=logits)
            actions = logits.argmax(dim=1) if greedy else dist.sample()
            step_rewards, step_ends = [], []
            for i, (e, a) in enumerate(zip(envs, actions.tolist())):
                obs, reward, terminated, truncated, _ = e.step(a)
                end = terminated or truncated
                if end:
                    episodes_left[i] -= 1
                    if episodes_left[i] > 0:
                        obs, _ = e.reset()  # the same task: the trial goes on
                observations[i] = obs
                step_rewards.append(reward)
                step_ends.append(float(end))
            reward_t = torch.tensor(step_rewards, dtype=torch.float32, device=device)
            end_t = torch.tensor(step_ends, dtype=torch.float32, device=device)
            previous = torch.cat([F.one_hot(actions, self.n_actions_).float(),
                                  reward_t[:, None], end_t[:, None]], dim=1)
            inputs_seq.append(inputs)
            action_seq.append(actions)
            log_probs.append(dist.log_prob(actions))
            values.append(value)
            rewards.append(reward_t)
        stack = torch.stack
        return {"inputs": stack(inputs_seq), "actions": stack(action_seq),
                "log_probs": stack(log_probs), "values": stack(values),
                "rewards": stack(rewards)}

    def _advantages(self, rewards, values):
        """Generalised advantage estimates and returns over whole trials."""
        advantages = torch.zeros_like(rewards)
        running = torch.zeros_like(rewards[0])
        next_value = torch.zeros_like(rewards[0])  # the trial ends: nothing follows
        for t in reversed(range(len(rewards))):
            delta = rewards[t] + self.gamma * next_value - values[t]
            running = delta + self.gamma * self.gae_lambda * running
            advantages[t] = running
            next_value = values[t]
        return advantages, advantages + values

    def _return_spread(self, rewards):
        """Standard deviation of the discounted returns to go of a batch."""
        to_go = torch.zeros_like(rewards)
        running = torch.zeros_like(rewards[0])
        for t in reversed(range(len(rewards))):
            running = rewards[t] + self.gamma * running
            to_go[t] = running
        return to_go.std().clamp_min(1e-3)

    def _ppo_update(self, trial, optimizer):
        """``ppo_epochs`` clipped policy-gradient steps on one batch of trials;
        the mean loss."""
        # the value head predicts returns in units of their spread in the
        # batch: returns of long trials run to tens, which a linear head on
        # the GRU's bounded state learns too slowly to give useful advantages
        scale = self._return_spread(trial["rewards"])
        advantages, returns = self._advantages(trial["rewards"], trial["values"] * scale)
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        losses = []
        for _ in range(self.ppo_epochs):
            hidden = torch.zeros(trial["inputs"].shape[1], self.hidden_size,
                                 device=advantages.device)
            logits, values = [], []
            for inputs in trial["inputs"]:  # the GRU again, over the stored inputs
                step_logits, step_value, hidden = self.policy_(inputs, hidden)
                logits.append(step_logits)
                values.append(step_value)
            dist = torch.distributions.Categorical(logits=torch.stack(logits))
            ratio = torch.exp(dist.log_prob(trial["actions"]) - trial["log_probs"])
            clipped = ratio.clamp(1.0 - self.clip_range, 1.0 + self.clip_range)
            policy_loss = -torch.min(ratio * advantages, clipped * advantages).mean()
            value_loss = F.mse_loss(torch.stack(values), returns / scale)
            loss = (policy_loss + self.value_weight * value_loss
                    - self.entropy_weight * dist.entropy().mean())
            if not torch.isfinite(loss):
                raise DivergenceError(
                    f"RL2Agent: meta-training diverged (loss {loss.item()}); lower "
                    f"lr={self.lr:g}.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.policy_.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
        return float(np.mean(losses))

    def run_trials(self, env, tasks, random_state=None, greedy=False):
        """Play one trial in each of several tasks, all at once.

        Parameters
        ----------
        env : gymnasium.Env
            An environment of the family meta-trained on; it is copied.
        tasks : list of dict
            The tasks, e.g. from ``env.sample_tasks``.
        random_state : int, RandomState instance or None, default=None
            Seeds the environments and the actions sampled.
        greedy : bool, default=False
            Take the most probable action instead of sampling one.

        Returns
        -------
        rewards : ndarray of shape (n_tasks, n_steps)
            The reward of every step of every trial.
        actions : ndarray of shape (n_tasks, n_steps)
            The actions taken.
        """
        tasks = self._check_trials(env, tasks)
        seed = check_seed(random_state, "random_state").randint(2**31 - 1)
        seeds = np.random.default_rng(seed).integers(2**31 - 1, size=len(tasks))
        device = resolve_device(self.device)
        self.policy_.to(device)
        with torch.no_grad(), seeded(seed, device):
            trial = self._play([copy.deepcopy(env) for _ in tasks], tasks, seeds,
                               device, greedy=greedy)
        return trial["rewards"].T.cpu().numpy(), trial["actions"].T.cpu().numpy()

    def run_trial(self, env, task=None, random_state=None, greedy=False):
        """Play one trial of ``episodes_per_trial`` episodes in one task.

        Parameters
        ----------
        env : gymnasium.Env
            An environment of the family meta-trained on; it is copied.
        task : dict, default=None
            The task; None draws one with ``random_state``.
        random_state : int, RandomState instance or None, default=None
            Seeds the task drawn, the environment and the actions sampled.
        greedy : bool, default=False
            Take the most probable action instead of sampling one.

        Returns
        -------
        rewards : ndarray of shape (n_steps,)
            The reward of every step of the trial.
        """
        self._check_trials(env, [task])  # meta-trained, and env fits
        seed = check_seed(random_state, "random_state").randint(2**31 - 1)
        rng = np.random.default_rng(seed)
        if task is None:
            task = env.sample_tasks(1, random_state=rng)[0]
        rewards, _ = self.run_trials(env, [task], random_state=seed, greedy=greedy)
        return rewards[0]
