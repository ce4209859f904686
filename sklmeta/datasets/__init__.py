"""Data sets for meta-learning: small bundled data and task generators."""

from ._clinc150 import load_clinc150
from ._omniglot import load_omniglot
from ._sinusoid import SinusoidTasks

__all__ = ["SinusoidTasks", "load_clinc150", "load_omniglot"]
