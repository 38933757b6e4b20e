"""Sphinx configuration for fastnn's documentation (build: ``sphinx-build -W -b html docs out``)."""

import doctest

import fastnn

project = "fastnn"
author = "fastnn developers"
copyright = "2026, fastnn developers"
release = fastnn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]

# The API pages document the public names (fastnn.X, fastnn.layers.X, ...), never the
# modules behind them, so the pages survive a change of layout.
autodoc_default_options = {"members": True, "undoc-members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc sections carry the types
numpydoc_show_class_members = False

# The examples run in `sphinx-build -b doctest` (tests/test_docs.py).
doctest_global_setup = "import numpy as np\nimport fastnn\nnp.set_printoptions(precision=4)"
doctest_default_flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

myst_heading_anchors = 3

html_theme = "pydata_sphinx_theme"
html_title = f"fastnn {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path: list[str] = []
