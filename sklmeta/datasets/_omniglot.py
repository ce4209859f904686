"""Loader for the Omniglot handwritten characters shipped with the package."""

from functools import lru_cache
from importlib import resources

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_omniglot"]

_N_CHARACTERS = 1623
_N_ROTATIONS = 4
_IMAGE_SHAPE = (28, 28)
_LAKE_SPLITS = ("background", "evaluation")
_VINYALS_SPLITS = ("train", "val", "test", "trainval")
_SPLITS = (None, *_LAKE_SPLITS, *_VINYALS_SPLITS)

_DESCR_TEMPLATE = """\
Omniglot handwritten characters
-------------------------------

1623 characters from 50 alphabets, each drawn by 20 different people
(Lake, Salakhutdinov and Tenenbaum, 2015). Every image is a 28x28 greyscale
array scaled to [0, 1], with ink close to 1 and background 0, shrunk from the
original 105x105 drawings.

This selection
    split: {split}
    rotations: {rotations}
    samples: {n_samples}
    classes: {n_classes}
    characters: {n_characters}

Splits: 'background' (964 characters, 30 alphabets) and 'evaluation'
(659 characters, 20 alphabets) are the two halves published with the data;
'train', 'val', 'test' and 'trainval' are the character split of Vinyals et
al. (2016). With rotations, each character is also turned by 90, 180 and 270
degrees counter-clockwise and every (character, rotation) pair is a class.

Licence: MIT, Copyright (c) 2015 Brenden Lake. The split lists are MIT,
Copyright (c) 2017 Jake Snell.

Please cite: B. M. Lake, R. Salakhutdinov and J. B. Tenenbaum, "Human-level
concept learning through probabilistic program induction", Science
350(6266):1332-1338, 2015.
"""


def _data_dir():
    return resources.files(__package__).joinpath("data", "omniglot")


def _read_only(array):
    array.flags.writeable = False
    return array


@lru_cache(maxsize=1)
def _load_arrays():
    """Read the bundled archive once; the arrays are kept read-only."""
    with _data_dir().joinpath("omniglot.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as archive:
            arrays = {name: _read_only(archive[name]) for name in archive.files}
    # Names without the 'images_background/' or 'images_evaluation/' folder.
    arrays["short_names"] = _read_only(
        np.array([name.split("/", 1)[1] for name in arrays["character_names"]])
    )
    return arrays


@lru_cache(maxsize=2)
def _class_names(rotations):
    short_names = _load_arrays()["short_names"]
    if not rotations:
        return short_names
    return _read_only(
        np.array(
            [
                f"{name}/rot{90 * k:03d}"
                for name in short_names
                for k in range(_N_ROTATIONS)
            ]
        )
    )


@lru_cache(maxsize=len(_VINYALS_SPLITS))
def _vinyals_classes(split):
    """Sorted class ids ``4 * character + k`` listed in a split file."""
    character_ids = {
        name: i for i, name in enumerate(_load_arrays()["short_names"].tolist())
    }
    text = _data_dir().joinpath("splits", "vinyals", f"{split}.txt").read_text()
    classes = []
    for line in text.split():
        name, _, rotation = line.rpartition("/")
        degrees = int(rotation.removeprefix("rot"))
        if name not in character_ids or degrees not in (0, 90, 180, 270):
            raise ValueError(
                f"split file {split}.txt has the line {line!r}, which names no "
                "known character and rotation (rot000, rot090, rot180, rot270)"
            )
        classes.append(_N_ROTATIONS * character_ids[name] + degrees // 90)
    return _read_only(np.unique(np.asarray(classes, dtype=np.int64)))


def _selected_classes(split, rotations):
    """Sorted class ids of a split: character ids, or ``4 * character + k``."""
    arrays = _load_arrays()
    if split in _VINYALS_SPLITS:
        classes = _vinyals_classes(split)
        if rotations:
            return classes
        return np.unique(classes // _N_ROTATIONS)

    if split is None:
        characters = np.arange(_N_CHARACTERS, dtype=np.int64)
    else:
        in_background = np.zeros(_N_CHARACTERS, dtype=bool)
        in_background[arrays["labels"][arrays["background"]]] = True
        wanted = split == "background"
        characters = np.flatnonzero(in_background == wanted).astype(np.int64)
    if not rotations:
        return characters
    return (
        _N_ROTATIONS * characters[:, None] + np.arange(_N_ROTATIONS)
    ).ravel()


def load_omniglot(*, split=None, rotations=False, return_X_y=False):
    """Load the Omniglot handwritten characters (classification, few-shot).

    Omniglot holds 1623 characters from 50 alphabets, each drawn once by
    20 different people. It ships with the package, so nothing is
    downloaded. Each image is a 28x28 greyscale array with ink close to 1
    and background 0.

    =================  ==========================================
    Classes            1623 characters (6492 with ``rotations``)
    Samples per class  20
    Samples total      32460 (129840 with ``rotations``)
    Dimensionality     784 (28x28 pixels)
    Features           float32 in [0, 1], ink close to 1
    =================  ==========================================

    Parameters
    ----------
    split : {'background', 'evaluation', 'train', 'val', 'test', \
            'trainval'} or None, default=None
        Which characters to load. None loads all 1623.
        'background' (964 characters from 30 alphabets) and 'evaluation'
        (659 characters from 20 alphabets) are the two halves published with
        the data. 'train' (1028 characters), 'val' (172), 'test' (423) and
        'trainval' (1200, the union of 'train' and 'val') are the character
        split of Vinyals et al. (2016), which mixes alphabets of both halves.
        The classes of 'train', 'val' and 'test' are disjoint.

    rotations : bool, default=False
        If False, each character is one class. If True, every image is also
        rotated by 90, 180 and 270 degrees counter-clockwise and each
        (character, rotation) pair is a class of its own, which multiplies
        the number of classes and samples by four. For the Vinyals splits,
        exactly the (character, rotation) classes listed in the split file
        are loaded.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of shape (n_samples, 784), dtype float32
            The flattened images, one row per sample, in [0, 1].
        images : ndarray of shape (n_samples, 28, 28), dtype float32
            The same images; this array shares its memory with ``data``.
        target : ndarray of shape (n_samples,), dtype int64
            The class of each sample. Without rotations this is the character
            id (0 to 1622); with rotations it is ``4 * character + k``, where
            the image is rotated by ``90 * k`` degrees.
        target_names : ndarray of str
            The name of every class, indexed by ``target``, so it lists all
            classes of the data set whatever the split: 1623 names
            ``'<Alphabet>/characterNN'`` without rotations, 6492 names
            ``'<Alphabet>/characterNN/rotDDD'`` with them.
        character : ndarray of shape (n_samples,), dtype int64
            The character id (0 to 1622) of each sample.
        rotation : ndarray of shape (n_samples,), dtype int64
            The counter-clockwise rotation of each sample in degrees: 0, 90,
            180 or 270 (always 0 without rotations).
        alphabet : ndarray of shape (n_samples,), dtype int64
            The alphabet of each sample, an index into ``alphabet_names``.
        drawer : ndarray of shape (n_samples,), dtype int64
            Which of the 20 people drew the sample, from 1 to 20.
        background : ndarray of shape (n_samples,), dtype bool
            True for characters of the 'background' half, False for those
            of the 'evaluation' half.
        alphabet_names : ndarray of shape (50,) of str
            The names of the 50 alphabets.
        feature_names : list of str
            ``'pixel_0'`` to ``'pixel_783'``, in row-major pixel order.
        split : str or None
            The ``split`` argument.
        DESCR : str
            A description of the data set and of this selection.

    (data, target) : tuple if ``return_X_y`` is True
        The ``data`` and ``target`` arrays described above.

    Notes
    -----
    The images come from Lake et al. (2015) and are released under the MIT
    licence (Copyright (c) 2015 Brenden Lake); the licence text is shipped in
    ``sklmeta/datasets/data/omniglot/LICENSE``. The original images are
    105x105 black-and-white drawings; the bundled copies were inverted so
    that ink is bright and shrunk to 28x28 with LANCZOS resampling, which
    gives antialiased grey levels.

    The 'train', 'val', 'test' and 'trainval' lists of Vinyals et al. (2016)
    are taken from the Prototypical Networks code release (MIT licence,
    Copyright (c) 2017 Jake Snell, shipped in ``splits/vinyals/LICENSE``).
    Each line names a (character, rotation) class. Without rotations, a
    character is loaded when at least one of its lines is in the file.

    Rotations follow :func:`numpy.rot90`: class ``4 * c + k`` holds the
    images of character ``c`` turned counter-clockwise ``k`` times, that is
    ``np.rot90(image, k)``.

    Rows are sorted by ``target``, then by ``drawer``: each class is a block
    of 20 consecutive rows, and with rotations the four rotations of a
    character follow one another.

    The returned arrays are new on every call, so they may be modified
    freely. The file is read once per process and kept in memory.

    References
    ----------
    .. [1] B. M. Lake, R. Salakhutdinov and J. B. Tenenbaum, "Human-level
       concept learning through probabilistic program induction", Science,
       350(6266), pp. 1332-1338, 2015.

    .. [2] O. Vinyals, C. Blundell, T. Lillicrap, K. Kavukcuoglu and
       D. Wierstra, "Matching Networks for One Shot Learning", Advances in
       Neural Information Processing Systems 29, 2016.

    Examples
    --------
    >>> from sklmeta.datasets import load_omniglot
    >>> omniglot = load_omniglot(split="test")
    >>> omniglot.data.shape
    (8460, 784)
    >>> omniglot.images.shape
    (8460, 28, 28)
    >>> len(set(omniglot.target))
    423
    >>> print(omniglot.target_names[omniglot.target[0]])
    Gurmukhi/character42

    With rotations, every (character, rotation) pair is a class:

    >>> X, y = load_omniglot(split="val", rotations=True, return_X_y=True)
    >>> X.shape, len(set(y))
    ((13760, 784), 688)
    """
    if split is not None and not (isinstance(split, str) and split in _SPLITS):
        raise ValueError(
            f"split must be None or one of {list(_SPLITS[1:])}, got {split!r}."
        )
    for name, value in (("rotations", rotations), ("return_X_y", return_X_y)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(
                f"{name} must be a bool (True or False), got {value!r} of type "
                f"{type(value).__name__}."
            )
    rotations = bool(rotations)

    arrays = _load_arrays()
    labels = arrays["labels"]
    classes = _selected_classes(split, rotations)
    step = _N_ROTATIONS if rotations else 1
    class_character = classes // step

    # Source rows of every character, ordered by drawer.
    by_character = np.lexsort((arrays["drawer"], labels))
    counts = np.bincount(labels, minlength=_N_CHARACTERS)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))

    # One block of rows per selected class, in class order.
    block_sizes = counts[class_character]
    block_starts = np.cumsum(block_sizes) - block_sizes
    offset = np.arange(block_sizes.sum()) - np.repeat(block_starts, block_sizes)
    source = by_character[np.repeat(starts[class_character], block_sizes) + offset]
    target = np.repeat(classes, block_sizes)
    turns = target % step

    # Fill a single float32 buffer; the uint8 gathers are the only temporaries.
    images = np.empty((source.size, *_IMAGE_SHAPE), dtype=np.float32)
    for k in range(step):
        rows = np.flatnonzero(turns == k) if rotations else slice(None)
        images[rows] = np.rot90(arrays["images"][source[rows]], k, axes=(1, 2))
    images /= 255
    data = images.reshape(source.size, -1)

    if return_X_y:
        return data, target

    character = labels[source].astype(np.int64)
    n_pixels = data.shape[1]
    descr = _DESCR_TEMPLATE.format(
        split=split,
        rotations=rotations,
        n_samples=source.size,
        n_classes=classes.size,
        n_characters=np.unique(class_character).size,
    )
    return Bunch(
        data=data,
        images=images,
        target=target,
        target_names=_class_names(rotations).copy(),
        character=character,
        rotation=(90 * turns).astype(np.int64),
        alphabet=arrays["alphabet"][source].astype(np.int64),
        drawer=arrays["drawer"][source].astype(np.int64),
        background=arrays["background"][source],
        alphabet_names=arrays["alphabet_names"].copy(),
        feature_names=[f"pixel_{i}" for i in range(n_pixels)],
        split=split,
        DESCR=descr,
    )
