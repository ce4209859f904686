"""
Episodic cross-validation and a grid search over adaptation settings
====================================================================

scikit-learn's model selection works over few-shot episodes:
:class:`~sklmeta.EpisodeSplit` yields (support, query) index pairs, one
episode each, so :func:`~sklearn.model_selection.cross_val_score` scores a
meta-trained learner on many small tasks, and
:class:`~sklearn.model_selection.GridSearchCV` chooses how it adapts. A
clone keeps what meta-training learned, and ``set_params`` of an
adaptation setting keeps it too, so the search never meta-trains again.
"""

# %%
# Meta-train a MAML classifier once
# ---------------------------------
# MAML with its default Conv4 network on Omniglot characters, briefly
# (1,280 episodes); adaptation takes ``n_adapt_steps`` gradient steps of
# size ``adapt_lr`` (by default the inner rate of meta-training, 0.4).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, cross_val_score

from sklmeta import EpisodeSplit, MAMLClassifier
from sklmeta.datasets import load_omniglot

X_train, y_train = load_omniglot(split="train", return_X_y=True)
X_test, y_test = load_omniglot(split="test", return_X_y=True)

maml = MAMLClassifier(n_way=5, n_shot=1, max_epochs=4, episodes_per_epoch=320, verbose=0,
                      random_state=0)
maml.meta_fit(X_train, y_train)

# %%
# Cross-validation over episodes
# ------------------------------
# 5-way 1-shot episodes of unseen characters; each "fold" is one episode.
episodes = EpisodeSplit(n_way=5, n_shot=1, n_query=5, n_episodes=60, random_state=0)
scores = cross_val_score(maml, X_test, y_test, cv=episodes)
print(f"5-way 1-shot accuracy: {scores.mean():.3f} ± {1.96 * scores.std() / 60 ** 0.5:.3f}")

# %%
# Search the adaptation settings
# ------------------------------
# Every candidate is scored on the same episodes.
steps, rates = [0, 1, 3, 10], [0.1, 0.4, 1.0]
search = GridSearchCV(maml, {"n_adapt_steps": steps, "adapt_lr": rates}, cv=episodes)
search.fit(X_test, y_test)
print("best:", search.best_params_, f"accuracy {search.best_score_:.3f}")

grid = np.empty((len(steps), len(rates)))
for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    grid[steps.index(params["n_adapt_steps"]), rates.index(params["adapt_lr"])] = score
fig, ax = plt.subplots(figsize=(5, 4))
image = ax.imshow(100 * grid, cmap="viridis")
ax.set_xticks(range(len(rates)), [str(r) for r in rates])
ax.set_yticks(range(len(steps)), [str(k) for k in steps])
ax.set_xlabel("adapt_lr")
ax.set_ylabel("n_adapt_steps")
for (i, j), value in np.ndenumerate(100 * grid):
    ax.text(j, i, f"{value:.1f}", ha="center", va="center", color="white")
fig.colorbar(image, label="5-way 1-shot accuracy (%)")
ax.set_title("GridSearchCV over adaptation settings")
fig.tight_layout()
