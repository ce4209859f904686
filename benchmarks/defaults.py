"""What each learner reaches from its default parameters in a short time budget.

A new user's first try: ``SomeLearner(max_time=...)`` with nothing else set,
meta-trained on Omniglot's background characters, then tested on 5-way
1-shot and 5-way 5-shot episodes of the evaluation characters (alphabets
never seen in meta-training), the same episodes for every learner.

Usage::

    python benchmarks/defaults.py                          # every learner, 90 s each
    python benchmarks/defaults.py protonet maml --seconds 60
    python benchmarks/defaults.py relation --set n_shot=1  # a 1-shot-trained model

Prints, per learner, the epochs and episodes meta-training got through,
accuracy ± 95% CI at 1 and 5 shots, and whether 5-shot scores at least as
well as 1-shot (a model must not collapse when the shot count changes).
"""

import argparse
import time

from sklmeta import (
    MAMLClassifier,
    MANNClassifier,
    ProtoNetClassifier,
    ReptileClassifier,
    evaluate_episodes,
)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("learners", nargs="*", metavar="LEARNER",
                        help=f"any of {', '.join(LEARNERS)} (default: all)")
    parser.add_argument("--seconds", type=float, default=90.0,
                        help="meta-training budget of each learner (max_time)")
    parser.add_argument("--n-episodes", type=int, default=100)
    parser.add_argument("--set", type=assignment, action="append", default=[],
                        metavar="NAME=VALUE", help="override a default parameter")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = args.learners or list(LEARNERS)
    unknown = sorted(set(names) - set(LEARNERS))
    if unknown:
        parser.error(f"unknown learners {unknown}; choose from {list(LEARNERS)}")

    train = load_omniglot(split="background")
    test = load_omniglot(split="evaluation")
    print(f"meta-training on {len(set(train.target))} background characters, "
          f"{args.seconds:g} s each; testing on {args.n_episodes} episodes of "
          f"{len(set(test.target))} evaluation characters")
    if args.set:
        print("overrides:", dict(args.set))
    rows = []
    for name in names:
        # the budget alone decides: the epoch cap is out of reach
        learner = LEARNERS[name](max_time=args.seconds, max_epochs=10**6, verbose=0,
                                 random_state=args.seed)
        learner.set_params(**dict(args.set))
        start = time.perf_counter()
        learner.meta_fit(train.data, train.target)
        seconds = time.perf_counter() - start
        n_episodes = sum(len(epoch["batches"]) * learner.meta_batch_size
                         for epoch in learner.history_)
        scores = []
        for n_shot in (1, 5):
            result = evaluate_episodes(learner, test.data, test.target, n_way=5,
                                       n_shot=n_shot, n_query=15,
                                       n_episodes=args.n_episodes, random_state=args.seed)
            scores.append(result)
        holds = scores[1].mean >= scores[0].mean
        rows.append((name, seconds, n_episodes, *scores, holds))
        print(f"{name:9s} {seconds:5.0f} s {n_episodes:6d} episodes   "
              f"5-way 1-shot {scores[0]}   5-way 5-shot {scores[1]}   "
              f"5-shot >= 1-shot: {'yes' if holds else 'NO'}", flush=True)

    print("\n| learner | meta-training | episodes | 5-way 1-shot | 5-way 5-shot |")
    print("|---|---|---|---|---|")
    for name, seconds, n_episodes, one, five, _ in rows:
        print(f"| {name} | {seconds:.0f} s | {n_episodes} | {one.mean:.3f} | {five.mean:.3f} |")


if __name__ == "__main__":
    main()
