"""Generative meta-learning: generators that enlarge a support set.

- Feature hallucination: :class:`FeatureHallucinator`, the generator behind
  the ``n_hallucinated`` option of :class:`~sklmeta.ProtoNetClassifier` and
  :class:`~sklmeta.MatchingNetClassifier`, draws extra embeddings of a
  class and is meta-trained with the learner (Wang et al., 2018).
- Data augmentation in input space: :class:`DataAugmentationGAN` draws new
  images of a class from one image of it (Antoniou et al., 2017);
  :class:`AugmentedSupportClassifier` fits any classifier on support sets
  it enlarges.
"""

from ._augment import AugmentedSupportClassifier
from ._dagan import DataAugmentationGAN
from ._hallucinator import FeatureHallucinator

__all__ = ["AugmentedSupportClassifier", "DataAugmentationGAN", "FeatureHallucinator"]
