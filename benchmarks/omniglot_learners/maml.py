"""MAML (Finn et al., 2017) on Omniglot: second-order, one inner step of 0.4."""

from sklmeta.gradient_based import MAMLClassifier

from time_budget import time_budgets

# Finn et al., Table 1: 5-way 1/5-shot, 20-way 1/5-shot
PAPER = {(5, 1): 98.7, (5, 5): 99.9, (20, 1): 95.8, (20, 5): 98.9}
DEFAULTS = {"train_way": 5, "train_shot": 1, "train_query": 5, "episodes_per_epoch": 320}


def add_arguments(parser):
    parser.add_argument("--meta-batch-size", type=int, default=32)
    parser.add_argument("--inner-lr", type=float, default=0.4,
                        help="inner step size; for metasgd, where the learned rates "
                             "start; with --init-from, a new value scales them by new / old")
    parser.add_argument("--n-inner-steps", type=int, default=1)
    parser.add_argument("--meta-lr", type=float, default=1e-3,
                        help="Adam's meta learning rate (the paper's 0.001); lower when "
                             "starting from a meta-trained learner with --init-from")
    parser.add_argument("--n-adapt-steps", type=int, default=3,
                        help="the paper evaluates 5-way Omniglot after 3 steps")
    parser.add_argument("--adapt-lr", type=float, default=None,
                        help="step size of adaptation (default: --inner-lr); for metasgd, "
                             "the learned rates scaled by this / --inner-lr")
    parser.add_argument("--transductive", action="store_true",
                        help="batch-normalise queries with their own statistics, as "
                             "the paper's figures do")


def build(args, callbacks, **options):
    return MAMLClassifier(
        encoder="conv4",
        n_way=args.train_way,
        n_shot=args.train_shot,
        n_query=args.train_query,
        n_inner_steps=args.n_inner_steps,
        inner_lr=args.inner_lr,
        n_adapt_steps=args.n_adapt_steps,
        adapt_lr=args.adapt_lr,
        transductive=args.transductive,
        max_epochs=args.max_epochs,
        episodes_per_epoch=args.episodes_per_epoch,
        meta_batch_size=args.meta_batch_size,
        meta_lr=args.meta_lr,
        # annealed over --max-epochs in one run; the learner's default, a constant
        # rate, learns more in a budget of minutes
        lr_schedule="cosine",
        callbacks=time_budgets(callbacks),
        n_val_episodes=args.n_val_episodes,
        verbose=args.verbose,
        random_state=args.seed,
        **options,
    )
