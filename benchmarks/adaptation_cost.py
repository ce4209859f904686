"""What adapting to a new task costs, per learner from its defaults.

For each learner, a network built untrained from its defaults
(``meta_fit`` with ``max_epochs=0``: the cost of adaptation does not depend
on what the weights hold) adapts to 5-way Omniglot episodes of the
evaluation characters and answers their 75 queries. Prints per learner the
median milliseconds of ``fit`` and of ``predict`` at 1 and 5 shots, the
number of meta-learned parameters and the size of the saved model
(:func:`sklmeta.save_estimator`).

Usage::

    python benchmarks/adaptation_cost.py
    python benchmarks/adaptation_cost.py protonet maml --episodes 50

One thread or two: ``--threads`` (default: torch's own choice).
"""

import argparse
import io
import statistics
import time

import torch

from sklmeta import EpisodeSampler, FineTuneClassifier, save_estimator
from sklmeta.datasets import load_omniglot

from defaults import LEARNERS, chosen_learners  # the script's folder is on sys.path

CONTENDERS = {**LEARNERS, "finetune": FineTuneClassifier}


def median_ms(seconds):
    return 1000 * statistics.median(seconds)


def measure(name, pool, test, args):
    learner = CONTENDERS[name](max_epochs=0, verbose=0, random_state=args.seed)
    learner.meta_fit(pool.data, pool.target)
    n_parameters = sum(p.numel() for p in learner.module_.parameters())
    saved = io.BytesIO()
    save_estimator(learner, saved)
    row = {"learner": name, "parameters": n_parameters, "saved_mb": saved.tell() / 2**20}
    for n_shot in (1, 5):
        sampler = EpisodeSampler(test.data, test.target, n_way=5, n_shot=n_shot, n_query=15,
                                 n_episodes=args.episodes + 2, random_state=args.seed)
        fit_seconds, predict_seconds = [], []
        for index, task in enumerate(sampler):
            start = time.perf_counter()
            learner.fit(task.X_support, task.y_support)
            middle = time.perf_counter()
            learner.predict(task.X_query)
            end = time.perf_counter()
            if index >= 2:  # two warm-up episodes
                fit_seconds.append(middle - start)
                predict_seconds.append(end - middle)
        row[f"fit_{n_shot}"] = median_ms(fit_seconds)
        row[f"predict_{n_shot}"] = median_ms(predict_seconds)
    print(f"{name:9s} fit {row['fit_1']:7.1f} / {row['fit_5']:7.1f} ms   "
          f"predict {row['predict_1']:6.1f} / {row['predict_5']:6.1f} ms   "
          f"{n_parameters:9,d} parameters   {row['saved_mb']:5.2f} MB saved", flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("learners", nargs="*", metavar="LEARNER",
                        help=f"any of {', '.join(CONTENDERS)} (default: all)")
    parser.add_argument("--episodes", type=int, default=20,
                        help="timed episodes per setting, after two warm-up ones")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = chosen_learners(parser, args.learners, CONTENDERS)
    if args.episodes < 1:
        parser.error("--episodes must be at least 1")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    pool = load_omniglot(split="background")
    test = load_omniglot(split="evaluation")
    print(f"5-way episodes, 75 queries; medians of {args.episodes} episodes; "
          f"{torch.get_num_threads()} threads; fit and predict at 1 / 5 shots")
    rows = [measure(name, pool, test, args) for name in names]

    print("\n| learner | fit, 1 / 5 shots | predict 75 queries, 1 / 5 shots "
          "| parameters | saved |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['learner']} | {row['fit_1']:.1f} / {row['fit_5']:.1f} ms "
              f"| {row['predict_1']:.1f} / {row['predict_5']:.1f} ms "
              f"| {row['parameters']:,} | {row['saved_mb']:.2f} MB |")


if __name__ == "__main__":
    main()
