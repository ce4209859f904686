"""The external memory: content-based read and least-recently-used writes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sklmeta.memory_based._memory import (
    content_read,
    cosine_similarity,
    initial_memory_state,
    least_used_weights,
    lrua_write,
    update_usage,
)


def random_memory(batch=2, n_slots=10, slot_size=6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, n_slots, slot_size, generator=generator)


def test_cosine_similarity_matches_its_definition():
    memory = random_memory()
    keys = random_memory(n_slots=3, seed=1)
    expected = np.array([
        [[F.cosine_similarity(k, row, dim=0).item() for row in memory[b]] for k in keys[b]]
        for b in range(2)
    ])
    np.testing.assert_allclose(cosine_similarity(keys, memory).numpy(), expected, atol=1e-6)


def test_a_written_key_is_retrieved_by_its_content():
    memory = random_memory()
    key = random_memory(n_slots=1, seed=2)
    least_used = F.one_hot(torch.tensor([[7], [3]]), 10).float()
    written, weights = lrua_write(memory, key, torch.zeros(2, 1, 1),
                                  torch.zeros(2, 1, 10), least_used)
    torch.testing.assert_close(written[0, 7], key[0, 0])
    torch.testing.assert_close(written[1, 3], key[1, 0])
    # a noisy version of the key finds the row it was written to
    generator = torch.Generator().manual_seed(3)
    probe = key + 0.1 * torch.randn(key.shape, generator=generator)
    read_weights, reads = content_read(written, probe, strength=torch.full((2, 1, 1), 50.0))
    assert read_weights.argmax(dim=-1).tolist() == [[7], [3]]
    torch.testing.assert_close(read_weights.sum(dim=-1), torch.ones(2, 1))
    torch.testing.assert_close(reads, key, atol=0.05, rtol=0)


def test_content_read_is_a_convex_combination_of_rows():
    memory = random_memory()
    keys = random_memory(n_slots=4, seed=4)
    weights, reads = content_read(memory, keys)
    assert weights.shape == (2, 4, 10) and reads.shape == (2, 4, 6)
    assert torch.all(weights > 0)
    torch.testing.assert_close(reads, torch.einsum("bhn,bnd->bhd", weights, memory))
    # strength 1 is the paper's plain softmax of cosines
    plain, _ = content_read(memory, keys, strength=torch.ones(2, 4, 1))
    torch.testing.assert_close(plain, weights)


def test_least_used_rows_go_one_to_each_head():
    usage = torch.tensor([[0.5, 0.1, 0.9, 0.0, 0.3], [1.0, 1.0, 0.2, 1.0, 1.0]])
    weights = least_used_weights(usage, 3)
    assert weights.shape == (2, 3, 5)
    assert weights.argmax(dim=-1).tolist() == [[3, 1, 4], [2, 0, 1]]  # ties: lower index
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, 3))


def test_write_interpolates_previous_reads_and_least_used():
    memory = random_memory(batch=1, n_slots=4, slot_size=3)
    key = torch.ones(1, 1, 3)
    previous_read = torch.tensor([[[0.0, 1.0, 0.0, 0.0]]])
    least_used = torch.tensor([[[0.0, 0.0, 0.0, 1.0]]])
    before = memory.clone()
    written, weights = lrua_write(memory, key, torch.full((1, 1, 1), 0.25),
                                  previous_read, least_used)
    torch.testing.assert_close(weights, torch.tensor([[[0.0, 0.25, 0.0, 0.75]]]))
    torch.testing.assert_close(written[0, 1], before[0, 1] + 0.25)  # added to the read row
    torch.testing.assert_close(written[0, 3], torch.full((3,), 0.75))  # old content cleared
    torch.testing.assert_close(written[0, [0, 2]], before[0, [0, 2]])
    torch.testing.assert_close(memory, before)  # the input is left alone


def test_usage_decays_and_counts_reads_and_writes():
    usage = torch.tensor([[1.0, 0.0, 2.0]])
    reads = torch.tensor([[[0.2, 0.3, 0.5]]])
    writes = torch.tensor([[[0.0, 1.0, 0.0]]])
    torch.testing.assert_close(update_usage(usage, reads, writes, 0.5),
                               torch.tensor([[0.7, 1.3, 1.5]]))


def test_the_least_used_rows_are_the_ones_overwritten():
    """Write a stream of keys with gate 0: each lands in the least used row."""
    n_slots, n_steps = 6, 9
    state = initial_memory_state(1, n_slots, 4, 1)
    memory, usage, read_weights, least_used = (
        state.memory, state.usage, state.read_weights, state.least_used)
    generator = torch.Generator().manual_seed(0)
    targets = []
    for step in range(n_steps):
        if step == n_slots:
            # reading row 2 again keeps it in use, so it survives the next writes
            usage = usage + F.one_hot(torch.tensor([2]), n_slots)
        targets.append(least_used[0, 0].argmax().item())
        assert usage[0, targets[-1]] == usage.min()
        key = torch.randn(1, 1, 4, generator=generator)
        memory, write_weights = lrua_write(memory, key, torch.zeros(1, 1, 1),
                                           read_weights, least_used)
        torch.testing.assert_close(memory[0, targets[-1]], key[0, 0])
        read_weights = torch.zeros(1, 1, n_slots)
        usage = update_usage(usage, read_weights, write_weights, 0.9)
        least_used = least_used_weights(usage, 1)
    # empty rows first, then the oldest writes, skipping the row in use
    assert targets[:n_slots] == list(range(n_slots))
    assert targets[n_slots:] == [0, 1, 3]


def test_gradients_flow_through_cleared_rows():
    memory = torch.zeros(1, 4, 3, requires_grad=True)
    key = torch.randn(1, 1, 3, requires_grad=True)
    gate = torch.full((1, 1, 1), 0.5, requires_grad=True)
    least_used = least_used_weights(torch.zeros(1, 4), 1)
    written, _ = lrua_write(memory, key, gate, torch.zeros(1, 1, 4), least_used)
    _, reads = content_read(written, key)
    reads.sum().backward()
    for tensor in (memory, key, gate):
        assert torch.isfinite(tensor.grad).all()


@pytest.mark.parametrize("n_heads", [1, 4])
def test_initial_state_is_empty(n_heads):
    state = initial_memory_state(3, 8, 5, n_heads)
    assert state.memory.shape == (3, 8, 5) and state.reads.shape == (3, n_heads * 5)
    assert torch.all(state.usage == 0) and torch.all(state.read_weights == 0)
    assert state.least_used[0].argmax(dim=-1).tolist() == list(range(n_heads))
