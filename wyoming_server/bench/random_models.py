"""The benchmark's models: random weights at the released v2 sizes, converted once and cached.

Speed depends on shapes, not on weight values (DESIGN.md), so the benchmark writes random-weight
checkpoints in the official formats with the project's own writers, converts them with the real
converter (fp32 + INT8) and keeps the result under the cache folder, keyed by a hash of the
converter's code and the library versions: a rerun with the same code skips the conversion
(HuBERT alone is 95 M parameters), a changed converter converts again.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import numpy as np

from .. import __version__
from ..checkpoints.dims.hubert import HubertDims
from ..convert.random_weights.frozen_nets import (
    BERT_REAL,
    HUBERT_REAL,
    tiny_hubert_dims,
    write_tiny_bert,
    write_tiny_hubert,
)
from ..convert.random_weights.gpt import T2S_REAL, tiny_gpt_state_dict, without_eos, write_tiny_gpt
from ..convert.random_weights.sovits import SOVITS_REAL, SOVITS_TINY, SovitsSize, write_tiny_sovits
from ..engine import VoicePrompt
from ..engine.gpt_sovits.model import GptSoVitsModel
from ..engine.gpt_sovits.prompt import build_voice_prompt
from ..importer.calibration import synthetic_voice

_LOGGER = logging.getLogger(__name__)

REFERENCE_SECONDS: Final = 6.0
"""Length of the synthetic reference clip (upstream accepts 3-10 s)."""
REFERENCE_TEXT: Final = "晚饭做好了，快来吃吧，今天有你最爱吃的红烧鱼。"
"""A transcript of about the length a 6 s clip holds."""
PROMPT_FILE: Final = "prompt.npz"
_CODE_ROOT: Final = Path(__file__).resolve().parent.parent
# The code a converted folder depends on: both converters' pipeline and the engine modules it imports.
_HASHED_CODE: Final = (
    "convert/**/*.py",
    "importer/**/*.py",
    "checkpoints/**/*.py",
    "engine/audio.py",
    *(f"engine/gpt_sovits/{name}.py" for name in ("manifest", "reference", "t2s_io", "t2s_state", "sovits")),
)
_HASHED_PACKAGES: Final = ("torch", "onnx", "onnxruntime", "numpy")


@dataclass(frozen=True)
class BenchSize:
    """The sizes of one benchmark model."""

    name: str
    gpt: dict[str, int]
    """Keyword arguments of `tiny_gpt_state_dict` (empty: its tiny defaults)."""
    sovits: SovitsSize
    hubert: HubertDims
    bert: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of `write_tiny_bert`."""


REAL_V2: Final = BenchSize("v2-real", dict(T2S_REAL), SOVITS_REAL["v2"], HUBERT_REAL, {"dims": BERT_REAL})
TINY_V2: Final = BenchSize("v2-tiny", {}, SOVITS_TINY["v2"], tiny_hubert_dims())


@dataclass(frozen=True)
class BenchModels:
    """A converted benchmark model and the random checkpoints it came from."""

    model_dir: Path
    gpt_path: Path
    sovits_path: Path
    cached: bool
    """True when the folder came from the cache (no conversion in this run)."""
    conversion_s: float
    """Seconds this run spent writing and converting (0 when cached)."""
    key: str


def code_key(size: BenchSize, bert: bool) -> str:
    """A hash of what the converted folder depends on: converter code, library versions, sizes."""
    digest = hashlib.sha256()
    digest.update(f"{__version__}|{size!r}|bert={bert}".encode())
    for package in _HASHED_PACKAGES:
        try:
            digest.update(f"{package}={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package}=absent".encode())
    for pattern in _HASHED_CODE:
        for path in sorted(_CODE_ROOT.glob(pattern)):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _write_sources(folder: Path, size: BenchSize, bert: bool) -> tuple[Path, Path, Path, Path | None]:
    folder.mkdir(parents=True, exist_ok=True)
    gpt = write_tiny_gpt(folder / "gpt.ckpt", weights=without_eos(tiny_gpt_state_dict(**size.gpt)), **size.gpt)
    sovits = write_tiny_sovits(folder / "sovits.pth", "v2", size=size.sovits)
    hubert = write_tiny_hubert(folder / "chinese-hubert-base", dims=size.hubert)
    bert_dir = write_tiny_bert(folder / "chinese-roberta", **size.bert) if bert else None
    return gpt, sovits, hubert, bert_dir


def prepare_models(cache_dir: Path, size: BenchSize, bert: bool = False) -> BenchModels:
    """The converted model for `size`, from the cache when its key matches, else written and converted."""
    from ..convert.pipeline import convert_model

    key = code_key(size, bert)
    name = f"{size.name}{'-bert' if bert else ''}"
    root = cache_dir / f"{name}-{key}"
    sources, model_dir = root / "sources", root / "model"
    gpt, sovits = sources / "gpt.ckpt", sources / "sovits.pth"
    if (model_dir / "manifest.json").is_file() and gpt.is_file() and sovits.is_file():
        _LOGGER.info("using the converted benchmark model in %s", root)
        return BenchModels(model_dir, gpt, sovits, cached=True, conversion_s=0.0, key=key)
    started = time.perf_counter()
    for stale in cache_dir.glob(f"{name}-*"):  # earlier code versions of the same model (not "-bert" ones)
        key_part = stale.name[len(name) + 1 :]
        if stale.is_dir() and stale != root and len(key_part) == len(key) and key_part.isalnum():
            shutil.rmtree(stale, ignore_errors=True)
    _LOGGER.info("writing random %s checkpoints into %s", name, sources)
    gpt, sovits, hubert, bert_dir = _write_sources(sources, size, bert)
    _LOGGER.info("converting them (fp32 + INT8) into %s", model_dir)
    convert_model(gpt, sovits, hubert, model_dir, bert_dir=bert_dir, precision="both", overwrite=True)
    shutil.rmtree(hubert, ignore_errors=True)  # only the converter needs it
    if bert_dir is not None:
        shutil.rmtree(bert_dir, ignore_errors=True)
    return BenchModels(
        model_dir, gpt, sovits, cached=False, conversion_s=time.perf_counter() - started, key=key
    )


def reference_prompt(models: BenchModels, threads: int) -> tuple[VoicePrompt, Path]:
    """The voice prompt of a synthetic 6 s clip, made by the fp32 enrollment graphs; cached as npz."""
    path = models.model_dir.parent / PROMPT_FILE
    if path.is_file():
        with np.load(path) as arrays:
            return VoicePrompt.from_npz_dict(dict(arrays)), path
    model = GptSoVitsModel.load(models.model_dir, precision="fp32", threads=threads)
    clip = synthetic_voice(REFERENCE_SECONDS, 32000, seed=7)
    prompt = build_voice_prompt(clip, 32000, REFERENCE_TEXT, "zh", model)
    np.savez(path, **prompt.to_npz_dict())  # type: ignore[arg-type]  # numpy's stub wants positional arrays
    return prompt, path
