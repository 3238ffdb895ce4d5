"""Benchmark of the SoVITS decoder: real-time factor for 6 s of audio, and INT8 against fp32.

The inputs are what a sentence gives the decoder: prompt-like semantic tokens (the voice's own
prompt tokens, repeated), the phones of a real sentence, the voice's `ge` and upstream's noise
scale, with the same seeded noise for every implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ..convert.torch_modules.eager import count_macs, decode_wave, set_threads
from ..convert.torch_modules.sovits import SovitsDecoderModule
from ..engine.audio import snr_db
from ..engine.gpt_sovits.manifest import SAMPLE_RATE_HZ, SAMPLES_PER_TOKEN
from ..engine.gpt_sovits.model import GptSoVitsModel
from ..engine.gpt_sovits.sovits import SovitsDecoder
from ..engine.onnx import CPU_PROVIDER
from .timing import Timing, time_runs

AUDIO_SECONDS: Final = 6.0
NOISE_SCALE: Final = 0.5
DECODE_REPEATS: Final = 3
SEED: Final = 11


@dataclass(frozen=True)
class DecoderInputs:
    """One sentence's decoder input."""

    tokens: NDArray[np.int64]
    """(Tn,) semantic tokens: Tn = seconds x 25."""
    phones: NDArray[np.int64]
    """(Nt,) target phones."""
    ge: NDArray[np.float32]
    """(1, gin, 1)"""

    @property
    def seconds(self) -> float:
        """Audio length at speed 1."""
        return self.tokens.size * SAMPLES_PER_TOKEN / SAMPLE_RATE_HZ


def decoder_inputs(prompt_tokens: NDArray[np.int64], phones: NDArray[np.int64], ge: NDArray[np.float32],
                   seconds: float = AUDIO_SECONDS) -> DecoderInputs:
    """`seconds` of prompt-like tokens (the prompt repeated) with these phones and `ge`."""
    count = round(seconds * SAMPLE_RATE_HZ / SAMPLES_PER_TOKEN)
    reps = -(-count // max(prompt_tokens.size, 1))
    return DecoderInputs(np.tile(prompt_tokens, reps)[:count].astype(np.int64), phones.astype(np.int64), ge)


def onnx_decoder(model_dir: Path, precision: str, threads: int, provider: str = CPU_PROVIDER) -> SovitsDecoder:
    """The runtime's decoder over one precision of the folder."""
    model = GptSoVitsModel.load(model_dir, precision=precision, threads=threads, verify_hashes=False, provider=provider)
    return SovitsDecoder(model)


def onnx_wave(decoder: SovitsDecoder, inputs: DecoderInputs) -> NDArray[np.float32]:
    """One decode with the benchmark's fixed noise."""
    return decoder.decode(inputs.tokens, inputs.phones, inputs.ge, 1.0, NOISE_SCALE, np.random.default_rng(SEED))


def torch_wave(module: SovitsDecoderModule, inputs: DecoderInputs, inter_channels: int) -> NDArray[np.float32]:
    """The same decode through our torch module (the same noise as `onnx_wave`)."""
    frames = 2 * inputs.tokens.size
    noise = np.random.default_rng(SEED).standard_normal((1, inter_channels, frames), dtype=np.float32)
    noise *= np.float32(NOISE_SCALE)
    return decode_wave(module, inputs.tokens, inputs.phones, inputs.ge, noise)


def decoder_figures(
    model_dir: Path,
    module: SovitsDecoderModule,
    inputs: DecoderInputs,
    threads: int,
    repeats: int = DECODE_REPEATS,
    provider: str = CPU_PROVIDER,
) -> dict[str, Any]:
    """Seconds and RTF per implementation, and INT8 / torch against ONNX fp32 (SNR dB)."""
    set_threads(threads)
    waves: dict[str, NDArray[np.float32]] = {}
    figures: dict[str, Any] = {"audio_s": inputs.seconds}
    for precision in ("int8", "fp32"):
        decoder = onnx_decoder(model_dir, precision, threads, provider)
        waves[precision] = onnx_wave(decoder, inputs)
        timing = time_runs(partial(onnx_wave, decoder, inputs), repeats, warmup=0)
        figures[precision] = _timing_figures(timing, inputs.seconds)
        del decoder
    inter = _inter_channels(model_dir)
    with count_macs(module) as macs:
        waves["torch"] = torch_wave(module, inputs, inter)
    figures["gmac"] = {part: value / 1e9 for part, value in macs.items()}
    timing = time_runs(lambda: torch_wave(module, inputs, inter), repeats, warmup=0)
    figures["torch"] = _timing_figures(timing, inputs.seconds)
    figures["int8_snr_db"] = snr_db(waves["fp32"], waves["int8"])
    figures["torch_vs_fp32_snr_db"] = snr_db(waves["fp32"], waves["torch"])
    return figures


def _timing_figures(timing: Timing, audio_s: float) -> dict[str, float]:
    return {
        "seconds": timing.best,
        "seconds_median": timing.median,
        "seconds_cpu": timing.cpu,
        "rtf": timing.best / audio_s,
    }


def _inter_channels(model_dir: Path) -> int:
    from ..engine.gpt_sovits.manifest import Manifest

    return int(Manifest.read(model_dir).dims["sovits"]["inter_channels"])
