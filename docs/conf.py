"""Sphinx configuration of the skmixsynth documentation.

Build (from the repository root, no warnings allowed)::

    OMP_NUM_THREADS=1 sphinx-build -W --keep-going -b html docs docs/_build/html

``-D plot_gallery=0`` skips running the examples (their code is shown, without outputs and
figures); tests/test_docs.py builds that way and runs every example on its own.
"""

import logging
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
# The examples and the API pages run torch: one thread each keeps the build reproducible and
# polite on a busy machine (see docs/guide/threads.md).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import skmixsynth  # noqa: E402

project = "skmixsynth"
author = "skmixsynth developers"
copyright = "skmixsynth developers"
release = skmixsynth.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.json",
                    "auto_examples/*.md5", "auto_examples/*.codeobj.json"]
templates_path = ["_templates"]

# -- API reference -----------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# Doctest examples are run by pytest (--doctest-modules); here they are only shown.
numpydoc_use_plots = False

# -- Markdown pages (MyST) ---------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

# -- Gallery -----------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # Run every example (not only plot_*.py): each prints results worth showing.
    "filename_pattern": r"\.py$",
    "ignore_pattern": r"__init__\.py|/_",
    "within_subsection_order": "_gallery_order.ExampleOrder",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "capture_repr": ("_repr_html_", "__repr__"),
    "first_notebook_cell": None,
    "show_memory": False,
    "min_reported_time": 1,
}

# -- HTML --------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skmixsynth {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "navbar_align": "left",
}
html_show_sourcelink = False


# -- The "Scaling out" pages -------------------------------------------------------------------
# docs/scaling*.md are written on their own branch; index.md lists whichever exist with the glob
# ``scaling*``. Where none exists yet, Sphinx warns that the glob matched nothing, with no
# warning type that suppress_warnings could name: that one message is filtered out.
class _EmptyScalingGlob(logging.Filter):
    def filter(self, record):
        return "'scaling*' didn't match" not in record.getMessage()


def setup(app):
    logging.getLogger("sphinx.sphinx.directives.other").addFilter(_EmptyScalingGlob())
