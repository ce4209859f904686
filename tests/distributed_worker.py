"""Meta-trains small learners in a torchrun process group (tests/test_distributed.py).

``python -m torch.distributed.run --nproc-per-node 2 distributed_worker.py OUT``
saves, from each rank to ``OUT.rank<r>``, the meta-learned weights and
training losses of each learner of :func:`make_learners`; ``... probe OUT``
only joins the group.
"""

import sys

import torch

from conftest import make_few_shot_blobs
from sklmeta import MAMLClassifier, ProtoNetClassifier


def make_learners():
    """One learner that shares each episode's queries (a meta-batch of one
    episode) and one that shares a meta-batch's episodes.

    Plain SGD: Adam turns the float-rounding noise of a gradient that is
    zero in exact arithmetic (the embedding's last bias cancels in
    ProtoNet's distances) into steps of a full learning rate.
    """
    sgd = {"optimizer": torch.optim.SGD, "meta_lr": 0.05}
    protonet = dict(encoder="mlp", encoder__hidden_layer_sizes=(32,), n_way=5, n_shot=2,
                    n_query=4, max_epochs=2, episodes_per_epoch=5, verbose=0, random_state=0)
    return {
        "protonet": ProtoNetClassifier(**protonet, **sgd),
        # a time budget: the processes must agree on the time spent
        "protonet_timed": ProtoNetClassifier(**protonet, max_time=600.0),
        "maml": MAMLClassifier(encoder="mlp", encoder__hidden_layer_sizes=(32,), n_way=3,
                               n_shot=2, n_query=3, meta_batch_size=4, episodes_per_epoch=8,
                               max_epochs=2, verbose=0, random_state=0, **sgd),
    }


def meta_train_all():
    X, y = make_few_shot_blobs()
    results = {}
    for name, learner in make_learners().items():
        learner.meta_fit(X, y)
        results[name] = {
            "weights": {k: v.detach().clone() for k, v in learner.module_.state_dict().items()},
            "losses": [epoch["train_loss"] for epoch in learner.history_],
        }
    return results


if __name__ == "__main__":
    from sklmeta.distributed import init_process_group

    torch.set_num_threads(1)
    rank, world_size = init_process_group(backend="gloo")
    results = {"world_size": world_size}
    if sys.argv[1] != "probe":
        results.update(meta_train_all())
    torch.save(results, f"{sys.argv[-1]}.rank{rank}")
    # leaving with the group up lets gloo's threads abort the process at exit
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
