"""Metric-based meta-learners: classify by distances in a learned embedding."""

from ._matching import MatchingNetClassifier
from ._protonet import ProtoNetClassifier
from ._relation import RelationNetClassifier
from ._siamese import SiameseClassifier

__all__ = [
    "MatchingNetClassifier",
    "ProtoNetClassifier",
    "RelationNetClassifier",
    "SiameseClassifier",
]
