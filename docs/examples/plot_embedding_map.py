"""
A meta-learned embedding of classes it never saw
================================================

A metric learner meta-learns an embedding in which examples of one class
lie together, for classes it has never seen. Used as a scikit-learn
transformer (:class:`~sklmeta.transformers.EncoderTransformer`), its
encoder maps unseen Omniglot characters to points that a two-dimensional
projection shows in clusters; the raw pixels, projected the same way, mix
the classes.
"""

# %%
# Meta-train, then embed unseen characters
# ----------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.pipeline import make_pipeline

from sklmeta import ProtoNetClassifier
from sklmeta.datasets import load_omniglot
from sklmeta.transformers import EncoderTransformer

X_train, y_train = load_omniglot(split="train", return_X_y=True)
X_test, y_test = load_omniglot(split="test", return_X_y=True)

learner = ProtoNetClassifier(max_epochs=10, episodes_per_epoch=30, verbose=0, random_state=0)
learner.meta_fit(X_train, y_train)

# ten characters of the test split, all 20 drawings of each
classes = np.unique(y_test)[:: len(np.unique(y_test)) // 10][:10]
keep = np.isin(y_test, classes)
X_new, y_new = X_test[keep], y_test[keep]

# %%
# Project both to two dimensions
# ------------------------------
# PCA to 30 dimensions, then t-SNE, in one pipeline for each input.
def project(*steps):
    return make_pipeline(*steps, PCA(n_components=30, random_state=0),
                         TSNE(perplexity=15, random_state=0)).fit_transform(X_new)


maps = {"raw pixels": project(), "meta-learned embedding": project(EncoderTransformer(learner))}

fig, axes = plt.subplots(1, 2, figsize=(9, 4.3))
for ax, (title, points) in zip(axes, maps.items()):
    for i, label in enumerate(classes):
        ax.scatter(*points[y_new == label].T, s=14, color=plt.cm.tab10(i))
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("Ten Omniglot characters never seen in meta-training (t-SNE)")
fig.tight_layout()
