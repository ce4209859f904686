"""Data-parallel meta-training: two gloo processes end where one process does."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_few_shot_blobs
from distributed_worker import make_learners, meta_train_all
from sklmeta import ReptileClassifier
from sklmeta._episodes import EpisodeTensors
from sklmeta.distributed import check_shardable, data_parallel_world, shard_batch

WORKER = Path(__file__).with_name("distributed_worker.py")
# a launch that fails on these signs met the network, not the code under test
NETWORK_TROUBLE = ("EADDRINUSE", "Address already in use", "DistNetworkError",
                   "RendezvousConnectionError")


def _torchrun(tmp_path, mode):
    out = tmp_path / f"{mode}.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(WORKER.parent), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", str(WORKER), mode, str(out)]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    return run, [Path(f"{out}.rank{rank}") for rank in range(2)]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("distributed")
    probe, outs = _torchrun(tmp_path, "probe")
    if probe.returncode != 0 or not all(out.exists() for out in outs):
        pytest.skip("two gloo processes cannot be started here: "
                    + (probe.stderr or probe.stdout)[-300:])
    run, outs = _torchrun(tmp_path, "train")
    if run.returncode != 0 and any(sign in run.stderr for sign in NETWORK_TROUBLE):
        run, outs = _torchrun(tmp_path, "train")  # a port taken meanwhile: once more
    assert run.returncode == 0, run.stderr[-3000:]
    return [torch.load(out) for out in outs]


@pytest.mark.parametrize("name", ["protonet", "maml"])
def test_two_processes_end_with_the_weights_of_one(two_processes, name):
    assert two_processes[0]["world_size"] == 2
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the two processes
    try:
        one = meta_train_all()[name]
    finally:
        torch.set_num_threads(threads)
    two = two_processes[0][name]
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-5)
    for key, weight in one["weights"].items():
        torch.testing.assert_close(two["weights"][key], weight, rtol=1e-4, atol=1e-5)
    start = make_learners()[name].set_params(max_epochs=0).meta_fit(*make_few_shot_blobs())
    moved = [(two["weights"][k] - w).abs().max().item()
             for k, w in start.module_.state_dict().items()]
    assert max(moved) > 1e-3  # meta-training did move the weights


@pytest.mark.parametrize("name", ["protonet", "protonet_timed", "maml"])
def test_every_process_ends_with_the_same_weights(two_processes, name):
    first, second = (ranks[name] for ranks in two_processes)
    assert first["losses"] == second["losses"]
    for key, weight in first["weights"].items():
        assert torch.equal(second["weights"][key], weight), key


def test_one_process_runs_as_usual():
    assert data_parallel_world() is None


def _episode(n_query):
    return EpisodeTensors(torch.zeros(4, 2), torch.arange(4), torch.arange(n_query)[:, None],
                          torch.arange(n_query), 4)


def test_episodes_are_shared_first_and_weights_sum_to_one():
    batch = [_episode(6) for _ in range(5)]
    shares = [shard_batch(batch, (rank, 2), by_queries=True) for rank in range(2)]
    assert [len(share) for share, _ in shares] == [3, 2]
    assert sum(weight for _, weight in shares) == pytest.approx(1.0)


def test_one_episode_is_shared_by_its_queries():
    shares = [shard_batch([_episode(7)], (rank, 2), by_queries=True) for rank in range(2)]
    queries = [share[0].y_query.tolist() for share, _ in shares]
    assert sorted(queries[0] + queries[1]) == list(range(7))
    assert [weight for _, weight in shares] == pytest.approx([4 / 7, 3 / 7])
    with pytest.raises(ValueError, match="n_query"):
        shard_batch([_episode(1)], (1, 2), by_queries=True)


def test_learners_that_cannot_share_queries_name_meta_batch_size():
    with pytest.raises(ValueError, match="meta_batch_size=1"):
        check_shardable(ReptileClassifier(meta_batch_size=1), (0, 2))
    check_shardable(ReptileClassifier(meta_batch_size=2), (0, 2))
    check_shardable(make_learners()["protonet"], (0, 2))  # shares queries
