"""Prototypical Networks (Snell et al., 2017) on Omniglot, from the defaults.

Everything but the run's length comes from :class:`~sklmeta.ProtoNetClassifier`'s
defaults (20-way 1-shot episodes with 5 queries, a cosine-annealed rate
planned over ``--max-epochs``).
"""

from sklmeta import ProtoNetClassifier

PAPER = {(5, 1): 98.8, (5, 5): 99.7, (20, 1): 96.0, (20, 5): 98.9}
DEFAULTS = {"train_way": 20, "train_shot": 1, "train_query": 5}


def build(args, callbacks):
    return ProtoNetClassifier(
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
