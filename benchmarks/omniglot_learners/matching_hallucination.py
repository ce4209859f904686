"""Matching Networks with feature hallucination (Wang et al., 2018).

``--learner matching`` plus ``n_hallucinated`` examples per class from a
meta-trained :class:`~sklmeta.generative.FeatureHallucinator`; run it beside
``--learner matching`` with the same options to see what hallucination adds.
"""

from omniglot_learners import _hallucination, matching

PAPER = matching.PAPER  # the same learner: the same paper figures
DEFAULTS = matching.DEFAULTS
add_arguments = _hallucination.add_arguments
build = _hallucination.hallucinating(matching.build)
