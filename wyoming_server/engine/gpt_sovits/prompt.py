"""Enrollment: a reference clip (+ its transcript) -> the prompt tensors a voice pack stores.

Upstream's reference path (reference §2.2, §2.3, §3.2, §9.2):
- prompt tokens: mono clip resampled to 16 kHz (soxr HQ, as librosa), 3-10 s checked *before*
  0.6 s of zeros (9600 samples) are appended, then HuBERT -> ssl_proj -> nearest codebook row;
- ge: the clip resampled to 32 kHz, divided by min(2, peak) when its peak exceeds 1, linear
  spectrogram -> ref_enc; v2Pro/v2ProPlus add the speaker-verification embedding of that 32 kHz
  signal brought back to 16 kHz (Kaldi fbank -> ERes2NetV2);
- transcript: a final "。" (or "." for English) when it ends without punctuation, then phones and
  BERT features. An empty transcript gives a reference-free prompt (no phones, no tokens; ge kept).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from .. import VoicePrompt
from ..audio import resample, to_mono
from ..errors import ReferenceAudioError, TextError
from ..memory import trim_heap
from ..onnx import require_inputs
from .bert import BertFeaturizer
from .manifest import GraphEntry
from .model import GptSoVitsModel
from .reference import kaldi_fbank, linear_spectrogram, peak_normalize
from .shared_files import SSL_FEATURES, SSL_FILE_KEY
from .text import Phones, to_phones

_LOGGER = logging.getLogger(__name__)

TextFrontend = Callable[[str, str], Phones]
"""`to_phones(text, language)` of `wyoming_server.engine.gpt_sovits.text`."""

PROMPT_RATE_HZ: Final = 16000
SPEC_RATE_HZ: Final = 32000
MIN_PROMPT_SAMPLES: Final = 48000
"""3 s at 16 kHz."""
MAX_PROMPT_SAMPLES: Final = 160000
"""10 s at 16 kHz."""
PROMPT_TAIL_SAMPLES: Final = 9600
"""Upstream appends int(32000 * 0.3) zeros to the 16 kHz clip: 0.6 s."""
SILENCE_PEAK: Final = 1e-4
SENTENCE_ENDS: Final = frozenset("，。？！,.?!~:：—…")
V2PRO_VERSIONS: Final = ("v2Pro", "v2ProPlus")


def checked_mono(samples: NDArray[Any], rate_hz: int) -> NDArray[np.float32]:
    """(N,) or (N, channels) as soundfile reads it -> (N,) float32 mean of the channels, or ReferenceAudioError."""
    array = np.asarray(samples)
    if rate_hz <= 0:
        raise ReferenceAudioError(f"the reference clip has an invalid sample rate ({rate_hz} Hz)")
    if array.ndim not in (1, 2) or array.size == 0:
        raise ReferenceAudioError(f"the reference clip is empty or not audio (array shape {array.shape})")
    if array.ndim == 2 and array.shape[1] > array.shape[0]:
        raise ReferenceAudioError(f"the reference clip must be (frames, channels), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ReferenceAudioError(f"the reference clip must be float samples, got {array.dtype}")
    mono = to_mono(array)
    if not np.all(np.isfinite(mono)):
        raise ReferenceAudioError("the reference clip contains invalid (NaN or infinite) samples")
    return mono


def check_prompt_length(samples_16k: NDArray[np.float32]) -> None:
    """Upstream's 3-10 s rule on the 16 kHz clip (before the zero tail)."""
    n = samples_16k.shape[0]
    if not MIN_PROMPT_SAMPLES <= n <= MAX_PROMPT_SAMPLES:
        raise ReferenceAudioError(
            f"the reference clip is {n / PROMPT_RATE_HZ:.1f} s long; it must be between 3 and 10 seconds "
            "(trim or re-record it)"
        )


def prompt_transcript(text: str, language: str) -> str:
    """The transcript as upstream feeds it: stripped, ending in a sentence mark."""
    text = text.strip()
    if text and text[-1] not in SENTENCE_ENDS:
        text += "." if language == "en" else "。"
    return text


def _run(model: GptSoVitsModel, graph: str, feeds: dict[str, NDArray[np.generic]]) -> NDArray[np.generic]:
    session = model.session(graph)
    require_inputs(session, graph, tuple(feeds))
    result = np.asarray(session.run(None, feeds)[0])
    del session  # enrollment graphs are not kept by the model: free this one now
    trim_heap()
    return result


_NO_ENTRY: Final = GraphEntry(files={})


def _prompt_tokens(model: GptSoVitsModel, wave: NDArray[np.float32]) -> NDArray[np.int64]:
    """Wave (1, N) at 16 kHz -> prompt semantic tokens: one graph (old folders), or the data folder's
    shared HuBERT then the folder's own prompt quantizer, each session freed before the next opens."""
    if SSL_FILE_KEY not in model.manifest.graphs.get("prompt_extractor", _NO_ENTRY).files:
        return _run(model, "prompt_extractor", {"wave": wave}).astype(np.int64).reshape(-1)
    hubert = model.shared_session("prompt_extractor", SSL_FILE_KEY)
    require_inputs(hubert, "shared HuBERT", ("wave",))
    features = np.asarray(hubert.run(None, {"wave": wave})[0])
    del hubert
    trim_heap()
    return _run(model, "prompt_extractor", {SSL_FEATURES: features}).astype(np.int64).reshape(-1)


def build_voice_prompt(
    samples: NDArray[np.floating],
    rate_hz: int,
    text: str,
    language: str,
    model: GptSoVitsModel,
    *,
    frontend: TextFrontend | None = None,
    bert: BertFeaturizer | None = None,
) -> VoicePrompt:
    """Prompt tensors for a reference clip already in memory; raises ReferenceAudioError / TextError.

    `samples` is (N,) or (N, channels) float audio at `rate_hz`; `text` is the clip's transcript
    ("" for a reference-free voice) in `language` ("zh", "en", ... as the text frontend takes).
    `frontend` and `bert` default to the project's text frontend and this model's BERT.
    """
    mono = checked_mono(samples, rate_hz)
    if float(np.max(np.abs(mono))) < SILENCE_PEAK:
        raise ReferenceAudioError("the reference clip is silent")
    clip_16k = resample(mono, rate_hz, PROMPT_RATE_HZ)
    check_prompt_length(clip_16k)
    transcript = prompt_transcript(text, language)

    clip_32k = peak_normalize(resample(mono, rate_hz, SPEC_RATE_HZ))
    feeds: dict[str, NDArray[np.generic]] = {"spec": linear_spectrogram(clip_32k)}
    extras: dict[str, NDArray[np.generic]] = {}
    if model.manifest.version in V2PRO_VERSIONS:
        fbank = kaldi_fbank(resample(clip_32k, SPEC_RATE_HZ, PROMPT_RATE_HZ))
        sv_emb = _run(model, "sv_embedder", {"fbank": fbank}).astype(np.float32)
        feeds["sv_emb"] = sv_emb
        extras["sv_emb"] = sv_emb
    ge = _run(model, "ref_embedder", feeds).astype(np.float32)

    featurizer = bert or BertFeaturizer(model)
    if not transcript:
        _LOGGER.debug("reference-free prompt: %d samples at %d Hz", mono.shape[0], rate_hz)
        return VoicePrompt(
            phones=np.zeros(0, dtype=np.int64),
            bert=np.zeros((featurizer.dim, 0), dtype=np.float32),
            semantic=np.zeros(0, dtype=np.int64),
            ge=ge,
            model_id=model.model_id,
            extras=extras,
        )
    phones = (frontend or to_phones)(transcript, language)
    phone_ids = np.asarray(phones.ids, dtype=np.int64)
    if phone_ids.size == 0:
        raise TextError(
            "the reference transcript has nothing that can be spoken; correct it or leave it empty"
        )
    wave = np.concatenate([clip_16k, np.zeros(PROMPT_TAIL_SAMPLES, dtype=np.float32)])[np.newaxis]
    semantic = _prompt_tokens(model, wave)
    _LOGGER.debug("prompt: %d phones, %d semantic tokens", phone_ids.size, semantic.size)
    return VoicePrompt(
        phones=phone_ids,
        bert=featurizer.features(phones),
        semantic=semantic,
        ge=ge,
        model_id=model.model_id,
        extras=extras,
    )
