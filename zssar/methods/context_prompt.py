"""SkeletonContext's masked context prompt (Sec. 3.3.2): the template, its slots and the masking schedule.

The prompt is ``Environment: [MASK] | Used object: [MASK] | Target object: [MASK]``; each slot is filled
from one context triple of the sample's OWN class (the public code draws a random class's: never).
Progressive partial masking masks a growing share of the slots, ``r_t = min(1, t / T)``.

Decisions the paper leaves open:

* **Slots to word pieces.** A slot is ``width`` word-piece positions (default 3), so every prompt has the
  same length and the slots sit at fixed positions. Its target is the slot phrase without a leading
  article ("a glass" -> "glass"), cut to ``width`` pieces and padded with ``[PAD]`` targets: the model
  also learns where a phrase ends, and decoding stops at the first ``[PAD]``. A masked slot shows
  ``width`` ``[MASK]`` tokens; an unmasked one its phrase, its padding positions left out of attention.
* **What PPM masks.** Whole slots: at ratio ``r`` each training prompt masks ``max(1, ceil(r * S))`` of
  its ``S`` slots, chosen at random (at least one, so every prompt has a target). Without PPM every
  slot is masked from the first step, as at inference.
* **Which slots.** ``slots`` chooses the template's slots (Tab. 7's ablation leaves slots out).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InvalidConfig
from ..text.mlm import MaskedExample

SLOTS = ("environment", "used_object", "target_object")
SLOT_PROMPTS = {"environment": "Environment:", "used_object": "Used object:", "target_object": "Target object:"}
ARTICLES = ("a ", "an ", "the ")


def slot_phrase(text: str) -> str:
    """The words a slot reconstructs: the phrase without a leading article, in lower case."""
    text = text.strip().lower()
    for article in ARTICLES:
        if text.startswith(article) and len(text) > len(article):
            return text[len(article):]
    return text


def parse_slots(slots) -> tuple[str, ...]:
    """Slot names from a comma-separated string or a sequence, in the template's order."""
    names = [s.strip() for s in slots.split(",")] if isinstance(slots, str) else list(slots)
    unknown = [s for s in names if s not in SLOTS]
    if unknown or not names:
        raise InvalidConfig(f"skeletoncontext: slots {slots!r}: use a comma-separated subset of {list(SLOTS)}")
    return tuple(s for s in SLOTS if s in names)


def masking_ratio(step: int, ramp_steps: int) -> float:
    """Progressive partial masking: ``r_t = min(1, t / T)`` with ``T = ramp_steps`` (Sec. 3.3.2)."""
    return 1.0 if ramp_steps <= 0 else min(1.0, step / ramp_steps)


def masked_count(ratio: float, num_slots: int) -> int:
    """How many of a prompt's slots are masked at ratio ``r``: ``max(1, ceil(r * S))``."""
    return int(min(num_slots, max(1, math.ceil(ratio * num_slots - 1e-9))))


def draw_masks(ratio: float, num_slots: int, batch: int, generator: torch.Generator) -> torch.Tensor:
    """(batch, S) booleans: which slots each prompt masks, ``masked_count`` of them at random."""
    k = masked_count(ratio, num_slots)
    order = torch.rand(batch, num_slots, generator=generator).argsort(1)
    return order < k


def pattern_index(masks: torch.Tensor) -> torch.Tensor:
    """Each mask row as an integer (bit s = slot s masked)."""
    weights = 2 ** torch.arange(masks.shape[1])
    return (masks.long() * weights).sum(1)


def draw_own_contexts(positions: torch.Tensor, counts: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each sample, one context triple of its own class: an index below ``counts[its class]``."""
    u = torch.rand(len(positions), generator=generator)
    return (u * counts[positions]).long().clamp(max=counts[positions] - 1)


@dataclass
class PromptBuilder:
    """Token ids of the masked context prompt over a tokenizer (BERT word pieces)."""

    tokenizer: object
    slots: tuple[str, ...] = SLOTS
    width: int = 3

    def __post_init__(self):
        if self.width < 1:
            raise InvalidConfig("skeletoncontext: slot_width must be at least 1")
        tok = self.tokenizer
        self.mask_id, self.pad_id = tok.mask_token_id, tok.pad_token_id
        if self.mask_id is None or self.pad_id is None:
            raise InvalidConfig("the language model's tokenizer has no [MASK] or [PAD] token")
        ids, positions = [tok.cls_token_id], []
        for i, slot in enumerate(self.slots):
            ids += self._pieces(("| " if i else "") + SLOT_PROMPTS[slot])
            positions.append(list(range(len(ids), len(ids) + self.width)))
            ids += [self.mask_id] * self.width
        ids.append(tok.sep_token_id)
        self.template = np.asarray(ids, dtype=np.int64)
        self.positions = np.asarray(positions, dtype=np.int64)  # (S, width)

    def _pieces(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @property
    def length(self) -> int:
        return len(self.template)

    def targets(self, triple: dict) -> np.ndarray:
        """(S, width) target word-piece ids of a context triple, padded with [PAD]."""
        out = np.full((len(self.slots), self.width), self.pad_id, dtype=np.int64)
        for s, slot in enumerate(self.slots):
            pieces = self._pieces(slot_phrase(triple[slot]))[: self.width]
            out[s, : len(pieces)] = pieces
        return out

    def prompt(self, targets: np.ndarray | None, masked) -> tuple[np.ndarray, np.ndarray]:
        """Ids and attention (L,) with the slots in ``masked`` as [MASK] and the others showing ``targets``."""
        ids, attention = self.template.copy(), np.ones(self.length, dtype=np.int64)
        for s in range(len(self.slots)):
            if not masked[s]:
                ids[self.positions[s]] = targets[s]
                attention[self.positions[s]] = targets[s] != self.pad_id
        return ids, attention

    def masked_prompt(self) -> tuple[np.ndarray, np.ndarray]:
        """The inference prompt: every slot masked."""
        return self.prompt(None, [True] * len(self.slots))

    def not_first(self) -> np.ndarray:
        """Word-piece ids that cannot open a slot phrase: [PAD] and the special tokens, word
        continuations ("##ing") and pieces without a letter (punctuation, digits)."""
        special = set(self.tokenizer.all_special_ids)
        banned = {i for w, i in self.tokenizer.get_vocab().items()
                  if i in special or w.startswith("##") or not any(ch.isalpha() for ch in w)}
        return np.asarray(sorted(banned), dtype=np.int64)

    def decode(self, ids: np.ndarray) -> str:
        """A slot's predicted word pieces up to the first [PAD], as text."""
        ids = list(ids)
        if self.pad_id in ids:
            ids = ids[: ids.index(self.pad_id)]
        return self.tokenizer.decode(ids).strip(" .,;:!?|") if ids else ""


def slot_patterns(num_slots: int) -> range:
    """Every slot mask as an integer 1 .. 2^S - 1 (bit s: slot s masked); the last masks every slot."""
    return range(1, 2 ** num_slots)


def prompt_rows(builder: PromptBuilder, triples: list, per_class: int):
    """Every prompt of some classes' triples: targets (K, J, S, w) and the ids and attention rows in the
    order (class, triple, slot mask). A class with fewer than ``per_class`` triples repeats them."""
    patterns = slot_patterns(len(builder.slots))
    targets = np.zeros((len(triples), per_class, len(builder.slots), builder.width), dtype=np.int64)
    ids, attention = [], []
    for k, class_triples in enumerate(triples):
        for j in range(per_class):
            targets[k, j] = builder.targets(class_triples[j % len(class_triples)])
            for m in patterns:
                row, att = builder.prompt(targets[k, j], [(m >> s) & 1 == 1 for s in range(len(builder.slots))])
                ids.append(row)
                attention.append(att)
    return targets, ids, attention


def slot_examples(builder: PromptBuilder, triples: list, *, full: bool = True) -> list[MaskedExample]:
    """Text-only masked-LM examples of context triples: each triple with one slot masked (the others
    shown), and with every slot masked when ``full`` (the slot words' prior)."""
    num = len(builder.slots)
    masks = [[t == s for t in range(num)] for s in range(num)] + ([[True] * num] if full and num > 1 else [])
    out = []
    for class_triples in triples:
        for triple in class_triples:
            targets = builder.targets(triple)
            for masked in masks:
                ids, att = builder.prompt(targets, masked)
                chosen = [s for s in range(num) if masked[s]]
                out.append(MaskedExample(ids, att, builder.positions[chosen].ravel(), targets[chosen].ravel()))
    return out
