"""A converted model folder, loaded: manifest checked, onnxruntime sessions created on demand."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from ...settings import DEFAULT_THREADS
from ..errors import ModelLoadError
from ..memory import own_mappings_while_loading, trim_heap, use_mmap_for_large_buffers
from ..onnx import CPU_PROVIDER, create_session
from .manifest import Manifest, verify_file
from .shared_files import shared_dir

_LOGGER = logging.getLogger(__name__)

# Graphs a model folder must have to speak (enrollment-only graphs are optional at run time).
REQUIRED_GRAPHS: Final = ("t2s_encoder", "vits_decoder")
T2S_GRAPHS: Final = ("t2s_decoder", "t2s_step")
"""At least one: an INT8-only folder whose step graph runs the prefill too has no `t2s_decoder`."""
ENROLLMENT_GRAPHS: Final = ("prompt_extractor", "ref_embedder", "sv_embedder")
"""Run once per enrollment: opened for each use and not kept (HuBERT alone holds about 400 MB)."""
NO_ARENA_GRAPHS: Final = ("prompt_extractor", "sv_embedder")
"""Enrollment graphs, run once per clip: their sessions allocate activations per run instead of
keeping them in onnxruntime's arena. (The SoVITS decoder uses the arena and empties it after each
run: `sovits.RUN_OPTIONS`.)"""


class GptSoVitsModel:
    """A model folder: its manifest and one onnxruntime session per graph, created on first use."""

    def __init__(
        self,
        manifest: Manifest,
        model_dir: Path | None,
        precision: str,
        threads: int,
        sessions: Mapping[str, ort.InferenceSession] | None = None,
        provider: str = CPU_PROVIDER,
    ) -> None:
        self.manifest = manifest
        self.model_dir = model_dir
        self.precision = precision
        self.threads = threads
        self.provider = provider
        self._sessions: dict[str, ort.InferenceSession] = dict(sessions or {})
        self._lock = threading.Lock()
        self.load_seconds: dict[str, float] = {}
        """Seconds each graph's session took to create (the last time): what switching to a model costs."""

    @property
    def model_id(self) -> str:
        """The folder name (the id voice packs refer to)."""
        return self.model_dir.name if self.model_dir else "in-memory"

    @classmethod
    def load(
        cls,
        model_dir: Path,
        precision: str | None = None,
        threads: int = DEFAULT_THREADS,
        verify_hashes: bool = True,
        provider: str = CPU_PROVIDER,
    ) -> GptSoVitsModel:
        """Read and check a model folder; sessions are created lazily by `session()`."""
        manifest = Manifest.read(model_dir)
        if verify_hashes:
            manifest.verify_files(model_dir)
        missing = [g for g in REQUIRED_GRAPHS if g not in manifest.graphs]
        if not any(g in manifest.graphs for g in T2S_GRAPHS):
            missing.append(T2S_GRAPHS[0])
        if missing:
            raise ModelLoadError(f"model {model_dir.name} lacks graph(s) {', '.join(missing)}")
        chosen = precision or manifest.default_precision
        if chosen not in manifest.precision:
            raise ModelLoadError(f"model {model_dir.name} has no {chosen} graphs (has {', '.join(manifest.precision)})")
        use_mmap_for_large_buffers()  # the decoder's large activations must not pile up in the heap
        trim_heap()  # the pool unloads a model just before it loads the next: hand its pages back first
        return cls(manifest, model_dir, chosen, threads, provider=provider)

    @classmethod
    def from_sessions(
        cls, manifest: Manifest, sessions: Mapping[str, ort.InferenceSession], precision: str = "fp32"
    ) -> GptSoVitsModel:
        """Wrap sessions made elsewhere (tests, benchmarks)."""
        return cls(manifest, None, precision, DEFAULT_THREADS, sessions)

    def has_graph(self, name: str) -> bool:
        """True when the folder holds graph `name` (e.g. the optional `bert`)."""
        return name in self._sessions or name in self.manifest.graphs

    def graph_array(self, graph: str, key: str) -> NDArray[Any]:
        """A numpy file listed in a graph's manifest entry under `key` (the step graph's KV scales)."""
        entry = self.manifest.graphs.get(graph)
        if self.model_dir is None or entry is None or key not in entry.files:
            raise ModelLoadError(f"model {self.model_id} has no {key!r} file for graph {graph!r}")
        path = self.model_dir / entry.files[key]
        try:
            array: NDArray[Any] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"cannot read {path.name}: {err}") from err
        return array

    def session(self, name: str) -> ort.InferenceSession:
        """The session of graph `name`, created on first use and kept (enrollment graphs: not kept)."""
        with self._lock:
            if name in self._sessions:
                return self._sessions[name]
            if self.model_dir is None or name not in self.manifest.graphs:
                raise ModelLoadError(f"model {self.model_id} has no graph {name!r}")
            path = self.model_dir / self.manifest.graphs[name].file_for(self.precision)
            started = time.perf_counter()
            with own_mappings_while_loading():
                session = create_session(
                    path, self.threads, memory_arena=name not in NO_ARENA_GRAPHS, provider=self.provider
                )
            self.load_seconds[name] = time.perf_counter() - started
            _LOGGER.debug("loaded graph %s from %s in %.0f ms", name, path, 1000 * self.load_seconds[name])
            if name not in ENROLLMENT_GRAPHS:
                self._sessions[name] = session
            return session

    def shared_session(self, graph: str, key: str) -> ort.InferenceSession:
        """A session on the shared file a graph's entry names under `key` (HuBERT), checked against its
        sha256 first; enrollment-only, so not kept. Raises ModelLoadError when missing or corrupt."""
        entry = self.manifest.graphs.get(graph)
        if self.model_dir is None or entry is None or key not in entry.files:
            raise ModelLoadError(f"model {self.model_id} has no shared {key!r} file for graph {graph!r}")
        name = entry.files[key]
        info = self.manifest.shared_files.get(name)
        if info is None:
            raise ModelLoadError(f"model {self.model_id}: the manifest lists no hash for shared file {name}")
        path = shared_dir(self.model_dir) / name
        verify_file(path, info, f"model {self.model_id}: shared file {path} (needed to enroll a voice)")
        with own_mappings_while_loading():
            return create_session(path, self.threads, memory_arena=False, provider=self.provider)
