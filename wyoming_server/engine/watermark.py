"""A keyed, inaudible spread-spectrum watermark on every synthesized clip, and its detector.

How it works (pure numpy):
- A per-install secret key seeds a pseudo-random "tile": 0.32 s of noise with a flat spectrum
  from `BAND_LOW_HZ` to `BAND_HIGH_HZ` and random phases. 0.32 s is a whole number of samples at
  every rate that is a multiple of 25 Hz (8, 16, 22.05, 24, 32, 44.1, 48 kHz), so the tile repeats
  seamlessly at any of them, and one stream of chunks carries one unbroken repetition.
- Embedding shapes the repeating tile, frame by frame (32 ms STFT), to the speech's own smoothed
  spectrum and adds it `MARK_LEVEL_DB` below the speech: where the speech is loud the mark is
  louder, in silence there is none, so the speech masks it.
- Detection resamples the clip to 16 kHz, whitens it (divides each STFT cell by its smoothed
  magnitude, so the loud speech no longer dominates), folds it modulo the tile period (which sums
  the mark coherently, whatever the clip's start offset) and cross-correlates the fold with the
  tile at every circular lag. The score is the peak correlation in robust standard deviations
  (median absolute deviation of all lags); a clip carries the mark when the score passes
  `DETECTION_THRESHOLD`.

Resampling, int16 and MP3 keep the band below 7 kHz and do not shift time by a fraction of the
period, so the mark survives them. It proves nothing cryptographically and a determined attacker
can remove it (docs/voices.md, "Watermark").
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from .audio import resample

DETECT_RATE_HZ: Final = 16000
TILE_S: Final = 0.32
"""Period of the mark; 8/25 s, so whole samples at every multiple of 25 Hz."""
BAND_LOW_HZ: Final = 300.0
BAND_HIGH_HZ: Final = 6800.0
"""Below 16 kHz's Nyquist with room for a resampler's transition band."""
MARK_LEVEL_DB: Final = -22.0
"""Mark level relative to the speech in every time-frequency cell of the band."""
DETECTION_THRESHOLD: Final = 6.0
"""Score (robust standard deviations) above which a clip is called marked."""
MIN_DETECT_S: Final = 1.0
"""Clips shorter than this are not scored (too few tile periods to decide)."""
KEY_FILE: Final = "watermark.key"
KEY_BYTES: Final = 32
_FRAME_S: Final = 0.032
_SMOOTH_BINS: Final = 3
_EPS: Final = 1e-9


@dataclass(frozen=True, slots=True)
class WatermarkKey:
    """The per-install secret that makes this server's mark (and only it) detectable."""

    secret: bytes

    def fingerprint(self) -> str:
        """Short public id of the key (safe to print; does not reveal the key)."""
        return hashlib.sha256(b"edge-tts-clone fingerprint" + self.secret).hexdigest()[:12]


def read_key(data_dir: Path) -> WatermarkKey:
    """The install's key from `<data>/watermark.key` (FileNotFoundError when there is none yet)."""
    path = data_dir / KEY_FILE
    text = path.read_text(encoding="ascii").strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError as err:
        raise ValueError(f"{path} is not a watermark key (hex text expected): {err}") from err
    if len(secret) < 16:
        raise ValueError(f"{path} is not a watermark key (too short)")
    return WatermarkKey(secret)


def load_or_create_key(data_dir: Path) -> WatermarkKey:
    """`<data>/watermark.key` (hex, mode 0600), created with fresh random bytes on first use."""
    try:
        return read_key(data_dir)
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(KEY_BYTES)
    # Written to a private temp file, then linked into place: another process never reads half a key,
    # and if two start at once exactly one key wins (link fails when the name exists).
    temp = data_dir / f".{KEY_FILE}.{secrets.token_hex(4)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secret.hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.link(temp, data_dir / KEY_FILE)
    except FileExistsError:
        return read_key(data_dir)
    finally:
        temp.unlink(missing_ok=True)
    return WatermarkKey(secret)


def _tile_period(rate_hz: int) -> int:
    period = rate_hz * TILE_S
    if abs(period - round(period)) > 1e-9:
        raise ValueError(f"the watermark needs a sample rate that is a multiple of 25 Hz, not {rate_hz}")
    return round(period)


def _frame_size(rate_hz: int) -> int:
    return 1 << round(math.log2(rate_hz * _FRAME_S))


def make_tile(key: WatermarkKey, rate_hz: int) -> NDArray[np.float64]:
    """(P,) one period of the mark at `rate_hz`: unit RMS, flat spectrum inside the band."""
    period16 = _tile_period(DETECT_RATE_HZ)
    seed = int.from_bytes(hashlib.sha256(b"edge-tts-clone tile v1" + key.secret).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    freqs = np.fft.rfftfreq(period16, 1.0 / DETECT_RATE_HZ)
    in_band = (freqs >= BAND_LOW_HZ) & (freqs <= BAND_HIGH_HZ)
    spectrum16 = np.where(in_band, np.exp(2j * np.pi * rng.random(freqs.shape[0])), 0.0)
    period = _tile_period(rate_hz)
    # The tile is periodic and band-limited, so moving it to another rate is exact in the DFT domain.
    spectrum = np.zeros(period // 2 + 1, dtype=np.complex128)
    shared = min(spectrum.shape[0], spectrum16.shape[0])
    spectrum[:shared] = spectrum16[:shared]
    tile = np.fft.irfft(spectrum, period)
    return np.asarray(tile / (np.sqrt(np.mean(tile * tile)) + _EPS), dtype=np.float64)


def _stft(x: NDArray[np.float64], frame: int) -> NDArray[np.complex128]:
    """(F, frame//2+1) sqrt-Hann STFT with hop frame/2 of `x` padded by one frame each side."""
    hop = frame // 2
    padded = np.pad(x, (frame, frame + (-x.shape[0]) % hop))
    count = (padded.shape[0] - frame) // hop + 1
    index = np.arange(frame)[None, :] + hop * np.arange(count)[:, None]
    return np.fft.rfft(padded[index] * _window(frame), axis=1)


def _istft(spec: NDArray[np.complex128], frame: int, length: int) -> NDArray[np.float64]:
    """Overlap-add inverse of `_stft` (sqrt-Hann both ways sums to one at hop frame/2)."""
    hop = frame // 2
    frames = np.fft.irfft(spec, frame, axis=1) * _window(frame)
    out = np.zeros(hop * (spec.shape[0] - 1) + frame)
    for i in range(spec.shape[0]):
        out[i * hop : i * hop + frame] += frames[i]
    return out[frame : frame + length]


def _window(frame: int) -> NDArray[np.float64]:
    return np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(frame) / frame))


def _smooth_magnitude(spec: NDArray[np.complex128]) -> NDArray[np.float64]:
    """|spec| averaged over neighbouring bins and frames: the local spectral envelope."""
    width = 2 * _SMOOTH_BINS + 1
    padded = np.pad(np.abs(spec), ((1, 1), (_SMOOTH_BINS, _SMOOTH_BINS)), mode="edge")
    cumulative = np.cumsum(np.pad(padded, ((0, 0), (1, 0))), axis=1)
    over_bins = (cumulative[:, width:] - cumulative[:, :-width]) / width
    return np.asarray((over_bins[:-2] + over_bins[1:-1] + over_bins[2:]) / 3.0, dtype=np.float64)


def _band_mask(frame: int, rate_hz: int) -> NDArray[np.bool_]:
    freqs = np.fft.rfftfreq(frame, 1.0 / rate_hz)
    return np.asarray((freqs >= BAND_LOW_HZ) & (freqs <= BAND_HIGH_HZ))


class WatermarkStream:
    """Marks the consecutive chunks of one synthesized stream, keeping the tile's phase across them."""

    def __init__(self, key: WatermarkKey, rate_hz: int, level_db: float = MARK_LEVEL_DB) -> None:
        self.rate_hz = rate_hz
        self._tile = make_tile(key, rate_hz)
        self._gain = 10.0 ** (level_db / 20.0)
        self._frame = _frame_size(rate_hz)
        self._band = _band_mask(self._frame, rate_hz)
        self._offset = 0

    def mark(self, samples: NDArray[np.float32]) -> NDArray[np.float32]:
        """The chunk with the mark added (same length; clipped to [-1, 1])."""
        n = samples.shape[0]
        if n == 0:
            return np.asarray(samples, dtype=np.float32)
        x = np.asarray(samples, dtype=np.float64)
        period = self._tile.shape[0]
        tile = self._tile[(self._offset + np.arange(n)) % period]
        self._offset = (self._offset + n) % period
        host = _stft(x, self._frame)
        carrier = _stft(tile, self._frame)
        shaped = carrier / (_smooth_magnitude(carrier) + _EPS) * _smooth_magnitude(host) * self._gain
        shaped[:, ~self._band] = 0.0
        marked = x + _istft(shaped, self._frame, n)
        return np.asarray(np.clip(marked, -1.0, 1.0), dtype=np.float32)


def embed(samples: NDArray[np.float32], rate_hz: int, key: WatermarkKey) -> NDArray[np.float32]:
    """Mark one whole clip (a stream of one chunk)."""
    return WatermarkStream(key, rate_hz).mark(samples)


@dataclass(frozen=True, slots=True)
class Detection:
    """The detector's verdict on one clip."""

    marked: bool
    score: float
    """Peak correlation in robust standard deviations (about 4 for unmarked audio)."""
    threshold: float
    duration_s: float
    lag_s: float
    """Where in the tile the clip starts (informational)."""
    reason: str = ""
    """Why no verdict could be reached (e.g. too short); empty otherwise."""


def detection_score(samples: NDArray[np.float32], rate_hz: int, key: WatermarkKey) -> tuple[float, int]:
    """(score, lag in samples at 16 kHz) of `samples` against the key's tile."""
    x = np.asarray(resample(np.asarray(samples, dtype=np.float32), rate_hz, DETECT_RATE_HZ), dtype=np.float64)
    frame = _frame_size(DETECT_RATE_HZ)
    spec = _stft(x, frame)
    white = spec / (_smooth_magnitude(spec) + 1e-4 * (np.abs(spec).max() + _EPS))
    white[:, ~_band_mask(frame, DETECT_RATE_HZ)] = 0.0
    e = _istft(white, frame, x.shape[0])
    tile = make_tile(key, DETECT_RATE_HZ)
    period = tile.shape[0]
    folded = np.zeros(period)
    whole = e.shape[0] // period * period
    folded += e[:whole].reshape(-1, period).sum(axis=0)
    folded[: e.shape[0] - whole] += e[whole:]
    correlation = np.fft.irfft(np.fft.rfft(folded) * np.conj(np.fft.rfft(tile)), period)
    magnitude = np.abs(correlation)
    lag = int(np.argmax(magnitude))
    spread = 1.4826 * float(np.median(np.abs(correlation - np.median(correlation)))) + _EPS
    return float(magnitude[lag]) / spread, lag


def detect(
    samples: NDArray[np.float32], rate_hz: int, key: WatermarkKey, threshold: float = DETECTION_THRESHOLD
) -> Detection:
    """Whether `samples` carry this key's mark."""
    duration = samples.shape[0] / rate_hz if rate_hz > 0 else 0.0
    if duration < MIN_DETECT_S:
        return Detection(False, 0.0, threshold, duration, 0.0, f"clip shorter than {MIN_DETECT_S:g} s")
    if not np.any(samples):
        return Detection(False, 0.0, threshold, duration, 0.0, "clip is silent")
    score, lag = detection_score(samples, rate_hz, key)
    return Detection(score >= threshold, score, threshold, duration, lag / DETECT_RATE_HZ)
