"""Backbones of the user's own as encoders: weights, transform, freezing."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from sklmeta import (
    FineTuneClassifier,
    MAMLClassifier,
    MatchingNetClassifier,
    ProtoNetClassifier,
    ReptileClassifier,
    SiameseClassifier,
)
from sklmeta.encoders import ImageInput, PretrainedEncoder

RNG = np.random.RandomState(0)
X = RNG.rand(120, 64).astype(np.float32)
y = np.repeat(np.arange(12), 10)


def backbone(seed=0):
    """A small randomly initialised vision backbone (this machine cannot download one)."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
    )


def image_input():
    return ImageInput((1, 8, 8), channels=3, size=12)


def same_state(a, b):
    a, b = a.state_dict(), b.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_weights_load_from_a_file(tmp_path):
    saved = backbone(seed=1)
    path = tmp_path / "backbone.pt"
    torch.save(saved.state_dict(), path)
    encoder = PretrainedEncoder(backbone(seed=2), weights=path)
    assert same_state(encoder.backbone, saved)
    assert not same_state(backbone(seed=2), saved)


def test_a_checkpoint_with_a_state_dict_entry_loads(tmp_path):
    saved = backbone(seed=1)
    path = tmp_path / "checkpoint.pth"
    torch.save({"state_dict": saved.state_dict(), "epoch": 3}, path)
    assert same_state(PretrainedEncoder(backbone(), weights=str(path)).backbone, saved)


def test_the_given_backbone_is_never_modified():
    given = backbone(seed=2)
    before = {k: v.clone() for k, v in given.state_dict().items()}
    encoder = PretrainedEncoder(given, weights=backbone(seed=1).state_dict(), freeze=True)
    assert encoder.backbone is not given
    assert all(torch.equal(before[k], v) for k, v in given.state_dict().items())
    assert all(p.requires_grad for p in given.parameters())


def test_missing_weights_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "resnet18.pth"
    with pytest.raises(FileNotFoundError, match="resnet18.pth.*never downloads"):
        PretrainedEncoder(backbone(), weights=missing)


class NotWeights:
    pass


def test_a_file_that_is_not_a_state_dict_is_refused(tmp_path):
    path = tmp_path / "object.pt"
    torch.save({"model": NotWeights()}, path)
    with pytest.raises(ValueError, match="weights_only"):
        PretrainedEncoder(backbone(), weights=path)
    with pytest.raises(TypeError, match="weights must be"):
        PretrainedEncoder(backbone(), weights=[1, 2])


def test_mismatched_weights_name_the_keys():
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Identity(),
                                torch.nn.Identity(), torch.nn.Identity(), torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"2 missing.*'4.weight'.*5 unexpected.*strict=False"):
        PretrainedEncoder(other, weights=backbone().state_dict())
    with pytest.raises(ValueError, match=r"shape of 0.weight: \(8, 3, 3, 3\) for \(4, 3, 3, 3\)"):
        PretrainedEncoder(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)),
                          weights=backbone().state_dict(), strict=False)
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3))
    partial = PretrainedEncoder(other, weights=backbone(seed=1).state_dict(), strict=False)
    assert torch.equal(partial.backbone[0].weight, backbone(seed=1)[0].weight)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"backbone": "resnet18"}, TypeError, "backbone must be a torch.nn.Module"),
    ({"transform": 3}, TypeError, "transform must be callable"),
    ({"freeze": "yes"}, TypeError, "freeze must be a bool"),
    ({"strict": 1}, TypeError, "strict must be a bool"),
])
def test_bad_arguments_name_themselves(kwargs, error, match):
    kwargs = {"backbone": backbone(), **kwargs}
    with pytest.raises(error, match=match):
        PretrainedEncoder(kwargs.pop("backbone"), **kwargs)


def test_image_input_reshapes_repeats_resizes_and_normalises():
    rows = torch.rand(5, 64)
    images = ImageInput((1, 8, 8), channels=3, size=(16, 12), mean=(0.5, 0.4, 0.3),
                        std=(0.2, 0.2, 0.5))(rows)
    assert images.shape == (5, 3, 16, 12)
    plain = ImageInput((1, 8, 8))(rows)
    assert torch.equal(plain, rows.reshape(5, 1, 8, 8))
    resized = torch.nn.functional.interpolate(plain, size=(16, 12), mode="bilinear")
    assert torch.allclose(images[:, 2], (resized[:, 0] - 0.3) / 0.5, atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"shape": (64,)}, "shape must be"),
    ({"shape": (3, 4, 4), "channels": 1}, "single-channel"),
    ({"shape": (1, 8, 8), "channels": 0}, "channels must be"),
    ({"shape": (1, 8, 8), "size": (0, 4)}, "size must be"),
    ({"shape": (1, 8, 8), "channels": 3, "mean": (0.5,)}, "mean must have one value"),
    ({"shape": (1, 8, 8), "std": (0.0,)}, "std must be positive"),
])
def test_image_input_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ImageInput(**kwargs)


def frozen_with_head():
    frozen = PretrainedEncoder(backbone(), freeze=True, transform=image_input())
    return torch.nn.Sequential(frozen, torch.nn.Linear(8, 8))


def small(cls, encoder, **params):
    if cls is FineTuneClassifier:
        return cls(encoder=encoder, max_epochs=2, verbose=0, random_state=0, **params)
    return cls(encoder=encoder, n_way=5, n_query=3, max_epochs=1, episodes_per_epoch=4,
               n_val_episodes=1, verbose=0, random_state=0, **params)


LEARNERS = [ProtoNetClassifier, MatchingNetClassifier, SiameseClassifier, MAMLClassifier,
            ReptileClassifier, FineTuneClassifier]


@pytest.mark.parametrize("cls", LEARNERS)
def test_a_frozen_backbone_stays_as_loaded_while_its_head_meta_trains(cls):
    encoder = frozen_with_head()
    learner = small(cls, encoder).meta_fit(X, y)
    trained = [m for name, m in vars(learner).items()
               if name.endswith("_") and isinstance(m, torch.nn.Module)]
    states = [m.state_dict() for m in trained]
    # the backbone's weights and batch-norm statistics, whatever the learner calls them
    backbone_state = encoder[0].backbone.state_dict()
    for key, value in backbone_state.items():
        found = [s[k] for s in states for k in s if k.endswith(f"backbone.{key}")]
        assert found and all(torch.equal(f.cpu(), value) for f in found), key
    head = encoder[1].weight
    heads = [s[k] for s in states for k in s if k.endswith("1.weight") and s[k].shape == head.shape]
    assert heads and not any(torch.equal(h.cpu(), head) for h in heads)
    assert learner.fit(X[:20], y[:20]).predict(X[:5]).shape == (5,)


@pytest.mark.parametrize("cls", [ProtoNetClassifier, MAMLClassifier])
def test_an_unfrozen_backbone_is_meta_trained(cls):
    encoder = PretrainedEncoder(backbone(), transform=image_input())
    learner = small(cls, encoder).meta_fit(X, y)
    conv = encoder.backbone[0].weight
    weights = [p for attribute, m in vars(learner).items()
               if attribute.endswith("_") and isinstance(m, torch.nn.Module)
               for name, p in m.named_parameters() if name.endswith("backbone.0.weight")]
    assert weights and not torch.equal(weights[0].detach().cpu(), conv)


def test_nothing_to_meta_train_is_a_clear_error():
    encoder = PretrainedEncoder(backbone(), freeze=True, transform=image_input())
    with pytest.raises(ValueError, match="nothing to meta-train.*fit on each task"):
        small(ProtoNetClassifier, encoder).meta_fit(X, y)
    # frozen features answer new tasks without meta-training: nearest class mean
    fitted = small(ProtoNetClassifier, encoder).fit(X[:20], y[:20])
    with torch.no_grad():
        z = encoder.eval()(torch.as_tensor(X[:40]))
    means = torch.stack([z[:10].mean(0), z[10:20].mean(0)])
    np.testing.assert_array_equal(fitted.predict(X[20:40]),
                                  torch.cdist(z[20:], means).argmin(1).numpy())


def test_clone_and_pickle_keep_the_encoder_and_what_was_learned():
    learner = small(ProtoNetClassifier, frozen_with_head()).meta_fit(X, y)
    again = pickle.loads(pickle.dumps(learner))
    copied = clone(learner)
    reference = learner.fit(X[:20], y[:20]).predict_proba(X[20:40])
    for other in (again, copied):
        np.testing.assert_allclose(other.fit(X[:20], y[:20]).predict_proba(X[20:40]),
                                   reference, rtol=1e-6)
