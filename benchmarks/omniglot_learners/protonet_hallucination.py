"""Prototypical Networks with feature hallucination (Wang et al., 2018).

``--learner protonet`` plus ``n_hallucinated`` examples per class from a
meta-trained :class:`~sklmeta.generative.FeatureHallucinator`; run it beside
``--learner protonet`` with the same options to see what hallucination adds.
"""

from omniglot_learners import _hallucination, protonet

PAPER = protonet.PAPER  # the same learner: the same paper figures
DEFAULTS = protonet.DEFAULTS
add_arguments = _hallucination.add_arguments
build = _hallucination.hallucinating(protonet.build)
