"""Local seeding of torch's generators, leaving the global state untouched."""

import contextlib

import torch

__all__ = ["random_permutation", "seeded"]


@contextlib.contextmanager
def seeded(seed, device=None):
    """Run a block with torch's generators seeded, then restore them.

    The CPU generator, and the generator of ``device`` when it is a CUDA
    device, are forked, so the caller's global random state is unchanged.
    """
    devices = []
    if device is not None and torch.device(device).type == "cuda":
        index = torch.device(device).index
        devices = [torch.cuda.current_device() if index is None else index]
    with torch.random.fork_rng(devices=devices):
        # only the forked generators: torch.manual_seed would also seed every
        # other device's (left changed) and, on a CPU-only build, record a
        # stack trace for each lazily seeded backend
        torch.default_generator.manual_seed(int(seed))
        for index in devices:
            torch.cuda.default_generators[index].manual_seed(int(seed))
        yield


def random_permutation(n, device=None):
    """A random permutation of ``range(n)``, drawn on the CPU, placed on ``device``.

    Drawing from the CPU generator whatever the device makes a seeded run
    give the same episodes, orders and pairs on a GPU as on the CPU.

    >>> with seeded(0):
    ...     first = random_permutation(5)
    >>> with seeded(0):
    ...     again = random_permutation(5)
    >>> bool((first == again).all()), sorted(first.tolist())
    (True, [0, 1, 2, 3, 4])
    """
    return torch.randperm(n).to(device)
