"""Benchmark of the T2S model: prefill, step time against cache length, INT8 logits, bytes per token.

Three implementations run the same inputs: the ONNX graphs in fp32 and INT8 through the runtime's
own `T2SDecoder` (in-place KV cache, IO binding), and our torch modules in fp32 eager mode with a
preallocated KV cache (`EagerT2S`), which is the torch figure the targets compare with.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ..convert.torch_modules.eager import EagerT2S, set_threads
from ..convert.torch_modules.t2s import T2SModel
from ..engine.gpt_sovits.model import GptSoVitsModel
from ..engine.gpt_sovits.t2s import T2SDecoder
from ..engine.onnx import CPU_PROVIDER
from .timing import Timing, best_of, cosine, time_runs

CACHE_LENGTHS: Final = (100, 500, 1000)
"""Cache lengths (rows: text + prompt + generated) at which one step is timed."""
TIMED_STEPS: Final = 12
STEP_ROUNDS: Final = 3
"""Every cache length is timed in this many rounds, round-robin, so that a burst of other work on a
shared machine spoils one round rather than a whole figure."""
WARM_STEPS: Final = 2
QUALITY_STEPS: Final = 100
"""Teacher-forced steps over which INT8 logits are compared with fp32 (the targets' figures)."""
LONG_QUALITY_STEPS: Final = 500
"""The same comparison carried on this far: 100 steps are too few for a greedy agreement near 99.5%."""
NEAR_TIE_LOGITS: Final = 0.05
"""fp32's top two logits closer than this make a near-tie: INT8's logit error (up to about 0.04 on the
real-size random model) can swap them, so agreement there reflects the tie, not the quantization."""
PREFILL_REPEATS: Final = 3


@dataclass(frozen=True)
class T2SInputs:
    """One sentence as the T2S sees it: reference + target phones, their BERT features, prompt tokens."""

    phones: NDArray[np.int64]
    """(N,)"""
    bert: NDArray[np.float32]
    """(1024, N)"""
    prompt: NDArray[np.int64]
    """(Tp,)"""


def _tiled(tokens: NDArray[np.int64], length: int) -> NDArray[np.int64]:
    reps = -(-max(length, 1) // max(tokens.size, 1))
    return np.tile(tokens, reps)[: max(length, 1)].astype(np.int64)


def onnx_decoder(model_dir: Path, precision: str, threads: int, provider: str = CPU_PROVIDER) -> T2SDecoder:
    """The runtime's T2S decoder over one precision of the folder."""
    model = GptSoVitsModel.load(model_dir, precision=precision, threads=threads, verify_hashes=False, provider=provider)
    return T2SDecoder(model)


Samples = tuple[list[float], list[float]]
"""(wall seconds, CPU seconds) of single steps."""
StepTimes = dict[int, Samples]
"""Cache length -> its samples."""


def _time_steps(step: Any, tokens: NDArray[np.int64], into: Samples) -> None:
    """Append the seconds of single steps fed `tokens` one by one (the first WARM_STEPS untimed)."""
    times, cpu_times = into
    for index, token in enumerate(tokens[: WARM_STEPS + TIMED_STEPS]):
        started, cpu_started = time.perf_counter(), time.process_time()
        step(int(token))
        if index >= WARM_STEPS:
            times.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu_started)


def _step_rounds(time_length: Callable[[int, Samples], None]) -> StepTimes:
    """`time_length(length, into)` for every cache length, STEP_ROUNDS times round-robin."""
    samples: StepTimes = {length: ([], []) for length in CACHE_LENGTHS}
    for _ in range(STEP_ROUNDS):
        for length in CACHE_LENGTHS:
            time_length(length, samples[length])
    return samples


def _put_ms(figures: dict[str, Any], key: str, timing: Timing) -> None:
    figures[key] = timing.best * 1000.0
    figures[f"{key}_median"] = timing.median * 1000.0
    figures[f"{key}_cpu"] = timing.cpu * 1000.0


def onnx_figures(decoder: T2SDecoder, inputs: T2SInputs) -> dict[str, Any]:
    """Prefill time and step time at each of CACHE_LENGTHS for one ONNX precision."""

    def prefill() -> None:
        decoder.start([decoder.encode(inputs.phones, inputs.bert)], inputs.prompt, 1)

    figures: dict[str, Any] = {}
    _put_ms(figures, "prefill_ms", time_runs(prefill, PREFILL_REPEATS))
    x = decoder.encode(inputs.phones, inputs.bert)
    feed = _tiled(inputs.prompt[::-1].copy(), WARM_STEPS + TIMED_STEPS)

    def time_length(length: int, into: Samples) -> None:
        prompt = _tiled(inputs.prompt, length - inputs.phones.size)
        state = decoder.start([x], prompt, WARM_STEPS + TIMED_STEPS + 1)
        _time_steps(lambda t: state.step(np.array([t], np.int64)), feed, into)

    for length, (times, cpu_times) in _step_rounds(time_length).items():
        _put_ms(figures, f"step_ms_{length}", best_of(times, cpu_times))
    return figures


def torch_figures(model: T2SModel, inputs: T2SInputs, threads: int) -> dict[str, Any]:
    """The same figures for our torch modules in fp32 eager mode."""
    set_threads(threads)
    n_text = int(inputs.phones.size)
    capacity = n_text + max(CACHE_LENGTHS) + inputs.prompt.size + WARM_STEPS + TIMED_STEPS + 2
    eager = EagerT2S(model, capacity)
    figures: dict[str, Any] = {}
    _put_ms(figures, "prefill_ms", time_runs(lambda: eager.prefill(inputs.phones, inputs.bert, inputs.prompt),
                                             PREFILL_REPEATS))
    feed = _tiled(inputs.prompt[::-1].copy(), WARM_STEPS + TIMED_STEPS)

    def time_length(length: int, into: Samples) -> None:
        eager.prefill(inputs.phones, inputs.bert, _tiled(inputs.prompt, length - n_text))
        _time_steps(eager.step, feed, into)

    for length, (times, cpu_times) in _step_rounds(time_length).items():
        _put_ms(figures, f"step_ms_{length}", best_of(times, cpu_times))
    return figures


def logits_agreement(
    fp32: T2SDecoder, int8: T2SDecoder, inputs: T2SInputs, long_steps: int = LONG_QUALITY_STEPS
) -> dict[str, float]:
    """INT8 vs fp32 logits on the same teacher-forced tokens (fp32's greedy choices, EOS excluded): the
    targets' figures over QUALITY_STEPS, and agreement, near-ties and agreement away from them over
    `long_steps`."""
    steps = max(long_steps, QUALITY_STEPS)
    x32 = fp32.encode(inputs.phones, inputs.bert)
    x8 = int8.encode(inputs.phones, inputs.bert)
    state32 = fp32.start([x32], inputs.prompt, steps + 1)
    state8 = int8.start([x8], inputs.prompt, steps + 1)
    cosines, agree, near_tie, worst = [], [], [], 0.0
    for _ in range(steps):
        a, b = state32.logits[0], state8.logits[0]
        cosines.append(cosine(a, b))
        worst = max(worst, float(np.max(np.abs(a[: fp32.eos] - b[: int8.eos]))))
        token = int(np.argmax(a[: fp32.eos]))
        agree.append(token == int(np.argmax(b[: int8.eos])))
        runner_up, best = np.partition(a[: fp32.eos], -2)[-2:]
        near_tie.append(float(best - runner_up) < NEAR_TIE_LOGITS)
        feed = np.array([token], np.int64)
        state32.step(feed)
        state8.step(feed)
    agreed, tied = np.array(agree), np.array(near_tie)
    return {
        "logits_cosine_min": float(np.min(cosines[:QUALITY_STEPS])),
        "logits_cosine_mean": float(np.mean(cosines[:QUALITY_STEPS])),
        "greedy_agreement": float(np.mean(agreed[:QUALITY_STEPS])),
        "steps": float(QUALITY_STEPS),
        "long_steps": float(steps),
        "greedy_agreement_long": float(np.mean(agreed)),
        "near_tie_logits": NEAR_TIE_LOGITS,
        "near_tie_fraction_long": float(np.mean(tied)),
        "greedy_agreement_decisive_long": float(np.mean(agreed[~tied])) if (~tied).any() else math.nan,
        "logits_max_error_long": worst,
    }


def bytes_per_token(onnx_path: Path) -> int:
    """Bytes of initializers one step reads: all but the tables only gathered from (one row each)."""
    import onnx

    graph = onnx.load(str(onnx_path)).graph
    gathered: set[str] = set()
    used_elsewhere: set[str] = set()
    for node in graph.node:
        for index, name in enumerate(node.input):
            if node.op_type == "Gather" and index == 0:
                gathered.add(name)
            else:
                used_elsewhere.add(name)
    total = 0
    for initializer in graph.initializer:
        if initializer.name in gathered and initializer.name not in used_elsewhere:
            continue
        total += onnx.numpy_helper.to_array(initializer).nbytes
    return total


def flops_per_token(dims: dict[str, Any], cache_length: int) -> float:
    """Multiply-adds x 2 of one step: the layers' matrices, the head, and attention over the cache."""
    d, ffn, layers, vocab = dims["d_model"], dims["ffn"], dims["n_layer"], dims["audio_vocab"]
    matrices = layers * (4 * d * d + 2 * d * ffn) + d * vocab
    attention = layers * 2 * cache_length * d
    return float(2 * (matrices + attention))


def kv_bytes_per_token(dims: dict[str, Any], cache_length: int, value_bytes: int = 4) -> int:
    """Bytes of K and V one step reads at `cache_length` (4 per value in fp32, 1 in int8)."""
    return int(2 * dims["n_layer"] * dims["d_model"] * cache_length * value_bytes)


def cache_value_bytes(onnx_path: Path) -> int:
    """Bytes per cached value of a decoder graph: its past_key_0 input's element size."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    for value in graph.input:
        if value.name == "past_key_0":
            return int(onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).itemsize)
    raise ValueError(f"{onnx_path.name} has no past_key_0 input")


def bandwidth_floor(
    dims: dict[str, Any], weight_bytes: dict[str, int], value_bytes: dict[str, int], read_gb_s: float
) -> dict[str, dict[str, float]]:
    """Per precision and cache length: the step's floor in ms ((weights + KV bytes) / bandwidth)."""
    floors: dict[str, dict[str, float]] = {}
    for precision, weights in weight_bytes.items():
        floors[precision] = {
            str(length): (weights + kv_bytes_per_token(dims, length, value_bytes[precision]))
            / (read_gb_s * 1e9) * 1000.0
            for length in CACHE_LENGTHS
        }
    return floors


def gflops(dims: dict[str, Any]) -> dict[str, float]:
    """GFLOP per token at each cache length."""
    return {str(length): flops_per_token(dims, length) / 1e9 for length in CACHE_LENGTHS}
