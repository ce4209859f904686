"""Random tabular MDPs: RL² against posterior sampling, Q-learning and chance.

RL²'s second benchmark (Duan et al., 2016, Sec. 4.2, Table 2) on
:class:`~sklmeta.rl.TabularMDPEnv`: 10 states, 5 actions, mean rewards
N(1, 1) and Dirichlet transitions drawn per task, episodes of 10 steps
from state 0, and a trial of ``n`` episodes in one task. Every strategy
plays the same tasks. Prints the total reward per trial, mean ± 95% CI,
and its share of what the optimal policy of each task earns in
expectation (which knows the task: a value iteration on the true MDP)::

    python benchmarks/tabular_mdp.py --episodes 10 --rl2-updates 1000

Strategies: random; Q-learning (optimistic start, epsilon-greedy 0.1,
step size 0.1, undiscounted within an episode); posterior sampling for
reinforcement learning (PSRL, Osband et al., 2013: at each episode, an MDP
drawn from the posterior under the true prior, solved, and followed); and,
with ``--rl2-updates``, :class:`~sklmeta.rl.RL2Agent` meta-trained on
other tasks of the family for that many updates, with its default
parameters and ``episodes_per_trial`` set to ``n``.
"""

import argparse
import time

import numpy as np

from sklmeta.rl import RL2Agent, TabularMDPEnv


def finite_horizon_q(rewards, transitions, horizon):
    """Q-values of every step of an episode, batched over tasks:
    ``q[t]`` has shape (tasks, states, actions)."""
    value = np.zeros(rewards.shape[:2])
    q = np.zeros((horizon,) + rewards.shape)
    for t in reversed(range(horizon)):
        q[t] = rewards + np.einsum("ksat,kt->ksa", transitions, value)
        value = q[t].max(axis=2)
    return q


def play(strategy, rewards, transitions, n_episodes, horizon, rng):
    """Total reward of each task's trial: arrays (tasks, states, actions[, states])."""
    n_tasks, n_states, n_actions = rewards.shape
    rows = np.arange(n_tasks)
    total = np.zeros(n_tasks)
    counts = np.zeros((n_tasks, n_states, n_actions))
    reward_sums = np.zeros((n_tasks, n_states, n_actions))
    visits = np.zeros((n_tasks, n_states, n_actions, n_states))
    q_table = np.full((n_tasks, n_states, n_actions), 3.0 * horizon)  # optimistic
    for _ in range(n_episodes):
        if strategy == "PSRL":
            precision = 1.0 + counts  # prior N(1, 1), noise of variance 1
            mean = (1.0 + reward_sums) / precision
            drawn_rewards = mean + rng.standard_normal(mean.shape) / np.sqrt(precision)
            alpha = 1.0 + visits
            drawn = rng.gamma(alpha)
            drawn /= drawn.sum(axis=3, keepdims=True)
            plan = finite_horizon_q(drawn_rewards, drawn, horizon)
        state = np.zeros(n_tasks, dtype=int)
        for t in range(horizon):
            tie = rng.random((n_tasks, n_actions)) * 1e-9
            if strategy == "random":
                action = rng.integers(n_actions, size=n_tasks)
            elif strategy == "PSRL":
                action = np.argmax(plan[t, rows, state] + tie, axis=1)
            else:  # Q-learning
                action = np.argmax(q_table[rows, state] + tie, axis=1)
                explore = rng.random(n_tasks) < 0.1
                action[explore] = rng.integers(n_actions, size=explore.sum())
            reward = rewards[rows, state, action] + rng.standard_normal(n_tasks)
            probabilities = transitions[rows, state, action]
            nxt = (probabilities.cumsum(axis=1) < rng.random((n_tasks, 1))).sum(axis=1)
            nxt = np.minimum(nxt, n_states - 1)
            if strategy == "Q-learning":
                future = q_table[rows, nxt].max(axis=1) if t < horizon - 1 else 0.0
                q_table[rows, state, action] += 0.1 * (
                    reward + future - q_table[rows, state, action])
            counts[rows, state, action] += 1
            reward_sums[rows, state, action] += reward
            visits[rows, state, action, nxt] += 1
            total += reward
            state = nxt
    return total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, nargs="+", default=[10],
                        help="episodes per trial")
    parser.add_argument("--n-tasks", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rl2-updates", type=int, default=0,
                        help="meta-train RL² for this many updates per setting (0: skip)")
    args = parser.parse_args(argv)
    strategies = ["random", "Q-learning", "PSRL"] + (["RL2"] if args.rl2_updates else [])
    print(f"{'n':>4} " + " ".join(f"{s:>22}" for s in strategies) + f" {'optimal':>9}")
    for n_episodes in args.episodes:
        env = TabularMDPEnv()
        tasks = env.sample_tasks(args.n_tasks, random_state=args.seed)
        rewards = np.stack([task["rewards"] for task in tasks])
        transitions = np.stack([task["transitions"] for task in tasks])
        optimal = n_episodes * finite_horizon_q(rewards, transitions, env.horizon)[0][:, 0].max(1)
        cells, extra = [], ""
        for strategy in strategies:
            if strategy == "RL2":
                start = time.perf_counter()
                agent = RL2Agent(episodes_per_trial=n_episodes, max_updates=args.rl2_updates,
                                 verbose=0, random_state=args.seed + 2).meta_fit(env)
                extra = f"   (RL2 meta-training {time.perf_counter() - start:.0f} s)"
                total = agent.run_trials(env, tasks, random_state=args.seed + 1)[0].sum(1)
            else:
                total = play(strategy, rewards, transitions, n_episodes, env.horizon,
                             np.random.default_rng(args.seed + 1))
            ci = 1.96 * total.std(ddof=1) / np.sqrt(len(total))
            share = total.mean() / optimal.mean()
            cells.append(f"{total.mean():7.2f} ± {ci:4.2f} ({share:4.0%})")
        print(f"{n_episodes:>4} " + " ".join(f"{c:>22}" for c in cells)
              + f" {optimal.mean():9.2f}{extra}", flush=True)


if __name__ == "__main__":
    main()
