"""Metric-based meta-learners: classify by distances in a learned embedding."""

from ._protonet import ProtoNetClassifier

__all__ = ["ProtoNetClassifier"]
