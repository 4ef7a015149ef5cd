"""Text towers run block by block, with learnable prompt tokens inserted at chosen layers.

One interface for BERT-style towers (MiniLM, BERT; bidirectional attention, mean pooling) and
CLIP-style towers (open_clip; causal attention, pooling at the end-of-text token):

    tower = encoder.tower()                       # a DeepPromptTower
    out = tower(texts, prompts={0: p0, 6: p6}, return_states=True)
    out.embedding        # (B, output_dim), not normalised
    out.states[i]        # (B, L, width): the input of block i; states[-1] is the last block's output

**Deep prompts** (VPT-deep, MaPLe, SCoPLe's dual-stream prompting): ``prompts`` maps a layer index
to a tensor of shape (P, width), shared by the batch, or (B, P, width), one set per text (e.g.
conditioned on a skeleton). Before block ``i`` runs, the P tokens given for layer ``i`` are placed
right after the first token ([CLS] or the start-of-text token): the first time they are inserted,
later they *replace* the prompt tokens carried over from the layer before. A layer without an entry
keeps the prompt tokens as the previous block left them. Prompt tokens attend and are attended to
like text tokens; pooling reads text tokens only, so with zero-length prompts (P = 0) the output is
exactly the plain encoder output.

``hook(layer, hidden, num_prompts) -> hidden | None`` runs after each block: a method may read or
rewrite the token states there (SkeletonContext reads them; a returned tensor replaces them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import torch
from torch import nn

from ..errors import InvalidConfig


@dataclass
class TokenBatch:
    """Token ids (B, L) and the mask of real tokens (B, L), on the tower's device."""

    ids: torch.Tensor
    mask: torch.Tensor


@dataclass
class TowerOutput:
    embedding: torch.Tensor  # (B, output_dim) pooled and projected, not normalised
    tokens: torch.Tensor  # (B, L, width) final token states of the text tokens (prompts removed)
    mask: torch.Tensor  # (B, L) real-token mask of ``tokens``
    states: list[torch.Tensor] | None  # block inputs, then the last block's output, prompts included
    num_prompts: int  # prompt tokens present after the last block (at positions 1..num_prompts)


class DeepPromptTower(nn.Module):
    """A transformer text tower exposed block by block (see the module docstring)."""

    width: int
    num_layers: int
    output_dim: int

    # -- what each architecture provides
    def tokenize(self, texts: list[str]) -> TokenBatch:
        raise NotImplementedError

    def embed(self, batch: TokenBatch) -> torch.Tensor:
        """Token (and position) embeddings (B, L, width)."""
        raise NotImplementedError

    def attention(self, mask: torch.Tensor, hidden: torch.Tensor):
        """What every block needs to attend properly, for a sequence with this real-token mask."""
        raise NotImplementedError

    def block(self, index: int, hidden: torch.Tensor, attention) -> torch.Tensor:
        raise NotImplementedError

    def pool(self, hidden: torch.Tensor, batch: TokenBatch) -> torch.Tensor:
        """Final token states (B, L, width), prompts removed -> embedding (B, output_dim)."""
        raise NotImplementedError

    def finish(self, hidden: torch.Tensor) -> torch.Tensor:
        """Anything applied to every token after the last block (CLIP's final layer norm)."""
        return hidden

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- the shared block-by-block forward pass
    def forward(self, texts, prompts: Mapping[int, torch.Tensor] | None = None, *, return_states: bool = False,
                hook: Callable | None = None) -> TowerOutput:
        batch = texts if isinstance(texts, TokenBatch) else self.tokenize(list(texts))
        prompts = self._check_prompts(prompts, batch.ids.shape[0])
        hidden = self.embed(batch)
        mask, attention, num_prompts = batch.mask, None, 0
        states = [] if return_states else None
        for i in range(self.num_layers):
            if i in prompts:
                p = prompts[i].to(hidden.dtype)
                if num_prompts or p.shape[1]:
                    hidden = torch.cat([hidden[:, :1], p, hidden[:, 1 + num_prompts:]], dim=1)
                    if p.shape[1] != num_prompts:  # the sequence length changed
                        attention = None
                    num_prompts = p.shape[1]
                    mask = torch.cat([batch.mask[:, :1], batch.mask.new_ones(len(p), num_prompts),
                                      batch.mask[:, 1:]], dim=1)
            if attention is None:
                attention = self.attention(mask, hidden)
            if states is not None:
                states.append(hidden)
            hidden = self.block(i, hidden, attention)
            if hook is not None:
                replaced = hook(i, hidden, num_prompts)
                hidden = hidden if replaced is None else replaced
        if states is not None:
            states.append(hidden)
        hidden = self.finish(hidden)
        text_tokens = torch.cat([hidden[:, :1], hidden[:, 1 + num_prompts:]], dim=1)
        return TowerOutput(self.pool(text_tokens, batch), text_tokens, batch.mask, states, num_prompts)

    def _check_prompts(self, prompts, batch_size: int) -> dict[int, torch.Tensor]:
        if prompts is None:
            return {}
        if not isinstance(prompts, Mapping):  # a sequence, one entry (or None) per layer
            prompts = {i: p for i, p in enumerate(prompts) if p is not None}
        out = {}
        for layer, p in prompts.items():
            if not 0 <= int(layer) < self.num_layers:
                raise InvalidConfig(f"prompt layer {layer} does not exist; the tower has layers 0..{self.num_layers - 1}")
            if p.dim() == 2:
                p = p.unsqueeze(0).expand(batch_size, -1, -1)
            if p.dim() != 3 or p.shape[0] != batch_size or p.shape[2] != self.width:
                raise InvalidConfig(f"prompts for layer {layer} have shape {tuple(p.shape)}; use (P, {self.width}) "
                                    f"or ({batch_size}, P, {self.width})")
            out[int(layer)] = p.to(self.device)
        return out


class BertTower(DeepPromptTower):
    """A Hugging Face BERT (MiniLM, BERT) with mean pooling over the real tokens."""

    def __init__(self, bert, tokenizer, max_length: int = 256):
        super().__init__()
        self.bert, self.tokenizer, self.max_length = bert, tokenizer, max_length
        self.width = bert.config.hidden_size
        self.num_layers = bert.config.num_hidden_layers
        self.output_dim = self.width

    def tokenize(self, texts):
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        return TokenBatch(enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device))

    def embed(self, batch):
        return self.bert.embeddings(input_ids=batch.ids, token_type_ids=torch.zeros_like(batch.ids))

    def attention(self, mask, hidden):
        try:  # the mask format depends on the attention implementation the model was loaded with
            from transformers.masking_utils import create_bidirectional_mask
        except ImportError:  # older transformers: an additive (B, 1, 1, L) mask
            return self.bert.get_extended_attention_mask(mask, mask.shape)
        return create_bidirectional_mask(config=self.bert.config, inputs_embeds=hidden, attention_mask=mask)

    def block(self, index, hidden, attention):
        out = self.bert.encoder.layer[index](hidden, attention)
        return out[0] if isinstance(out, tuple) else out

    def pool(self, hidden, batch):
        m = batch.mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class OpenClipTower(DeepPromptTower):
    """The text tower of an open_clip CLIP model (causal attention, end-of-text pooling, projection)."""

    def __init__(self, model, tokenizer):
        super().__init__()
        self.model, self.tokenizer = model, tokenizer
        self.width = model.transformer.width
        self.num_layers = len(model.transformer.resblocks)
        proj = model.text_projection
        self.output_dim = proj.out_features if isinstance(proj, nn.Linear) else proj.shape[1]

    def tokenize(self, texts):
        ids = self.tokenizer(texts).to(self.device)
        mask = ids != 0
        # Causal attention: tokens after the longest text in the batch change nothing, so drop them.
        return TokenBatch(ids[:, : int(mask.sum(1).max())], mask[:, : int(mask.sum(1).max())])

    def embed(self, batch):
        length = batch.ids.shape[1]
        x = self.model.token_embedding(batch.ids)
        return x + self.model.positional_embedding[:length].to(x.dtype)

    def attention(self, mask, hidden):
        n = mask.shape[1]
        return torch.full((n, n), float("-inf"), device=hidden.device, dtype=hidden.dtype).triu(1)

    def block(self, index, hidden, attention):
        transformer = self.model.transformer
        if not getattr(transformer, "batch_first", True):
            return transformer.resblocks[index](hidden.transpose(0, 1), attn_mask=attention).transpose(0, 1)
        return transformer.resblocks[index](hidden, attn_mask=attention)

    def finish(self, hidden):
        return self.model.ln_final(hidden)

    def pool(self, hidden, batch):
        from open_clip.model import text_global_pool

        x = text_global_pool(hidden, batch.ids, self.model.text_pool_type,
                             eos_token_id=getattr(self.model, "text_eos_id", None))
        proj = self.model.text_projection
        return proj(x) if isinstance(proj, nn.Linear) else x @ proj
