"""Converters the job worker imports by name ("tests.support.job_converters:<name>"), in its own process.

They take the real converter's arguments, report progress like it, write what a model folder
needs to count as installed, and record each call in `<data>/conversions.jsonl` so a test in the
server's process can see what the worker passed. `gated` holds the conversion on a FIFO that the
test opens (no sleeping): it writes "go" to let the conversion finish, "fail" to make it fail.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any, Final

from wyoming_server.convert.errors import ConversionError

GATE_NAME: Final = "conversion-gate"
"""A FIFO in the data folder that `gated` blocks on."""
CALLS_NAME: Final = "conversions.jsonl"
CORRUPT_MARK: Final = b"corrupt"
"""A checkpoint containing this fails to convert, as a damaged one would."""
MANIFEST: Final = {
    "format": 1,
    "version": "v2Pro",
    "symbol_table": "gpt-sovits-v2-732",
    "precision": ["int8"],
    "dims": {},
    "graphs": {},
    "files": {},
}


def data_dir_of(out_dir: Path) -> Path:
    """`<data>` of `<data>/models/.tmp-<id>-<hex>/model`."""
    return out_dir.parents[2]


def _record(out_dir: Path, **call: Any) -> None:
    with (data_dir_of(out_dir) / CALLS_NAME).open("a", encoding="utf-8") as f:
        f.write(json.dumps({key: str(value) if value is not None else None for key, value in call.items()}) + "\n")


def _convert(gpt: Path, sovits: Path, hubert_dir: Path, out_dir: Path, sv: Path | None, progress: Any) -> None:
    _record(out_dir, gpt=gpt, sovits=sovits, hubert_dir=hubert_dir, sv=sv)
    for path in (gpt, sovits):
        if CORRUPT_MARK in path.read_bytes():
            raise ConversionError(f"{path.name} is not a GPT-SoVITS checkpoint (its zip is damaged)")
    out_dir.mkdir()
    (out_dir / "t2s_decoder.onnx").write_bytes(b"graph" * 100)
    if progress is not None:
        progress(1, 2, "exporting t2s_decoder")


def _finish(out_dir: Path, progress: Any) -> None:
    if progress is not None:
        progress(2, 2, "hashing files and writing the manifest")
    (out_dir / "manifest.json").write_text(json.dumps(MANIFEST), encoding="utf-8")


def instant(
    gpt: Path,
    sovits: Path,
    hubert_dir: Path,
    out_dir: Path,
    *,
    sv: Path | None = None,
    bert_dir: Path | None = None,
    precision: str = "both",
    progress: Any = None,
) -> None:
    """Convert at once."""
    _convert(gpt, sovits, hubert_dir, out_dir, sv, progress)
    _finish(out_dir, progress)


def gated(
    gpt: Path,
    sovits: Path,
    hubert_dir: Path,
    out_dir: Path,
    *,
    sv: Path | None = None,
    bert_dir: Path | None = None,
    precision: str = "both",
    progress: Any = None,
) -> None:
    """Convert half, then wait until the test writes to the gate FIFO ("go" finishes, "fail" fails)."""
    _convert(gpt, sovits, hubert_dir, out_dir, sv, progress)
    if progress is not None:
        progress(1, 2, "waiting at the test's gate")
    with (data_dir_of(out_dir) / GATE_NAME).open("r", encoding="utf-8") as gate:
        word = gate.read().strip()
    if word == "fail":
        raise ConversionError("the test told the conversion to fail")
    _finish(out_dir, progress)


def disk_full(
    gpt: Path,
    sovits: Path,
    hubert_dir: Path,
    out_dir: Path,
    *,
    sv: Path | None = None,
    bert_dir: Path | None = None,
    precision: str = "both",
    progress: Any = None,
) -> None:
    """Write part of the model, then hit a full disk as the real exporter would."""
    _convert(gpt, sovits, hubert_dir, out_dir, sv, progress)
    raise OSError(errno.ENOSPC, "No space left on device", str(out_dir / "vits_decoder.onnx"))


def calls(data_dir: Path) -> list[dict[str, Any]]:
    """Every conversion the worker ran for this data folder."""
    path = data_dir / CALLS_NAME
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
