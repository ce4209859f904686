"""Baselines that few-shot learners are measured against.

:class:`FineTuneClassifier` pretrains an encoder as an ordinary classifier
over all meta-training classes and fits a new head on each task's support
set; :func:`pretrain_encoder` runs that pretraining alone and returns the
encoder, to start any other learner from it.
"""

from ._finetune import FineTuneClassifier
from ._pretrain import pretrain_encoder

__all__ = ["FineTuneClassifier", "pretrain_encoder"]
