"""Looking at text space: class-to-class similarity and the nearest seen classes of unseen ones.

Zero-shot transfer works when an unseen class's text lies near the texts of seen classes whose
movements it shares; these helpers measure that for any text field.
"""
from __future__ import annotations

import numpy as np

from .descriptions import TextBank


def similarity_matrix(bank: TextBank, encoder, field: str = "label") -> np.ndarray:
    """Cosine similarity (K, K) between the classes' texts of one field (multi-sentence fields such as
    ``parts`` are compared part by part: the mean over the six part similarities)."""
    if field == "parts":
        fields = [f"parts.{k}" for k in ("head", "hand", "arm", "hip", "leg", "foot")]
        return np.mean([similarity_matrix(bank, encoder, f) for f in fields], axis=0)
    emb = encoder.encode(bank.strings(field))
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True).clip(1e-12)
    return emb @ emb.T


def nearest_classes(similarity: np.ndarray, queries, candidates, k: int = 3) -> dict[int, list[tuple[int, float]]]:
    """For each query class, the ``k`` most similar candidate classes with their similarity
    (ties broken by class id, so the answer is deterministic)."""
    candidates = np.asarray(list(candidates))
    out = {}
    for q in queries:
        sims = similarity[q, candidates]
        order = np.lexsort((candidates, -np.round(sims, 6)))[:k]
        out[int(q)] = [(int(candidates[i]), float(sims[i])) for i in order]
    return out


def class_across_sources(dataset: str, class_names, label: str, sources=("project", "gap", "star", "purls")):
    """The text of one class from each source: ``{source: ClassDescription or the reason it is unavailable}``."""
    from ..errors import ZssarError
    from .descriptions import text_bank_for

    names = list(class_names)
    out = {}
    for source in sources:
        try:
            bank = text_bank_for(dataset, names, source=None if source == "project" else source)
            out[source] = bank.classes[names.index(label)]
        except ZssarError as exc:
            out[source] = f"unavailable: {exc}"
    return out
