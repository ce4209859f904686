"""What a data-augmentation GAN draws on unseen Omniglot characters, and
what its drawings do for plain classifiers.

Takes the model saved by::

    python benchmarks/omniglot.py --learner protonet_dagan --max-epochs 40 --save dagan.pkl

draws the figure of the docs (test characters, never seen by the GAN, each
next to drawings made from it) and evaluates two plain classifiers on the
raw pixels, 1-nearest-neighbour and logistic regression, on the same
5-way test episodes with and without the drawings in their support sets::

    python benchmarks/omniglot_augmentation.py --model dagan.pkl \
        --figure docs/images/omniglot_dagan.png
"""

import argparse
import pickle
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from sklmeta import evaluate_episodes
from sklmeta.datasets import load_omniglot
from sklmeta.generative import AugmentedSupportClassifier


def draw_figure(gan, test, path, n_characters=8, n_drawn=6, seed=0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.RandomState(seed)
    classes = rng.choice(np.unique(test.target[test.rotation == 0]), n_characters,
                         replace=False)
    sources = np.stack([test.data[rng.choice(np.flatnonzero(test.target == c))]
                        for c in classes])
    drawn = gan.generate(sources, n_per_image=n_drawn, random_state=seed)
    fig, axes = plt.subplots(n_characters, n_drawn + 1,
                             figsize=(0.9 * (n_drawn + 1), 0.9 * n_characters))
    for i in range(n_characters):
        row = [sources[i], *drawn[i * n_drawn:(i + 1) * n_drawn]]
        for j, image in enumerate(row):
            ax = axes[i, j]
            ax.imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                for side in ax.spines.values():
                    side.set_color("tab:red")
                    side.set_linewidth(2)
    axes[0, 0].set_title("given", fontsize=9)
    axes[0, n_drawn // 2 + 1].set_title("drawn by the GAN", fontsize=9)
    fig.tight_layout(pad=0.2)
    fig.savefig(path, dpi=110)
    print(f"figure saved to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True,
                        help="pickle saved by omniglot.py --learner protonet_dagan --save")
    parser.add_argument("--figure", default=None, help="where to save the figure")
    parser.add_argument("--n-episodes", type=int, default=600)
    parser.add_argument("--n-generated", type=int, nargs="+", default=[0, 3])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    with open(args.model, "rb") as f:
        gan = pickle.load(f).generator_
    test = load_omniglot(split="test", rotations=True)
    if args.figure:
        draw_figure(gan, test, args.figure, seed=args.seed)

    classifiers = {
        "1-NN on pixels": KNeighborsClassifier(n_neighbors=1),
        "logistic regression on pixels": LogisticRegression(max_iter=200),
    }
    print(f"\n{'classifier':>30} {'drawn':>5} {'5-way 1-shot':>16} {'5-way 5-shot':>16} "
          f"{'time':>6}")
    for name, classifier in classifiers.items():
        for n_generated in args.n_generated:
            clf = AugmentedSupportClassifier(classifier, gan, n_generated=n_generated,
                                             random_state=args.seed)
            start = time.perf_counter()
            results = [
                evaluate_episodes(clf, test.data, test.target, n_way=5, n_shot=n_shot,
                                  n_query=15, n_episodes=args.n_episodes,
                                  random_state=args.seed)
                for n_shot in (1, 5)
            ]
            elapsed = time.perf_counter() - start
            print(f"{name:>30} {n_generated:>5} {str(results[0]):>16} "
                  f"{str(results[1]):>16} {elapsed:>5.0f}s")


if __name__ == "__main__":
    main()
