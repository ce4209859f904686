"""Omniglot few-shot benchmark: meta-train on the Vinyals train split, then
evaluate 5-way and 20-way, 1-shot and 5-shot episodes on the test split.

Usage::

    python benchmarks/omniglot.py --learner protonet
    python benchmarks/omniglot.py --learner protonet --max-epochs 2 --n-episodes 50

Prints accuracy ± 95% confidence interval for each setting, the wall time of
meta-training and evaluation, and meta-training episodes per second.
"""

import argparse
import importlib
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import LRScheduler

from sklmeta import evaluate_episodes
from sklmeta.datasets import load_omniglot

sys.path.insert(0, str(Path(__file__).parent))
from fast_malloc import use_fast_malloc  # noqa: E402,F401 (also used by mann_sequence.py)
from time_budget import TimeBudget  # noqa: E402


def final_step(learner):
    """The learner itself: the last step of a meta-pipeline (front end, then
    learner), the meta-learner inside a support-set augmenter, or the learner
    given."""
    if hasattr(learner, "meta_estimator_"):
        return learner.meta_estimator_
    return learner.steps[-1][1] if hasattr(learner, "steps") else learner


def learner_module(name):
    return importlib.import_module(f"omniglot_learners.{name}")


def available_learners():
    folder = Path(__file__).parent / "omniglot_learners"
    return sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))


def standard_callbacks(args):
    callbacks = []
    if args.lr_halving_episodes is not None:
        step = max(1, round(args.lr_halving_episodes / args.episodes_per_epoch))
        callbacks.append(LRScheduler("StepLR", step_size=step, gamma=0.5))
    if args.budget_minutes:
        callbacks.append(TimeBudget(args.budget_minutes))
    return callbacks


# options that shape this run rather than the learner: --resume takes them
RUN_OPTIONS = {
    "learner", "resume", "resume_lr_factor", "init_from", "max_epochs", "budget_minutes",
    "verbose", "save", "n_episodes", "n_query", "train_split", "train_fraction",
    "adapt_steps_grid",
    "adapt_lr_grid", "default_malloc",
}
# options named otherwise than the learner parameter they set
PARAM_OF_OPTION = {"train_way": "n_way", "train_shot": "n_shot", "train_query": "n_query",
                   "seed": "random_state"}


def given_options(parser, argv):
    """Destinations of the options written on the command line (not defaults)."""
    unset = object()
    # every destination, as a plain parse sets them all; preset, they keep
    # their value unless the command line sets them
    dests = vars(parser.parse_args(argv))
    probe = argparse.Namespace(**{dest: unset for dest in dests})
    parser.parse_args(argv, namespace=probe)
    return {dest for dest, value in vars(probe).items() if value is not unset}


def apply_resumed_options(parser, argv, args, module, learner):
    """Set on the resumed learner the adaptation options given that differ
    from its own; any other learner option given must match it, since
    resuming continues the learner as it was built."""
    aliases = {**PARAM_OF_OPTION, **getattr(module, "PARAM_OF_OPTION", {})}
    for dest in sorted(given_options(parser, argv) - RUN_OPTIONS):
        option = "--" + dest.replace("_", "-")
        param = aliases.get(dest, dest)
        pickled = learner.get_params(deep=False)
        if param not in pickled:
            parser.error(f"{option} builds a new learner and has no effect with --resume; "
                         "start from the pickle's weights with --init-from instead")
        value = getattr(args, dest)
        if value == pickled[param]:
            continue
        learner.set_params(**{param: value})
        if not hasattr(learner, "history_"):  # a parameter of meta-training
            lower = " (or lower it with --resume-lr-factor)" if param == "meta_lr" else ""
            parser.error(f"{option} {value} differs from the resumed learner's "
                         f"{param}={pickled[param]!r}, which --resume keeps; start from "
                         f"the pickle's weights with --init-from to change it{lower}")


def choose_adaptation(learner, val, args, n_way, n_shot):
    """Set ``n_adapt_steps`` and ``adapt_lr`` to the pair of
    ``--adapt-steps-grid`` and ``--adapt-lr-grid`` values scoring best on
    200 episodes of the validation characters ``val``."""
    steps_grid = args.adapt_steps_grid or [final_step(learner).n_adapt_steps]
    lr_grid = args.adapt_lr_grid or [final_step(learner).adapt_lr]
    scores = {}
    for lr in lr_grid:
        for steps in steps_grid:
            learner.set_params(n_adapt_steps=steps, adapt_lr=lr)
            scores[steps, lr] = evaluate_episodes(
                learner, val.data, val.target, n_way=n_way, n_shot=n_shot,
                n_query=args.n_query, n_episodes=200, random_state=args.seed + 1,
            ).mean
    best_steps, best_lr = max(scores, key=scores.get)
    learner.set_params(n_adapt_steps=best_steps, adapt_lr=best_lr)
    print(f"{n_way}-way {n_shot}-shot on 'val': n_adapt_steps={best_steps}, "
          f"adapt_lr={best_lr} ("
          + ", ".join(f"{s} x {lr}: {100 * v:.2f}%" for (s, lr), v in scores.items()) + ")")


def main(argv=None):
    sys.path.insert(0, str(Path(__file__).parent))
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--learner", default="protonet", choices=available_learners())
    known, _ = pre.parse_known_args(argv)
    module = learner_module(known.learner)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], parents=[pre])
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--episodes-per-epoch", type=int, default=100)
    parser.add_argument("--train-way", type=int, default=20)
    parser.add_argument("--train-shot", type=int, default=5)
    parser.add_argument("--train-query", type=int, default=5)
    parser.add_argument("--n-episodes", type=int, default=600, help="test episodes per setting")
    parser.add_argument("--n-query", type=int, default=15, help="test queries per class")
    parser.add_argument("--train-split", choices=("train", "trainval"), default="train",
                        help="meta-training characters: the 1,028 of 'train', validated "
                             "on the 172 of 'val'; or all 1,200 of 'trainval', as "
                             "Vinyals et al. trained, with no validation")
    parser.add_argument("--train-fraction", type=float, default=1.0,
                        help="meta-train on this fraction of the training characters "
                             "(drawn with --seed, all rotations of each)")
    parser.add_argument("--n-val-episodes", type=int, default=20,
                        help="validation episodes after each epoch (at 100, validating "
                             "cost about as much as training)")
    parser.add_argument("--lr-halving-episodes", type=int,
                        default=getattr(module, "LR_HALVING_EPISODES", None),
                        help="halve the meta learning rate after this many episodes "
                             "(default: the learner module's, else none: the learner's "
                             "own lr_schedule, annealed over --max-epochs)")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="stop meta-training after the epoch that passes this")
    parser.add_argument("--adapt-steps-grid", type=int, nargs="+", default=None,
                        help="for learners with n_adapt_steps: before testing each "
                             "setting, pick it from these values on 200 episodes of "
                             "the 'val' characters")
    parser.add_argument("--adapt-lr-grid", type=float, nargs="+", default=None,
                        help="likewise for adapt_lr, over every pair with "
                             "--adapt-steps-grid")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    parser.add_argument("--save", default=None,
                        help="pickle the meta-trained learner to this file")
    parser.add_argument("--resume", default=None,
                        help="continue meta-training a learner pickled by --save, with "
                             "the learning-rate schedule it was built with; learner options "
                             "given must match it, except adaptation ones (such as "
                             "--n-adapt-steps or --n-val-episodes), which are set on it")
    parser.add_argument("--init-from", default=None,
                        help="start from the meta-learned state of a learner saved with "
                             "--save, meta-trained further with this run's settings (such "
                             "as another number of ways); unlike --resume, the schedule "
                             "and the meta-optimizer start afresh. A model without "
                             "learned inner rates (MAML, ANIL) can start any of the MAML "
                             "family; Meta-SGD's rates then start at --inner-lr")
    parser.add_argument("--resume-lr-factor", type=float, default=None,
                        help="with --resume: scale the meta learning rate by this factor "
                             "(at most 1) for the rest of meta-training (a late decay); "
                             "--save keeps the scaled rate, and a later factor multiplies "
                             "it again")
    parser.add_argument("--default-malloc", action="store_true",
                        help="keep glibc's default allocator settings (see fast_malloc.py)")
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser)
    parser.set_defaults(**getattr(module, "DEFAULTS", {}))
    args = parser.parse_args(argv)
    tune_adaptation = bool(args.adapt_steps_grid or args.adapt_lr_grid)
    if tune_adaptation and args.train_split != "train":
        parser.error("--adapt-steps-grid and --adapt-lr-grid tune on the 'val' "
                     f"characters, which --train-split {args.train_split} meta-trains on")
    if args.init_from and args.resume:
        parser.error("give --resume or --init-from, not both")
    if args.resume_lr_factor is not None and not args.resume:
        parser.error("--resume-lr-factor scales a resumed learner's rate; give --resume too")
    if args.resume_lr_factor is not None and not 0 < args.resume_lr_factor <= 1:
        parser.error("--resume-lr-factor must be in (0, 1], got "
                     f"{args.resume_lr_factor}; to raise the rate, start a new "
                     "meta-optimizer with --init-from (and --meta-lr, for the MAML family)")
    if args.lr_halving_episodes is not None and args.lr_halving_episodes < 1:
        parser.error(f"--lr-halving-episodes must be at least 1, got {args.lr_halving_episodes}")
    if not args.default_malloc:
        use_fast_malloc()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.resume:
        with open(args.resume, "rb") as f:
            learner = pickle.load(f)
        if hasattr(learner, "steps"):
            parser.error("--resume continues a single learner, not a meta-pipeline")
        # the learner keeps the learning-rate schedule it was built with
        # (Reptile's anneal, MAML's constant rate); only the budget is new.
        # An earlier --resume-lr-factor already lives in the optimizer's rate.
        own_schedules = [c for c in learner.callbacks or () if isinstance(c, LRScheduler)
                         and c.policy is not torch.optim.lr_scheduler.ConstantLR]
        callbacks = own_schedules + [c for c in standard_callbacks(args)
                                     if not isinstance(c, LRScheduler)]
        if args.resume_lr_factor is not None:
            # last_epoch=-1: the factor applies from the first resumed epoch on
            callbacks.append(LRScheduler(
                torch.optim.lr_scheduler.ConstantLR, factor=args.resume_lr_factor,
                total_iters=2**31 - 1, last_epoch=-1,
            ))
        apply_resumed_options(parser, argv, args, module, learner)
        learner.set_params(warm_start=True, max_epochs=args.max_epochs,
                           callbacks=callbacks, verbose=args.verbose)
        print(f"resuming after {len(learner.history_)} epochs")
    else:
        learner = module.build(args, standard_callbacks(args))
    if args.init_from:
        with open(args.init_from, "rb") as f:
            source = pickle.load(f)
        if hasattr(learner, "steps"):
            parser.error("--init-from starts a single learner, not a meta-pipeline")
        if type(source) is not type(learner):
            parser.error(f"--init-from holds a {type(source).__name__}, "
                         f"not a {type(learner).__name__}")
        learns_rates = getattr(learner, "learn_inner_lr", False)  # Meta-SGD
        if getattr(source, "learn_inner_lr", False) and not learns_rates:
            parser.error("--init-from holds a Meta-SGD model, whose learned inner rates "
                         f"--learner {args.learner} would drop")
        # meta_fit starts from a copy of the source's meta-learned modules
        # (weights, Reptile's carried optimizer state) with this run's
        # parameters and a new meta-optimizer, schedule and history
        learner.set_params(init_from=source)
        if learns_rates:
            if not source.learn_inner_lr:
                print(f"Meta-SGD: learned inner rates start at {learner.inner_lr}")
            elif learner.inner_lr != source.inner_lr:
                # a new --inner-lr scales the learned rates by new / old, as
                # adapt_lr does at adaptation, e.g. to spread one learned step
                # over --n-inner-steps smaller ones
                print("Meta-SGD: learned inner rates scaled by "
                      f"{learner.inner_lr / source.inner_lr:.4g}")
        print(f"starting from {args.init_from}, meta-trained for {len(source.history_)} epochs")
    train = load_omniglot(split=args.train_split, rotations=True)
    if not 0 < args.train_fraction <= 1:
        parser.error(f"--train-fraction must be in (0, 1], got {args.train_fraction}")
    if args.train_fraction < 1:
        characters = np.unique(train.character)
        n_kept = max(1, round(args.train_fraction * len(characters)))
        kept = np.random.RandomState(args.seed).choice(characters, n_kept, replace=False)
        mask = np.isin(train.character, kept)
        train.data, train.target = train.data[mask], train.target[mask]
    val = load_omniglot(split="val", rotations=True)
    # 'trainval' meta-trains on the validation characters too
    validation = (val.data, val.target) if args.train_split == "train" else None
    test = load_omniglot(split="test", rotations=True)
    print(f"train: {len(np.unique(train.target))} classes, "
          f"test: {len(np.unique(test.target))} classes (rotations as classes)")
    epochs_before = len(learner.history_) if args.resume else 0
    start = time.perf_counter()
    learner.meta_fit(train.data, train.target, validation_data=validation)
    train_time = time.perf_counter() - start
    if args.save:
        if args.init_from:
            # its modules now hold what it learned: the pickle need not carry
            # the source model too (nor, through it, that one's own source)
            learner.set_params(init_from=None)
        with open(args.save, "wb") as f:
            pickle.dump(learner, f)
    history = final_step(learner).history_
    new_epochs = history[epochs_before:]
    n_train = sum(sum(batch["train_batch_size"] for batch in epoch["batches"]) for epoch in new_epochs)
    if history:
        trained = final_step(learner)  # resumed: its own episodes, not the defaults
        summary = (f"\nmeta-training: {len(new_epochs)} epochs, {n_train} episodes "
                   f"({trained.n_way}-way {trained.n_shot}-shot, {trained.n_query} "
                   f"queries) in {train_time:.0f} s = {n_train / train_time:.2f} episodes/s")
        if hasattr(final_step(learner), "optimizer_"):
            rates = {group["lr"] for group in final_step(learner).optimizer_.param_groups}
            summary += f"; meta learning rate {', '.join(f'{r:.3g}' for r in sorted(rates))}"
        if "valid_acc" in history[-1]:
            summary += f"; last valid_acc {history[-1, 'valid_acc']:.4f}"
        print(summary)
    else:
        print()

    paper = module.PAPER
    print(f"\n{'setting':>16} {'accuracy':>16} {'paper':>6} {'time':>7}")
    for (n_way, n_shot), reference in paper.items():
        if tune_adaptation:
            choose_adaptation(final_step(learner), val, args, n_way, n_shot)
        start = time.perf_counter()
        result = evaluate_episodes(
            learner, test.data, test.target, n_way=n_way, n_shot=n_shot,
            n_query=args.n_query, n_episodes=args.n_episodes, random_state=args.seed,
        )
        elapsed = time.perf_counter() - start
        print(f"{n_way:>3}-way {n_shot}-shot {str(result):>20} {reference:>6.1f} "
              f"{elapsed:>6.0f}s")


if __name__ == "__main__":
    main()
