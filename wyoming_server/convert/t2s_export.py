"""Graph specs for the T2S model: the text encoder and one decoder graph for prefill and steps.

Design (docs/engine.md, "T2S graphs and KV cache"): the decoder uses onnxruntime's contrib operator
`com.microsoft.GroupQueryAttention` with `causal=0` and an additive attention bias. That one
operator serves the prefill (bias = prefix-LM mask) and every step (bias = zeros), so prefill and
step share one set of transformer weights, and it reads and appends the KV cache in place when
the runtime binds the same preallocated buffer as `past_*` and `present_*`.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Final

import numpy as np
import torch
from torch import nn

from ..engine.gpt_sovits import t2s_io
from ..engine.gpt_sovits.t2s_state import prefill_bias
from . import t2s_kv_cache
from .checkpoints import GptCheckpoint
from .graph import GraphSpec, Inputs
from .torch_modules.t2s import BERT_DIM, EOS_FREE_STEPS, T2SDims, T2SModel, load_t2s_model

ENCODER_TOLERANCE = 1e-4
DECODER_TOLERANCE = 2e-4
"""Largest |onnx - torch| on the logits in units of their scale; fp32 differs only by summation order."""
HEAD_NODE_MARK = "ar_predict_layer"
"""Node names containing this stay fp32 in the INT8 graph (the output head)."""


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


def _decoder_inputs(model: T2SModel, rng: np.random.Generator, mode: str) -> Inputs:
    """Random decoder inputs for one mode: 'prefill' (text + prompt), 'ref_free' (text only), 'step',
    or their batched forms 'batch_prefill' / 'batch_step' (2 sentences, left-padded text)."""
    dims = model.dims
    batch = 2 if mode.startswith("batch_") else 1
    stepping = mode.endswith("step")
    lengths = [0] * batch if stepping else [int(n) for n in rng.integers(1, 9, size=batch)]
    n_text = max(lengths)
    n_audio = 1 if stepping else (0 if mode == "ref_free" else int(rng.integers(1, 7)))
    past_len = int(rng.integers(3, 20)) if stepping else 0
    total = past_len + n_text + n_audio
    capacity = total + int(rng.integers(0, 5))
    if stepping:
        bias = np.zeros((batch, 1, 1, total), np.float32)
        bias[-1, 0, 0, : int(rng.integers(0, 3))] = -np.inf  # the padding of a shorter batched sentence
        positions = rng.integers(0, 30, size=(batch, 1)).astype(np.int64)
    else:
        bias = prefill_bias(lengths, n_audio)
        positions = np.broadcast_to(np.arange(n_audio, dtype=np.int64), (batch, n_audio)).copy()
    inputs: Inputs = {
        t2s_io.DECODER_X: rng.standard_normal((batch, n_text, dims.d_model)).astype(np.float32),
        t2s_io.DECODER_TOKENS: rng.integers(0, dims.eos, size=(batch, n_audio)).astype(np.int64),
        t2s_io.DECODER_POSITIONS: positions,
        t2s_io.DECODER_BIAS: bias,
        t2s_io.DECODER_SEQLENS: np.full(batch, total - 1, np.int32),
        t2s_io.DECODER_TOTAL: np.array(total, np.int32),
    }
    for name in t2s_io.past_names(dims.n_layer):
        buffer = np.zeros((batch, dims.n_head, capacity, dims.head_dim), np.float32)
        buffer[:, :, :past_len] = rng.standard_normal((batch, dims.n_head, past_len, dims.head_dim))
        inputs[name] = buffer
    return inputs


INT8_NOTE: Final = (
    "dynamic INT8 (per-tensor int8 weights) on the four MatMuls of every layer; output head, embeddings, "
    "LayerNorm and attention fp32; KV cache fp32{steps}"
)
STEP_GRAPH_NOTE: Final = " (used for the prefill; the steps run on t2s_step with an int8 cache)"


def t2s_graph_specs(gpt: GptCheckpoint, int8_kv_cache: bool = True) -> list[GraphSpec]:
    """The `t2s_encoder` and `t2s_decoder` graph specs of a GPT checkpoint (loaded strictly).

    `int8_kv_cache`: the INT8 conversion also writes `t2s_step`, the INT8 decoder with an int8 KV
    cache for the steps after the prefill (`t2s_kv_cache`).
    """
    model = load_t2s_model(gpt.weights, gpt.config)
    dims = model.dims

    def encoder_inputs(rng: np.random.Generator) -> Inputs:
        n = int(rng.integers(1, 12))
        return {
            "phones": rng.integers(0, dims.phone_vocab, size=n).astype(np.int64),
            "bert": rng.standard_normal((BERT_DIM, n)).astype(np.float32),
        }

    modes = itertools.cycle(("prefill", "step", "ref_free", "batch_prefill", "batch_step"))

    def decoder_inputs(rng: np.random.Generator) -> Inputs:
        return _decoder_inputs(model, rng, next(modes))

    past = t2s_io.past_names(dims.n_layer)
    present = t2s_io.present_names(dims.n_layer)
    cache_axes = {name: {0: "batch", 2: "capacity"} for name in past + present}
    encoder = GraphSpec(
        name=t2s_io.ENCODER_GRAPH,
        module=T2SEncoderGraph(model),
        input_names=list(t2s_io.ENCODER_INPUTS),
        output_names=[t2s_io.ENCODER_OUTPUT],
        sample_inputs=encoder_inputs,
        dynamic_axes={"phones": {0: "n_text"}, "bert": {1: "n_text"}, t2s_io.ENCODER_OUTPUT: {1: "n_text"}},
        tolerance=ENCODER_TOLERANCE,
        quantization="none",  # embeddings + one small projection: nothing worth INT8
    )
    decoder = GraphSpec(
        name=t2s_io.DECODER_GRAPH,
        module=T2SDecoderGraph(model),
        input_names=[*t2s_io.DECODER_FIXED_INPUTS, *past],
        output_names=[t2s_io.DECODER_LOGITS, *present],
        sample_inputs=decoder_inputs,
        dynamic_axes={
            t2s_io.DECODER_X: {0: "batch", 1: "n_text"},
            t2s_io.DECODER_TOKENS: {0: "batch", 1: "n_audio"},
            t2s_io.DECODER_POSITIONS: {0: "batch", 1: "n_audio"},
            t2s_io.DECODER_BIAS: {0: "batch", 2: "n_rows", 3: "total"},
            t2s_io.DECODER_SEQLENS: {0: "batch"},
            t2s_io.DECODER_LOGITS: {0: "batch"},
            **cache_axes,
        },
        tolerance=DECODER_TOLERANCE,
        verified_outputs=(t2s_io.DECODER_LOGITS,),  # cache rows past `total` are unspecified
        quantization="dynamic",
        dynamic_op_types=("MatMul",),
        quantization_excluded_nodes=(HEAD_NODE_MARK,),
        int8_companion=t2s_kv_cache.step_graph(model) if int8_kv_cache else None,
        int8_note=INT8_NOTE.format(steps=STEP_GRAPH_NOTE if int8_kv_cache else ""),
        verify_runs=10,  # every mode twice
    )
    return [encoder, decoder]


def t2s_dims(gpt: GptCheckpoint) -> dict[str, Any]:
    """What the manifest records under `dims["t2s"]` (from shapes and config; no model is built)."""
    dims = T2SDims.from_checkpoint(gpt.weights, gpt.config)
    inference = gpt.config.get("inference", {}) if isinstance(gpt.config.get("inference"), dict) else {}
    data = gpt.config.get("data", {}) if isinstance(gpt.config.get("data"), dict) else {}
    return {
        "n_layer": dims.n_layer,
        "d_model": dims.d_model,
        "n_head": dims.n_head,
        "head_dim": dims.head_dim,
        "ffn": dims.ffn,
        "phone_vocab": dims.phone_vocab,
        "audio_vocab": dims.audio_vocab,
        "eos": dims.eos,
        "bert_dim": BERT_DIM,
        "eos_free_steps": EOS_FREE_STEPS,
        "top_k": int(inference.get("top_k", 15)),
        "max_sec": data.get("max_sec"),
        "kv_cache": "GroupQueryAttention, shared past/present buffer (B, H, capacity, head_dim) per layer "
        "(int8 in the INT8 step graph t2s_step, when present)",
    }
