"""Masked-language-model access: a text tower's token states and a head that turns them into words.

SkeletonContext (Sec. 3.3) reads the token states ``H_t`` of a masked context prompt from a frozen
masked language model and decodes the reconstructed slots with that model's head ``f_MLM`` (Eq. 4-5).
A :class:`MaskedLM` is that pair, whatever its origin:

* :func:`pretrained_masked_lm`: BERT's own masked-LM head (``bert-base-uncased`` through
  :class:`~zssar.text.towers.BertMaskedLMEncoder`, the paper's language model), when the user supplies it;
* :func:`tied_masked_lm`: the offline default. The shipped MiniLM tower has no masked-LM head, so one is
  trained here: BERT's head shape (``dense -> GELU -> LayerNorm``, then the vocabulary logits), its
  decoder TIED to the tower's own word embeddings (``logits = transform(h) E^T + b``; only ``dense``,
  the LayerNorm and ``b`` are learned), on masked tokens of text the caller gives (SkeletonContext gives
  its seen classes' context prompts, see :mod:`zssar.methods.context_prompt`). The frozen tower never
  changes. A head is kept on disk under
  ``<cache>/mlm/<key>.pt``, the key a hash of everything that produced it (the tower's weights, the
  training examples, the settings, the seed); a missing or damaged entry is trained again.

Decisions the paper leaves open (it uses BERT's pretrained head, which needs none of this):

* the head is trained with a *sampled* softmax: each batch's targets plus ``negatives`` word pieces
  drawn uniformly from the vocabulary (seeded), instead of the whole 30522-word vocabulary, to fit a
  CPU; :meth:`MaskedLM.logits` always scores the whole vocabulary when asked for words;
* the decoder init is the tie itself and ``dense`` starts as the identity, so before training the head
  reads the tower's last states directly against its input embeddings;
* the examples come with their masked positions (SkeletonContext's: every context triple of its seen
  classes with each slot masked in turn, and with all masked). Training on the classes' plain
  sentences as well (15% of their word pieces masked) was tried on KARD (13 seen classes of split
  random:5:0, 30 head epochs): it cost four times the tower passes and did not raise the accuracy on
  held-out context slots (11.8% against 13.4% of slot words), so it is not done;
* the tower's token states are kept on disk per token row (:func:`token_states`): a tower pass is the
  slow part on a CPU, and the same prompts recur in every split, seed and probe.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import cache_root
from ..errors import InvalidConfig
from ..utils import array_digest, one_thread, progress, stable_hash, torch_seeded
from .deep_prompt import BertTower, TokenBatch

HEAD_VERSION = 1  # bump when the head or its training changes, so old cache entries are not reused


@dataclass(frozen=True)
class MaskedExample:
    """Token ids (L,), their attention mask (L,) and the masked positions (P,) with their targets (P,)."""

    ids: np.ndarray
    attention: np.ndarray
    positions: np.ndarray
    targets: np.ndarray


class TiedMLMHead(nn.Module):
    """BERT's masked-LM head shape with the decoder tied to given word embeddings (not a parameter)."""

    def __init__(self, width: int, vocab_size: int):
        super().__init__()
        self.dense = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width, eps=1e-12)
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        with torch.no_grad():
            self.dense.weight.copy_(torch.eye(width))
            self.dense.bias.zero_()

    def transform(self, states: torch.Tensor) -> torch.Tensor:
        return self.norm(F.gelu(self.dense(states)))


class MaskedLM:
    """A frozen BERT-style tower and a masked-LM head: ``states`` of token ids, ``logits`` of states.

    ``label`` says what it is in settings and records (e.g. ``minilm + tied MLM head trained here``).
    """

    def __init__(self, tower: BertTower, transform, vocab_weight: torch.Tensor, vocab_bias: torch.Tensor,
                 label: str, head: nn.Module | None = None):
        if not isinstance(tower, BertTower):
            raise InvalidConfig(f"a masked language model needs a BERT-style tower (MiniLM, BERT), got "
                                f"{type(tower).__name__}; use the minilm or bert-base-uncased encoder")
        self.tower, self.transform, self.label, self.head = tower.eval(), transform, label, head
        self.vocab_weight, self.vocab_bias = vocab_weight, vocab_bias
        for p in tower.parameters():
            p.requires_grad_(False)

    @property
    def tokenizer(self):
        return self.tower.tokenizer

    @property
    def width(self) -> int:
        return self.tower.width

    @property
    def vocab_size(self) -> int:
        return int(self.vocab_weight.shape[0])

    @torch.no_grad()
    def states(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Last token states (B, L, width) of token ids (B, L) with their attention mask."""
        device = self.tower.device
        return self.tower(TokenBatch(ids.to(device), attention.to(device))).tokens.float().cpu()

    def logits(self, states: torch.Tensor, vocab: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (..., V) over the whole vocabulary, or over the word-piece ids ``vocab`` only."""
        h = self.transform(states)
        if vocab is None:
            return h @ self.vocab_weight.T + self.vocab_bias
        return h @ self.vocab_weight[vocab].T + self.vocab_bias[vocab]

    def head_weights(self) -> list[np.ndarray]:
        """The head's learned weights (for a method's state digest); none for a pretrained head."""
        return [p.detach().cpu().numpy() for p in self.head.parameters()] if self.head is not None else []


def pretrained_masked_lm(encoder) -> MaskedLM:
    """BERT's own masked-LM head (``encoder``: a :class:`~zssar.text.towers.BertMaskedLMEncoder`)."""
    predictions = getattr(getattr(getattr(encoder, "mlm", None), "cls", None), "predictions", None)
    if predictions is None:
        raise InvalidConfig(f"encoder {getattr(encoder, 'name', '?')!r} has no BERT masked-LM head; use "
                            "bert-base-uncased (ZSSAR_BERT_PATH) or the trained head (mlm_head='trained')")
    bias = predictions.decoder.bias if getattr(predictions.decoder, "bias", None) is not None else predictions.bias
    return MaskedLM(encoder.tower(), predictions.transform, predictions.decoder.weight.detach(), bias.detach(),
                    f"{encoder.name} with its pretrained masked-LM head")


def tower_fingerprint(tower: nn.Module) -> str:
    """A hash of every weight of a tower (the identity of its token states)."""
    return array_digest([p.detach().cpu().numpy() for p in tower.state_dict().values()])


def token_states(tower: BertTower, ids: list[np.ndarray], attention: list[np.ndarray], *, cache_dir=None,
                 fingerprint: str | None = None, show_progress: bool = False) -> list[np.ndarray]:
    """The frozen tower's last token states (L_i, width) of token-id rows, kept on disk per row.

    A row's states depend on that row only (each row runs alone, on one thread:
    :func:`~zssar.utils.one_thread`), so each is cached under ``<cache>/mlm/states-3/<tower>/``, keyed
    by a hash of its ids and attention mask; a damaged entry is computed again. A tower pass is the
    slow part of SkeletonContext on a CPU, and the same prompts recur in every split and seed."""
    fingerprint = fingerprint or tower_fingerprint(tower)
    # 2: computed on one thread; 3: each row alone (rows of equal length batched together gave other bits
    # for one-token texts, see utils.one_thread)
    folder = cache_root(cache_dir) / "mlm" / "states-3" / fingerprint
    width = tower.width
    out: list[np.ndarray | None] = [None] * len(ids)
    todo: dict[str, list[int]] = {}
    for i, (row, att) in enumerate(zip(ids, attention)):
        key = array_digest([row, att])
        out[i] = _read_states(folder / key[:2] / f"{key}.npy", len(row), width)
        if out[i] is None:
            todo.setdefault(key, []).append(i)
    if todo:
        firsts = [rows[0] for rows in todo.values()]
        lm = MaskedLM(tower, None, torch.zeros(0, width), torch.zeros(0), "")
        fresh = {}
        with one_thread():
            for i in progress(firsts, desc="masked LM: token states", enabled=show_progress and len(firsts) > 200):
                fresh[i] = lm.states(torch.from_numpy(ids[i])[None], torch.from_numpy(attention[i])[None])[0].numpy()
        for key, rows in todo.items():
            value = np.ascontiguousarray(fresh[rows[0]], dtype=np.float32)
            _write_states(folder / key[:2] / f"{key}.npy", value)
            for i in rows:
                out[i] = value
    return out


def _read_states(path: Path, length: int, width: int) -> np.ndarray | None:
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):
        return None
    if value.shape != (length, width) or value.dtype != np.float32 or not np.isfinite(value).all():
        return None
    return value


def _write_states(path: Path, value: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, value)
    os.replace(tmp, path)


def _masked_states(tower: BertTower, examples: list[MaskedExample], cache_dir=None, fingerprint=None,
                   show_progress: bool = False):
    """Frozen tower states at every example's masked positions (M, width) and their targets (M,)."""
    states = token_states(tower, [e.ids for e in examples], [e.attention for e in examples], cache_dir=cache_dir,
                          fingerprint=fingerprint, show_progress=show_progress)
    x = np.concatenate([s[e.positions] for s, e in zip(states, examples)])
    return torch.from_numpy(x), torch.from_numpy(np.concatenate([e.targets for e in examples]))


def _train_head(tower: BertTower, examples, seed, epochs, batch_size, lr, negatives, show_progress, cache_dir,
                fingerprint) -> TiedMLMHead:
    embeddings = tower.bert.embeddings.word_embeddings.weight.detach()
    x, y = _masked_states(tower, examples, cache_dir, fingerprint, show_progress)
    with torch_seeded(seed):
        head = TiedMLMHead(tower.width, embeddings.shape[0])
    lm = MaskedLM(tower, head.transform, embeddings, head.bias, "")
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in progress(range(epochs), desc="masked-LM head: training", enabled=show_progress):
        for sel in torch.randperm(len(x), generator=gen).split(batch_size):
            vocab, target = sampled_vocabulary(y[sel], embeddings.shape[0], negatives, gen)
            loss = F.cross_entropy(lm.logits(x[sel], vocab), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head.eval()


def sampled_vocabulary(targets: torch.Tensor, vocab_size: int, negatives: int, generator):
    """The word-piece ids a sampled softmax scores (the targets, then ``negatives`` uniform draws; all
    of the vocabulary when ``negatives`` is 0) and each target's column among them."""
    if negatives <= 0:
        return None, targets
    drawn = torch.randint(0, vocab_size, (negatives,), generator=generator)
    vocab, inverse = torch.unique(torch.cat([targets, drawn]), return_inverse=True)
    return vocab, inverse[: len(targets)]


def head_cache_path(key: str, cache_dir=None) -> Path:
    return cache_root(cache_dir) / "mlm" / f"{key}.pt"


def _read_head(path: Path, width: int, vocab_size: int) -> TiedMLMHead | None:
    """A cached head, or None when missing or damaged (it is then trained and written again)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        with torch_seeded(0):  # building the module draws initial weights; keep the caller's generator as it was
            head = TiedMLMHead(width, vocab_size)
        head.load_state_dict(state)
    except (OSError, RuntimeError, EOFError, ValueError, KeyError, TypeError, AttributeError, pickle.UnpicklingError):
        return None
    if not all(torch.isfinite(p).all() for p in head.parameters()):
        return None
    return head.eval()


def tied_masked_lm(tower: BertTower, examples: list[MaskedExample], *, seed: int = 0, epochs: int = 20,
                   batch_size: int = 512, lr: float = 5e-3, negatives: int = 1024, cache_dir=None,
                   encoder_name: str = "minilm", show_progress: bool = False) -> MaskedLM:
    """A tower with a head tied to its word embeddings, trained on ``examples`` (or read from the cache)."""
    if not isinstance(tower, BertTower):
        raise InvalidConfig(f"a tied masked-LM head needs a BERT-style tower (MiniLM, BERT); the encoder "
                            f"{encoder_name!r} gives a {type(tower).__name__}")
    if not examples:
        raise InvalidConfig("a masked-LM head needs training text; none was given")
    embeddings = tower.bert.embeddings.word_embeddings.weight.detach()
    arrays = [a for e in examples for a in (e.ids, e.attention, e.positions, e.targets)]
    settings = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "negatives": negatives}
    fingerprint = tower_fingerprint(tower)
    key = stable_hash({"head": "tied-mlm", "version": HEAD_VERSION, "tower": fingerprint,
                       "examples": array_digest(arrays), "settings": settings, "seed": seed}, length=24)
    path = head_cache_path(key, cache_dir)
    head = _read_head(path, tower.width, embeddings.shape[0])
    if head is None:
        head = _train_head(tower, examples, seed, epochs, batch_size, lr, negatives, show_progress, cache_dir,
                           fingerprint)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        torch.save(head.state_dict(), tmp)
        os.replace(tmp, path)  # a crash never leaves half a file
    for p in head.parameters():
        p.requires_grad_(False)
    return MaskedLM(tower, head.transform, embeddings, head.bias,
                    f"{encoder_name} + tied masked-LM head trained here (zssar.text.mlm, cache key {key})", head)


@torch.no_grad()
def slot_accuracy(lm: MaskedLM, examples: list[MaskedExample], ignore: tuple[int, ...] = (), cache_dir=None) -> float:
    """Top-1 accuracy of the head's whole-vocabulary prediction at every masked position (targets in
    ``ignore``, e.g. the padding id, are not counted)."""
    x, y = _masked_states(lm.tower, examples, cache_dir)
    keep = ~torch.isin(y, torch.tensor(list(ignore), dtype=y.dtype)) if ignore else torch.ones_like(y, dtype=torch.bool)
    if not keep.any():
        return float("nan")
    return float((lm.logits(x[keep]).argmax(-1) == y[keep]).float().mean())
