"""Zero-shot methods, one file each, behind one interface (:mod:`zssar.methods.base`)."""
from .base import METHODS, Method, Needs, Scores, Stream, make_method, method_names

__all__ = ["METHODS", "Method", "Needs", "Scores", "Stream", "make_method", "method_names"]
