"""Bernoulli bandits: the classical strategies on the tasks of RL²'s benchmark.

Arm means are drawn uniformly per task (``sklmeta.rl.BernoulliBanditEnv``'s
family); every strategy plays the same tasks with the same random numbers.
Prints the expected regret, ``n * max(means) - sum of the means of the arms
pulled``, mean ± 95% CI over the tasks, for each number of arms and horizon
of the RL² paper's grid (Duan et al., 2016, Table 1)::

    python benchmarks/bandits.py
    python benchmarks/bandits.py --arms 5 10 50 --horizons 10 100 500

Strategies: random; epsilon-greedy (epsilon 0.1); UCB1 (Auer et al., 2002);
Thompson sampling with a uniform prior; the Gittins index of a Beta(1, 1)
prior, discounted by ``1 - 1/n`` for horizon ``n``, computed here by one
backward recursion over a grid of retirement rewards; and, with
``--rl2-updates``, :class:`~sklmeta.rl.RL2Agent` meta-trained for that many
updates on other tasks of the same family, then playing the same tasks::

    python benchmarks/bandits.py --arms 5 --horizons 10 --rl2-updates 1000
"""

import argparse
import time

import numpy as np

from sklmeta.rl import BernoulliBanditEnv, RL2Agent


def gittins_table(gamma, depth, grid=2000):
    """Gittins indices of Beta(a, b) arms for ``a + b <= depth + 2``.

    For each retirement reward ``lam`` on a grid of (0, 1), the value of
    playing on from state (a, b) is
    ``max(lam / (1 - gamma), p (1 + gamma V(a+1, b)) + (1 - p) gamma V(a, b+1))``
    with ``p = a / (a + b)``; the index of a state is the smallest ``lam``
    at which retiring is optimal. Beyond ``depth`` pulls the arm's mean is
    taken as known. Returns ``table[a, b]``.
    """
    lams = (np.arange(grid) + 0.5) / grid
    retire = lams / (1 - gamma)
    table = np.zeros((depth + 3, depth + 3))
    # states with a + b = s, a from 1 to s - 1; next row s + 1
    s = depth + 2
    a = np.arange(1, s)
    p = a / s
    nxt = np.maximum(lams[None, :], p[:, None]) / (1 - gamma)  # known mean at the edge
    table[a, s - a] = p
    for s in range(depth + 1, 1, -1):
        a = np.arange(1, s)
        p = (a / s)[:, None]
        # nxt[i] is V(i + 1, s + 1 - (i + 1)) over the row s + 1
        success, failure = nxt[a], nxt[a - 1]  # V(a + 1, b), V(a, b + 1)
        play = p * (1 + gamma * success) + (1 - p) * gamma * failure
        table[a, s - a] = lams[np.argmax(play <= retire[None, :] + 1e-12, axis=1)]
        nxt = np.maximum(retire[None, :], play)
    return table


def play(strategy, means, uniforms, rng, table=None):
    """Expected regret of ``strategy`` on every task: arrays of (tasks, arms)."""
    n_tasks, n_arms = means.shape
    horizon = uniforms.shape[1]
    wins = np.zeros((n_tasks, n_arms))
    pulls = np.zeros((n_tasks, n_arms))
    rows = np.arange(n_tasks)
    regret = np.zeros(n_tasks)
    best = means.max(axis=1)
    for t in range(horizon):
        tie = rng.random((n_tasks, n_arms)) * 1e-9  # break ties at random
        if strategy == "random":
            arm = rng.integers(n_arms, size=n_tasks)
        elif strategy == "epsilon-greedy":
            estimate = np.divide(wins, pulls, out=np.full_like(wins, 0.5), where=pulls > 0)
            arm = np.argmax(estimate + tie, axis=1)
            explore = rng.random(n_tasks) < 0.1
            arm[explore] = rng.integers(n_arms, size=explore.sum())
        elif strategy == "UCB1":
            if t < n_arms:
                arm = np.full(n_tasks, t)
            else:
                bonus = np.sqrt(2 * np.log(t) / pulls)
                arm = np.argmax(wins / pulls + bonus + tie, axis=1)
        elif strategy == "Thompson":
            arm = np.argmax(rng.beta(1 + wins, 1 + pulls - wins), axis=1)
        elif strategy == "Gittins":
            a = (1 + wins).astype(int)
            b = (1 + pulls - wins).astype(int)
            arm = np.argmax(table[a, b] + tie, axis=1)
        reward = uniforms[:, t] < means[rows, arm]
        wins[rows, arm] += reward
        pulls[rows, arm] += 1
        regret += best - means[rows, arm]
    return regret


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", type=int, nargs="+", default=[5, 10])
    parser.add_argument("--horizons", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--n-tasks", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rl2-updates", type=int, default=0,
                        help="meta-train RL² for this many updates per setting (0: skip)")
    args = parser.parse_args(argv)
    strategies = ["random", "epsilon-greedy", "UCB1", "Thompson", "Gittins"]
    if args.rl2_updates:
        strategies.append("RL2")
    print(f"{'arms':>4} {'n':>4} " + " ".join(f"{s:>16}" for s in strategies))
    for n_arms in args.arms:
        for horizon in args.horizons:
            env = BernoulliBanditEnv(n_arms=n_arms, horizon=horizon)
            tasks = env.sample_tasks(args.n_tasks, random_state=args.seed)
            means = np.stack([task["means"] for task in tasks])
            uniforms = np.random.default_rng(args.seed).random((args.n_tasks, horizon))
            start = time.perf_counter()
            table = gittins_table(1 - 1 / horizon, depth=horizon + 50)
            cells, extra = [], ""
            for strategy in strategies:
                rng = np.random.default_rng(args.seed + 1)
                if strategy == "RL2":
                    # meta-trained on tasks of its own seed, never on these
                    begin = time.perf_counter()
                    agent = RL2Agent(max_updates=args.rl2_updates, verbose=0,
                                     random_state=args.seed + 2).meta_fit(env)
                    extra = f", RL2 meta-training {time.perf_counter() - begin:.0f} s"
                    _, actions = agent.run_trials(env, tasks, random_state=args.seed + 1)
                    pulled = np.take_along_axis(means, actions, axis=1)
                    regret = (means.max(axis=1)[:, None] - pulled).sum(axis=1)
                else:
                    regret = play(strategy, means, uniforms, rng, table)
                ci = 1.96 * regret.std(ddof=1) / np.sqrt(len(regret))
                cells.append(f"{regret.mean():7.2f} ± {ci:5.2f}")
            print(f"{n_arms:>4} {horizon:>4} " + " ".join(f"{c:>16}" for c in cells)
                  + f"   ({time.perf_counter() - start:.1f} s{extra})", flush=True)


if __name__ == "__main__":
    main()
