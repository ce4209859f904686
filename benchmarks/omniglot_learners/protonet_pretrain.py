"""Prototypical Networks meta-trained from a pretrained encoder, on Omniglot.

``--learner protonet_pretrain`` is ``--learner protonet --pretrain``: the
Conv4 encoder is first trained as a plain classifier over all meta-training
classes (:func:`sklmeta.baselines.pretrain_encoder`, ``--pretrain-epochs``
passes or ``--pretrain-minutes``), then meta-trained episodically as in
``protonet.py``, then evaluated. Pretraining happens in ``build``, so the
meta-training time printed by ``omniglot.py`` excludes it; it is printed
here. ``--pretrained-encoder PATH`` loads an encoder saved by
``--learner finetune --save-encoder PATH`` instead (the same pretraining,
timed by that run).
"""

import time

import torch

from sklmeta import ProtoNetClassifier
from sklmeta.baselines import pretrain_encoder
from sklmeta.datasets import load_omniglot

from time_budget import TimeBudget, time_budgets

LR_HALVING_EPISODES = 2000
PAPER = {(5, 1): 98.8, (5, 5): 99.7, (20, 1): 96.0, (20, 5): 98.9}
DEFAULTS = {"train_way": 20, "train_shot": 5, "train_query": 5}


def add_arguments(parser):
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument("--pretrain-minutes", type=float, default=None,
                        help="stop pretraining after the epoch that passes this")
    parser.add_argument("--pretrain-batch-size", type=int, default=64)
    parser.add_argument("--pretrained-encoder", default=None,
                        help="load an encoder saved by finetune.py --save-encoder "
                             "instead of pretraining here")


def build(args, callbacks):
    budget = time_budgets(callbacks)
    pretrain_callbacks = []
    if args.pretrain_minutes and budget:
        pretrain_callbacks.append(TimeBudget(args.pretrain_minutes))
    if args.pretrained_encoder:
        encoder = torch.load(args.pretrained_encoder, map_location="cpu", weights_only=False)
        print(f"pretrained encoder loaded from {args.pretrained_encoder}")
    else:
        train = load_omniglot(split="train", rotations=True)
        start = time.perf_counter()
        encoder = pretrain_encoder(
            train.data, train.target, encoder="conv4", max_epochs=args.pretrain_epochs,
            batch_size=args.pretrain_batch_size, callbacks=pretrain_callbacks,
            verbose=args.verbose, random_state=args.seed,
        )
        print(f"pretraining: {time.perf_counter() - start:.0f} s")
    return ProtoNetClassifier(
        encoder=encoder,
        n_way=args.train_way,
        n_shot=args.train_shot,
        n_query=args.train_query,
        max_epochs=args.max_epochs,
        episodes_per_epoch=args.episodes_per_epoch,
        meta_lr=1e-3,
        lr_schedule=None,  # this recipe halves the rate every LR_HALVING_EPISODES
        callbacks=callbacks,
        n_val_episodes=args.n_val_episodes,
        verbose=args.verbose,
        random_state=args.seed,
    )
