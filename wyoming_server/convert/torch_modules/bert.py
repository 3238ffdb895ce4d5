"""Our BERT encoder for `chinese-roberta-wwm-ext-large`, returning GPT-SoVITS's text features.

GPT-SoVITS takes `hidden_states[-3]` of the masked-LM model (the output of layer N-2 of N) and drops
the [CLS]/[SEP] rows (reference §2.1, pitfall 22). So only the first N-2 layers run; the last two
are still loaded (strictly) but not exported. Layout of the Hugging Face BERT, from its documented
structure: word + position + token-type(0) embeddings, LayerNorm; post-norm layers
`x = LN(x + Attn(x)); x = LN(x + W2 gelu(W1 x))`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..checkpoints import load_state_dict_file
from ..errors import ConversionError
from .state_dicts import StateDictReader

WEIGHTS_FILE = "pytorch_model.bin"
LAYERS_DROPPED_AT_END = 2
"""hidden_states[-3] is the output of the third-from-last entry: skip the last two layers."""
# Heads of the pre-training checkpoint that the features never use.
_UNUSED_PREFIXES = ("cls.", "pooler.", "embeddings.position_ids")


@dataclass(frozen=True)
class BertDims:
    """Sizes of the BERT model."""

    vocab: int
    hidden: int
    heads: int
    ffn: int
    layers: int
    max_positions: int
    eps: float


class _Embeddings(nn.Module):
    def __init__(self, dims: BertDims, token_types: int) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(dims.vocab, dims.hidden)
        self.position_embeddings = nn.Embedding(dims.max_positions, dims.hidden)
        self.token_type_embeddings = nn.Embedding(token_types, dims.hidden)
        self.LayerNorm = nn.LayerNorm(dims.hidden, eps=dims.eps)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(positions)
            + self.token_type_embeddings.weight[0]
        )
        result: torch.Tensor = self.LayerNorm(x)
        return result


class _SelfAttention(nn.Module):
    def __init__(self, dims: BertDims) -> None:
        super().__init__()
        self.heads = dims.heads
        self.head_dim = dims.hidden // dims.heads
        self.query = nn.Linear(dims.hidden, dims.hidden)
        self.key = nn.Linear(dims.hidden, dims.hidden)
        self.value = nn.Linear(dims.hidden, dims.hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.query(x).view(1, -1, self.heads, self.head_dim).transpose(1, 2)
        k = self.key(x).view(1, -1, self.heads, self.head_dim).transpose(1, 2)
        v = self.value(x).view(1, -1, self.heads, self.head_dim).transpose(1, 2)
        p = torch.softmax(torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim), dim=-1)
        return torch.matmul(p, v).transpose(1, 2).reshape(1, -1, self.heads * self.head_dim)


class _DenseNorm(nn.Module):
    """Linear, residual add, LayerNorm (`attention.output` and `output`)."""

    def __init__(self, n_in: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(n_in, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.LayerNorm(self.dense(x) + residual)
        return result


class _Attention(nn.Module):
    def __init__(self, dims: BertDims) -> None:
        super().__init__()
        self.self = _SelfAttention(dims)
        self.output = _DenseNorm(dims.hidden, dims.hidden, dims.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.output(self.self(x), x)
        return result


class _Intermediate(nn.Module):
    def __init__(self, dims: BertDims) -> None:
        super().__init__()
        self.dense = nn.Linear(dims.hidden, dims.ffn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))


class _Layer(nn.Module):
    def __init__(self, dims: BertDims) -> None:
        super().__init__()
        self.attention = _Attention(dims)
        self.intermediate = _Intermediate(dims)
        self.output = _DenseNorm(dims.ffn, dims.hidden, dims.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attention(x)
        result: torch.Tensor = self.output(self.intermediate(x), x)
        return result


class _Encoder(nn.Module):
    def __init__(self, dims: BertDims) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(dims) for _ in range(dims.layers))


class BertFeatures(nn.Module):
    """The `bert` graph: input_ids (1, L) with [CLS] ... [SEP] -> features (L-2, hidden)."""

    def __init__(self, dims: BertDims, token_types: int) -> None:
        super().__init__()
        self.dims = dims
        self.embeddings = _Embeddings(dims, token_types)
        self.encoder = _Encoder(dims)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(1, L) int64 -> (L-2, hidden): hidden_states[-3] without the [CLS]/[SEP] rows."""
        x: torch.Tensor = self.embeddings(input_ids)
        for layer in list(self.encoder.layer)[: self.dims.layers - LAYERS_DROPPED_AT_END]:
            x = layer(x)
        return x[0, 1:-1]


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConversionError(f"BERT folder {folder}: {path.name} cannot be read ({err})") from err
    if not isinstance(config, dict):
        raise ConversionError(f"{path} is not a JSON object")
    return config


def load_bert(folder: Path) -> BertFeatures:
    """Our BERT from a Hugging Face `chinese-roberta-wwm-ext-large` folder, loaded strictly."""
    config = _read_config(folder)
    what = f"BERT weights {folder.name}/{WEIGHTS_FILE}"
    raw = load_state_dict_file(folder / WEIGHTS_FILE, what)
    if any(k.startswith("bert.") for k in raw):  # saved from BertForMaskedLM / BertForPreTraining
        raw = {k.removeprefix("bert."): v for k, v in raw.items()}
    reader = StateDictReader(raw, what)
    if config.get("hidden_act", "gelu") != "gelu":
        raise ConversionError(
            f"{what}: hidden_act {config.get('hidden_act')!r} is not supported (expected 'gelu')"
        )
    word = reader.shape("embeddings.word_embeddings.weight")
    heads = int(config.get("num_attention_heads", 0))
    layers = reader.count("encoder.layer.", ".attention.self.query.weight")
    if heads <= 0 or word[1] % heads:
        raise ConversionError(f"{what}: num_attention_heads {heads} does not divide hidden size {word[1]}")
    if layers <= LAYERS_DROPPED_AT_END:
        raise ConversionError(
            f"{what}: {layers} layers; the features need at least {LAYERS_DROPPED_AT_END + 1}"
        )
    dims = BertDims(
        vocab=word[0],
        hidden=word[1],
        heads=heads,
        ffn=reader.shape("encoder.layer.0.intermediate.dense.weight")[0],
        layers=layers,
        max_positions=reader.shape("embeddings.position_embeddings.weight")[0],
        eps=float(config.get("layer_norm_eps", 1e-12)),
    )
    model = BertFeatures(dims, reader.shape("embeddings.token_type_embeddings.weight")[0])
    reader.load(model, "")
    reader.mark_unused(k for k in reader.weights if k.startswith(_UNUSED_PREFIXES))
    reader.check_all_used()
    return model.eval()


def read_bert_vocab(folder: Path) -> list[str]:
    """Token strings by id, from `vocab.txt` or else `tokenizer.json` (WordPiece `model.vocab`)."""
    vocab_txt = folder / "vocab.txt"
    if vocab_txt.is_file():
        return vocab_txt.read_text(encoding="utf-8").splitlines()
    tokenizer_json = folder / "tokenizer.json"
    if not tokenizer_json.is_file():
        raise ConversionError(f"BERT folder {folder} has neither vocab.txt nor tokenizer.json")
    try:
        vocab = json.loads(tokenizer_json.read_text(encoding="utf-8"))["model"]["vocab"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConversionError(f"{tokenizer_json} has no WordPiece vocabulary ({err!r})") from err
    if not isinstance(vocab, dict) or sorted(vocab.values()) != list(range(len(vocab))):
        raise ConversionError(f"{tokenizer_json}: vocabulary ids are not 0..{len(vocab) - 1}")
    tokens = [""] * len(vocab)
    for token, index in vocab.items():
        tokens[index] = token
    return tokens
