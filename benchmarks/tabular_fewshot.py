"""Tabular few-shot benchmark: when meta-learning pays on tabular data, and when not.

Two cases, every method scored on the same episodes of classes never seen
in meta-training; plain scikit-learn baselines fit on each support set
alone, or on the meta-training pool where they can use it.

``digits``: the 64 pixel intensities of ``load_digits`` as 64 tabular
features. Meta-training classes are the digits 0-4 under the eight flips
and rotations of the 8x8 grid (40 classes); evaluation episodes are 5-way
tasks on the digits 5-9 in their usual orientation. Little carries over
from rotated digits to other digits.

``shared``: a family of related synthetic tasks (:func:`related_tasks`):
new classes, but one nonlinear map from a small latent space to the
features and the same loud nuisance directions in every task, as when many
small problems are measured by the same instrument.

Usage::

    python benchmarks/tabular_fewshot.py
    python benchmarks/tabular_fewshot.py --cases shared --n-episodes 100

Prints accuracy ± 95% confidence interval per method and setting, and the
meta-training time.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklmeta import ProtoNetClassifier, evaluate_episodes
from sklmeta.baselines import FineTuneClassifier
from sklmeta.pipeline import make_meta_pipeline


def dihedral_classes(images, labels):
    """Each digit under the 8 symmetries of the square, as 8 new classes."""
    X, y = [], []
    for k in range(8):
        turned = np.rot90(images, k % 4, axes=(1, 2))
        if k >= 4:
            turned = turned[:, :, ::-1]
        X.append(turned.reshape(len(images), -1))
        y.append(labels * 8 + k)
    return np.concatenate(X), np.concatenate(y)


def related_tasks(n_classes, n_per_class, seed, n_latent=4, n_nuisance=8, n_features=64):
    """Classification tasks that share structure the raw features hide.

    Every class is a cluster in a small latent space, seen through one
    nonlinear map to ``n_features`` features that all tasks share, under
    loud nuisance directions (large variance, no class information) and
    some noise. The map and the nuisance directions are fixed (seed 0),
    so what one task teaches about them holds for every other; ``seed``
    draws the classes and samples. Returns ``X, y``.
    """
    shared = np.random.RandomState(0)
    lift = shared.randn(n_latent, n_features)
    mix = shared.randn(n_features, n_features) / np.sqrt(n_features)
    nuisance = shared.randn(n_nuisance, n_features)
    rng = np.random.RandomState(seed)
    centers = rng.randn(n_classes, n_latent)
    y = np.repeat(np.arange(n_classes), n_per_class)
    latent = centers[y] + 0.25 * rng.randn(len(y), n_latent)
    X = (np.tanh(latent @ lift) @ mix
         + 1.5 * rng.randn(len(y), n_nuisance) @ nuisance
         + 0.3 * rng.randn(len(y), n_features))
    return X.astype(np.float32), y


def digits_case(args):
    """Digits 0-4 under the dihedral group for meta-training; digits 5-9 to test."""
    digits = load_digits()
    train = digits.target < 5
    X_pool, y_pool = dihedral_classes(digits.images[train], digits.target[train])
    X_test, y_test = digits.data[~train], digits.target[~train]
    print(f"digits: meta-training pool {len(np.unique(y_pool))} classes, {len(y_pool)} "
          f"rows; evaluation: digits 5-9, {len(y_test)} rows, 64 features")
    protonet = make_meta_pipeline(
        StandardScaler(), PCA(64),
        ProtoNetClassifier(encoder="mlp", n_way=10, n_shot=5, n_query=10,
                           max_epochs=args.max_epochs,
                           episodes_per_epoch=args.episodes_per_epoch,
                           verbose=0, random_state=args.seed),
    )
    finetune = make_meta_pipeline(
        StandardScaler(),
        FineTuneClassifier(encoder="mlp", max_epochs=args.max_epochs, verbose=0,
                           random_state=args.seed),
    )
    methods = meta_train({"MetaPipeline(scaler, PCA(64), ProtoNet)": protonet,
                          "MetaPipeline(scaler, FineTune)": finetune}, X_pool, y_pool)
    methods["NearestCentroid (raw features)"] = NearestCentroid()
    methods["LogisticRegression (raw features)"] = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=1000)
    )
    methods["LogisticRegression (scaler fitted on pool)"] = make_meta_pipeline(
        StandardScaler(), LogisticRegression(max_iter=1000)
    ).meta_fit(X_pool, y_pool)
    return methods, X_test, y_test


def shared_case(args):
    """Related synthetic tasks (:func:`related_tasks`): 200 classes to meta-train on,
    100 new ones to test."""
    X_pool, y_pool = related_tasks(200, 40, seed=args.seed + 1)
    X_test, y_test = related_tasks(100, 40, seed=args.seed + 2)
    print(f"related tasks: meta-training pool 200 classes, {len(y_pool)} rows; "
          f"evaluation: 100 new classes, {len(y_test)} rows, 64 features")
    protonet = make_meta_pipeline(
        StandardScaler(),
        ProtoNetClassifier(encoder="mlp", n_way=10, n_shot=5, n_query=10,
                           max_epochs=args.max_epochs,
                           episodes_per_epoch=args.episodes_per_epoch,
                           verbose=0, random_state=args.seed),
    )
    methods = meta_train({"MetaPipeline(scaler, ProtoNet)": protonet}, X_pool, y_pool)
    methods["NearestCentroid (raw features)"] = NearestCentroid()
    methods["LogisticRegression (raw features)"] = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=1000)
    )
    # what plain scikit-learn can learn from the pool: an unsupervised and a
    # supervised linear projection, fitted once on the meta-training classes
    methods["PCA(0.9) on pool + NearestCentroid"] = make_meta_pipeline(
        StandardScaler(), PCA(0.9, random_state=args.seed), NearestCentroid()
    ).meta_fit(X_pool, y_pool)
    methods["LDA on pool + NearestCentroid"] = make_meta_pipeline(
        StandardScaler(), LinearDiscriminantAnalysis(), NearestCentroid()
    ).meta_fit(X_pool, y_pool)
    return methods, X_test, y_test


CASES = {"digits": digits_case, "shared": shared_case}


def meta_train(pipelines, X_pool, y_pool):
    for name, pipe in pipelines.items():
        start = time.perf_counter()
        pipe.meta_fit(X_pool, y_pool)
        print(f"{name}: meta-trained in {time.perf_counter() - start:.1f} s")
    return dict(pipelines)


def main(argv=None):
    # NearestCentroid warns when a 1-shot support set has no within-class spread
    warnings.filterwarnings("ignore", message=".*within_class_std_dev_.*")
    warnings.filterwarnings("ignore", message="invalid value encountered in divide")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--n-episodes", type=int, default=600)
    parser.add_argument("--n-query", type=int, default=15)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--episodes-per-epoch", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    for case in args.cases:
        methods, X_test, y_test = CASES[case](args)
        print(f"\n{'method':<45} {'5-way 1-shot':>16} {'5-way 5-shot':>16}")
        for name, method in methods.items():
            cells = []
            for n_shot in (1, 5):
                result = evaluate_episodes(method, X_test, y_test, n_way=5, n_shot=n_shot,
                                           n_query=args.n_query, n_episodes=args.n_episodes,
                                           random_state=args.seed)
                cells.append(str(result))
            print(f"{name:<45} {cells[0]:>16} {cells[1]:>16}", flush=True)
        print()


if __name__ == "__main__":
    main()
