"""Language prompting inside a frozen text tower: CoOp context, MaPLe-style deep prompts, and
SCoPLe's dual-stream language prompting (DSLP), on any :class:`~zssar.text.deep_prompt.DeepPromptTower`.

Notation: a tower of L blocks ``B_0 .. B_{L-1}``; ``h_l`` the token states entering block l;
``P_l`` (P x width) learnable prompt tokens, placed right after the first token (see
:mod:`zssar.text.deep_prompt`).

* ``coop`` (CoOp): prompts at the input only, ``h_0 = [t_0, P_0, t_1 .. t_n]``; one stream.
* ``deep`` (the text side of MaPLe): fresh prompts ``P_l`` replace the carried ones before each of
  the first ``depth`` blocks; one stream.
* ``dual`` (SCoPLe Eq. 5, as reconstructed from its supplement, Sec. 1.1 and 2.2): two streams run
  through the SAME frozen block. The original stream is the class text as it is,
  ``o_{l+1} = B_l(o_l)``; the prompted stream carries the prompts of ``deep``. After each block
  the text-token states of the prompted stream are mixed with the original stream's,

      h_{l+1}[text] = alpha_l * B_l([h_l ; P_l])[text] + (1 - alpha_l) * o_{l+1},
      h_{l+1}[prompts] = B_l([h_l ; P_l])[prompts],

  with one learnable ``alpha_l = sigmoid(a_l)`` per block. The embedding is the tower's own pooling
  of the last mixed states, so ``alpha = 0`` everywhere gives exactly the frozen tower's output.

Design decisions the sources leave open (the choice, and why):

* The original stream is never mixed: it is the frozen tower's plain pass, so it holds the
  "original semantics" the supplement speaks of, has no trainable input and is computed once per
  text without gradients (half the cost of back-propagating two streams).
* alpha exists for every block, prompted or not (supplement Fig. 2 shows one per layer of the
  CLIP text tower); it starts at 0.5 (``alpha_init``): neither stream favoured.
* The first token ([CLS] / start of text) is a text token: it is mixed (BERT's mean pooling reads it).
* Prompt scale: CoOp draws context vectors from N(0, 0.02), the spread of CLIP's token embeddings.
  Here each layer's prompts are ``s_l * theta``, theta ~ N(0, 1), where ``s_l`` is the spread of
  that layer's token states over the training texts: prompts start at the tower's own scale on
  MiniLM (states of spread ~0.5) as on CLIP (~0.02), and one learning rate suits both.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ..errors import InvalidConfig
from ..utils import one_thread
from .deep_prompt import DeepPromptTower, TokenBatch, TowerOutput

TEXT_PROMPTS = ("coop", "deep", "dual")


def plain_block_outputs(tower: DeepPromptTower, batch: TokenBatch) -> list[torch.Tensor]:
    """The original stream: the output of every block for these texts, no prompts, no gradients."""
    with torch.no_grad():
        return tower(batch, return_states=True).states[1:]


def mixing_hook(original: Sequence[torch.Tensor], alphas: torch.Tensor):
    """The hook that mixes the prompted stream's text tokens with the original stream after each block."""

    def hook(layer: int, hidden: torch.Tensor, num_prompts: int) -> torch.Tensor:
        a, plain = alphas[layer], original[layer]
        text = torch.cat([hidden[:, :1], hidden[:, 1 + num_prompts:]], dim=1)
        mixed = a * text + (1 - a) * plain
        return torch.cat([mixed[:, :1], hidden[:, 1:1 + num_prompts], mixed[:, 1:]], dim=1)

    return hook


def dual_stream(tower: DeepPromptTower, batch: TokenBatch, prompts: dict, alphas: torch.Tensor,
                original: Sequence[torch.Tensor] | None = None) -> TowerOutput:
    """The prompted stream, mixed after every block with the original one (``alphas``: one per block)."""
    if alphas.shape != (tower.num_layers,):
        raise InvalidConfig(f"dual stream: {tuple(alphas.shape)} mixing weights for a tower of "
                            f"{tower.num_layers} blocks; give one per block")
    original = plain_block_outputs(tower, batch) if original is None else original
    return tower(batch, prompts=prompts, hook=mixing_hook(original, alphas))


def batch_rows(batch: TokenBatch, states: Sequence[torch.Tensor], rows) -> tuple[TokenBatch, list[torch.Tensor]]:
    """Some texts of a padded batch (and their original stream), trailing padding trimmed."""
    rows = torch.as_tensor(rows, dtype=torch.long)
    length = int(batch.mask[rows].sum(1).max())
    sub = TokenBatch(batch.ids[rows, :length], batch.mask[rows, :length])
    return sub, [s[rows, :length] for s in states]


class LanguagePrompts(nn.Module):
    """The learnable part of text prompting: prompts per prompted block and, for ``dual``, the alphas.

    ``scales``: the spread of the token states entering each block (see the module docstring), from
    :func:`state_scales`.
    """

    def __init__(self, mode: str, width: int, num_layers: int, scales: Sequence[float], num_prompts: int = 4,
                 depth: int = 3, alpha_init: float = 0.5):
        super().__init__()
        if mode not in TEXT_PROMPTS:
            raise InvalidConfig(f"text prompting {mode!r}: use one of {list(TEXT_PROMPTS)}")
        if num_prompts < 1 or not 1 <= depth <= num_layers:
            raise InvalidConfig(f"text prompts: need >= 1 prompt token and a depth of 1..{num_layers} (the tower's "
                                f"blocks); got {num_prompts} tokens, depth {depth}")
        if not 0 < alpha_init < 1:
            raise InvalidConfig(f"alpha_init {alpha_init}: the mixing weight must start strictly between 0 and 1")
        self.mode, self.num_layers = mode, num_layers
        self.layers = (0,) if mode == "coop" else tuple(range(depth))
        self.register_buffer("scales", torch.tensor([float(scales[i]) for i in self.layers]))
        self.theta = nn.ParameterList([nn.Parameter(torch.randn(num_prompts, width)) for _ in self.layers])
        logit = math.log(alpha_init / (1 - alpha_init))
        self.alpha_logits = nn.Parameter(torch.full((num_layers,), logit)) if mode == "dual" else None

    def prompts(self) -> dict[int, torch.Tensor]:
        return {layer: s * t for layer, s, t in zip(self.layers, self.scales, self.theta)}

    def alphas(self) -> torch.Tensor | None:
        """(L,) mixing weights of the prompted stream (``dual`` only)."""
        return None if self.alpha_logits is None else torch.sigmoid(self.alpha_logits)

    def forward(self, tower: DeepPromptTower, batch: TokenBatch, original=None) -> torch.Tensor:
        """(B, output_dim) embeddings of the texts, not normalised."""
        if self.mode == "dual":
            return dual_stream(tower, batch, self.prompts(), self.alphas(), original).embedding
        return tower(batch, prompts=self.prompts()).embedding


def state_scales(tower: DeepPromptTower, batch: TokenBatch) -> list[float]:
    """The spread (std over real tokens and channels) of the token states entering each block."""
    with torch.no_grad():
        states = tower(batch, return_states=True).states[:-1]
    real = batch.mask.bool()
    return [float(s[real].std()) for s in states]


def freeze(tower: DeepPromptTower) -> DeepPromptTower:
    """A tower that is never trained: no gradients for its weights, evaluation mode (no dropout)."""
    for p in tower.parameters():
        p.requires_grad_(False)
    return tower.eval()


class PromptedText:
    """A frozen tower with its language prompts: class embeddings, in training and at scoring.

    Training texts are tokenised once and their original stream computed once (the tower is
    frozen); each step re-encodes the chosen rows with gradients. At scoring each text is embedded
    alone, on one thread, so a class's embedding never depends on which other classes are candidates.
    """

    def __init__(self, tower: DeepPromptTower, prompts: LanguagePrompts):
        self.tower = freeze(tower)
        self.prompts = prompts.to(self.tower.device)
        self._train = None  # (batch, original stream) of the training texts

    def prepare(self, texts: list[str]) -> None:
        batch = self.tower.tokenize(list(texts))
        original = plain_block_outputs(self.tower, batch) if self.prompts.mode == "dual" else []
        self._train = (batch, original)

    def train_rows(self, rows) -> torch.Tensor:
        """Unit embeddings (len(rows), D) of some training texts, with gradients to the prompts."""
        if self._train is None:
            raise RuntimeError("prepare(texts) before encoding training rows")
        batch, original = batch_rows(*self._train, rows)
        return nn.functional.normalize(self.prompts(self.tower, batch, original or None).float(), dim=-1).cpu()

    def embed(self, texts: list[str]) -> torch.Tensor:
        """Unit embeddings (K, D) of any texts, no gradients, each as if encoded alone."""
        texts = list(texts)
        out = torch.zeros(len(texts), self.tower.output_dim)
        with torch.no_grad(), one_thread():
            for i, text in enumerate(texts):
                batch = self.tower.tokenize([text])
                out[i] = nn.functional.normalize(self.prompts(self.tower, batch).float(), dim=-1)[0].cpu()
        return out
