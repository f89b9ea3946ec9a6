"""Sphinx configuration of the jaxloss documentation (``bash scripts/docs.sh`` builds it)."""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # document this checkout's jaxloss, whatever the environment has installed
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gen_catalog  # noqa: E402

import jaxloss  # noqa: E402

# The catalog and the API reference are generated from the registry on every build.
gen_catalog.write_docs()

project = "jaxloss"
author = "the jaxloss authors"
copyright = "the jaxloss authors, Apache-2.0"
version = release = jaxloss.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "generated/aliases.md"]  # aliases.md is included
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

autodoc_typehints = "none"  # the signatures carry the defaults; the Args sections the types
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# MathJax comes from its CDN by default. For offline builds (the headless-browser check)
# JAXLOSS_DOCS_MATHJAX names a local copy, e.g. Debian's libjs-mathjax (MathJax 2):
#   file:///usr/share/javascript/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML
if os.environ.get("JAXLOSS_DOCS_MATHJAX"):
    mathjax_path = os.environ["JAXLOSS_DOCS_MATHJAX"]
    if "MathJax.js" in mathjax_path:  # MathJax 2: Sphinx must not add a v3 configuration
        mathjax2_config = {"tex2jax": {"inlineMath": [["\\(", "\\)"]], "processClass": "math"}}
        myst_update_mathjax = False  # MyST's settings are MathJax 3's

html_theme = "furo"
html_title = f"jaxloss {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
