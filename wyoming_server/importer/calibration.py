"""Realistic inputs for checking and calibrating the SoVITS graphs without real recordings.

Static INT8 needs activation ranges like those at run time: random tensors give the wrong
ranges. We have no speech data in the build, so we synthesize a voice-like clip (a glottal
buzz with a moving pitch, two moving formants and syllable-shaped loudness), run it through the
folder's own fp32 enrollment graphs (prompt_extractor, sv_embedder, ref_embedder) to get
prompt-like semantic tokens, a real-ish `ge` (and SV embedding), and pair them with phone sequences
of real sentences in the v2 symbol table. Both converters calibrate this way, on their own graphs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ..engine.audio import resample
from ..engine.gpt_sovits.reference import kaldi_fbank, linear_spectrogram
from ..engine.gpt_sovits.shared_files import PROMPT_QUANTIZER_FILE, shared_files_of
from ..engine.gpt_sovits.sovits import frame_count
from .quantize import session

PROMPT_EXTRACTOR: Final = "prompt_extractor"
REF_EMBEDDER: Final = "ref_embedder"
SV_EMBEDDER: Final = "sv_embedder"

SYLLABLES_PER_S: Final = 4.0
PROMPT_TAIL_SAMPLES_16K: Final = 9600
"""Upstream appends 0.6 s of zeros at 16 kHz before HuBERT."""
NOISE_SCALE: Final = 0.5
"""Upstream's default noise scale."""
CALIBRATION_SPEEDS: Final = (1.0, 1.0, 0.9, 1.2)

# v2 symbol-table ids of real sentences (pinyin initials/finals with tones, ARPAbet, punctuation):
# 你好，欢迎回家。/ 今天天气很好，我们去公园散步吧。/ 智能家居已经打开了客厅的灯。/
# Hello, welcome home. / Dinner is ready, 普通话也可以。
_SENTENCES: Final = (
    "227 168 158 119 1 158 270 318 202 158 281 221 171 3",
    "221 196 252 176 252 176 247 169 158 142 158 119 1 316 232 225 144 247 299 156 235 318 302 250 110 "
    "122 258 122 101 3",
    "320 214 227 146 221 171 221 296 318 168 221 201 127 99 222 102 224 134 222 133 252 201 127 134 127 "
    "145 3",
    "51 12 62 68 1 91 35 62 61 12 63 51 68 63 3",
    "26 55 64 38 55 93 74 35 26 57 1 245 258 252 235 158 263 318 132 222 131 318 168 3",
)
SENTENCE_PHONES: Final = tuple(tuple(int(i) for i in s.split()) for s in _SENTENCES)


def synthetic_voice(seconds: float, rate_hz: int, seed: int) -> NDArray[np.float32]:
    """A deterministic voice-like clip: harmonics of a wandering f0 shaped by two moving formants."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate_hz)
    t = np.arange(n) / rate_hz
    n_syllables = max(1, int(seconds * SYLLABLES_PER_S))
    pitch_targets = rng.uniform(110.0, 230.0, n_syllables + 1)
    f0 = np.interp(t, np.linspace(0.0, seconds, n_syllables + 1), pitch_targets)
    f0 *= 1.0 + 0.01 * np.sin(2 * np.pi * 5.5 * t)  # vibrato
    phase = 2 * np.pi * np.cumsum(f0) / rate_hz
    syllable = np.minimum(np.floor(t * SYLLABLES_PER_S).astype(int), n_syllables - 1)
    formant_1 = rng.uniform(300.0, 900.0, n_syllables)[syllable]
    formant_2 = rng.uniform(900.0, 2500.0, n_syllables)[syllable]
    wave = np.zeros(n)
    for k in range(1, 40):
        freq = k * f0
        gain = np.exp(-(((freq - formant_1) / 150.0) ** 2)) + 0.5 * np.exp(
            -(((freq - formant_2) / 250.0) ** 2)
        )
        gain = np.where(freq < rate_hz / 2, gain / k**0.5, 0.0)
        wave += gain * np.sin(k * phase)
    position = t * SYLLABLES_PER_S - np.floor(t * SYLLABLES_PER_S)
    loudness = np.sqrt(np.sin(np.pi * np.minimum(position / 0.85, 1.0)))
    wave = wave * loudness + 0.003 * rng.standard_normal(n)
    clip: NDArray[np.float32] = (0.5 * wave / np.max(np.abs(wave))).astype(np.float32)
    return clip


@dataclass(frozen=True)
class ReferenceFeatures:
    """What a reference clip gives the decoder, computed with the folder's fp32 enrollment graphs."""

    tokens: NDArray[np.int64]
    spec: NDArray[np.float32]
    ge: NDArray[np.float32]
    sv: NDArray[np.float32] | None


def reference_features(folder: Path, seeds: range, seconds: float = 4.0) -> list[ReferenceFeatures]:
    """One `ReferenceFeatures` per seed's synthetic clip, from `prompt_extractor.onnx`,
    `ref_embedder.onnx` and (when present) `sv_embedder.onnx` in `folder`."""
    prompt = _prompt_graphs(folder)
    ref = session(folder / f"{REF_EMBEDDER}.onnx")
    sv = session(folder / f"{SV_EMBEDDER}.onnx") if (folder / f"{SV_EMBEDDER}.onnx").is_file() else None
    features = []
    for seed in seeds:
        clip_32k = synthetic_voice(seconds, 32000, seed)
        clip_16k = resample(clip_32k, 32000, 16000)
        wave = np.concatenate([clip_16k, np.zeros(PROMPT_TAIL_SAMPLES_16K, np.float32)])[None]
        out = wave
        for graph in prompt:
            out = np.asarray(graph.run(None, {graph.get_inputs()[0].name: out})[0])
        tokens = out.astype(np.int64)
        spec = linear_spectrogram(clip_32k)
        feeds = {"spec": spec}
        sv_emb = None
        if sv is not None:
            sv_emb = np.asarray(sv.run(None, {"fbank": kaldi_fbank(clip_16k)})[0], np.float32)
            feeds["sv_emb"] = sv_emb
        ge = np.asarray(ref.run(None, feeds)[0], np.float32)
        features.append(ReferenceFeatures(tokens, spec, ge, sv_emb))
    return features


def _prompt_graphs(folder: Path) -> list[Any]:
    """Sessions that turn a 16 kHz wave into prompt tokens, in turn: the single extractor, or once the
    converter has split it, the data folder's shared HuBERT and then the folder's quantizer."""
    single = folder / f"{PROMPT_EXTRACTOR}.onnx"
    if single.is_file():
        return [session(single)]
    return [*(session(path) for path in shared_files_of(folder).values()), session(folder / PROMPT_QUANTIZER_FILE)]


class LazyReferences:
    """`reference_features` of a folder, computed on first use (after the enrollment graphs are written)."""

    def __init__(self, folder: Path, count: int) -> None:
        self._folder = folder
        self._count = count
        self._features: list[ReferenceFeatures] | None = None

    def get(self) -> list[ReferenceFeatures]:
        """The features (cached)."""
        if self._features is None:
            self._features = reference_features(self._folder, range(self._count))
        return self._features


def decoder_calibration_sets(
    references: list[ReferenceFeatures], inter_channels: int, seed: int = 0
) -> Iterator[dict[str, NDArray[np.generic]]]:
    """Decoder inputs: prompt-like token runs, real phone sequences, real-ish ge, scaled noise."""
    rng = np.random.default_rng(seed)
    for i, reference in enumerate(references):
        for j, speed in enumerate(CALIBRATION_SPEEDS):
            phones = np.array(SENTENCE_PHONES[(i + j) % len(SENTENCE_PHONES)], dtype=np.int64)
            tokens = reference.tokens
            start = int(rng.integers(0, max(1, tokens.shape[0] // 3)))
            run = tokens[start : start + max(8, 2 * phones.shape[0])]
            frames = frame_count(run.shape[0], speed)
            yield {
                "codes": run[None, None].astype(np.int64),
                "phones": phones[None],
                "ge": reference.ge.astype(np.float32),
                "noise": (rng.standard_normal((1, inter_channels, frames)) * NOISE_SCALE).astype(np.float32),
                "keep": np.array([0, frames], dtype=np.int64),
            }
