"""The T2S step graph of an INT8 model folder: the INT8 decoder with an int8 KV cache.

Every step reads the whole cache, so a quarter of its bytes makes long sentences' steps faster
(docs/decisions.md, "T2S"). GroupQueryAttention can keep the cache in int8 with a fixed
per-channel scale (`k_quant_type`/`v_quant_type` PER_CHANNEL, `kv_cache_bit_width` 8): it
quantizes each new row as it appends it and dequantizes while it attends. The scales come from
decoding realistic sequences with the INT8 graph (fp32 cache): real sentences' phones and
semantic tokens the model itself generates after them, `KV_SCALE_MARGIN` above the largest
value seen per channel (larger values saturate).

onnxruntime's CPU kernel attends over a quantized cache slowly when many rows come at once, so
the prefill stays on the fp32-cache
`t2s_decoder` and the runtime hands its cache over, quantized with the same scales, to
`t2s_step` (`t2s_io`). The converter checks exactly that path against the fp32 graph on a
sequence not used for calibration (logits cosine, greedy agreement: the manifest records them) and
drops the step graph when the cosine falls below `MIN_COSINE` at any step. The price is a second
session holding the INT8 weights; `convert --fp32-kv-cache` leaves the graph out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import helper, numpy_helper

from ..checkpoints.dims.t2s import BERT_DIM, T2SDims
from ..checkpoints.errors import ConversionError
from ..engine.audio import snr_db
from ..engine.gpt_sovits import t2s_io
from ..engine.gpt_sovits.t2s_state import KVCache, T2SState
from .calibration import SENTENCE_PHONES
from .plans import GraphResult
from .quantize import session

_LOGGER = logging.getLogger(__name__)

KV_SCALE_MARGIN: Final = 1.25
"""Scale = margin x largest |value| seen per channel / 127."""
INT8_MAX: Final = 127.0
PROMPT_TOKENS: Final = 120
"""Tokens generated as a sentence's prompt (prompt-like audio tokens of this model)."""
DECODED_TOKENS: Final = 80
"""Tokens decoded after each calibration prompt."""
CHECK_STEPS: Final = 80
TOP_K: Final = 15
MIN_COSINE: Final = 0.999
"""The conversion fails when INT8 logits fall below this cosine against fp32 at any checked step."""
_QUANT_ATTRIBUTES: Final = ("k_quant_type", "v_quant_type", "kv_cache_bit_width")
_SCALE_INPUT_INDEX: Final = 12
"""k_scale and v_scale are GroupQueryAttention's inputs 12 and 13."""
STEP_NOTE: Final = (
    "t2s_decoder's dynamic INT8 MatMuls with an int8 KV cache (static per-channel scales calibrated on "
    "decoding real sentences, in kv_scales); runs the INT8 prefill and steps, in place of an INT8 t2s_decoder"
)


class _Decoder:
    """Graphs run the way the runtime runs them (T2SState over a preallocated cache, `T2SDecoder.start`);
    the text goes through the folder's `t2s_encoder`."""

    def __init__(self, path: Path, dims: T2SDims, step: tuple[Path, NDArray[np.float32]] | None = None) -> None:
        self.session = session(path)
        self.encoder = session(path.parent / f"{t2s_io.ENCODER_GRAPH}.onnx")
        self.dims = dims
        self.step_graph = None if step is None else (session(step[0]), step[1])
        self.state: T2SState | None = None

    def start(self, phones: NDArray[np.int64], prompt: NDArray[np.int64], capacity: int) -> NDArray[np.float32]:
        dims = self.dims
        bert = np.zeros((BERT_DIM, phones.size), np.float32)
        x = np.asarray(self.encoder.run(None, {"phones": phones, "bert": bert})[0], np.float32)
        rows = phones.size + prompt.size
        cache = KVCache(dims.n_layer, 1, dims.n_head, dims.head_dim, rows if self.step_graph else capacity)
        self.state = T2SState(self.session, cache, [phones.size], prompt.size, dims.audio_vocab)
        self.state.prefill(x, prompt, [phones.size])
        if self.step_graph is not None:
            session, scales = self.step_graph
            self.state.hand_over(session, cache.quantized(scales, capacity))
        return np.asarray(self.state.logits[0], np.float32)

    def step(self, token: int) -> NDArray[np.float32]:
        if self.state is None:
            raise RuntimeError("step before start")
        self.state.step(np.array([token], np.int64))
        return np.asarray(self.state.logits[0], np.float32)

    @property
    def cache(self) -> KVCache:
        if self.state is None:
            raise RuntimeError("no cache before start")
        return self.state.cache


def _sample(logits: NDArray[np.float32], eos: int, rng: np.random.Generator) -> int:
    usable = logits[:eos].astype(np.float64)
    top = np.argpartition(usable, -TOP_K)[-TOP_K:]
    probs = np.exp(usable[top] - usable[top].max())
    return int(top[rng.choice(TOP_K, p=probs / probs.sum())])


def _generate(decoder: _Decoder, phones: NDArray[np.int64], prompt: NDArray[np.int64], count: int,
              rng: np.random.Generator) -> NDArray[np.int64]:
    logits = decoder.start(phones, prompt, phones.size + prompt.size + count + 1)
    tokens = []
    for _ in range(count):
        tokens.append(_sample(logits, decoder.dims.eos, rng))
        logits = decoder.step(tokens[-1])
    return np.array(tokens, np.int64)


def _sentence(index: int) -> NDArray[np.int64]:
    return np.array(SENTENCE_PHONES[index % len(SENTENCE_PHONES)], np.int64)


def calibrate_scales(int8_path: Path, dims: T2SDims, seed: int = 0) -> NDArray[np.float32]:
    """(n_layer, 2, H, head_dim) K and V scales per layer, from realistic decoding with an fp32 cache."""
    decoder = _Decoder(int8_path, dims)
    rng = np.random.default_rng(seed)
    peaks = np.zeros((dims.n_layer, 2, dims.n_head, dims.head_dim), np.float32)
    for index in range(len(SENTENCE_PHONES) - 1):
        prompt = _generate(decoder, _sentence(index), np.zeros(0, np.int64), PROMPT_TOKENS, rng)
        _generate(decoder, np.concatenate([_sentence(index), _sentence(index + 1)]), prompt, DECODED_TOKENS, rng)
        rows = decoder.cache.length
        for layer in range(dims.n_layer):
            for kind in range(2):
                buffer = decoder.cache.buffers[2 * layer + kind][:, :, :rows]
                peaks[layer, kind] = np.maximum(peaks[layer, kind], np.abs(buffer).max(axis=(0, 2)))
    floor = np.float32(1e-6)  # a channel that never moved still needs a positive scale
    scales: NDArray[np.float32] = np.maximum(peaks * KV_SCALE_MARGIN / INT8_MAX, floor).astype(np.float32)
    return scales


def write_step_graph(int8_path: Path, step_path: Path, scales: NDArray[np.float32]) -> None:
    """The INT8 graph at `int8_path` with every GroupQueryAttention keeping an int8 cache with these scales."""
    proto = onnx.load(str(int8_path))
    graph = proto.graph
    for value in [*graph.input, *graph.output]:
        if value.name.startswith(("past_", "present_")):
            value.type.tensor_type.elem_type = onnx.TensorProto.INT8
    done = 0
    for node in graph.node:
        if node.op_type != "GroupQueryAttention":
            continue
        past = node.input[3]
        if not past.startswith("past_key_"):
            raise ConversionError(f"t2s_decoder: attention node {node.name} does not read a past_key_* input")
        layer = int(past.removeprefix("past_key_"))
        names = [f"kv_cache_scale_k_{layer}", f"kv_cache_scale_v_{layer}"]
        for kind, name in enumerate(names):  # GroupQueryAttention wants (1, H, 1, head_dim)
            graph.initializer.append(numpy_helper.from_array(scales[layer, kind][np.newaxis, :, np.newaxis, :], name))
        inputs = [*node.input, *[""] * (_SCALE_INPUT_INDEX - len(node.input))][:_SCALE_INPUT_INDEX] + names
        del node.input[:]
        node.input.extend(inputs)
        kept = [a for a in node.attribute if a.name not in _QUANT_ATTRIBUTES]
        del node.attribute[:]
        node.attribute.extend(kept)
        node.attribute.extend([
            helper.make_attribute("k_quant_type", "PER_CHANNEL"),
            helper.make_attribute("v_quant_type", "PER_CHANNEL"),
            helper.make_attribute("kv_cache_bit_width", 8),
        ])
        done += 1
    if done != scales.shape[0]:
        raise ConversionError(f"t2s_decoder: {done} attention nodes for {scales.shape[0]} layers")
    onnx.save(proto, str(step_path))


def compare_with_fp32(
    fp32_path: Path, int8_path: Path, step: tuple[Path, NDArray[np.float32]], dims: T2SDims, seed: int = 7
) -> dict[str, float]:
    """The runtime's INT8 path (INT8 prefill, quantized hand-over, int8-cache steps) vs the fp32 graph,
    teacher-forced on fp32's greedy tokens after a prompt not used for calibration."""
    fp32, int8 = _Decoder(fp32_path, dims), _Decoder(int8_path, dims, step)
    rng = np.random.default_rng(seed)
    last = len(SENTENCE_PHONES) - 1
    prompt = _generate(fp32, _sentence(last), np.zeros(0, np.int64), PROMPT_TOKENS, rng)
    phones = np.concatenate([_sentence(last), _sentence(0)])
    capacity = phones.size + prompt.size + CHECK_STEPS + 1
    a, b = fp32.start(phones, prompt, capacity), int8.start(phones, prompt, capacity)
    cosines, agree, worst = [], 0, 0.0
    references: list[NDArray[np.float64]] = []
    outputs: list[NDArray[np.float64]] = []
    for _ in range(CHECK_STEPS):
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        cosines.append(float(a64 @ b64 / np.sqrt((a64 @ a64) * (b64 @ b64))))
        worst = max(worst, float(np.max(np.abs(a64 - b64))))
        references.append(a64)
        outputs.append(b64)
        token = int(np.argmax(a[: dims.eos]))
        agree += int(token == int(np.argmax(b[: dims.eos])))
        a, b = fp32.step(token), int8.step(token)
    return {
        "max_abs_error": worst,
        "snr_db": snr_db(np.concatenate(references), np.concatenate(outputs)),
        "cosine": float(np.mean(cosines)),
        "cosine_min": float(np.min(cosines)),
        "greedy_agreement": agree / CHECK_STEPS,
    }


def step_graph(dims: T2SDims) -> Callable[[Path, Path], GraphResult | None]:
    """The `GraphSpec.int8_companion` of the T2S decoder: calibrate, write `t2s_step` + its scales, check.

    Returns None (and leaves no file) when the int8 cache costs too much accuracy: the runtime
    then steps on the fp32-cache INT8 graph.
    """

    def companion(fp32_path: Path, int8_path: Path) -> GraphResult | None:
        folder = int8_path.parent
        step_path = folder / f"{t2s_io.STEP_GRAPH}.int8.onnx"
        scales_path = folder / f"{t2s_io.STEP_GRAPH}.{t2s_io.KV_SCALES}.npy"
        scales = calibrate_scales(int8_path, dims)
        write_step_graph(int8_path, step_path, scales)
        np.save(scales_path, scales)
        figures = compare_with_fp32(fp32_path, int8_path, (step_path, scales), dims)
        if figures["cosine_min"] < MIN_COSINE:
            _LOGGER.warning(
                "t2s_step: an int8 KV cache drifts from fp32 (logits cosine %.5f); steps keep the fp32 cache",
                figures["cosine_min"],
            )
            step_path.unlink()
            scales_path.unlink()
            return None
        _LOGGER.info("t2s_step (INT8, int8 KV cache) vs fp32: %s", figures)
        return GraphResult(
            name=t2s_io.STEP_GRAPH,
            files={"int8": step_path.name, t2s_io.KV_SCALES: scales_path.name},
            max_abs_error=0.0,  # not exported from torch: its distance from fp32 is `int8_error`
            int8_error=figures,
            quantization="dynamic",
            int8_note=STEP_NOTE,
        )

    return companion
