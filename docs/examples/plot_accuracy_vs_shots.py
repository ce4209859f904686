"""
Accuracy against the number of shots
====================================

How much does each extra labelled example of a new class help? Two
meta-learners and a plain scikit-learn classifier on Omniglot characters
never seen in meta-training, scored by :func:`~sklmeta.evaluate_episodes`
over 5-way episodes with 1 to 10 examples per class. A meta-learner is an
ordinary estimator there: a clone is fitted to each episode's support
set and scored on its queries.
"""

# %%
# Meta-train two learners briefly
# -------------------------------
# A Prototypical Network and a Matching Network on the ``train`` split,
# a few hundred episodes each; the benchmark page has the full runs.
import matplotlib.pyplot as plt
from sklearn.neighbors import KNeighborsClassifier

from sklmeta import MatchingNetClassifier, ProtoNetClassifier, evaluate_episodes
from sklmeta.datasets import load_omniglot

X_train, y_train = load_omniglot(split="train", return_X_y=True)
X_test, y_test = load_omniglot(split="test", return_X_y=True)

budget = dict(n_way=5, n_shot=1, max_epochs=10, episodes_per_epoch=30, verbose=0,
              random_state=0)
learners = {
    "Prototypical Network": ProtoNetClassifier(**budget).meta_fit(X_train, y_train),
    "Matching Network": MatchingNetClassifier(**budget).meta_fit(X_train, y_train),
    "1-nearest neighbour on pixels": KNeighborsClassifier(n_neighbors=1),
}

# %%
# Score every learner at every number of shots
# --------------------------------------------
# The same ``random_state`` draws the same episodes for every learner.
shots = [1, 2, 5, 10]
fig, ax = plt.subplots(figsize=(6, 4))
for name, learner in learners.items():
    results = [evaluate_episodes(learner, X_test, y_test, n_way=5, n_shot=k, n_query=5,
                                 n_episodes=40, random_state=0) for k in shots]
    ax.errorbar(shots, [100 * r.mean for r in results],
                yerr=[100 * r.ci95 for r in results], marker="o", capsize=3, label=name)
    print(f"{name:>30}: " + ", ".join(f"{k}-shot {r}" for k, r in zip(shots, results)))
ax.set_xscale("log")
ax.set_xticks(shots, [str(k) for k in shots])
ax.set_xlabel("examples per class (shots)")
ax.set_ylabel("5-way accuracy on unseen characters (%)")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
