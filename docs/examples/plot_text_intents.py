"""
New chatbot intents from a few examples: a text pipeline end to end
===================================================================

A chatbot gains new intents, each with a handful of example utterances.
A pipeline of :class:`~sklmeta.text.TextFeatures` (hashed word and
character n-grams) and a Prototypical Network with the ``'text'`` encoder
is meta-trained once on the intents of some domains of CLINC150, then
fitted to the new intents of other domains from their few examples, like
any scikit-learn pipeline; TF-IDF with logistic regression, fitted on the
same examples, is the baseline.
"""

# %%
# Split the intents by domain
# ---------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklmeta import ProtoNetClassifier, evaluate_episodes, make_meta_pipeline
from sklmeta.datasets import load_clinc150
from sklmeta.text import TextFeatures

clinc = load_clinc150()
new = np.isin(clinc.domain, ["banking", "travel", "work"])  # the intents to come
X_meta, y_meta = clinc.data[~new], clinc.target[~new]
X_new, y_new = clinc.data[new], clinc.target[new]
print(f"meta-training on {len(np.unique(y_meta))} intents, "
      f"adapting to {len(np.unique(y_new))} new ones")

# %%
# Meta-train the pipeline once
# ----------------------------
# ``meta_fit`` fits the features on the pool, then meta-trains the learner
# on episodes of its intents; 20 seconds here.
pipeline = make_meta_pipeline(
    TextFeatures(),
    ProtoNetClassifier(encoder="text", max_time=20, max_epochs=10_000, verbose=0,
                       random_state=0))
pipeline.meta_fit(X_meta, y_meta)

# %%
# Adapt to new intents, as scikit-learn does
# ------------------------------------------
# ``fit`` on five utterances of each of three new intents, ``predict`` on
# other utterances of theirs:
rows = {intent: np.flatnonzero(y_new == intent)
        for intent in ["routing", "book_flight", "pto_request"]}
support = np.concatenate([index[:5] for index in rows.values()])
pipeline.fit(X_new[support], y_new[support])
queries = np.concatenate([index[5:7] for index in rows.values()])
for text, predicted in zip(X_new[queries], pipeline.predict(X_new[queries])):
    print(f"{predicted:>12}  <-  {text}")

# %%
# Accuracy against the number of examples
# ---------------------------------------
# 10-way episodes of the new intents, 100 each, the same for both.
baseline = make_pipeline(TfidfVectorizer(sublinear_tf=True),
                         LogisticRegression(C=10, max_iter=2000))
shots = [1, 2, 5, 10]
fig, ax = plt.subplots(figsize=(6, 4))
for name, model in [("TextFeatures + ProtoNet (meta-trained)", pipeline),
                    ("TF-IDF + logistic regression", baseline)]:
    results = [evaluate_episodes(model, X_new, y_new, n_way=10, n_shot=k, n_query=5,
                                 n_episodes=100, random_state=0) for k in shots]
    ax.errorbar(shots, [100 * r.mean for r in results], yerr=[100 * r.ci95 for r in results],
                marker="o", capsize=3, label=name)
    print(f"{name:>40}: " + ", ".join(f"{k}-shot {r}" for k, r in zip(shots, results)))
ax.set_xscale("log")
ax.set_xticks(shots, [str(k) for k in shots])
ax.set_xlabel("example utterances per new intent")
ax.set_ylabel("10-way accuracy (%)")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
fig.tight_layout()
