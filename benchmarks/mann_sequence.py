"""The sequential protocol of Santoro et al. (2016) for MANNClassifier on Omniglot.

Meta-trains a MANN as ``benchmarks/omniglot.py --learner mann`` does, then
scores it two ways on the characters of the test split:

* the paper's protocol: streams of 5 classes x 10 samples in random order,
  each sample shown with the label of the one before; the accuracy of the
  prediction made for the 1st, 2nd, 3rd, 4th, 5th and 10th presentation of each
  class (``MANNClassifier.predict_online``);
* the shared protocol: 5-way 1-shot and 5-shot episodes with 15 queries per
  class (``fit`` on the support set, then ``predict``), accuracy ± 95% CI.

``--budget-minutes`` is the MANN's meta-training budget; the default
front end (a Prototypical Network, see ``omniglot_learners/mann.py``) has
its own, ``--front-end-minutes``.

Usage::

    python benchmarks/mann_sequence.py --budget-minutes 15
    python benchmarks/mann_sequence.py --front-end pixels --budget-minutes 15
    python benchmarks/mann_sequence.py --budget-minutes 1 --front-end-minutes 1 \
        --n-streams 100 --n-episodes 100
"""

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from omniglot import final_step, use_fast_malloc  # noqa: E402
from time_budget import TimeBudget  # noqa: E402
from omniglot_learners import mann  # noqa: E402

from sklmeta import EpisodeSampler, MetaPipeline, evaluate_episodes  # noqa: E402
from sklmeta.datasets import load_omniglot  # noqa: E402

# Santoro et al. (2016), Table 1, 5-way Omniglot, MANN with LRUA: accuracy (%)
# at the n-th presentation of a class (1st = never seen before).
PAPER_INSTANCES = {1: 36.4, 2: 82.8, 3: 91.0, 4: 92.6, 5: 94.9, 10: 98.1}
INSTANCES = (1, 2, 3, 4, 5, 10)


def instance_accuracy(learner, X, y, n_streams, n_way, per_class, seed):
    """Mean accuracy and 95% CI half-width at each presentation, over streams."""
    rng = np.random.RandomState(seed)
    classes = np.unique(y)
    by_class = {c: np.flatnonzero(y == c) for c in classes}
    correct = np.zeros((n_streams, per_class))
    for stream in range(n_streams):
        chosen = rng.choice(classes, n_way, replace=False)
        rows = np.concatenate([rng.choice(by_class[c], per_class, replace=False)
                               for c in chosen])
        rows = rows[rng.permutation(len(rows))]
        labels = y[rows]
        predictions = learner.predict_online(X[rows], labels)
        seen = {}
        for label, hit in zip(labels, predictions == labels):
            k = seen.get(label, 0)
            seen[label] = k + 1
            correct[stream, k] += hit / n_way
    mean = correct.mean(axis=0)
    ci95 = 1.96 * correct.std(axis=0, ddof=1) / np.sqrt(n_streams)
    return mean, ci95


def stream_inputs(learner, X):
    """The MANN and ``X`` as it sees it (through the front end of a pipeline)."""
    if isinstance(learner, MetaPipeline):
        return final_step(learner), learner[:-1].transform(X)
    return learner, X


def meta_train(learner, args, train, val):
    """Meta-train (front end, optional warm-up, then the MANN); print the figures."""
    start = time.perf_counter()
    n_warmup = 0
    if args.warmup_way:
        # a curriculum: few classes first, each episode still shuffling
        # its labels over all the n_way slots
        warmup = EpisodeSampler(train.data, train.target, n_way=args.warmup_way,
                                n_shot=args.train_shot, n_query=args.train_query,
                                random_state=args.seed + 1)
        learner.set_params(callbacks=mann.meta_callbacks(
            [TimeBudget(args.warmup_minutes)], args.threads))
        learner.meta_fit(warmup)
        n_warmup = sum(sum(learner.history_[:, "batches", :, "train_batch_size"], []))
        print(f"warm-up: {n_warmup} episodes of {args.warmup_way}x"
              f"{args.train_shot + args.train_query} steps in "
              f"{time.perf_counter() - start:.0f} s, last train_acc "
              f"{learner.history_[-1, 'train_acc']:.4f}")
        rest = args.budget_minutes - args.warmup_minutes
        learner.set_params(callbacks=mann.meta_callbacks([TimeBudget(rest)], args.threads),
                           warm_start=True)
    learner.meta_fit(train.data, train.target, validation_data=(val.data, val.target))
    total_time = time.perf_counter() - start
    history = final_step(learner).history_
    mann_time = sum(history[:, "dur"])
    n_train = sum(sum(history[:, "batches", :, "train_batch_size"], [])) - n_warmup
    if isinstance(learner, MetaPipeline):
        print(f"\nfront end: meta-trained and embedded the pool in "
              f"{total_time - mann_time:.0f} s")
    print(f"meta-training: {n_warmup} warm-up episodes, then {n_train} episodes of "
          f"{args.train_way}x{args.train_shot + args.train_query} steps, in "
          f"{mann_time:.0f} s = {(n_train + n_warmup) / mann_time:.2f} episodes/s; "
          f"last train_acc {history[-1, 'train_acc']:.4f}, valid_acc "
          f"{history[-1, 'valid_acc']:.4f} (every step of the streams)")
    return learner


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-minutes", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    parser.add_argument("--n-streams", type=int, default=1000,
                        help="test streams of the paper's protocol")
    parser.add_argument("--n-episodes", type=int, default=600,
                        help="test episodes per setting of the shared protocol")
    parser.add_argument("--n-query", type=int, default=15)
    parser.add_argument("--default-malloc", action="store_true")
    parser.add_argument("--warmup-way", type=int, default=None,
                        help="meta-train first on episodes of this many classes (a curriculum)")
    parser.add_argument("--warmup-minutes", type=float, default=0.0,
                        help="part of --budget-minutes spent on the --warmup-way episodes")
    parser.add_argument("--save", default=None, help="pickle the meta-trained learner here")
    parser.add_argument("--load", default=None,
                        help="evaluate a learner pickled by --save instead of meta-training")
    mann.add_arguments(parser)
    for name in ("train_way", "train_shot", "train_query", "max_epochs",
                 "episodes_per_epoch", "n_val_episodes"):
        parser.add_argument("--" + name.replace("_", "-"), type=int,
                            default=mann.DEFAULTS[name])
    args = parser.parse_args(argv)
    if args.warmup_way and args.front_end != "pixels":
        parser.error("--warmup-way needs --front-end pixels")
    if not args.default_malloc:
        use_fast_malloc()

    train = load_omniglot(split="train", rotations=True)
    val = load_omniglot(split="val", rotations=True)
    test = load_omniglot(split="test", rotations=True)
    learner = mann.build(args, [TimeBudget(args.budget_minutes)])
    print(f"torch {torch.__version__}; MANN on {args.threads} thread(s), budget "
          f"{args.budget_minutes} min; front end {args.front_end}"
          + (f", budget {args.front_end_minutes} min" if args.front_end != "pixels" else ""))

    if args.load:
        with open(args.load, "rb") as f:
            learner = pickle.load(f)
        print(f"loaded {args.load}")
    else:
        learner = meta_train(learner, args, train, val)
        if args.save:
            with open(args.save, "wb") as f:
                pickle.dump(learner, f)

    per_class = args.train_shot + args.train_query
    start = time.perf_counter()
    streamer, X_streams = stream_inputs(learner, test.data)
    mean, ci95 = instance_accuracy(streamer, X_streams, test.target, args.n_streams,
                                   args.train_way, per_class, args.seed)
    print(f"\npaper's protocol: {args.n_streams} test streams, {args.train_way} classes x "
          f"{per_class} ({time.perf_counter() - start:.0f} s)")
    print(f"{'instance':>9} {'accuracy':>16} {'paper':>6}")
    for k in INSTANCES:
        if k <= per_class:
            paper = PAPER_INSTANCES.get(k)
            paper = f"{paper:>6.1f}" if paper is not None else f"{'-':>6}"
            print(f"{k:>9} {100 * mean[k - 1]:>8.2f} ± {100 * ci95[k - 1]:.2f}% {paper}")

    print(f"\nshared protocol: {args.n_episodes} test episodes, {args.n_query} queries per class")
    for (n_way, n_shot), reference in mann.PAPER.items():
        start = time.perf_counter()
        result = evaluate_episodes(
            learner, test.data, test.target, n_way=n_way, n_shot=n_shot,
            n_query=args.n_query, n_episodes=args.n_episodes, random_state=args.seed,
        )
        print(f"{n_way:>3}-way {n_shot}-shot {str(result):>20} (paper, instance "
              f"{n_shot + 1 if n_shot == 1 else n_shot}: {reference:.1f}) "
              f"{time.perf_counter() - start:>5.0f}s")


if __name__ == "__main__":
    main()
