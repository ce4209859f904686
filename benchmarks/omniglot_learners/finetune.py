"""Fine-tuning baseline (Chen et al., 2019) on Omniglot.

The Conv4 encoder is pretrained as a plain classifier over all 4112
meta-training classes (1028 characters x 4 rotations) in minibatches; each
test episode then fits a new head on its support set. One "episode" in the
meta-training line of ``omniglot.py`` is one training *sample* here (the
history records samples per minibatch). The paper has no Omniglot table, so
the reference column is empty (nan).
"""

import torch
from skorch.callbacks import Callback

from time_budget import time_budgets

PAPER = {(5, 1): float("nan"), (5, 5): float("nan"),
         (20, 1): float("nan"), (20, 5): float("nan")}
DEFAULTS = {"train_way": 20, "train_shot": 5, "train_query": 5}


def add_arguments(parser):
    parser.add_argument("--head", default="linear", choices=["linear", "cosine"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n-adapt-steps", type=int, default=100)
    parser.add_argument("--adapt-lr", type=float, default=1e-2)
    parser.add_argument("--finetune-encoder", action="store_true")
    parser.add_argument("--save-encoder", default=None,
                        help="save the pretrained encoder (torch.save) to this path, "
                             "for protonet_pretrain.py --pretrained-encoder")


class SaveEncoder(Callback):
    """Save the whole encoder module when pretraining ends."""

    def __init__(self, path):
        self.path = path

    def on_train_end(self, net, **kwargs):
        torch.save(net.encoder_, self.path)


def build(args, callbacks):
    from sklmeta.baselines import FineTuneClassifier

    # epochs are whole passes over the pool here: the episode-based step
    # schedule of the shared LR scheduler does not apply; keep the time budget
    budget = time_budgets(callbacks)
    if args.save_encoder:
        budget.append(SaveEncoder(args.save_encoder))
    return FineTuneClassifier(
        encoder="conv4",
        head=args.head,
        n_adapt_steps=args.n_adapt_steps,
        adapt_lr=args.adapt_lr,
        finetune_encoder=args.finetune_encoder,
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        meta_lr=1e-3,
        callbacks=budget,
        n_way=args.train_way,
        n_shot=args.train_shot,
        n_query=args.train_query,
        n_val_episodes=args.n_val_episodes,
        verbose=args.verbose,
        random_state=args.seed,
    )
