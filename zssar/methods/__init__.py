"""Zero-shot methods, one file each, behind one interface (:mod:`zssar.methods.base`)."""
from .base import ClassEmbeddings, Method, make_method, method_names

__all__ = ["ClassEmbeddings", "Method", "make_method", "method_names"]
