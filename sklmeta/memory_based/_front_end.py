"""A front end meta-trained first as a Prototypical Network, then frozen."""

import torch
import torch.nn.functional as F

from ..metric_based._distances import prototypical_logits

__all__ = ["PretrainedFrontEndMixin"]


class PretrainedFrontEndMixin:
    """Two phases of meta-training for a learner with ``encoder_`` and
    ``encoder_training='prototypical'``: for the first
    ``pretraining_share`` of the run the encoder alone learns as a
    Prototypical Network on the same episodes; then it is frozen, a pool's
    inputs are embedded once, and the learner's own loss trains the rest.
    The learner's ``_compute_meta_gradient`` calls :meth:`_prototype_loss`
    while ``_pretraining_encoder`` holds."""

    def _initialize_meta_training(self, stream, device):
        self._pretraining_encoder = self.encoder_training == "prototypical"

    def _front_end_frozen(self):
        return (self.encoder_training == "prototypical"
                and not getattr(self, "_pretraining_encoder", True))

    def _run_epoch(self, stream, clock, epoch, *args, **kwargs):
        if self._pretraining_encoder and clock.share(epoch) >= self.pretraining_share:
            self._pretraining_encoder = False
        # a frozen front end embeds a pool once, not in every episode
        pool = getattr(stream, "episodes", None)
        self._embedded_inputs = self._front_end_frozen() and hasattr(pool, "map_inputs")
        if self._embedded_inputs and not getattr(pool, "embedded", False):
            self.encoder_.eval()
            pool.map_inputs(self._features)
            pool.embedded = True
        super()._run_epoch(stream, clock, epoch, *args, **kwargs)

    def _prototype_loss(self, batch):
        """The front end's loss as a Prototypical Network, over the batch."""
        z = self.encoder_(torch.cat([x for ep in batch for x in (ep.x_support, ep.x_query)]))
        losses, correct, total, start = [], 0, 0, 0
        for episode in batch:
            self._check_n_classes(episode.n_way)
            n_support, n_query = len(episode.y_support), len(episode.y_query)
            support, query = z[start:start + n_support], z[start + n_support:][:n_query]
            start += n_support + n_query
            logits = prototypical_logits(support, episode.y_support, query, episode.n_way)
            losses.append(F.cross_entropy(logits, episode.y_query, reduction="sum"))
            correct += (logits.argmax(dim=1) == episode.y_query).sum().item()
            total += n_query
        return torch.stack(losses).sum() / total, correct / total
