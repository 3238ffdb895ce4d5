"""The torch modules the T2S graphs are exported from, and their specs (plans: `importer/t2s_plans.py`).

Design (docs/engine.md, "T2S graphs and KV cache"): the decoder uses onnxruntime's contrib operator
`com.microsoft.GroupQueryAttention` with `causal=0` and an additive attention bias. That one
operator serves the prefill (bias = prefix-LM mask) and every step (bias = zeros), so prefill and
step share one set of transformer weights, and it reads and appends the KV cache in place when
the runtime binds the same preallocated buffer as `past_*` and `present_*`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..checkpoints.dims.t2s import T2SDims, t2s_manifest_dims
from ..importer.t2s_plans import t2s_plans
from .checkpoints import GptCheckpoint
from .graph import GraphSpec, with_module
from .torch_modules.t2s import T2SModel, load_t2s_model


class _GroupQueryAttention(torch.autograd.Function):
    """Eager stand-in for `com.microsoft.GroupQueryAttention` (packed qkv, causal=0, additive bias).

    Eager: writes the new k/v rows into a copy of the past buffer at [total - S, total) and attends
    over the first `total` rows. Exported: the contrib operator itself, fed the packed q/k/v
    projection (saves the per-layer split nodes a step would otherwise run).
    """

    @staticmethod
    def forward(
        ctx: Any,
        qkv: torch.Tensor,
        past_key: torch.Tensor,
        past_value: torch.Tensor,
        seqlens_k: torch.Tensor,
        total: torch.Tensor,
        bias: torch.Tensor,
        n_head: int,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, k, v = qkv.chunk(3, dim=-1)
        batch, rows, width = q.shape
        head_dim = width // n_head
        total_len = int(total)
        start = total_len - rows

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(batch, rows, n_head, head_dim).transpose(1, 2)

        present_key = past_key.clone()
        present_value = past_value.clone()
        present_key[:, :, start:total_len] = heads(k)
        present_value[:, :, start:total_len] = heads(v)
        scores = heads(q) @ present_key[:, :, :total_len].transpose(-1, -2) / math.sqrt(head_dim) + bias
        attended = torch.softmax(scores, dim=-1) @ present_value[:, :, :total_len]
        return attended.transpose(1, 2).reshape(batch, rows, width), present_key, present_value

    @staticmethod
    def symbolic(
        g: Any,
        qkv: Any,
        past_key: Any,
        past_value: Any,
        seqlens_k: Any,
        total: Any,
        bias: Any,
        n_head: int,
    ) -> Any:
        absent = g.op("prim::Constant")  # an omitted optional input (key/value: packed; no rotary)
        absent.setType(torch._C.OptionalType.ofTensor())
        return g.op(
            "com.microsoft::GroupQueryAttention",
            qkv,
            absent,
            absent,
            past_key,
            past_value,
            seqlens_k,
            total,
            absent,
            absent,
            absent,
            bias,
            num_heads_i=n_head,
            kv_num_heads_i=n_head,
            causal_i=0,
            outputs=3,
        )


class T2SEncoderGraph(nn.Module):
    """phones (N,) int64, bert (1024, N) -> x (1, N, D) text embeddings with positions."""

    def __init__(self, model: T2SModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, phones: torch.Tensor, bert: torch.Tensor) -> torch.Tensor:
        """See class docstring."""
        return self.model.embed_text(phones, bert)


class T2SDecoderGraph(nn.Module):
    """Prefill and step in one graph; see `engine.gpt_sovits.t2s_io` for the inputs."""

    def __init__(self, model: T2SModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        x: torch.Tensor,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        attention_bias: torch.Tensor,
        seqlens_k: torch.Tensor,
        total_sequence_length: torch.Tensor,
        *past: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        """(logits (1, V), present_key_0, present_value_0, ...)."""
        h = torch.cat((x, self.model.embed_audio(tokens, positions)), dim=1)
        presents: list[torch.Tensor] = []
        for i, layer in enumerate(self.model.layers):
            qkv = nn.functional.linear(h, layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias)
            attended, present_key, present_value = _GroupQueryAttention.apply(  # type: ignore[no-untyped-call]
                qkv, past[2 * i], past[2 * i + 1], seqlens_k, total_sequence_length, attention_bias,
                self.model.dims.n_head,
            )
            h = layer.finish(h, attended)
            presents += [present_key, present_value]
        logits: torch.Tensor = self.model.ar_predict_layer(h[:, -1])
        return (logits, *presents)


def t2s_graph_specs(gpt: GptCheckpoint, int8_kv_cache: bool = True) -> list[GraphSpec]:
    """The `t2s_encoder` and `t2s_decoder` graph specs of a GPT checkpoint (loaded strictly)."""
    model = load_t2s_model(gpt.weights, gpt.config)
    encoder, decoder = t2s_plans(model.dims, int8_kv_cache)
    return [with_module(encoder, T2SEncoderGraph(model)), with_module(decoder, T2SDecoderGraph(model))]


def t2s_dims(gpt: GptCheckpoint) -> dict[str, Any]:
    """What the manifest records under `dims["t2s"]` (from shapes and config; no model is built)."""
    return t2s_manifest_dims(T2SDims.from_checkpoint(gpt.weights, gpt.config), gpt.config)
