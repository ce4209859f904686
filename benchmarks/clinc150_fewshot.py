"""Few-shot intents on CLINC150: new intents of unseen domains from a few utterances.

Meta-training sees the intents of seven domains; evaluation draws episodes
from the intents of the other three (``--test-domains``), never seen. Every
method answers the same episodes: ``--n-episodes`` per setting (5-way
1-shot, 5-way 5-shot, 15-way 5-shot, and all held-out intents 5-shot), with
``--n-query`` queries per intent. The plain scikit-learn baselines are
fitted on each support set alone, as a practitioner would first try; the
package's pipeline is meta-trained once on the other domains, then adapted
per episode. Prints accuracy in % ± 95% confidence interval and the time
each method took.

The package's text learner is ``make_meta_pipeline(TextFeatures(),
ProtoNetClassifier(encoder="text"))``, meta-trained for ``--max-time``
seconds on a :class:`~sklmeta.TaskMixture` of the meta-training domains,
one source per domain with equal weights (``text``), or on the intents of
one domain alone (``text-one-domain``, ``--one-domain``). ``text-lr`` keeps
the meta-learned encoder as a transformer
(:class:`~sklmeta.EncoderTransformer`) and fits a logistic regression on
each support set in its place: ``make_meta_pipeline(TextFeatures(),
EncoderTransformer(ProtoNetClassifier(encoder="text")),
LogisticRegression(C=10))``.

Run: ``python benchmarks/clinc150_fewshot.py`` (about fifteen minutes on
two cores); ``--n-episodes 100`` for a quick look, ``--methods`` for some
of the rows.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import make_pipeline, make_union
from sklearn.svm import LinearSVC

from sklmeta import (
    EncoderTransformer,
    ProtoNetClassifier,
    TaskMixture,
    evaluate_episodes,
    make_meta_pipeline,
)
from sklmeta.datasets import load_clinc150
from sklmeta.text import TextFeatures


def tfidf():
    """Word and character n-gram TF-IDF, the usual strong text baseline."""
    return make_union(
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)),
        TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 4)),
    )


BASELINES = {
    "lr": ("TF-IDF + LogisticRegression",
           lambda: make_pipeline(tfidf(), LogisticRegression(C=10, max_iter=2000))),
    "svc": ("TF-IDF + LinearSVC", lambda: make_pipeline(tfidf(), LinearSVC())),
    "centroid": ("TF-IDF + NearestCentroid",
                 lambda: make_pipeline(tfidf(), NearestCentroid())),
}
META = {
    "text": "TextFeatures + ProtoNet(text), domains",
    "text-lr": "TextFeatures + text encoder + LR, domains",
    "text-one-domain": "TextFeatures + ProtoNet(text), {domain}",
    "mlp": "TF-IDF + ProtoNet(mlp) (meta-trained)",
}


def meta_train(method, X, y, domains, args):
    """The package's pipeline of ``method``, meta-trained on the pool ``X, y``."""
    if method == "mlp":
        pipe = make_meta_pipeline(tfidf(), ProtoNetClassifier(
            encoder="mlp", max_time=args.max_time, max_epochs=10_000, verbose=0,
            random_state=args.seed))
        tasks = (X, y)
    else:
        learner = ProtoNetClassifier(encoder="text", max_time=args.max_time,
                                     max_epochs=10_000, verbose=0, random_state=args.seed)
        if method == "text-lr":
            pipe = make_meta_pipeline(TextFeatures(), EncoderTransformer(learner),
                                      LogisticRegression(C=10, max_iter=2000))
        else:
            pipe = make_meta_pipeline(TextFeatures(), learner)
        if method in ("text", "text-lr"):
            tasks = (TaskMixture({d: (X[domains == d], y[domains == d])
                                  for d in np.unique(domains)}),)
        else:
            one = domains == args.one_domain
            tasks = (X[one], y[one])
    start = time.perf_counter()
    pipe.meta_fit(*tasks)
    history = (pipe[-2].learner_ if method == "text-lr" else pipe[-1]).history_
    print(f"{META[method].format(domain=args.one_domain)}: meta-trained in "
          f"{time.perf_counter() - start:.0f} s, "
          f"{sum(len(h['batches']) for h in history)} episodes", flush=True)
    return pipe


def main(argv=None):
    warnings.filterwarnings("ignore", message=".*within_class_std_dev_.*")
    warnings.filterwarnings("ignore", message="invalid value encountered in divide")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-domains", nargs="+", default=["banking", "travel", "work"])
    parser.add_argument("--n-episodes", type=int, default=600)
    parser.add_argument("--n-query", type=int, default=10)
    parser.add_argument("--max-time", type=float, default=120,
                        help="seconds of meta-training for the package's pipeline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+",
                        default=["lr", "svc", "centroid", "text", "text-lr"],
                        choices=[*BASELINES, *META])
    parser.add_argument("--one-domain", default="credit_cards",
                        help="the meta-training domain of text-one-domain")
    args = parser.parse_args(argv)

    clinc = load_clinc150()
    test = np.isin(clinc.domain, args.test_domains)
    X_meta, y_meta = clinc.data[~test], clinc.target[~test]
    X_test, y_test = clinc.data[test], clinc.target[test]
    n_test_intents = len(np.unique(y_test))
    print(f"meta-training on {len(np.unique(y_meta))} intents of "
          f"{len(np.unique(clinc.domain[~test]))} domains; testing on {n_test_intents} "
          f"intents of {', '.join(args.test_domains)}")

    methods = {}
    for method in args.methods:
        if method in BASELINES:
            name, build = BASELINES[method]
            methods[name] = build()
        else:
            pipe = meta_train(method, X_meta, y_meta, clinc.domain[~test], args)
            methods[META[method].format(domain=args.one_domain)] = pipe
    settings = [(5, 1), (5, 5), (15, 5), (n_test_intents, 5)]
    header = "".join(f"{f'{way}-way {shot}-shot':>18}" for way, shot in settings)
    print(f"\n{'method':<42}{header}{'time':>8}")
    for name, method in methods.items():
        cells, start = [], time.perf_counter()
        for way, shot in settings:
            result = evaluate_episodes(method, X_test, y_test, n_way=way, n_shot=shot,
                                       n_query=args.n_query, n_episodes=args.n_episodes,
                                       random_state=args.seed)
            cells.append(f"{100 * result.mean:.2f} ± {100 * result.ci95:.2f}")
        elapsed = time.perf_counter() - start
        print(f"{name:<42}" + "".join(f"{c:>18}" for c in cells) + f"{elapsed:7.0f}s",
              flush=True)


if __name__ == "__main__":
    main()
