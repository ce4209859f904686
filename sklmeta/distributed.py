"""Data-parallel meta-training on :mod:`torch.distributed`.

Start one process per core or GPU with ``torchrun``, call
:func:`init_process_group` in each, and meta-train as usual: while a
process group of several processes is initialised, every meta-learner of
this package shares the work of each meta-batch between the processes.

- Every process draws the same meta-batch (the same ``random_state`` gives
  the same tasks whatever the number of processes) and keeps its share of
  the episodes: episodes ``rank, rank + world_size, ...``.
- When a meta-batch has fewer episodes than there are processes (the
  metric learners meta-train on one episode at a time), the Prototypical
  and Matching Networks share each episode's queries instead: every
  process embeds the whole support set and scores its share of the
  queries.
- Each process computes the meta-gradient of its share; one all-reduce
  sums the shares, each weighted by its part of the batch, so that every
  process takes the same optimizer step and ends with the same weights,
  those of one process over the whole batch (to float rounding).
- Floating-point buffers (batch norm's running statistics) are averaged
  after every step, so they are the same in every process too.
- With ``max_time``, the processes agree on the time spent (the longest
  of theirs), so that they stop after the same step and follow the same
  learning-rate schedule.

Batch norm normalises with the statistics of the data a process sees, as
in :class:`torch.nn.parallel.DistributedDataParallel`: when queries are
shared, a process's batch statistics cover the support set and its share
of the queries, which differs slightly from one process over the whole
episode. With ``meta_batch_size`` a multiple of the number of processes
the work is shared by episodes and nothing differs.
"""

import os

import torch
import torch.distributed as dist

__all__ = ["data_parallel_world", "init_process_group"]


def init_process_group(backend=None, **kwargs):
    """Join the process group that ``torchrun`` describes in the environment.

    Parameters
    ----------
    backend : {'gloo', 'nccl'} or None, default=None
        None takes ``'nccl'`` when CUDA is available and ``'gloo'`` (CPU)
        otherwise.
    **kwargs
        Passed to :func:`torch.distributed.init_process_group`, e.g.
        ``init_method`` where the environment does not describe the group.

    Returns
    -------
    rank : int
        This process's rank.
    world_size : int
        Number of processes.

    Examples
    --------
    A script ``train.py``, started with ``torchrun --nproc-per-node 2
    train.py``::

        import torch.distributed

        from sklmeta import ProtoNetClassifier
        from sklmeta.distributed import init_process_group

        rank, world_size = init_process_group()
        clf = ProtoNetClassifier(verbose=int(rank == 0), random_state=0)
        clf.meta_fit(X, y)  # each process takes half of every episode's queries
        torch.distributed.destroy_process_group()
    """
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo', 'nccl' or None; got {backend!r}.")
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    if not dist.is_initialized():
        dist.init_process_group(backend, **kwargs)
    return dist.get_rank(), dist.get_world_size()


def data_parallel_world():
    """``(rank, world_size)`` while a group of several processes is initialised.

    Returns
    -------
    world : tuple of int or None
        None when :mod:`torch.distributed` is unavailable, not initialised
        or has a single process: meta-training then runs as usual.

    Examples
    --------
    Outside ``torchrun`` there is no group, and meta-training runs in this
    process alone:

    >>> from sklmeta.distributed import data_parallel_world
    >>> data_parallel_world() is None
    True
    """
    if not (dist.is_available() and dist.is_initialized()):
        return None
    world_size = dist.get_world_size()
    return None if world_size < 2 else (dist.get_rank(), world_size)


def max_over_processes(value):
    """The largest of every process's ``value`` (a float); ``value`` itself
    outside a group of several processes."""
    if data_parallel_world() is None:
        return value
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    agreed = torch.tensor(float(value), dtype=torch.float64, device=device)
    dist.all_reduce(agreed, op=dist.ReduceOp.MAX)
    return agreed.item()


def check_shardable(estimator, world):
    """Raise before meta-training when a meta-batch cannot be shared."""
    world_size = world[1]
    if estimator.meta_batch_size >= world_size:
        return
    if not getattr(estimator, "_query_shardable", False):
        raise ValueError(
            f"{type(estimator).__name__} shares meta-batches between processes by "
            f"episodes, so meta_batch_size={estimator.meta_batch_size} must be at least "
            f"the number of processes, {world_size}.")


def shard_batch(batch, world, by_queries):
    """This process's share of ``batch`` and its weight in the whole."""
    rank, world_size = world
    if not by_queries or len(batch) >= world_size:
        share = batch[rank::world_size]
        if not share:
            raise ValueError(
                f"a meta-batch of {len(batch)} episodes cannot be shared by {world_size} "
                "processes; raise meta_batch_size.")
        return share, len(share) / len(batch)
    share = [episode._replace(x_query=episode.x_query[rank::world_size],
                              y_query=episode.y_query[rank::world_size])
             for episode in batch]
    total = sum(len(episode.y_query) for episode in batch)
    mine = sum(len(episode.y_query) for episode in share)
    if any(len(episode.y_query) == 0 for episode in share):
        raise ValueError(
            f"an episode of {total // len(batch)} queries cannot be shared by {world_size} "
            "processes; raise n_query.")
    return share, mine / total


def all_reduce_meta_gradient(parameters, weight, loss, accuracy):
    """Sum the weighted meta-gradients of all processes into ``.grad``.

    Parameters without a gradient in any process keep ``grad=None``, as in
    one process. Returns the loss and accuracy of the whole batch.
    """
    parameters = [p for p in parameters if p.requires_grad]
    device = parameters[0].device
    has_grad = torch.tensor([p.grad is not None for p in parameters], dtype=torch.float32,
                            device=device)
    flat = torch.cat([
        (p.grad * weight if p.grad is not None else torch.zeros_like(p)).reshape(-1)
        for p in parameters
    ] + [torch.tensor([loss * weight, accuracy * weight], dtype=parameters[0].dtype,
                      device=device), has_grad.to(parameters[0].dtype)])
    dist.all_reduce(flat)
    offset = 0
    for i, p in enumerate(parameters):
        n = p.numel()
        if flat[-len(parameters) + i] > 0:
            p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n
    return flat[offset].item(), flat[offset + 1].item()


def average_buffers(module):
    """Average every floating-point buffer of ``module`` over the processes."""
    buffers = [b for b in module.buffers() if b.is_floating_point()]
    if not buffers:
        return
    world_size = dist.get_world_size()
    flat = torch.cat([b.reshape(-1) for b in buffers])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for b in buffers:
        b.copy_(flat[offset:offset + b.numel()].view_as(b))
        offset += b.numel()
