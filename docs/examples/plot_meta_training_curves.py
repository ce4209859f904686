"""
Meta-training curves from ``history_``
======================================

Every learner records its meta-training in ``history_``, a skorch
:class:`~skorch.history.History`: one row per epoch with the training
loss and accuracy over its episodes and, with ``validation_data``, the
same on episodes of classes kept apart. Plotting them shows whether a
run is still learning, has converged or overfits the training classes.
"""

# %%
# Meta-train with validation episodes
# -----------------------------------
# A Prototypical Network on Omniglot characters: the ``train`` split for
# meta-training, the ``val`` split (other characters) for validation.
# Twelve short epochs keep the example quick.
import matplotlib.pyplot as plt

from sklmeta import ProtoNetClassifier
from sklmeta.datasets import load_omniglot

X_train, y_train = load_omniglot(split="train", return_X_y=True)
X_val, y_val = load_omniglot(split="val", return_X_y=True)

clf = ProtoNetClassifier(n_way=5, n_shot=1, max_epochs=12, episodes_per_epoch=20,
                         n_val_episodes=50, verbose=0, random_state=0)
clf.meta_fit(X_train, y_train, validation_data=(X_val, y_val))

# %%
# Read the history
# ----------------
# ``history_[:, "train_loss"]`` takes one key from every epoch, as in skorch.
epochs = clf.history_[:, "epoch"]
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
left.plot(epochs, clf.history_[:, "train_loss"], marker="o", label="training episodes")
left.plot(epochs, clf.history_[:, "valid_loss"], marker="o", label="validation episodes")
left.set_xlabel("epoch")
left.set_ylabel("query loss")
left.legend()
right.plot(epochs, clf.history_[:, "train_acc"], marker="o", label="training episodes")
right.plot(epochs, clf.history_[:, "valid_acc"], marker="o", label="validation episodes")
right.set_xlabel("epoch")
right.set_ylabel("5-way 1-shot accuracy")
right.legend()
fig.suptitle("Prototypical Network on Omniglot")
fig.tight_layout()

# %%
# Early stopping and checkpoints watch the same keys: skorch's
# ``EarlyStopping(monitor="valid_loss")`` in ``callbacks`` ends a run when
# the validation loss stops falling.
print(f"best validation accuracy {max(clf.history_[:, 'valid_acc']):.3f} "
      f"in epoch {epochs[clf.history_[:, 'valid_acc'].index(max(clf.history_[:, 'valid_acc']))]}")
