"""Sphinx configuration of the sklmeta documentation.

Build with ``make docs``, or directly::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Warnings are errors, so the configuration below is kept free of them.
"""

import os
import sys

# Import sklmeta from this checkout, so a build from a clone works without
# installing the package first.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

import sklmeta  # noqa: E402

# -- Project information -----------------------------------------------------

project = "sklmeta"
author = "The sklmeta developers"
copyright = "the sklmeta developers"
version = sklmeta.__version__
release = sklmeta.__version__

# -- General configuration ---------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
# examples/ holds the gallery's sources (rendered into auto_examples/ by
# sphinx-gallery) and the scripts of `make demo`, not pages.
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store"]
root_doc = "index"
language = "en"

# -- autodoc and autosummary -------------------------------------------------

# Stub pages are written to api/generated/ (git-ignored) on every build.
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {
    "members": True,
    # A learner's page shows what it inherits from BaseMetaEstimator
    # (meta_fit, fit, save_params, ...); _skip_foreign_members below drops
    # what comes from scikit-learn, torch or Python itself.
    "inherited-members": True,
    "member-order": "groupwise",
}
# A member is documented only with a docstring of its own: an override such
# as an encoder's ``forward`` does not borrow the text of torch's method.
autodoc_inherit_docstrings = False
autodoc_typehints = "none"
autodoc_class_signature = "mixed"
# Show defaults as written in the source (``optimizer=torch.optim.Adam``),
# not as the repr of the object.
autodoc_preserve_defaults = True


_FOREIGN_MODULES = ("builtins", "sklearn", "torch")


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out members that Python, scikit-learn or torch define.

    Members a class inherits from its sklmeta bases, such as ``meta_fit``
    of a learner, are documented. Those that come from ``BaseEstimator``,
    ``ClassifierMixin`` (``score``, metadata routing), ``torch.nn.Module``
    or the built-in exceptions are documented by those projects, and their
    docstrings refer to labels that exist only in those projects' pages.
    """
    target = getattr(obj, "fget", obj)
    module = getattr(target, "__module__", None)
    if module is None:  # descriptors of built-in types
        module = getattr(getattr(target, "__objclass__", None), "__module__", None)
    if (module or "").partition(".")[0] in _FOREIGN_MODULES:
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)


# -- gallery -------------------------------------------------------------------

# Every docs/examples/plot_*.py runs at each build and its figures are
# captured; tests/test_examples.py runs them too, so they cannot rot.
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # the demo and the learner of writing_a_learner.rst are not gallery pages
    "ignore_pattern": r"(omniglot_demo|cosine_centroid)\.py",
    "image_scrapers": ("matplotlib",),
    "download_all_examples": False,
    "show_memory": False,
    "remove_config_comments": True,
}

# -- numpydoc ----------------------------------------------------------------

# Methods are listed by autodoc, not by numpydoc, so no duplicate entries.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# Types such as "int, default=5" stay plain text: no cross-reference
# targets outside this project exist without intersphinx.
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# -- doctest builder -----------------------------------------------------------

# `python -m sphinx -b doctest docs <folder>` runs the >>> examples of the
# pages and docstrings; each example imports what it uses, so no global
# set-up is given.

# -- HTML output --------------------------------------------------------------

html_theme = "alabaster"
html_title = f"sklmeta {release}"
html_theme_options = {
    "description": "Meta-learning for scikit-learn, backed by PyTorch",
    "fixed_sidebar": True,
}
html_static_path = []
