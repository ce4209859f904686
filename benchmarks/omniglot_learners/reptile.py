"""Reptile (Nichol et al., 2018) on Omniglot, with the paper's 5-way settings."""

from sklmeta.gradient_based import ReptileClassifier

from time_budget import time_budgets

# Nichol et al., Table 1, Reptile without transduction (with it, --transductive:
# 97.68 / 99.48 / 89.43 / 97.12): 5-way 1/5-shot, 20-way 1/5-shot
PAPER = {(5, 1): 95.39, (5, 5): 98.90, (20, 1): 88.14, (20, 5): 96.65}
# 10 examples per class for training: the paper's "train shots"
DEFAULTS = {"train_way": 5, "train_shot": 5, "train_query": 5, "episodes_per_epoch": 500}
# the learner parameter each option sets, where the names differ (omniglot.py --resume)
PARAM_OF_OPTION = {"meta_step": "meta_lr"}


def add_arguments(parser):
    parser.add_argument("--meta-batch-size", type=int, default=5)
    parser.add_argument("--inner-lr", type=float, default=1e-3)
    parser.add_argument("--n-inner-steps", type=int, default=5)
    parser.add_argument("--inner-batch-size", type=int, default=10)
    parser.add_argument("--n-adapt-steps", type=int, default=50)
    parser.add_argument("--adapt-lr", type=float, default=None,
                        help="step size of adaptation (default: --inner-lr)")
    parser.add_argument("--adapt-batch-size", type=int, default=None,
                        help="support examples per adaptation step (default: all)")
    parser.add_argument("--meta-step", type=float, default=1.0,
                        help="outer step size at the start, annealed linearly to 0")
    parser.add_argument("--reset-inner-state", action="store_true",
                        help="start the inner Adam's moments from zero on every task "
                             "instead of carrying them on, as the authors' code does")
    parser.add_argument("--transductive", action="store_true",
                        help="batch-normalise queries with their own statistics, as "
                             "the paper's 'Reptile + Transduction' figures do")


def build(args, callbacks):
    return ReptileClassifier(
        encoder="conv4",
        n_way=args.train_way,
        n_shot=args.train_shot,
        n_query=args.train_query,
        n_inner_steps=args.n_inner_steps,
        inner_lr=args.inner_lr,
        inner_optimizer="adam",
        carry_inner_state=not args.reset_inner_state,
        inner_batch_size=args.inner_batch_size,
        n_adapt_steps=args.n_adapt_steps,
        adapt_lr=args.adapt_lr,
        adapt_batch_size=args.adapt_batch_size,
        transductive=args.transductive,
        max_epochs=args.max_epochs,
        episodes_per_epoch=args.episodes_per_epoch,
        meta_batch_size=args.meta_batch_size,
        meta_lr=args.meta_step,
        # the paper's step size, annealed linearly to 0 over --max-epochs; the
        # learner's default, a constant one, learns more in a budget of minutes
        lr_schedule="linear",
        callbacks=time_budgets(callbacks),
        n_val_episodes=args.n_val_episodes,
        verbose=args.verbose,
        random_state=args.seed,
    )
