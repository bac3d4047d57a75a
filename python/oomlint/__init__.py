"""oomlint: a linter and language server for GPU-memory mistakes in training scripts.

The work is done by the `oomlint` executable this package installs into the environment's
scripts folder; `find_oomlint_bin()` gives its path, `python -m oomlint` runs it.
"""
from oomlint._find import find_oomlint_bin

__all__ = ["find_oomlint_bin"]
