"""Plans of the T2S model's graphs: the text encoder and one decoder graph for prefill and steps.

Design (docs/engine.md, "T2S graphs and KV cache"): the decoder uses onnxruntime's contrib operator
`com.microsoft.GroupQueryAttention` with `causal=0` and an additive attention bias, which serves the
prefill (bias = prefix-LM mask) and every step (bias = zeros) with one set of weights. Its INT8 copy
gets dynamic MatMuls, and a companion step graph with an int8 KV cache (`t2s_kv_cache`).
"""

from __future__ import annotations

import itertools
from typing import Final

import numpy as np

from ..checkpoints.dims.t2s import BERT_DIM, T2SDims
from ..engine.gpt_sovits import t2s_io
from ..engine.gpt_sovits.t2s_state import prefill_bias
from . import t2s_kv_cache
from .plans import GraphPlan, Inputs

ENCODER_TOLERANCE: Final = 1e-4
DECODER_TOLERANCE: Final = 2e-4
"""Largest |onnx - torch| on the logits in units of their scale; fp32 differs only by summation order."""
HEAD_NODE_MARK: Final = "ar_predict_layer"
"""Node names containing this stay fp32 in the INT8 graph (the output head)."""
INT8_NOTE: Final = (
    "dynamic INT8 (per-tensor int8 weights) on the four MatMuls of every layer; output head, embeddings, "
    "LayerNorm and attention fp32; KV cache fp32"
)


def decoder_inputs(dims: T2SDims, rng: np.random.Generator, mode: str) -> Inputs:
    """Random decoder inputs for one mode: 'prefill' (text + prompt), 'ref_free' (text only), 'step',
    or their batched forms 'batch_prefill' / 'batch_step' (2 sentences, left-padded text)."""
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


def t2s_plans(dims: T2SDims, int8_kv_cache: bool = True) -> list[GraphPlan]:
    """The `t2s_encoder` and `t2s_decoder` plans.

    `int8_kv_cache`: the INT8 conversion also writes `t2s_step`, the INT8 decoder with an int8 KV
    cache for the steps after the prefill (`t2s_kv_cache`).
    """

    def encoder_inputs(rng: np.random.Generator) -> Inputs:
        n = int(rng.integers(1, 12))
        return {
            "phones": rng.integers(0, dims.phone_vocab, size=n).astype(np.int64),
            "bert": rng.standard_normal((BERT_DIM, n)).astype(np.float32),
        }

    modes = itertools.cycle(("prefill", "step", "ref_free", "batch_prefill", "batch_step"))

    def sample_decoder_inputs(rng: np.random.Generator) -> Inputs:
        return decoder_inputs(dims, rng, next(modes))

    past = t2s_io.past_names(dims.n_layer)
    present = t2s_io.present_names(dims.n_layer)
    cache_axes = {name: {0: "batch", 2: "capacity"} for name in past + present}
    encoder = GraphPlan(
        name=t2s_io.ENCODER_GRAPH,
        input_names=list(t2s_io.ENCODER_INPUTS),
        output_names=[t2s_io.ENCODER_OUTPUT],
        sample_inputs=encoder_inputs,
        dynamic_axes={"phones": {0: "n_text"}, "bert": {1: "n_text"}, t2s_io.ENCODER_OUTPUT: {1: "n_text"}},
        tolerance=ENCODER_TOLERANCE,
        quantization="none",  # embeddings + one small projection: nothing worth INT8
    )
    decoder = GraphPlan(
        name=t2s_io.DECODER_GRAPH,
        input_names=[*t2s_io.DECODER_FIXED_INPUTS, *past],
        output_names=[t2s_io.DECODER_LOGITS, *present],
        sample_inputs=sample_decoder_inputs,
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
        int8_companion=t2s_kv_cache.step_graph(dims) if int8_kv_cache else None,
        int8_note=INT8_NOTE,
        verify_runs=10,  # every mode twice
    )
    return [encoder, decoder]
