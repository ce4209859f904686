from importlib import resources

import numpy as np
import pytest

from sklmeta.datasets import load_omniglot

N_CHARACTERS = 1623


def _split_lines(split):
    path = resources.files("sklmeta.datasets").joinpath(
        "data", "omniglot", "splits", "vinyals", f"{split}.txt"
    )
    return set(path.read_text().split())


@pytest.mark.parametrize("rotations", [False, True])
def test_omniglot_shapes_and_dtypes(rotations):
    bunch = load_omniglot(split="val", rotations=rotations)
    n = bunch.data.shape[0]

    assert bunch.data.shape == (n, 784)
    assert bunch.images.shape == (n, 28, 28)
    assert bunch.data.dtype == np.float32
    assert bunch.images.dtype == np.float32
    np.testing.assert_array_equal(bunch.images.reshape(n, -1), bunch.data)

    for name in ("target", "character", "rotation", "alphabet", "drawer"):
        assert bunch[name].shape == (n,), name
        assert bunch[name].dtype == np.int64, name
    assert bunch.background.shape == (n,)
    assert bunch.background.dtype == bool

    n_names = 4 * N_CHARACTERS if rotations else N_CHARACTERS
    assert bunch.target_names.shape == (n_names,)
    assert bunch.target_names.dtype.kind == "U"
    assert bunch.alphabet_names.shape == (50,)
    assert bunch.feature_names[0] == "pixel_0"
    assert bunch.feature_names[-1] == "pixel_783"
    assert len(bunch.feature_names) == 784
    assert bunch.split == "val"
    assert "Lake" in bunch.DESCR


def test_omniglot_value_range():
    data = load_omniglot(split="test").data
    assert data.min() == 0.0
    assert data.max() == 1.0
    # Ink is bright: most pixels are background, so the mean is low.
    assert data.mean() < 0.25


@pytest.mark.parametrize(
    "split, rotations, n_classes, n_characters",
    [
        (None, False, 1623, 1623),
        ("background", False, 964, 964),
        ("evaluation", False, 659, 659),
        ("train", False, 1028, 1028),
        ("val", False, 172, 172),
        ("test", False, 423, 423),
        ("trainval", False, 1200, 1200),
        ("train", True, 4112, 1028),
        ("val", True, 688, 172),
        ("test", True, 1692, 423),
    ],
)
def test_omniglot_split_sizes(split, rotations, n_classes, n_characters):
    bunch = load_omniglot(split=split, rotations=rotations)
    classes, counts = np.unique(bunch.target, return_counts=True)
    assert classes.size == n_classes
    assert np.unique(bunch.character).size == n_characters
    # Every class holds one image per drawer.
    np.testing.assert_array_equal(counts, 20)
    assert bunch.data.shape == (20 * n_classes, 784)
    for target in classes[:: max(1, classes.size // 10)]:
        drawers = bunch.drawer[bunch.target == target]
        np.testing.assert_array_equal(np.sort(drawers), np.arange(1, 21))


def test_omniglot_vinyals_splits_partition_the_characters():
    characters = {
        split: set(load_omniglot(split=split, return_X_y=True)[1].tolist())
        for split in ("train", "val", "test", "trainval")
    }
    assert not characters["train"] & characters["val"]
    assert not characters["train"] & characters["test"]
    assert not characters["val"] & characters["test"]
    union = characters["train"] | characters["val"] | characters["test"]
    assert union == set(range(N_CHARACTERS))
    assert characters["trainval"] == characters["train"] | characters["val"]


def test_omniglot_lake_splits():
    background = load_omniglot(split="background")
    evaluation = load_omniglot(split="evaluation")
    assert background.background.all()
    assert not evaluation.background.any()
    assert np.unique(background.alphabet).size == 30
    assert np.unique(evaluation.alphabet).size == 20
    both = set(background.target.tolist()) | set(evaluation.target.tolist())
    assert both == set(range(N_CHARACTERS))
    assert not set(background.target.tolist()) & set(evaluation.target.tolist())


@pytest.mark.parametrize("split", ["train", "val", "test", "trainval"])
def test_omniglot_rotated_classes_match_split_file(split):
    # target_names covers every class of the data set, whatever the split.
    names = load_omniglot(split="val", rotations=True).target_names
    _, y = load_omniglot(split=split, rotations=True, return_X_y=True)
    assert set(names[np.unique(y)].tolist()) == _split_lines(split)


def test_omniglot_rotations_rotate_the_image():
    plain = load_omniglot(split="val")
    rotated = load_omniglot(split="val", rotations=True)
    assert set(np.unique(rotated.rotation).tolist()) == {0, 90, 180, 270}
    np.testing.assert_array_equal(rotated.target % 4, rotated.rotation // 90)
    np.testing.assert_array_equal(rotated.target // 4, rotated.character)

    character = plain.character[45]
    drawer = plain.drawer[45]
    original = plain.images[45]
    for k in range(4):
        (row,) = np.flatnonzero(
            (rotated.target == 4 * character + k) & (rotated.drawer == drawer)
        )
        assert rotated.rotation[row] == 90 * k
        np.testing.assert_array_equal(rotated.images[row], np.rot90(original, k))
    # A non-square-symmetric drawing really changes under rotation.
    assert not np.array_equal(np.rot90(original, 1), original)


@pytest.mark.parametrize("rotations", [False, True])
def test_omniglot_target_names(rotations):
    bunch = load_omniglot(split="test", rotations=rotations)
    names = bunch.target_names[bunch.target]
    alphabets = bunch.alphabet_names[bunch.alphabet]
    for i in range(0, bunch.target.size, 997):
        parts = names[i].split("/")
        assert parts[0] == alphabets[i]
        assert parts[1].startswith("character")
        assert parts[:2] == bunch.target_names[
            4 * bunch.character[i] if rotations else bunch.character[i]
        ].split("/")[:2]
        if rotations:
            assert parts[2] == f"rot{bunch.rotation[i]:03d}"
        else:
            assert len(parts) == 2
    # Names are unique, one per class.
    assert np.unique(bunch.target_names).size == bunch.target_names.size


def test_omniglot_rows_sorted_by_target_then_drawer():
    bunch = load_omniglot(split="val", rotations=True)
    order = np.lexsort((bunch.drawer, bunch.target))
    np.testing.assert_array_equal(order, np.arange(bunch.target.size))


def test_omniglot_return_X_y():
    bunch = load_omniglot(split="val", rotations=True)
    X, y = load_omniglot(split="val", rotations=True, return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"split": "training"}, ValueError, "split.*'trainval'.*got 'training'"),
        ({"split": 1}, ValueError, "split.*1"),
        ({"split": ["train"]}, ValueError, "split"),
        ({"rotations": 1}, TypeError, "rotations.*1"),
        ({"rotations": "yes"}, TypeError, "rotations.*'yes'"),
        ({"return_X_y": None}, TypeError, "return_X_y.*None"),
    ],
)
def test_omniglot_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_omniglot(**kwargs)


def test_omniglot_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        load_omniglot("train")


def test_omniglot_returns_fresh_arrays():
    first = load_omniglot(split="val")
    expected = load_omniglot(split="val")
    for name in (
        "data",
        "target",
        "character",
        "alphabet",
        "drawer",
        "rotation",
    ):
        first[name][...] = 7
    first.background[...] = ~first.background
    first.target_names[...] = "x"
    first.alphabet_names[...] = "x"

    second = load_omniglot(split="val")
    for name in (
        "data",
        "images",
        "target",
        "target_names",
        "character",
        "rotation",
        "alphabet",
        "drawer",
        "background",
        "alphabet_names",
    ):
        np.testing.assert_array_equal(second[name], expected[name], err_msg=name)


def test_clinc150_sizes_domains_and_splits():
    from sklmeta.datasets import load_clinc150

    clinc = load_clinc150()
    assert clinc.data.shape == clinc.target.shape == clinc.domain.shape == (22500,)
    assert len(clinc.target_names) == 150 and len(clinc.domains) == 10
    intents, counts = np.unique(clinc.target, return_counts=True)
    assert (counts == 150).all() and list(intents) == list(clinc.target_names)
    for domain, members in clinc.domains.items():
        assert len(members) == 15
        assert set(clinc.target[clinc.domain == domain]) == set(members)
    train = load_clinc150(subset="train")
    assert len(train.data) == 15000 and set(train.split) == {"train"}
    assert all(isinstance(text, str) and text for text in train.data[:100])


def test_clinc150_out_of_scope_and_return_X_y():
    from sklmeta.datasets import load_clinc150

    X, y = load_clinc150(subset="test", include_oos=True, return_X_y=True)
    assert len(X) == 4500 + 1000 and (y == "oos").sum() == 1000
    bunch = load_clinc150(include_oos=True)
    assert "oos" in bunch.target_names and set(bunch.domain[bunch.target == "oos"]) == {"oos"}
    with pytest.raises(ValueError, match="subset must be one of"):
        load_clinc150(subset="dev")
    with pytest.raises(TypeError, match="include_oos"):
        load_clinc150(include_oos="yes")
    first, second = load_clinc150(), load_clinc150()
    first.data[0] = "changed"
    assert second.data[0] != "changed"
