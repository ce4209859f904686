"""Out-of-scope rejection on CLINC150: new intents from five utterances each,
and requests that belong to none of them.

As in Larson et al. (2019), a classifier answers "out of scope" when its
largest predicted probability is below a threshold chosen on validation
data, and in-scope accuracy (queries answered with their intent) is
reported beside out-of-scope recall (out-of-scope requests rejected).

Few-shot protocol: the package's text learners (``text`` and ``text-lr``)
are meta-trained on the intents of seven domains (a
:class:`~sklmeta.TaskMixture`, one source per domain), as in
``clinc150_fewshot.py``. The threshold of every method is
chosen with :func:`~sklmeta.rejection.choose_rejection_threshold` on
episodes of the ``val`` utterances of those seven domains' intents, against
the 100 out-of-scope ``val`` utterances. Testing draws ``--n-episodes``
episodes of the held-out domains' intents, fitted on their support sets
alone, with ``--n-query`` in-scope queries per intent and ``--n-out``
out-of-scope ``test`` utterances per episode (the same for every method).

Run: ``python benchmarks/clinc150_oos.py`` (about ten minutes on two cores).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.base import clone

from clinc150_fewshot import BASELINES, META, meta_train
from sklmeta.datasets import load_clinc150
from sklmeta.model_selection import EpisodeSplit
from sklmeta.rejection import RejectOption, choose_rejection_threshold


def test_scores(method, threshold, X, y, X_out, cv, n_out, seed):
    """In-scope accuracy and out-of-scope recall, in %, with 95% CIs over episodes."""
    rng = np.random.RandomState(seed)
    accuracy, recall = [], []
    for support, query in cv.split(X, y):
        fitted = RejectOption(method, threshold=threshold, reject_label="oos").fit(
            X[support], y[support])
        accuracy.append(np.mean(fitted.predict(X[query]) == y[query]))
        out = rng.choice(len(X_out), size=n_out, replace=False)
        recall.append(np.mean(fitted.predict(X_out[out]) == "oos"))
    return [(100 * np.mean(v), 100 * 1.96 * np.std(v) / np.sqrt(len(v)))
            for v in (accuracy, recall)]


def main(argv=None):
    warnings.filterwarnings("ignore", message=".*within_class_std_dev_.*")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-domains", nargs="+", default=["banking", "travel", "work"])
    parser.add_argument("--n-episodes", type=int, default=200)
    parser.add_argument("--n-val-episodes", type=int, default=100)
    parser.add_argument("--n-query", type=int, default=10)
    parser.add_argument("--n-out", type=int, default=100,
                        help="out-of-scope test utterances per episode")
    parser.add_argument("--max-time", type=float, default=120,
                        help="seconds of meta-training for the package's pipeline")
    parser.add_argument("--methods", nargs="+", default=["lr", "text", "text-lr"],
                        choices=["lr", "text", "text-lr"])
    parser.add_argument("--seed", type=int, default=0)
    # read by meta_train
    parser.add_argument("--one-domain", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    clinc = load_clinc150(include_oos=True)
    oos = clinc.target == "oos"
    test = np.isin(clinc.domain, args.test_domains)
    meta = ~test & ~oos
    X_out_val = clinc.data[oos & (clinc.split == "val")]
    X_out_test = clinc.data[oos & (clinc.split == "test")]
    X_test, y_test = clinc.data[test], clinc.target[test]
    val = meta & (clinc.split == "val")
    X_val, y_val = clinc.data[val], clinc.target[val]
    print(f"meta-training on {len(np.unique(clinc.target[meta]))} intents; thresholds "
          f"on {len(X_out_val)} out-of-scope val utterances; testing on "
          f"{len(np.unique(y_test))} intents of {', '.join(args.test_domains)} and "
          f"{len(X_out_test)} out-of-scope test utterances")

    methods = {}
    for method in args.methods:
        if method == "lr":
            name, build = BASELINES["lr"]
            methods[name] = build()
        else:
            train = meta & (clinc.split != "val")
            methods[META[method]] = meta_train(method, clinc.data[train], clinc.target[train],
                                               clinc.domain[train], args)

    n_all = len(np.unique(y_test))
    print(f"\n{'method':<42}{'setting':>16}{'threshold':>10}{'in-scope acc':>16}"
          f"{'oos recall':>16}{'time':>7}")
    for name, method in methods.items():
        for way in (5, n_all):
            start = time.perf_counter()
            val_cv = EpisodeSplit(n_way=min(way, len(np.unique(y_val))), n_shot=5,
                                  n_query=5, n_episodes=args.n_val_episodes,
                                  random_state=args.seed)
            chosen = choose_rejection_threshold(clone(method), X_val, y_val, X_out_val,
                                                cv=val_cv)
            cv = EpisodeSplit(n_way=way, n_shot=5, n_query=args.n_query,
                              n_episodes=args.n_episodes, random_state=args.seed + 1)
            (acc, acc_ci), (rec, rec_ci) = test_scores(
                method, chosen.threshold, X_test, y_test, X_out_test, cv, args.n_out,
                args.seed)
            print(f"{name:<42}{f'{way}-way 5-shot':>16}{chosen.threshold:>10.2f}"
                  f"{f'{acc:.2f} ± {acc_ci:.2f}':>16}{f'{rec:.2f} ± {rec_ci:.2f}':>16}"
                  f"{time.perf_counter() - start:6.0f}s", flush=True)


if __name__ == "__main__":
    main()
