"""Text few-shot benchmark: which module does a one-line docstring come from?

No text data is downloaded. The corpus is built from what is installed: the
first paragraph (summary) of the docstring of every public function and
class of numpy, scipy, scikit-learn, torch and pandas, labelled by the
public module that exports it, cut at two levels (``scipy.stats``,
``sklearn.metrics``, ``torch.nn``, ...). Modules with at least
``--min-per-class`` distinct summaries are the classes; they are split at
random into meta-training and evaluation classes, disjoint. The task is then:
from one (or five) summaries of each of five unseen modules, tell which
module other summaries come from. The corpus depends on the installed
versions, so figures are comparable only within one environment.

Usage::

    python benchmarks/text_fewshot.py
    python benchmarks/text_fewshot.py --n-episodes 100

Prints accuracy ± 95% confidence interval per method and setting against
plain scikit-learn baselines on the same episodes.
"""

import argparse
import importlib
import inspect
import pkgutil
import time
import warnings
from collections import defaultdict

import numpy as np
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import make_pipeline

from sklmeta import EpisodeSplit, ProtoNetClassifier, train_test_class_split
from sklmeta.pipeline import make_meta_pipeline

PACKAGES = ("numpy", "scipy", "sklearn", "torch", "pandas")


def docstring_corpus(packages=PACKAGES, min_per_class=20):
    """Docstring summaries labelled by the two-level public module exporting them."""
    texts = defaultdict(set)
    seen = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for root in packages:
            package = importlib.import_module(root)
            names = [root] + [
                info.name
                for info in pkgutil.walk_packages(package.__path__, root + ".")
                if not any(part.startswith("_") or part in ("tests", "testing", "conftest")
                           for part in info.name.split(".")[1:])
            ]
            for name in sorted(names, key=lambda n: (n.count("."), n)):
                try:
                    module = importlib.import_module(name)
                except Exception:  # optional dependencies, platform-only modules
                    continue
                label = ".".join(name.split(".")[:2])
                public = getattr(module, "__all__", None) or [
                    a for a in vars(module) if not a.startswith("_")
                ]
                for attr in public:
                    try:
                        obj = getattr(module, attr)
                    except Exception:  # lazy attributes that refuse to load
                        continue
                    if not (inspect.isfunction(obj) or inspect.isclass(obj)
                            or inspect.isbuiltin(obj)):
                        continue
                    if not str(getattr(obj, "__module__", "") or "").startswith(root):
                        continue
                    if id(obj) in seen:
                        continue
                    seen.add(id(obj))
                    doc = inspect.getdoc(obj)
                    if not doc:
                        continue
                    summary = " ".join(doc.strip().split("\n\n")[0].split())
                    if len(summary.split()) >= 3:
                        texts[label].add(summary)
    X, y = [], []
    for label in sorted(texts):
        if len(texts[label]) >= min_per_class:
            for summary in sorted(texts[label]):
                X.append(summary)
                y.append(label)
    return np.array(X, dtype=object), np.array(y)


def episode_scores(estimator, X, y, cv):
    scores = []
    for support, query in cv.split(X, y):
        adapted = clone(estimator).fit(list(X[support]), y[support])
        scores.append(adapted.score(list(X[query]), y[query]))
    scores = np.asarray(scores)
    return scores.mean(), 1.96 * scores.std() / np.sqrt(len(scores))


def main(argv=None):
    # NearestCentroid warns when a 1-shot support set has no within-class spread
    warnings.filterwarnings("ignore", message=".*within_class_std_dev_.*")
    warnings.filterwarnings("ignore", message="invalid value encountered in divide")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-episodes", type=int, default=600)
    parser.add_argument("--n-query", type=int, default=15)
    parser.add_argument("--min-per-class", type=int, default=20)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--episodes-per-epoch", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    X, y = docstring_corpus(min_per_class=args.min_per_class)
    X_pool, X_test, y_pool, y_test = train_test_class_split(
        X.reshape(-1, 1), y, test_size=0.4, random_state=args.seed
    )
    X_pool, X_test = X_pool.ravel(), X_test.ravel()
    print(f"corpus: {len(y)} summaries of {len(np.unique(y))} modules, built in "
          f"{time.perf_counter() - start:.0f} s; meta-training on "
          f"{len(np.unique(y_pool))} modules, evaluating on {len(np.unique(y_test))} "
          f"others: {', '.join(np.unique(y_test))}")

    protonet = make_meta_pipeline(
        TfidfVectorizer(sublinear_tf=True),
        ProtoNetClassifier(encoder="mlp", n_way=10, n_shot=5, n_query=10,
                           max_epochs=args.max_epochs,
                           episodes_per_epoch=args.episodes_per_epoch,
                           verbose=0, random_state=args.seed),
    )
    start = time.perf_counter()
    protonet.meta_fit(list(X_pool), y_pool)
    print(f"MetaPipeline(TfidfVectorizer, ProtoNet): meta-trained in "
          f"{time.perf_counter() - start:.1f} s, vocabulary of "
          f"{len(protonet[0].vocabulary_)} words from the meta-training modules")

    methods = {
        "MetaPipeline(TfidfVectorizer, ProtoNet)": protonet,
        "MetaPipeline(TfidfVectorizer, NearestCentroid)": make_meta_pipeline(
            TfidfVectorizer(sublinear_tf=True), NearestCentroid()
        ).meta_fit(list(X_pool), y_pool),
        "TfidfVectorizer + NearestCentroid (support only)": make_pipeline(
            TfidfVectorizer(sublinear_tf=True), NearestCentroid()
        ),
        "TfidfVectorizer + LogisticRegression (support only)": make_pipeline(
            TfidfVectorizer(sublinear_tf=True), LogisticRegression(max_iter=1000)
        ),
    }
    print(f"\n{'method':<52} {'5-way 1-shot':>16} {'5-way 5-shot':>16}")
    for name, method in methods.items():
        cells = []
        for n_shot in (1, 5):
            cv = EpisodeSplit(n_way=5, n_shot=n_shot, n_query=args.n_query,
                              n_episodes=args.n_episodes, random_state=args.seed)
            mean, ci = episode_scores(method, X_test, y_test, cv)
            cells.append(f"{100 * mean:.2f} ± {100 * ci:.2f}%")
        print(f"{name:<52} {cells[0]:>16} {cells[1]:>16}")


if __name__ == "__main__":
    main()
