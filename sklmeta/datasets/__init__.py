"""Data sets for meta-learning: small bundled data and task generators."""

from ._omniglot import load_omniglot

__all__ = ["load_omniglot"]
