"""SoVITS decoding on onnxruntime: semantic tokens + target phones + speaker embedding -> 32 kHz audio.

The `vits_decoder` graph takes the prior noise as an input so that it can be drawn here from the
request's seeded generator (reference pitfall 19): z_p = m_p + noise * exp(logs_p), with
noise = epsilon * noise_scale. The noise's length is the frame count, which carries the speaking
rate: 2 frames per token at speed 1, otherwise upstream's `int(2 * tokens / speed) + 1` computed in
double precision here (float32 arithmetic inside a graph would lose a frame at speeds like 0.8).

Its optional `keep` input (frames [start, stop)) runs the HiFi-GAN generator, most of the work,
on those frames only while the latent still sees the whole window: token-chunk streaming
synthesizes its chunk, not the context around it. Folders converted before `keep` existed decode
the whole window and the frames are cut out here (the same audio, without the saving).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Final

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from ..errors import ModelLoadError
from ..onnx import require_inputs
from .model import GptSoVitsModel

_LOGGER = logging.getLogger(__name__)

GRAPH: Final = "vits_decoder"
INPUTS: Final = ("codes", "phones", "ge", "noise")
KEEP_INPUT: Final = "keep"
FRAMES_PER_TOKEN: Final = 2
"""Semantic tokens are 25 Hz; SoVITS frames are 50 Hz."""
DEFAULT_HOP_SAMPLES: Final = 640
WINDOW_FRAMES: Final = 500
"""A whole-sentence decode runs the generator over at most this many frames at a time (10 s at speed 1):
its activations take about 20 MB per second of audio, so a long sentence (or a slow speed) would
otherwise grow memory without bound; shorter sentences decode in one run, as before."""
WINDOW_MARGIN_FRAMES: Final = 16
"""Frames the generator also synthesizes on each side of a window and drops: beyond its reach (about 10
frames), so the windows join into the one-run decode up to rounding."""
RUN_OPTIONS: Final = ort.RunOptions()
RUN_OPTIONS.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
"""Each decode gives its arena back when it ends; within a run the arena reuses its blocks, so the large
activations are not mapped and zeroed one by one (faster windows for a little more peak memory)."""


def frame_count(tokens: int, speed: float) -> int:
    """SoVITS frames for `tokens` semantic tokens at `speed` (upstream's linear-interpolation length)."""
    frames = FRAMES_PER_TOKEN * tokens
    return frames if speed == 1.0 else int(frames / speed) + 1


def _dim(dims: dict[str, Any], key: str) -> int:
    try:
        return int(dims[key])
    except (KeyError, TypeError, ValueError) as err:
        raise ModelLoadError(f"manifest dims['sovits'] lacks a valid {key!r}") from err


class SovitsDecoder:
    """The SoVITS decoder of one model folder."""

    def __init__(self, model: GptSoVitsModel) -> None:
        dims = model.manifest.dims.get("sovits")
        if not isinstance(dims, dict):
            raise ModelLoadError(f"model {model.model_id}: manifest has no dims['sovits']")
        self.inter_channels = _dim(dims, "inter_channels")
        self.gin = _dim(dims, "gin")
        self.codebook_size = _dim(dims, "codebook_size")
        self.phone_count = _dim(dims, "phone_count")
        self.hop_samples = int(dims.get("hop_samples", DEFAULT_HOP_SAMPLES))
        self.sample_rate_hz = model.manifest.sample_rate_hz
        self._session = model.session(GRAPH)
        require_inputs(self._session, GRAPH, INPUTS)
        self._keep_in_graph = any(i.name == KEEP_INPUT for i in self._session.get_inputs())
        # onnxruntime refuses to shrink an arena a session does not have (sessions made elsewhere).
        self._run_options = RUN_OPTIONS if self._session.get_session_options().enable_cpu_mem_arena else None
        self.window_frames = WINDOW_FRAMES
        """Generator frames per run of a whole-sentence decode (`decode`); tests make it small."""

    def decode(
        self,
        tokens: NDArray[np.int64],
        phones: NDArray[np.int64],
        ge: NDArray[np.float32],
        speed: float,
        noise_scale: float,
        rng: np.random.Generator,
    ) -> NDArray[np.float32]:
        """Waveform (frame_count(len(tokens), speed) * 640,) float32 at 32 kHz.

        tokens: (Tn,) generated semantic tokens (no EOS); phones: (Nt,) target phone ids only;
        ge: (1, gin, 1) from the voice prompt. `noise_scale` 0 makes the output deterministic;
        otherwise epsilon is drawn from `rng`, so equal seeds give equal audio.
        """
        tokens, phones, ge = self._checked(tokens, phones, ge)
        if not (math.isfinite(speed) and speed > 0.0):
            raise ValueError(f"speed must be a positive number, got {speed}")
        if not (math.isfinite(noise_scale) and noise_scale >= 0.0):
            raise ValueError(f"noise_scale must not be negative, got {noise_scale}")
        frames = frame_count(tokens.shape[0], speed)
        shape = (1, self.inter_channels, frames)
        if noise_scale == 0.0:
            noise = np.zeros(shape, dtype=np.float32)
        else:
            noise = rng.standard_normal(shape, dtype=np.float32) * np.float32(noise_scale)
        if frames <= self.window_frames or not self._keep_in_graph:
            return self._run(tokens, phones, ge, noise, (0, frames))
        return self._run_windows(tokens, phones, ge, noise)

    def _run_windows(
        self, tokens: NDArray[np.int64], phones: NDArray[np.int64], ge: NDArray[np.float32], noise: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        """The whole sentence's latent, its generator run window by window (bounded memory, `WINDOW_FRAMES`)."""
        frames = noise.shape[2]
        wave = np.empty(frames * self.hop_samples, dtype=np.float32)
        for start in range(0, frames, self.window_frames):
            stop = min(frames, start + self.window_frames)
            first, last = max(0, start - WINDOW_MARGIN_FRAMES), min(frames, stop + WINDOW_MARGIN_FRAMES)
            part = self._run(tokens, phones, ge, noise, (first, last))
            hop, offset = self.hop_samples, (start - first) * self.hop_samples
            wave[start * hop : stop * hop] = part[offset : offset + (stop - start) * hop]
        return wave

    def decode_with_noise(
        self,
        tokens: NDArray[np.int64],
        phones: NDArray[np.int64],
        ge: NDArray[np.float32],
        noise: NDArray[np.float32],
        keep: tuple[int, int] | None = None,
    ) -> NDArray[np.float32]:
        """Waveform ((stop - start) * 640,) of frames `keep` = [start, stop) (default: all F frames)
        for explicit scaled noise (1, inter_channels, F) (epsilon * noise_scale).

        F sets the frame count: 2 * len(tokens) is speed 1. Token-chunk streaming uses this to give
        every frame the same epsilon whichever window decodes it (see `streaming.FrameNoise`). Kept
        frames within a few of a cut edge differ from the whole decode (the generator sees zeros
        beyond it), so callers keep a margin around the samples they use.
        """
        tokens, phones, ge = self._checked(tokens, phones, ge)
        noise = np.asarray(noise, dtype=np.float32)
        if noise.ndim != 3 or noise.shape[:2] != (1, self.inter_channels) or noise.shape[2] < 1:
            raise ValueError(f"noise must have shape (1, {self.inter_channels}, frames), got {noise.shape}")
        frames = noise.shape[2]
        start, stop = keep if keep is not None else (0, frames)
        if not 0 <= start < stop <= frames:
            raise ValueError(f"keep must be frames [start, stop) within [0, {frames}), got {keep}")
        return self._run(tokens, phones, ge, noise, (start, stop))

    def _run(
        self,
        tokens: NDArray[np.int64],
        phones: NDArray[np.int64],
        ge: NDArray[np.float32],
        noise: NDArray[np.float32],
        keep: tuple[int, int],
    ) -> NDArray[np.float32]:
        feeds = {
            "codes": tokens.astype(np.int64).reshape(1, 1, -1),
            "phones": phones.astype(np.int64).reshape(1, -1),
            "ge": ge,
            "noise": noise,
        }
        if self._keep_in_graph:
            feeds[KEEP_INPUT] = np.array(keep, dtype=np.int64)
        (wave,) = self._session.run(["wave"], feeds, self._run_options)
        if not self._keep_in_graph:
            wave = wave[:, keep[0] * self.hop_samples : keep[1] * self.hop_samples]
        samples: NDArray[np.float32] = np.ascontiguousarray(wave[0], dtype=np.float32)
        _LOGGER.debug(
            "sovits: tokens=%d phones=%d frames=%d kept=[%d, %d) samples=%d",
            tokens.shape[0],
            phones.shape[0],
            noise.shape[2],
            keep[0],
            keep[1],
            samples.shape[0],
        )
        return samples

    def _checked(
        self, tokens: NDArray[np.int64], phones: NDArray[np.int64], ge: NDArray[np.float32]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
        tokens = np.asarray(tokens)
        phones = np.asarray(phones)
        self._check_ids("tokens", tokens, self.codebook_size)
        self._check_ids("phones", phones, self.phone_count)
        ge = np.asarray(ge, dtype=np.float32)
        if ge.shape != (1, self.gin, 1):
            raise ValueError(f"ge must have shape (1, {self.gin}, 1), got {ge.shape}")
        return tokens, phones, ge

    @staticmethod
    def _check_ids(what: str, ids: NDArray[Any], limit: int) -> None:
        if ids.ndim != 1 or ids.shape[0] == 0:
            raise ValueError(f"{what} must be a non-empty 1-D array, got shape {ids.shape}")
        if not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"{what} must be integer ids, got {ids.dtype}")
        if int(ids.min()) < 0 or int(ids.max()) >= limit:
            raise ValueError(f"{what} must lie in [0, {limit}), got [{int(ids.min())}, {int(ids.max())}]")
