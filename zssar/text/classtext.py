"""``ClassText``: the text of some classes, as a method receives it.

One object for every method, frozen or tuned text alike:

* ``class_ids`` and, per class, every field of the description schema as strings
  (:meth:`ClassText.strings`, :meth:`synonyms`, :meth:`variants`, :attr:`entries`);
* embeddings per field from the run's encoder (:meth:`ClassText.embeddings`), computed on first use
  and kept (on disk by the encoder's cache, in memory for the run);
* :meth:`ClassText.encode` for any other strings a method builds from the fields (prompts, templates);
* :meth:`ClassText.tower`: a fresh trainable copy of the encoder's text tower with deep-prompt access
  (:mod:`zssar.text.deep_prompt`), for methods that tune prompts inside it or read its token states;
  :meth:`ClassText.masked_lm` the encoder's masked-language-model head where it has one.

:meth:`ClassText.take` gives the text of a subset of its classes and nothing else, so a method handed
the seen classes' text cannot reach an unseen class's: the runner holds the text of every class and
hands out ``take(seen)`` for training and ``take(candidates)`` for scoring.
"""
from __future__ import annotations

import copy

import numpy as np

from ..errors import InvalidConfig
from .descriptions import TextBank
from .schema import ClassDescription


class ClassText:
    """Text of the classes ``class_ids`` of a :class:`TextBank`, embedded by ``encoder``."""

    def __init__(self, bank: TextBank, encoder, class_ids=None, *, _memo: dict | None = None):
        self.bank, self.encoder = bank, encoder
        ids = tuple(range(len(bank))) if class_ids is None else tuple(int(c) for c in class_ids)
        bad = [c for c in ids if not 0 <= c < len(bank)]
        if bad:
            raise InvalidConfig(f"no text for class id(s) {bad}: {bank.dataset!r} has classes 0..{len(bank) - 1}")
        self.class_ids = ids
        self._memo = {} if _memo is None else _memo  # field -> {class id: vector}, shared by every take()

    def __len__(self) -> int:
        return len(self.class_ids)

    def __repr__(self) -> str:
        return f"ClassText({len(self)} classes of {self.bank.dataset!r}, encoder {self.encoder_name!r})"

    @property
    def source(self) -> str:
        return self.bank.source

    @property
    def encoder_name(self) -> str:
        return getattr(self.encoder, "name", "?")

    @property
    def dim(self) -> int:
        return int(self.encoder.dim)

    def take(self, class_ids) -> "ClassText":
        """The text of some of these classes, in the given order (only classes this text holds)."""
        ids = tuple(int(c) for c in class_ids)
        mine = set(self.class_ids)
        foreign = [c for c in ids if c not in mine]
        if foreign:
            raise InvalidConfig(f"no text for class(es) {foreign}: this text holds classes {list(self.class_ids)}")
        return ClassText(self.bank, self.encoder, ids, _memo=self._memo)

    def with_encoder(self, encoder) -> "ClassText":
        """The same classes embedded by another encoder (e.g. a tuned copy of the tower)."""
        return ClassText(self.bank, encoder, self.class_ids)

    # ---------------------------------------------------------------- strings
    @property
    def entries(self) -> tuple[ClassDescription, ...]:
        return tuple(self.bank.classes[c] for c in self.class_ids)

    def strings(self, field: str) -> list[str]:
        """One string per class for a field of the schema (see :func:`zssar.text.schema.field_names`)."""
        return [self.bank.classes[c].field(field) for c in self.class_ids]

    def has_field(self, field: str) -> bool:
        """Whether every class has its own text for ``field`` (no fallback to the label)."""
        return all(self.bank.classes[c].has(field) for c in self.class_ids)

    def synonyms(self, position: int) -> list[str]:
        """Every synonym of the class at ``position`` (the label when none are given)."""
        return self.bank.synonyms(self.class_ids[position])

    def variants(self, position: int) -> list[str]:
        """Every variant description of the class at ``position``."""
        return self.bank.variants(self.class_ids[position])

    # ---------------------------------------------------------------- embeddings
    def embeddings(self, field: str) -> np.ndarray:
        """(K, D) float32 embeddings of a field, rows in ``class_ids`` order."""
        memo = self._memo.setdefault(field, {})
        missing = [c for c in dict.fromkeys(self.class_ids) if c not in memo]
        if missing:
            vectors = self.encoder.encode([self.bank.classes[c].field(field) for c in missing])
            memo.update(zip(missing, np.asarray(vectors, dtype=np.float32)))
        if not self.class_ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([memo[c] for c in self.class_ids])

    def encode(self, texts) -> np.ndarray:
        """(len(texts), D) embeddings of any strings, by the run's (cached) encoder."""
        return np.asarray(self.encoder.encode(list(texts)), dtype=np.float32)

    # ---------------------------------------------------------------- the tower
    def tower(self):
        """A fresh, trainable copy of the encoder's text tower (the encoder keeps its weights)."""
        encoder = getattr(self.encoder, "encoder", self.encoder)  # through the cache wrapper
        if not hasattr(encoder, "tower"):
            raise InvalidConfig(f"encoder {self.encoder_name!r} has no transformer tower to tune; use minilm, "
                                "bert-base-uncased or a CLIP encoder")
        tower = copy.deepcopy(encoder.tower())
        for p in tower.parameters():
            p.requires_grad_(True)
        return tower.train()

    def masked_lm(self):
        """The encoder's masked-language-model access (``mlm_logits``), or an error naming what to use."""
        encoder = getattr(self.encoder, "encoder", self.encoder)
        if not hasattr(encoder, "mlm_logits"):
            raise InvalidConfig(f"encoder {self.encoder_name!r} has no masked-language-model head; use "
                                "bert-base-uncased (ZSSAR_BERT_PATH)")
        return encoder
