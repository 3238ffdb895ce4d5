"""The GPT-SoVITS text-to-semantic ("GPT") model as our own torch modules.

The module tree mirrors the checkpoint's key names (upstream's with `model.` removed), so a
`GptCheckpoint.weights` dict loads with no renaming and any missing, unexpected or misshapen key
is reported by name. Facts used (reference §2.4): post-norm blocks with LayerNorm eps 1e-5, a
fused q/k/v `in_proj`, sine positions counted from 0 per stream and scaled by a learned `alpha`,
a prefix-LM mask in the prefill (text rows see all text and no audio; audio rows see all text and
earlier audio), logits from the last position through a bias-free head.

`T2SModel.infer_no_cache` is the plain reference: it recomputes the whole sequence for every
token. Tests compare the ONNX KV-cache runtime with it, and the benchmark uses it as the torch
figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final, cast

import torch
from torch import nn

from ...checkpoints.dims.t2s import BERT_DIM as BERT_DIM
from ...checkpoints.dims.t2s import EOS_FREE_STEPS as EOS_FREE_STEPS
from ...checkpoints.dims.t2s import T2SDims as T2SDims
from ..errors import ConversionError

LAYER_NORM_EPS: Final = 1e-5
POSITION_BASE: Final = 10000.0


def sine_positions(positions: torch.Tensor, width: int) -> torch.Tensor:
    """Upstream's sine table rows for `positions` (any shape) -> (..., width); sin even, cos odd dims."""
    div = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * -(math.log(POSITION_BASE) / width))
    angles = positions.to(torch.float32).unsqueeze(-1) * div  # (..., width/2)
    table = torch.stack((torch.sin(angles), torch.cos(angles)), dim=-1)  # (..., width/2, 2)
    # An explicit width (not -1) keeps the exported Reshape valid for zero positions (ref-free prefill).
    return table.reshape((*positions.shape, width))


class TokenEmbedding(nn.Module):
    """A token table (`<name>.word_embeddings.weight`)."""

    def __init__(self, vocab: int, width: int) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, width)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(..., ) int64 -> (..., width)."""
        embedded: torch.Tensor = self.word_embeddings(ids)
        return embedded


class SinePosition(nn.Module):
    """Sine positions scaled by the learned scalar `alpha`."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
        self.alpha = nn.Parameter(torch.ones(1))

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        """(...,) positions -> alpha * pe[positions] (..., width)."""
        return self.alpha * sine_positions(positions, self.width)


class SelfAttentionWeights(nn.Module):
    """The attention weights of one layer: fused q/k/v projection and the output projection."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.in_proj_weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(3 * width, width)))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)


class T2SLayer(nn.Module):
    """One post-norm transformer layer; attention itself is left to the caller (masked or cached)."""

    def __init__(self, dims: T2SDims) -> None:
        super().__init__()
        self.n_head = dims.n_head
        self.self_attn = SelfAttentionWeights(dims.d_model)
        self.linear1 = nn.Linear(dims.d_model, dims.ffn)
        self.linear2 = nn.Linear(dims.ffn, dims.d_model)
        self.norm1 = nn.LayerNorm(dims.d_model, eps=LAYER_NORM_EPS)
        self.norm2 = nn.LayerNorm(dims.d_model, eps=LAYER_NORM_EPS)

    def project_qkv(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, T, D) -> q, k, v each (B, T, D), in upstream's q, k, v row order."""
        qkv = nn.functional.linear(h, self.self_attn.in_proj_weight, self.self_attn.in_proj_bias)
        q, k, v = qkv.chunk(3, dim=-1)
        return q, k, v

    def finish(self, h: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """Output projection, residual + LN1, FFN, residual + LN2 (post-norm)."""
        h = self.norm1(h + self.self_attn.out_proj(attended))
        out: torch.Tensor = self.norm2(h + self.linear2(torch.relu(self.linear1(h))))
        return out

    def split_heads(self, t: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, H, T, D/H)."""
        b, n, d = t.shape
        return t.reshape(b, n, self.n_head, d // self.n_head).transpose(1, 2)

    def forward_masked(self, h: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        """Full self-attention over `h` (B, T, D) with `blocked` (T, T) bool (True = not seen)."""
        q, k, v = (self.split_heads(t) for t in self.project_qkv(h))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        probs = torch.softmax(scores.masked_fill(blocked, float("-inf")), dim=-1)
        attended = (probs @ v).transpose(1, 2).reshape(h.shape)
        return self.finish(h, attended)


class LayerStack(nn.Module):
    """`h.layers.{i}`: the transformer layers."""

    def __init__(self, dims: T2SDims) -> None:
        super().__init__()
        self.layers = nn.ModuleList(T2SLayer(dims) for _ in range(dims.n_layer))


def prefix_lm_blocked(n_text: int, n_audio: int) -> torch.Tensor:
    """(N+T, N+T) bool, True = blocked: text rows see text only; audio rows see text, causal audio."""
    total = n_text + n_audio
    rows = torch.arange(total).unsqueeze(1)
    cols = torch.arange(total).unsqueeze(0)
    text_row = rows < n_text
    return torch.where(text_row, cols >= n_text, cols > rows)


TokenChooser = Callable[[torch.Tensor, int], int]
"""(logits (V,) of step idx, idx) -> the next token. Logits include the EOS column."""


class T2SModel(nn.Module):
    """The whole T2S model with upstream's parameter names."""

    def __init__(self, dims: T2SDims) -> None:
        super().__init__()
        self.dims = dims
        self.bert_proj = nn.Linear(BERT_DIM, dims.d_model)
        self.ar_text_embedding = TokenEmbedding(dims.phone_vocab, dims.d_model)
        self.ar_text_position = SinePosition(dims.d_model)
        self.ar_audio_embedding = TokenEmbedding(dims.audio_vocab, dims.d_model)
        self.ar_audio_position = SinePosition(dims.d_model)
        self.h = LayerStack(dims)
        self.ar_predict_layer = nn.Linear(dims.d_model, dims.audio_vocab, bias=False)

    @property
    def layers(self) -> list[T2SLayer]:
        """The transformer layers, typed."""
        return [cast(T2SLayer, layer) for layer in self.h.layers]

    def embed_text(self, phones: torch.Tensor, bert: torch.Tensor) -> torch.Tensor:
        """phones (N,) int64, bert (1024, N) -> (1, N, D) with text positions 0..N-1."""
        positions = torch.arange(phones.shape[0], dtype=torch.int64)
        x = self.ar_text_embedding(phones) + self.bert_proj(bert.transpose(0, 1))
        embedded: torch.Tensor = x + self.ar_text_position(positions)
        return embedded.unsqueeze(0)

    def embed_audio(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """tokens and positions of the same shape -> (..., D)."""
        embedded: torch.Tensor = self.ar_audio_embedding(tokens) + self.ar_audio_position(positions)
        return embedded

    def last_logits_no_cache(self, x: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Recompute everything: x (1, N, D) text, audio (Ty,) tokens -> logits (V,) of the last position."""
        y = self.embed_audio(audio, torch.arange(audio.shape[0], dtype=torch.int64)).unsqueeze(0)
        h = torch.cat((x, y), dim=1)
        blocked = prefix_lm_blocked(x.shape[1], audio.shape[0])
        for layer in self.layers:
            h = layer.forward_masked(h, blocked)
        logits: torch.Tensor = self.ar_predict_layer(h[0, -1])
        return logits

    @torch.inference_mode()
    def infer_no_cache(
        self,
        phones: torch.Tensor,
        bert: torch.Tensor,
        prompt: torch.Tensor,
        steps: int,
        choose: TokenChooser | None = None,
    ) -> tuple[list[int], list[torch.Tensor]]:
        """Decode `steps` tokens by full recomputation (no EOS stop); returns tokens and each step's logits.

        `choose` picks each token from that step's logits (default: greedy with EOS masked for the
        first 11 steps, as upstream masks it).
        """
        x = self.embed_text(phones, bert)
        audio = prompt.clone()
        tokens: list[int] = []
        all_logits: list[torch.Tensor] = []
        for idx in range(steps):
            logits = self.last_logits_no_cache(x, audio)
            all_logits.append(logits)
            token = choose(logits, idx) if choose else greedy_token(logits, idx, self.dims.eos)
            tokens.append(token)
            audio = torch.cat((audio, torch.tensor([token], dtype=torch.int64)))
        return tokens, all_logits


def greedy_token(logits: torch.Tensor, idx: int, eos: int) -> int:
    """Top-1 token, with the EOS column dropped for the first `EOS_FREE_STEPS` steps."""
    usable = logits[:eos] if idx < EOS_FREE_STEPS else logits
    return int(torch.argmax(usable))


def load_t2s_model(weights: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> T2SModel:
    """Build a T2SModel and load `weights` strictly; raises ConversionError naming bad keys."""
    dims = T2SDims.from_checkpoint(weights, config)
    model = T2SModel(dims)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    problems: list[str] = []
    if missing:
        problems.append("missing " + ", ".join(repr(k) for k in missing))
    if unexpected:
        problems.append("unexpected " + ", ".join(repr(k) for k in unexpected))
    for key in sorted(set(expected) & set(weights)):
        if tuple(weights[key].shape) != tuple(expected[key].shape):
            problems.append(
                f"{key!r} has shape {tuple(weights[key].shape)}, "
                f"expected {tuple(expected[key].shape)}"
            )
    if problems:
        raise ConversionError("GPT checkpoint does not fit the T2S model: " + "; ".join(problems))
    model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=True)
    return model.eval()
