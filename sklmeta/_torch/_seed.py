"""Local seeding of torch's generators, leaving the global state untouched."""

import contextlib

import torch

__all__ = ["seeded"]


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
        torch.manual_seed(int(seed))
        yield
