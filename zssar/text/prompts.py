"""The questions the papers asked a language model, and the one request that fills the schema.

Each :class:`PaperPrompt` is a paper's question with ``{action}`` for the class name, and the schema
field(s) its answer fills. GAP's three questions are quoted from its Figure 5, STAR's from its
Section 3, PURLS/DynaPURLS's from its Tables 1-2 and Section 3.2, SkeletonContext's context template
from its Section 3.2. SMIE's 40-word description is given in SMIE's spirit (the exact wording is not
in the material at hand), and so are SkeletonContext's several context triples and key parts: the paper
asks its template once per description and generates 10 per class (Sec. 4.2); one request here asks
for the 10 triples at once, each slot of its template (environment, object used, target object) a
short phrase, plus the body parts its "body part" names. :func:`schema_request` combines them into
one request per class that asks for a JSON object in the schema of :mod:`zssar.text.schema`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from .schema import CONTEXT_KEYS, CONTEXTS_PER_CLASS, PART_KEYS, PHASE_KEYS, PURLS_PART_KEYS


@dataclass(frozen=True)
class PaperPrompt:
    name: str
    paper: str
    question: str  # with {action}; STAR's also has {part}
    fills: str  # the schema field its answer goes to

    def format(self, action: str, **kwargs) -> str:
        return self.question.format(action=action, **kwargs)


PAPER_PROMPTS: dict[str, PaperPrompt] = {p.name: p for p in (
    PaperPrompt("gap-paragraph", "GAP", 'Describe a person "{action}" in details.', "description"),
    PaperPrompt("gap-synonyms", "GAP", 'Suggest 10 synonyms for "{action}"', "synonyms"),
    PaperPrompt("gap-parts", "GAP", 'Describing following body parts actions when "{action}": '
                "head, hand, arm, hip, leg, foot.", "parts"),
    PaperPrompt("star-part", "STAR", "please describe the [{part}] actions simply when people [{action}]",
                "parts.<part>"),
    PaperPrompt("purls-parts", "PURLS", "Describe in very short how each body part moves for {action}. "
                "Using the following format, head would: ...; hands would: ...; torso would: ...; "
                "legs would: ...", "purls_parts"),
    PaperPrompt("purls-phases", "PURLS", "Separate the motion of {action} into three phases. Using the "
                "following format, start would: ...; middle would: ...; end would: ...", "phases"),
    PaperPrompt("purls-global", "PURLS", "Describe in very short how a person does {action}.", "description"),
    PaperPrompt("skeletoncontext", "SkeletonContext", "please describe the human skeleton action {action} "
                "in the form of In environment, body part uses object to perform subaction on target "
                "object.", "context_sentence"),
    PaperPrompt("skeletoncontext-contexts", "SkeletonContext", f"give {CONTEXTS_PER_CLASS} different contexts of "
                "{action} in the form In environment, body part uses object on target object.", "contexts"),
    PaperPrompt("skeletoncontext-parts", "SkeletonContext", "which body parts carry {action}?", "key_parts"),
    PaperPrompt("smie-40-words", "SMIE", 'Describe the human action "{action}" in one sentence of at most '
                "40 words.", "variants"),
)}

SYSTEM_MESSAGE = ("You describe human actions as a motion-capture expert: concretely and about movement, "
                  "saying what each body part does and in which phase. You answer with JSON only.")


def _example_shape() -> dict:
    return {"label": "<the action, exactly as given>", "synonyms": ["<10 short synonyms>"],
            "description": "<one paragraph>", "parts": {k: "..." for k in PART_KEYS},
            "purls_parts": {k: "..." for k in PURLS_PART_KEYS}, "phases": {k: "..." for k in PHASE_KEYS},
            "context": {k: "..." for k in CONTEXT_KEYS}, "context_sentence": "...",
            "contexts": [{k: "..." for k in CONTEXT_KEYS}], "key_parts": ["..."],
            "variants": ["<4 different one-sentence descriptions>"]}


def schema_request(action: str) -> list[dict]:
    """Chat messages asking for one class's full entry, each field answering a paper's question."""
    p = PAPER_PROMPTS
    lines = [
        f'Action: "{action}". Return one JSON object with exactly these fields:',
        f'- "synonyms": a list answering: {p["gap-synonyms"].format(action)}',
        f'- "description": one paragraph answering: {p["gap-paragraph"].format(action)}',
        f'- "parts": an object with keys {list(PART_KEYS)}, answering: {p["gap-parts"].format(action)}',
        f'- "purls_parts": an object with keys {list(PURLS_PART_KEYS)}, answering: '
        f'{p["purls-parts"].format(action)}',
        f'- "phases": an object with keys {list(PHASE_KEYS)}, answering: {p["purls-phases"].format(action)}',
        f'- "context": an object with keys {list(CONTEXT_KEYS)} (the place, the object used, the object acted '
        f'on; "none" when there is none)',
        f'- "context_sentence": answering: {p["skeletoncontext"].format(action)}',
        f'- "contexts": a list of objects like "context" (short phrases), answering: '
        f'{p["skeletoncontext-contexts"].format(action)}',
        f'- "key_parts": names among {list(PART_KEYS)}, answering: {p["skeletoncontext-parts"].format(action)}',
        f'- "variants": a list of 4 sentences, each answering: {p["smie-40-words"].format(action)}',
        "The JSON has this shape:", json.dumps(_example_shape()),
    ]
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": "\n".join(lines)}]
