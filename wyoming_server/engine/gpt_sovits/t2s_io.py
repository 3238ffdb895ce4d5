"""The input/output contract of the T2S graphs, shared by the converter and the runtime.

`t2s_encoder`: phones (N,) int64 + bert (1024, N) float32 -> x (1, N, D): text embeddings with
text positions 0..N-1.

`t2s_decoder`: one graph for both the prefill and every decoding step, for a batch of B sentences
(B = 1 except in batched decoding). It embeds the audio tokens with their positions, runs all
layers over the `[x; audio]` rows and returns the logits of each sentence's last row. Attention is
onnxruntime's `com.microsoft.GroupQueryAttention` with `causal=0` and an additive
`attention_bias` (the prefix-LM mask in the prefill, zeros in a step). Each layer's KV cache is a
preallocated (B, H, capacity, head_dim) buffer that is bound both as `past_*` input and as
`present_*` output, so the operator appends the new rows in place and reads the cache where it is.

`t2s_step` (INT8 folders only, optional): the INT8 `t2s_decoder` with an int8 KV cache and static
per-channel scales, for the steps (by default the prefill too). Its manifest entry lists the graph under
"int8" and the scales under "kv_scales": a (n_layer, 2, H, head_dim) float32 .npy file (K then V
of each layer), the same values the graph holds. The runtime needs them only when the prefill
runs on `t2s_decoder` over an fp32 cache and the state is handed over (`KVCache.quantized`); by
default (`t2s.PREFILL_ON_STEP_GRAPH`) the prefill runs on `t2s_step` too, and an INT8 model never
opens `t2s_decoder`. So a folder with `t2s_step` keeps no INT8 `t2s_decoder` file (an INT8-only
folder no `t2s_decoder` at all); folders converted before still have one, and run as above.
"""

from __future__ import annotations

from typing import Final

ENCODER_GRAPH: Final = "t2s_encoder"
DECODER_GRAPH: Final = "t2s_decoder"
STEP_GRAPH: Final = "t2s_step"
KV_SCALES: Final = "kv_scales"
"""The key of the step graph's scales file in its manifest entry."""

ENCODER_INPUTS: Final = ("phones", "bert")
ENCODER_OUTPUT: Final = "x"

DECODER_X: Final = "x"
"""(B, N, D) float32 text rows (left-padded in a batch); N = 0 in a decoding step."""
DECODER_TOKENS: Final = "tokens"
"""(B, S) int64 audio tokens to append (prompt in the prefill, the last token in a step)."""
DECODER_POSITIONS: Final = "positions"
"""(B, S) int64 audio positions of `tokens` (prompt from 0, generated from the prompt length)."""
DECODER_BIAS: Final = "attention_bias"
"""(B, 1, N+S, total) float32, 0 = seen, -inf = blocked."""
DECODER_SEQLENS: Final = "seqlens_k"
"""(B,) int32: total - 1."""
DECODER_TOTAL: Final = "total_sequence_length"
"""() int32: cache rows after this call."""
DECODER_LOGITS: Final = "logits"
"""(B, V) float32 logits of the last row."""
DECODER_FIXED_INPUTS: Final = (
    DECODER_X,
    DECODER_TOKENS,
    DECODER_POSITIONS,
    DECODER_BIAS,
    DECODER_SEQLENS,
    DECODER_TOTAL,
)


def past_names(n_layer: int) -> list[str]:
    """`past_key_0, past_value_0, past_key_1, ...`: the cache inputs, layer by layer."""
    return [f"past_{kind}_{i}" for i in range(n_layer) for kind in ("key", "value")]


def present_names(n_layer: int) -> list[str]:
    """`present_key_0, present_value_0, ...`: the cache outputs (bound to the same buffers as past)."""
    return [f"present_{kind}_{i}" for i in range(n_layer) for kind in ("key", "value")]
