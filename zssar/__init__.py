"""zssar: zero-shot skeleton-based action recognition, reproducibly.

Importing the package is cheap: submodules (and torch) load only when used, e.g.
``from zssar.runner import RunConfig, run_experiment``.
"""
__version__ = "0.1.0"
