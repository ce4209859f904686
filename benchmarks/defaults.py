"""What each learner reaches from its default parameters in a short time budget.

A new user's first try: ``SomeLearner(max_time=...)`` with nothing else set,
meta-trained on Omniglot's background characters, then tested on 5-way
1-shot and 5-way 5-shot episodes of the evaluation characters (alphabets
never seen in meta-training), the same episodes for every learner.

Usage::

    python benchmarks/defaults.py                          # every learner, 90 s each
    python benchmarks/defaults.py protonet maml --seconds 60
    python benchmarks/defaults.py relation --set n_shot=1  # a 1-shot-trained model
    python benchmarks/defaults.py --seconds 30 90 240 --figure docs/images/accuracy_vs_minutes.png
    python benchmarks/defaults.py --redraw run.log --figure accuracy.png  # from a run's output

Prints, per learner and budget, the episodes meta-training got through,
accuracy ± 95% CI at 1 and 5 shots, and whether 5-shot scores at least as
well as 1-shot (a model must not collapse when the shot count changes).
With several budgets, each is a run of its own from scratch (the defaults'
schedules follow ``max_time``), and ``--figure`` draws the error rate
against minutes of meta-training per learner.
"""

import argparse
import re
import time
from pathlib import Path

import numpy as np

from sklmeta import (
    MAMLClassifier,
    MANNClassifier,
    ProtoNetClassifier,
    ReptileClassifier,
    evaluate_episodes,
)
from sklmeta.model_selection import EpisodeEvaluation
from sklmeta.datasets import load_omniglot
from sklmeta.metric_based import MatchingNetClassifier, RelationNetClassifier, SiameseClassifier

from omniglot_evaluate import assignment  # the script's folder is on sys.path

LEARNERS = {
    "protonet": ProtoNetClassifier,
    "matching": MatchingNetClassifier,
    "relation": RelationNetClassifier,
    "siamese": SiameseClassifier,
    "maml": MAMLClassifier,
    "reptile": ReptileClassifier,
    "mann": MANNClassifier,
}


def chosen_learners(parser, names, available):
    """The learners named on the command line (all when none), checked."""
    unknown = sorted(set(names) - set(available))
    if unknown:
        parser.error(f"unknown learners {unknown}; choose from {list(available)}")
    return names or list(available)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("learners", nargs="*", metavar="LEARNER",
                        help=f"any of {', '.join(LEARNERS)} (default: all)")
    parser.add_argument("--seconds", type=float, nargs="+", default=[90.0],
                        help="meta-training budgets of each learner (max_time), "
                             "one run from scratch per budget")
    parser.add_argument("--figure", default=None, metavar="PNG",
                        help="draw accuracy against minutes of meta-training")
    parser.add_argument("--redraw", default=None, metavar="LOG",
                        help="draw --figure from the printed output of an earlier run, "
                             "training nothing")
    parser.add_argument("--n-episodes", type=int, default=100)
    parser.add_argument("--set", type=assignment, action="append", default=[],
                        metavar="NAME=VALUE", help="override a default parameter")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = chosen_learners(parser, args.learners, LEARNERS)
    if args.redraw:
        if not args.figure:
            parser.error("--redraw needs --figure")
        draw(read_printed_rows(args.redraw), args.figure)
        print("figure written to", args.figure)
        return
    if any(seconds <= 0 for seconds in args.seconds):
        parser.error("--seconds must be positive")

    train = load_omniglot(split="background")
    test = load_omniglot(split="evaluation")
    budgets = ", ".join(f"{seconds:g}" for seconds in args.seconds)
    print(f"meta-training on {len(set(train.target))} background characters, "
          f"{budgets} s each; testing on {args.n_episodes} episodes of "
          f"{len(set(test.target))} evaluation characters")
    if args.set:
        print("overrides:", dict(args.set))
    rows = []
    for name in names:
        for budget in args.seconds:
            rows.append(run_one(name, budget, train, test, args))

    print("\n| learner | budget | meta-training | episodes | 5-way 1-shot | 5-way 5-shot |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['learner']} | {row['budget']:g} s | {row['seconds']:.0f} s "
              f"| {row['episodes']} | {row['scores'][0]} | {row['scores'][1]} |")
    if args.figure:
        draw(rows, args.figure)
        print("figure written to", args.figure)


PRINTED_ROW = re.compile(
    r"^\| (\w+) \| ([\d.]+) s \| ([\d.]+) s \| (\d+) \| ([\d.]+) ± ([\d.]+)% "
    r"\| ([\d.]+) ± ([\d.]+)% \|$"
)


def read_printed_rows(filename):
    """The rows of the table an earlier run printed, as ``run_one`` returns them."""
    rows = []
    for line in Path(filename).read_text().splitlines():
        match = PRINTED_ROW.match(line.strip())
        if match:
            name, budget, seconds, episodes, *figures = match.groups()
            figures = [float(figure) / 100 for figure in figures]
            scores = [EpisodeEvaluation(figures[0], figures[1], np.empty(0)),
                      EpisodeEvaluation(figures[2], figures[3], np.empty(0))]
            rows.append({"learner": name, "budget": float(budget),
                         "seconds": float(seconds), "episodes": int(episodes),
                         "scores": scores})
    if not rows:
        raise SystemExit(f"{filename} holds no table printed by this script")
    return rows


def run_one(name, budget, train, test, args):
    """Meta-train one learner from its defaults for ``budget`` seconds, then
    score it at 5-way 1-shot and 5-way 5-shot."""
    # the budget alone decides: the epoch cap is out of reach
    learner = LEARNERS[name](max_time=budget, max_epochs=10**6, verbose=0,
                             random_state=args.seed)
    learner.set_params(**dict(args.set))
    start = time.perf_counter()
    learner.meta_fit(train.data, train.target)
    seconds = time.perf_counter() - start
    n_episodes = sum(len(epoch["batches"]) * learner.meta_batch_size
                     for epoch in learner.history_)
    scores = [evaluate_episodes(learner, test.data, test.target, n_way=5, n_shot=n_shot,
                                n_query=15, n_episodes=args.n_episodes,
                                random_state=args.seed)
              for n_shot in (1, 5)]
    holds = scores[1].mean >= scores[0].mean
    print(f"{name:9s} {budget:5g} s budget {seconds:5.0f} s {n_episodes:6d} episodes   "
          f"5-way 1-shot {scores[0]}   5-way 5-shot {scores[1]}   "
          f"5-shot >= 1-shot: {'yes' if holds else 'NO'}", flush=True)
    return {"learner": name, "budget": budget, "seconds": seconds,
            "episodes": n_episodes, "scores": scores}


def draw(rows, filename):
    """Error rate (with its 95% CI) against minutes of meta-training, both on
    log scales, one line per learner, one panel per number of shots. Error
    on a log scale keeps apart learners at 97% and at 99% as well as those
    at 60%."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    for panel, (axis, n_shot) in enumerate(zip(axes, (1, 5))):
        for name in dict.fromkeys(row["learner"] for row in rows):
            runs = [row for row in rows if row["learner"] == name]
            minutes = [row["seconds"] / 60 for row in runs]
            errors = [100 * (1 - row["scores"][panel].mean) for row in runs]
            intervals = [100 * row["scores"][panel].ci95 for row in runs]
            axis.errorbar(minutes, errors, yerr=intervals, marker="o", capsize=3,
                          label=name)
        axis.set_xscale("log")
        budgets = sorted({row["budget"] for row in rows})
        axis.set_xticks([budget / 60 for budget in budgets],
                        [f"{budget / 60:g}" for budget in budgets])
        axis.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        axis.set_yscale("log", nonpositive="clip")
        ticks = [0.5, 1, 2, 5, 10, 20, 50, 100]
        axis.set_yticks(ticks, [f"{tick:g}" for tick in ticks])
        axis.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        axis.set_xlabel("minutes of meta-training (log scale)")
        axis.set_title(f"Omniglot, 5-way {n_shot}-shot, unseen alphabets")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("error, 100 - accuracy (%, log scale; lower is better)")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
    fig.tight_layout()
    fig.savefig(filename, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
