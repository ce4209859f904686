"""Evaluate a learner pickled by ``omniglot.py --save`` on Omniglot test episodes.

Usage::

    python benchmarks/omniglot_evaluate.py reptile.pkl --settings 5:1 5:5
    python benchmarks/omniglot_evaluate.py reptile.pkl --transductive 0 --n-episodes 300
    python benchmarks/omniglot_evaluate.py reptile.pkl --set adapt_batch_size=10 --split val

Prints accuracy ± 95% confidence interval and the wall time of each
setting (n-way:n-shot, 15 queries per class), drawn as ``omniglot.py``
draws them. ``--transductive`` and ``--set name=value`` override the
learner's own adaptation options.
"""

import argparse
import ast
import pickle
import sys
import time
from pathlib import Path

from sklmeta import evaluate_episodes
from sklmeta.datasets import load_omniglot


def setting(text):
    try:
        n_way, n_shot = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected n_way:n_shot such as 5:1, got {text!r}")
    return n_way, n_shot


def assignment(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected name=value such as adapt_lr=0.001, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(f"{value!r} in {text!r} is not a Python literal")


def main(argv=None):
    # the learners' callbacks (e.g. Reptile's anneal) live beside this script
    sys.path.insert(0, str(Path(__file__).parent))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pickle", help="file written by omniglot.py --save")
    parser.add_argument("--settings", type=setting, nargs="+",
                        default=[(5, 1), (5, 5), (20, 1), (20, 5)])
    parser.add_argument("--n-episodes", type=int, default=600)
    parser.add_argument("--n-query", type=int, default=15)
    parser.add_argument("--transductive", type=int, choices=(0, 1), default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", type=assignment, nargs="+", default=[], metavar="NAME=VALUE",
                        help="learner parameters to set before evaluating, such as "
                             "n_adapt_steps=100")
    parser.add_argument("--split", choices=("test", "val"), default="test",
                        help="characters to draw episodes from; 'val' to choose settings")
    args = parser.parse_args(argv)
    with open(args.pickle, "rb") as f:
        learner = pickle.load(f)
    if args.transductive is not None:
        learner.set_params(transductive=bool(args.transductive))
    if args.set:
        learner.set_params(**dict(args.set))
        final = learner.steps[-1][1] if hasattr(learner, "steps") else learner
        if not hasattr(final, "history_"):
            parser.error("--set changed a parameter of meta-training, which drops "
                         "what the pickle learned; set adaptation options only")
    print(", ".join(f"{name}={value!r}" for name, value in learner.get_params().items()
                    if name in ("n_adapt_steps", "adapt_lr", "adapt_batch_size",
                                "transductive")), flush=True)
    test = load_omniglot(split=args.split, rotations=True)
    for n_way, n_shot in args.settings:
        start = time.perf_counter()
        result = evaluate_episodes(
            learner, test.data, test.target, n_way=n_way, n_shot=n_shot,
            n_query=args.n_query, n_episodes=args.n_episodes, random_state=args.seed,
        )
        print(f"{n_way:>3}-way {n_shot}-shot {str(result):>20} "
              f"{time.perf_counter() - start:>6.0f}s", flush=True)


if __name__ == "__main__":
    main()
