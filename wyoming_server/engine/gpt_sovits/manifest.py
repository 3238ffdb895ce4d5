"""`manifest.json` of a converted model folder: what the converter wrote and the runtime checks."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..errors import ModelLoadError

MANIFEST_NAME: Final = "manifest.json"
MANIFEST_FORMAT: Final = 1
SYMBOL_TABLE_V2: Final = "gpt-sovits-v2-732"
SAMPLE_RATE_HZ: Final = 32000
SAMPLES_PER_TOKEN: Final = 1280
"""One semantic token (25 Hz) is 1280 samples at 32 kHz."""


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=256)
def _hash_matches(path: str, inode: int, mtime_ns: int, size: int, expected: str) -> bool:
    """sha256 check memoized on the file's identity: reloading an unchanged model after eviction skips
    rereading ~300 MB (0.65 s of a switch); a rewritten file has a new mtime or inode and is hashed again."""
    return sha256_file(Path(path)) == expected


@dataclass(frozen=True)
class GraphEntry:
    """One graph: its file per precision and how far it is from torch / fp32."""

    files: dict[str, str]
    max_abs_error: float = 0.0
    int8: dict[str, float] | None = None
    quantization: str = "none"
    """How the INT8 file was made: "none", "dynamic" (MatMul weights) or "static" (QDQ)."""

    def file_for(self, precision: str) -> str:
        """The file of that precision when present, else the graph's only file (e.g. fp32-only graphs)."""
        return self.files.get(precision) or self.files.get("fp32") or next(iter(self.files.values()))


@dataclass(frozen=True)
class Manifest:
    """The parsed manifest of a model folder."""

    version: str
    """"v2", "v2Pro" or "v2ProPlus"."""
    symbol_table: str
    dims: dict[str, Any]
    graphs: dict[str, GraphEntry]
    files: dict[str, dict[str, Any]]
    """file name -> {"sha256": ..., "bytes": ...}"""
    precision: list[str]
    """Precisions present, e.g. ["fp32", "int8"]."""
    sample_rate_hz: int = SAMPLE_RATE_HZ
    sampling_defaults: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    created: str = ""
    converter_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    shared_files: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Files in the data folder's shared folder this model needs to enroll: name -> sha256, bytes."""

    @property
    def default_precision(self) -> str:
        """INT8 when the folder has it: that is what the runtime is tuned for."""
        return "int8" if "int8" in self.precision else "fp32"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "format": MANIFEST_FORMAT,
            "version": self.version,
            "symbol_table": self.symbol_table,
            "sample_rate_hz": self.sample_rate_hz,
            "precision": self.precision,
            "dims": self.dims,
            "sampling_defaults": self.sampling_defaults,
            "graphs": {
                name: {
                    "files": g.files,
                    "max_abs_error": g.max_abs_error,
                    "int8": g.int8,
                    "quantization": g.quantization,
                }
                for name, g in self.graphs.items()
            },
            "files": self.files,
            "sources": self.sources,
            "created": self.created,
            "converter_version": self.converter_version,
            **({"extra": self.extra} if self.extra else {}),
            **({"shared_files": self.shared_files} if self.shared_files else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """Parse; raises ModelLoadError naming the missing or bad field."""
        try:
            if data.get("format") != MANIFEST_FORMAT:
                raise ModelLoadError(f"manifest format {data.get('format')!r} is not supported (expected 1)")
            return cls(
                version=str(data["version"]),
                symbol_table=str(data["symbol_table"]),
                sample_rate_hz=int(data.get("sample_rate_hz", SAMPLE_RATE_HZ)),
                precision=list(data["precision"]),
                dims=dict(data["dims"]),
                sampling_defaults=dict(data.get("sampling_defaults", {})),
                graphs={
                    name: GraphEntry(
                        files=dict(g["files"]),
                        max_abs_error=float(g.get("max_abs_error", 0.0)),
                        int8=g.get("int8"),
                        quantization=str(g.get("quantization", "none")),
                    )
                    for name, g in data["graphs"].items()
                },
                files=dict(data["files"]),
                sources=dict(data.get("sources", {})),
                created=str(data.get("created", "")),
                converter_version=str(data.get("converter_version", "")),
                extra=dict(data.get("extra", {})),
                shared_files=dict(data.get("shared_files", {})),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ModelLoadError(f"manifest is malformed: {err!r}") from err

    @classmethod
    def read(cls, model_dir: Path) -> Manifest:
        """Read `<model_dir>/manifest.json`."""
        path = model_dir / MANIFEST_NAME
        if not path.is_file():
            raise ModelLoadError(f"{model_dir} is not a model folder: {MANIFEST_NAME} not found")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"{path} cannot be read: {err}") from err
        if not isinstance(data, dict):
            raise ModelLoadError(f"{path} is not a JSON object")
        return cls.from_dict(data)

    def verify_files(self, model_dir: Path) -> None:
        """Check every listed file exists with its recorded size and sha256."""
        for name, info in self.files.items():
            verify_file(model_dir / name, info, f"model {model_dir.name}: file {name}")


def verify_file(path: Path, info: dict[str, Any], label: str) -> None:
    """Raise ModelLoadError (starting with `label`) unless `path` has the size and sha256 in `info`."""
    if not path.is_file():
        raise ModelLoadError(f"{label} is missing")
    st = path.stat()
    if st.st_size != int(info["bytes"]):
        raise ModelLoadError(f"{label} has {st.st_size} bytes, manifest says {info['bytes']}")
    if not _hash_matches(str(path.resolve()), st.st_ino, st.st_mtime_ns, st.st_size, str(info["sha256"])):
        raise ModelLoadError(f"{label} does not match its sha256 (corrupt?)")
