"""Probe every public estimator with bad inputs and bad settings, as a new
user would, and count the outcomes.

Each case calls ``meta_fit``, ``fit`` or ``predict``/``transform`` with one
thing wrong (values, shapes, dtypes, labels, seeds, learning rates) and is
classed as

- ``clear error``: a ValueError or TypeError (scikit-learn's kinds) with a
  message, raised by the estimator;
- ``answered``: finite, well-formed outputs; ``answered with a warning``
  when the package warned that meta-training or adaptation diverged and
  was stopped;
- ``SILENT WRONG``: outputs or weights that are not finite, or predictions
  outside the classes, with no error;
- ``CRASH``: any other exception.

Run: ``python benchmarks/bad_inputs.py`` (about two minutes on two cores).
"""

import argparse
import collections
import warnings

import numpy as np
import torch
from sklearn.base import clone, is_regressor
from sklearn.preprocessing import StandardScaler

from sklmeta import (
    EncoderTransformer,
    FineTuneClassifier,
    MAMLClassifier,
    MAMLRegressor,
    MANNClassifier,
    MatchingNetClassifier,
    ProtoNetClassifier,
    RelationNetClassifier,
    ReptileClassifier,
    ReptileRegressor,
    SiameseClassifier,
    Task,
    make_meta_pipeline,
)
from sklmeta.exceptions import AdaptationDiverged, MetaTrainingDiverged

SMALL = dict(max_epochs=1, verbose=0, random_state=0, device="cpu")
EPISODES = dict(n_way=3, n_shot=2, n_query=2, episodes_per_epoch=4)


def estimators():
    return {
        "ProtoNet": ProtoNetClassifier(encoder="mlp", **SMALL, **EPISODES),
        "Matching": MatchingNetClassifier(encoder="mlp", **SMALL, **EPISODES),
        "Relation": RelationNetClassifier(encoder="mlp", **SMALL, **EPISODES),
        "Siamese": SiameseClassifier(encoder="mlp", **SMALL, **EPISODES),
        "MAMLClassifier": MAMLClassifier(encoder="mlp", meta_batch_size=2, **SMALL, **EPISODES),
        "ReptileClassifier": ReptileClassifier(encoder="mlp", meta_batch_size=2, **SMALL,
                                               **EPISODES),
        "MANN": MANNClassifier(encoder="mlp", meta_batch_size=2, **SMALL, **EPISODES),
        "FineTune": FineTuneClassifier(encoder="mlp", n_adapt_steps=10, **SMALL),
        "MAMLRegressor": MAMLRegressor(meta_batch_size=2, episodes_per_epoch=4, **SMALL),
        "ReptileRegressor": ReptileRegressor(meta_batch_size=2, episodes_per_epoch=4, **SMALL),
        "MetaPipeline": make_meta_pipeline(
            StandardScaler(), ProtoNetClassifier(encoder="mlp", **SMALL, **EPISODES)),
        "EncoderTransformer": EncoderTransformer(
            ProtoNetClassifier(encoder="mlp", **SMALL, **EPISODES)),
    }


def good_data(regression, rng):
    X = rng.randn(60, 5)
    y = np.repeat(np.arange(10), 6)
    if regression:
        return X, X[:, 0] * 2.0 + rng.randn(60) * 0.1, None
    return X, y, None


def tasks_for(X, y):
    return [Task(X[i:i + 6], y[i:i + 6], X[i + 6:i + 12], y[i + 6:i + 12])
            for i in range(0, 48, 12)]


def x_cases(X):
    big = X.astype(np.float64)
    return {
        "X with NaN": np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X),
        "X with inf": np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X),
        "X * 1e39 (beyond float32)": big * 1e39,
        "X * 1e30": big * 1e30,
        "X * 1e-40 (subnormal)": big * 1e-40,
        "X of strings": X.astype(str),
        "X of objects": X.astype(object),
        "X complex": X.astype(complex),
        "X 1-d": X[:, 0],
        "X 3-d": X[:, :, None],
        "X empty": X[:0],
        "X wrong features": X[:, :3],
        "X None": None,
        "X list of lists": X.tolist(),
    }


def y_cases(y, regression):
    cases = {
        "y length mismatch": y[:-1],
        "y 2-d": np.c_[y, y],
        "y None": None,
        "y mixed types": np.array([v if i % 2 else str(v) for i, v in enumerate(y)],
                                  dtype=object),
        "y mixed types (list)": [v if i % 2 else str(v) for i, v in enumerate(y.tolist())],
        "y with NaN": np.where(np.arange(len(y)) == 2, np.nan, y.astype(float)),
        "y one class": np.zeros_like(y),
    }
    if regression:
        cases["y * 1e39"] = y.astype(float) * 1e39
    else:
        cases["y continuous"] = y + np.linspace(0, 0.5, len(y))
    return cases


SETTINGS = {
    "meta_lr=1e6": {"meta_lr": 1e6},
    "random_state=-1": {"random_state": -1},
    "random_state='abc'": {"random_state": "abc"},
    "max_epochs=-1": {"max_epochs": -1},
    "n_way=0": {"n_way": 0},
    "device='tpu'": {"device": "tpu"},
}
ADAPT = {"adapt_lr=1e6": {"adapt_lr": 1e6}, "inner_lr=1e6": {"inner_lr": 1e6}}


def final_step(est):
    return est.steps[-1][1] if hasattr(est, "steps") else est


def outputs_ok(est, X):
    """Whether the estimator's answer for X is finite and well-formed."""
    if isinstance(est, EncoderTransformer):
        out = est.transform(X)
        return np.isfinite(out).all()
    pred = np.asarray(est.predict(X))
    if is_regressor(est):
        return np.isfinite(pred).all() and len(pred) == len(X)
    proba = est.predict_proba(X)
    classes = set(np.asarray(final_step(est).classes_).tolist())
    return (np.isfinite(proba).all() and set(pred.tolist()) <= classes
            and np.allclose(proba.sum(axis=1), 1, atol=1e-4))


def weights_ok(est):
    learner = final_step(est)
    module = getattr(learner, "learner_", learner)
    module = getattr(module, "module_", None)
    return module is None or all(bool(torch.isfinite(p).all()) for p in module.parameters())


def run_case(call):
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ok = call()
    except (ValueError, TypeError) as exc:
        return "clear error" if str(exc) else "CRASH", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - the point is to see every kind
        return "CRASH", f"{type(exc).__name__}: {exc}"
    if not ok:
        return "SILENT WRONG", ""
    ours = [w for w in caught if issubclass(w.category, (MetaTrainingDiverged,
                                                         AdaptationDiverged))]
    if ours:
        return "answered with a warning", f"{ours[0].category.__name__}: {ours[0].message}"
    return "answered", ""


def probe(name, est, rng):
    regression = is_regressor(est)
    X, y, _ = good_data(regression, rng)
    support = np.isin(y, [0, 1, 2]) if not regression else np.arange(len(y)) < 9
    fitted = clone(est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted.meta_fit(tasks_for(X, y)) if regression else fitted.meta_fit(X, y)
        if not isinstance(est, EncoderTransformer):
            fitted.fit(X[support], y[support])
    results = []

    def meta_fit_then_answer(Xm, ym, params=None):
        def call():
            e = clone(est)
            if params:
                final_step(e).set_params(**params)
            if regression and isinstance(Xm, np.ndarray) and isinstance(ym, np.ndarray) \
                    and Xm.ndim >= 1 and len(Xm) == len(ym) == len(X):
                e.meta_fit(tasks_for(Xm, ym))  # a regressor meta-trains on tasks
            else:
                e.meta_fit(Xm, ym)
            if not isinstance(e, EncoderTransformer):
                e.fit(X[support], y[support])
            return weights_ok(e) and outputs_ok(e, X[support])
        return call

    def fit_then_answer(Xs, ys, params=None):
        def call():
            e = clone(fitted)
            if params:
                final_step(e).set_params(**params)
            if isinstance(e, EncoderTransformer):
                e.fit(Xs)
                return outputs_ok(e, X[:5])
            e.fit(Xs, ys)
            return outputs_ok(e, X[support])
        return call

    def answer(Xp):
        return lambda: outputs_ok(clone_adapted(fitted), Xp)

    for case, Xb in x_cases(X).items():
        results.append(("meta_fit", case, run_case(meta_fit_then_answer(Xb, y))))
        Xs = Xb[support] if isinstance(Xb, np.ndarray) and Xb.ndim and len(Xb) == len(X) else Xb
        results.append(("fit", case, run_case(fit_then_answer(Xs, y[support]))))
        results.append(("predict", case, run_case(answer(Xs))))
    if not isinstance(est, EncoderTransformer):
        for case, yb in y_cases(y, regression).items():
            results.append(("meta_fit", case, run_case(meta_fit_then_answer(X, yb))))
            ys = yb[support] if isinstance(yb, np.ndarray) and len(yb) == len(y) else yb
            if isinstance(yb, list):
                ys = [v for v, keep in zip(yb, support) if keep]
            results.append(("fit", case, run_case(fit_then_answer(X[support], ys))))
    params = final_step(est).get_params()
    for case, setting in SETTINGS.items():
        if set(setting) <= set(params):
            results.append(("meta_fit", case, run_case(meta_fit_then_answer(X, y, setting))))
    for case, setting in ADAPT.items():
        if set(setting) <= set(params):
            results.append(("fit", case, run_case(fit_then_answer(X[support], y[support],
                                                                  setting))))
            results.append(("meta_fit", case, run_case(meta_fit_then_answer(X, y, setting))))
    return results


def clone_adapted(est):
    import copy

    return copy.deepcopy(est)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show", choices=["all", "bad"], default="bad",
                        help="list every case, or only silent wrong results and crashes")
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    totals = collections.Counter()
    for name, est in estimators().items():
        counts = collections.Counter()
        for method, case, (outcome, message) in probe(name, est, rng):
            counts[outcome] += 1
            if args.show == "all" or outcome in ("SILENT WRONG", "CRASH"):
                print(f"  {name:18s} {method:9s} {case:28s} {outcome}: {message[:110]}")
        totals.update(counts)
        print(f"{name:18s} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"{'all':18s} " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items()))
          + f" ({sum(totals.values())} cases)")


if __name__ == "__main__":
    main()
