"""Siamese networks (Koch et al., 2015) on Omniglot.

The twin network is the four-block convolutional embedding (Koch et al.
use a larger network) with the paper's weighted L1 distance and binary
cross-entropy; pairs are all same-class pairs of each 20-way episode and as
many different-class ones. The reference figures are the Siamese rows as
re-run by Vinyals et al. (2016). A task is answered by the nearest support
example.
"""

from sklmeta.metric_based import SiameseClassifier

PAPER = {(5, 1): 96.7, (5, 5): 98.4, (20, 1): 88.0, (20, 5): 96.5}
DEFAULTS = {"train_way": 20, "train_shot": 5, "train_query": 5}


def build(args, callbacks):
    return SiameseClassifier(
        encoder="conv4",
        loss="bce",
        aggregation="nearest",
        n_way=args.train_way,
        n_shot=args.train_shot,
        n_query=args.train_query,
        max_epochs=args.max_epochs,
        episodes_per_epoch=args.episodes_per_epoch,
        meta_lr=1e-3,
        callbacks=callbacks,
        n_val_episodes=args.n_val_episodes,
        verbose=args.verbose,
        random_state=args.seed,
    )
