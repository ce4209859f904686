"""Loader for the CLINC150 intent utterances shipped with the package."""

import gzip
import json
from functools import lru_cache
from importlib import resources

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_clinc150"]

_SUBSETS = ("train", "val", "test", "all")
_OOS = "oos"

_DESCR = """\
CLINC150 intent utterances
--------------------------

23,700 short queries to a task-oriented assistant (Larson et al., 2019):
150 intents in 10 domains, each with 100 train, 20 val and 30 test
utterances, and 1,200 out-of-scope queries (100 train, 100 val, 1,000
test) that belong to none of the intents.

This selection
    subset: {subset}
    out-of-scope included: {include_oos}
    samples: {n_samples}
    intents: {n_intents}

The domains (banking, credit_cards, kitchen_and_dining, home,
auto_and_commute, travel, utility, work, small_talk, meta) give a natural
class-disjoint split: meta-train on the intents of some domains, adapt to
those of the others.

Licence: Creative Commons Attribution 3.0 Unported. Cite Larson et al.,
"An Evaluation Dataset for Intent Classification and Out-of-Scope
Prediction", EMNLP-IJCNLP 2019.
"""


@lru_cache(maxsize=1)
def _read():
    folder = resources.files("sklmeta.datasets") / "data" / "clinc150"
    with (folder / "data_full.json.gz").open("rb") as raw, gzip.open(raw, "rt") as text:
        full = json.load(text)
    domains = json.loads((folder / "domains.json").read_text(encoding="utf-8"))
    return full, domains


def load_clinc150(*, subset="all", include_oos=False, return_X_y=False):
    """Load the CLINC150 intent utterances (text classification, few-shot).

    150 intents of a task-oriented assistant in 10 domains, with 150
    labelled utterances each, and out-of-scope queries that belong to no
    intent. It ships with the package, so nothing is downloaded. The
    domains make class-disjoint splits for meta-learning: meta-train on the
    intents of some domains, adapt to intents of the others from a few
    utterances each.

    =================  ==============================================
    Classes            150 intents (151 with ``include_oos``)
    Domains            10, of 15 intents each
    Samples per class  100 train, 20 val, 30 test
    Samples total      22,500 (23,700 with ``include_oos``)
    Features           one string per sample, lower-case English
    =================  ==============================================

    Parameters
    ----------
    subset : {'train', 'val', 'test', 'all'}, default='all'
        The published part to load; 'all' loads the three, each sample's
        part given in ``split``. Few-shot work usually takes 'all' and
        splits by intent or domain instead.
    include_oos : bool, default=False
        Also load the out-of-scope utterances of the subset, with the
        intent and domain ``'oos'``.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of shape (n_samples,), dtype object
            The utterances, as Python strings.
        target : ndarray of shape (n_samples,), dtype object
            The intent of each utterance, such as ``'transfer'``.
        domain : ndarray of shape (n_samples,), dtype object
            The domain of each utterance's intent, such as ``'banking'``.
        split : ndarray of shape (n_samples,), dtype object
            The published part of each utterance: ``'train'``, ``'val'``
            or ``'test'``.
        target_names : ndarray of str
            The 150 intents, sorted (and ``'oos'`` with ``include_oos``).
        domains : dict of str to list of str
            Each domain's 15 intents.
        DESCR : str
            A description of the data set and of this selection.

    (data, target) : tuple if ``return_X_y`` is True
        The ``data`` and ``target`` arrays described above.

    Notes
    -----
    The data is by Larson et al. (2019), released under the Creative
    Commons Attribution 3.0 Unported licence, whose text is shipped in
    ``sklmeta/datasets/data/clinc150/LICENSE``; the files are the authors'
    ``data_full.json`` (compressed, content unchanged) and
    ``domains.json``. Rows keep the published order within each part. The
    returned arrays are new on every call; the file is read once per
    process.

    References
    ----------
    .. [1] S. Larson et al., "An Evaluation Dataset for Intent
       Classification and Out-of-Scope Prediction", EMNLP-IJCNLP 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklmeta.datasets import load_clinc150
    >>> clinc = load_clinc150()
    >>> clinc.data.shape, len(clinc.target_names), len(clinc.domains)
    ((22500,), 150, 10)
    >>> banking = clinc.domain == "banking"
    >>> len(np.unique(clinc.target[banking]))
    15
    """
    if subset not in _SUBSETS:
        raise ValueError(
            f"subset must be one of {', '.join(map(repr, _SUBSETS))}; got {subset!r}."
        )
    if not isinstance(include_oos, (bool, np.bool_)):
        raise TypeError(f"include_oos must be a bool, got {include_oos!r}.")
    full, domains = _read()
    domain_of = {intent: domain for domain, intents in domains.items() for intent in intents}
    parts = ("train", "val", "test") if subset == "all" else (subset,)
    rows = []
    for part in parts:
        rows += [(text, intent, part) for text, intent in full[part]]
        if include_oos:
            rows += [(text, intent, part) for text, intent in full[f"oos_{part}"]]
    texts, intents, splits = (np.array(column, dtype=object) for column in zip(*rows))
    domain = np.array([domain_of.get(intent, _OOS) for intent in intents], dtype=object)
    names = sorted(domain_of) + ([_OOS] if include_oos else [])
    if return_X_y:
        return texts, intents
    return Bunch(
        data=texts,
        target=intents,
        domain=domain,
        split=splits,
        target_names=np.array(names),
        domains={name: list(intents_) for name, intents_ in domains.items()},
        DESCR=_DESCR.format(subset=subset, include_oos=include_oos, n_samples=len(texts),
                            n_intents=len(names)),
    )
