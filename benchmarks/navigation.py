"""2-D navigation: MAML on policies against a policy pretrained on all goals.

MAML's reinforcement-learning comparison (Finn et al., 2017, Sec. 5.3,
Fig. 4) on :class:`~sklmeta.rl.PointNavigationEnv`: a point starts at the
origin and must find a goal it does not see from rewards of minus its
distance. Three initial policies adapt to the same new goals by the same
policy-gradient steps (20 episodes per step):

- ``MAML``: :class:`~sklmeta.rl.MAMLAgent` from its defaults;
- ``pretrained``: the same agent meta-trained with ``n_inner_steps=0``,
  plain policy gradient over goals drawn at random, for the same number
  of updates;
- ``random``: the untrained initial policy.

MAML adapts with the step size it was meta-trained for (``inner_lr``); the
pretrained and random policies with each of ``--step-sizes``, the best of
which (by the return after the last step) is the one drawn.

Prints the mean return per episode (100 steps) before adaptation and after
each step, mean ± 95% CI over the test goals, with the meta-training
times; ``--figure`` draws the mean-action paths to a few goals before and
after 1 and 3 steps::

    python benchmarks/navigation.py --figure docs/images/navigation_maml.png
"""

import argparse
import time

import numpy as np

from sklmeta.exceptions import DivergenceError
from sklmeta.rl import MAMLAgent, PointNavigationEnv


def mean_ci(values):
    return values.mean(), 1.96 * values.std(ddof=1) / np.sqrt(len(values))


def draw(paths, tasks, names, steps, filename):
    """One panel per goal and initial policy: the mean-action path before
    adaptation and after each step in ``steps``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(names), len(tasks), figsize=(3.2 * len(tasks),
                                                              3.3 * len(names)),
                             sharex=True, sharey=True, squeeze=False)
    colours = plt.cm.viridis(np.linspace(0.0, 0.85, len(steps)))
    for row, name in zip(axes, names):
        for k, (ax, task) in enumerate(zip(row, tasks)):
            ax.add_patch(plt.Rectangle((-0.5, -0.5), 1.0, 1.0, fill=False, linestyle=":",
                                       color="grey"))  # where goals are drawn
            for colour, step in zip(colours, steps):
                ax.plot(*paths[name][k, step].T, color=colour, linewidth=1.8,
                        label=f"after {step} step{'s' if step != 1 else ''}" if step
                        else "before adaptation")
            ax.plot(*task["goal"], marker="*", markersize=15, color="tab:red",
                    linestyle="none", label="goal")
            ax.plot(0, 0, marker="o", color="black", linestyle="none", label="start")
            ax.set_xlim(-0.6, 0.6)
            ax.set_ylim(-0.6, 0.6)
            ax.set_aspect("equal")
            ax.grid(alpha=0.3)
        row[0].set_ylabel(name)
    axes[0, 0].legend(loc="lower left", fontsize=7)
    fig.suptitle("Path of the mean action to a new goal, before and after adaptation")
    fig.tight_layout()
    fig.savefig(filename, dpi=100)
    print(f"figure written to {filename}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=None,
                        help="meta-training updates of MAML and the pretrained policy "
                        "(default: MAMLAgent's max_updates)")
    parser.add_argument("--n-tasks", type=int, default=100, help="test goals")
    parser.add_argument("--steps", type=int, default=3, help="adaptation steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--step-sizes", type=float, nargs="+", default=[0.1, 0.01, 0.001],
                        help="adaptation step sizes tried for the pretrained and random "
                        "policies")
    parser.add_argument("--figure", default=None, help="draw the paths to this file")
    args = parser.parse_args(argv)
    env = PointNavigationEnv()
    extra = {} if args.updates is None else {"max_updates": args.updates}
    agents = {
        "MAML": MAMLAgent(random_state=args.seed, **extra),
        "pretrained": MAMLAgent(n_inner_steps=0, random_state=args.seed, **extra),
        "random": MAMLAgent(max_updates=0, random_state=args.seed),
    }
    tasks = env.sample_tasks(args.n_tasks, random_state=args.seed + 1000)
    header = " ".join(f"{f'{k} steps':>15}" for k in range(args.steps + 1))
    print(f"{'':>24} {header}   meta-training")
    paths = {}
    for name, agent in agents.items():
        start = time.perf_counter()
        agent.set_params(verbose=0).meta_fit(env)
        seconds = time.perf_counter() - start
        # MAML adapts with the step it was meta-trained for; the others get
        # every step size of the grid, the best of which is theirs
        step_sizes = [agent.inner_lr] if name == "MAML" else args.step_sizes
        best = -np.inf
        for step_size in step_sizes:
            label = f"{name} (step {step_size:g})"
            try:
                returns, drawn = agent.set_params(inner_lr=step_size).run_trials(
                    env, tasks, n_adaptation_steps=args.steps, random_state=args.seed + 1)
            except DivergenceError:
                print(f"{label:>24} adaptation diverged")
                continue
            cells = " ".join("{:7.2f} ± {:5.2f}".format(*mean_ci(returns[:, k]))
                             for k in range(args.steps + 1))
            print(f"{label:>24} {cells}   {seconds:.0f} s", flush=True)
            if returns[:, -1].mean() > best:
                best, paths[name] = returns[:, -1].mean(), drawn
    if args.figure:
        shown = [0, 1, args.steps] if args.steps > 1 else list(range(args.steps + 1))
        # three goals far from the start, in three directions
        goals = np.stack([task["goal"] for task in tasks])
        angles = np.arctan2(goals[:, 1], goals[:, 0])
        far = np.linalg.norm(goals, axis=1) > 0.25
        picked = [int(np.argmin(np.where(far, np.abs(np.angle(np.exp(1j * (angles - a)))),
                                         np.inf)))
                  for a in np.deg2rad([45, 165, 285])]
        draw({k: v[picked] for k, v in paths.items()}, [tasks[i] for i in picked],
             ["MAML", "pretrained"], shown, args.figure)


if __name__ == "__main__":
    main()
