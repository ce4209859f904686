"""Matching Networks (Vinyals et al., 2016) on Omniglot, from the defaults.

The paper's Omniglot figures are without full context embeddings, as
:class:`~sklmeta.MatchingNetClassifier`'s defaults: cosine attention (divided
by a temperature of 0.1) over the support set in the four-block
convolutional embedding, 20-way 1-shot episodes, a cosine-annealed rate
planned over ``--max-epochs``. Two things differ from the defaults: 10
queries per class instead of 5, and the meta-training characters are all
1,200 of Vinyals et al. (``trainval``, as they trained). Matching Nets fit
their meta-training classes closely, so more classes help more than more
episodes (see benchmarks/NOTES.md).
"""

from sklmeta.metric_based import MatchingNetClassifier

PAPER = {(5, 1): 98.1, (5, 5): 98.9, (20, 1): 93.8, (20, 5): 98.5}
DEFAULTS = {"train_way": 20, "train_shot": 1, "train_query": 10, "train_split": "trainval"}


def build(args, callbacks):
    return MatchingNetClassifier(
        n_way=args.train_way,
        n_shot=args.train_shot,
        n_query=args.train_query,
        max_epochs=args.max_epochs,
        episodes_per_epoch=args.episodes_per_epoch,
        callbacks=callbacks,
        n_val_episodes=args.n_val_episodes,
        verbose=args.verbose,
        random_state=args.seed,
    )
