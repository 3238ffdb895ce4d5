"""`convert_model`: official checkpoints in, a complete model folder out (or nothing at all).

Both converters run this pipeline; they differ only in their `ModelSources`: how the checkpoints are
read and where each fp32 graph comes from (the torch exporter in `convert/`, or a template bound to
the weights here). INT8, the T2S step graph, calibration and the manifest are this shared code.

The folder is built in a staging sibling (`storage/atomic.py`: `.tmp-<name>-<hex>`, owned by this
process while it runs) and swapped into place only when every graph has been written, quantized and
hashed; a failure at any step removes the staging folder. A process killed meanwhile leaves only a
staging folder (or, during the swap, the old folder set aside), which the registry's recovery deletes
(or restores) at its next scan of `<data>/models`, so `<data>/models/<id>` never holds half a model.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Protocol

from .. import __version__
from ..checkpoints.errors import ConversionError
from ..checkpoints.official import PRO_VERSIONS
from ..engine.gpt_sovits.manifest import (
    MANIFEST_NAME,
    SAMPLE_RATE_HZ,
    SYMBOL_TABLE_V2,
    GraphEntry,
    Manifest,
    sha256_file,
)
from ..engine.gpt_sovits.shared_files import SHARED_FOLDER, remove_unnamed_shared_files, shared_dir
from ..engine.memory import trim_heap, use_mmap_for_large_buffers
from ..storage import atomic
from .calibration import PROMPT_EXTRACTOR
from .plans import GraphPlan, GraphResult
from .quantize import drop_fp32, drop_int8, quantize_graph
from .shared_hubert import split_prompt_extractor

_LOGGER = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
"""progress(done, total, message): `done` of `total` steps are finished and `message` says what runs now.

The first call is (0, 1, "reading ...") while the checkpoints are read; from then on `total` is the
number of steps of this conversion and stays fixed, `done` only grows, and the last call is
(total, total, "wrote ..."). Steps are weighted by their usual duration, so done / total is a fair
fraction of the time."""

PRECISION_CHOICES: Final = ("fp32", "int8", "both")
# Relative cost of each kind of step (measured on the real v2Pro sizes; docs/performance.md).
WRITE_WEIGHT: Final = 1
QUANTIZE_WEIGHTS: Final = {"none": 0, "dynamic": 2, "static": 8}
COMPANION_WEIGHT: Final = 6


class ModelSources(Protocol):
    """One converter's view of a checkpoint set: what it is, and how its fp32 graphs are made."""

    version: str
    """"v2", "v2Pro" or "v2ProPlus"."""
    converter: str
    """How the fp32 graphs are made, for the manifest ("torch export" or "templates")."""

    def manifest_dims(self) -> dict[str, Any]:
        """The manifest's `dims` (t2s, sovits, and bert when present)."""
        ...

    def sampling_defaults(self) -> dict[str, Any]:
        """The manifest's `sampling_defaults` (top_k from the GPT's config)."""
        ...

    def plans(self, folder: Path, int8_kv_cache: bool) -> list[GraphPlan]:
        """Every graph to write into `folder`, in writing order."""
        ...

    def write_fp32(self, plan: GraphPlan, folder: Path) -> GraphResult:
        """Write `<plan.name>.onnx` into `folder`; ConversionError when it cannot be made faithfully."""
        ...

    def extra_files(self) -> dict[str, bytes]:
        """Other files of the folder (the BERT vocabulary)."""
        ...

    def close(self) -> None:
        """Release the checkpoint files."""
        ...


OpenSources = Callable[[Path, Path, Path, Path | None, Path | None], ModelSources]
"""(gpt, sovits, hubert_dir, sv, bert_dir) -> the checkpoints read and checked, or ConversionError."""


def _no_progress(done: int, total: int, message: str) -> None:
    _LOGGER.info("[%d/%d] %s", done, total, message)


def check_inputs(hubert_dir: Path, sv: Path | None, bert_dir: Path | None) -> None:
    """The helper networks' files exist (before any checkpoint is read)."""
    for name in ("config.json", "pytorch_model.bin"):
        if not (hubert_dir / name).is_file():
            raise ConversionError(f"HuBERT folder {hubert_dir} lacks {name} (expected chinese-hubert-base)")
    if sv is not None and not sv.is_file():
        raise ConversionError(f"speaker-verification checkpoint not found: {sv}")
    if bert_dir is not None and not (bert_dir / "pytorch_model.bin").is_file():
        raise ConversionError(
            f"BERT folder {bert_dir} lacks pytorch_model.bin (expected chinese-roberta-wwm-ext-large)"
        )


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _refuse_existing(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not overwrite:
        raise ConversionError(f"{out_dir} already exists (pass --force to replace it)")


def _install(tmp_dir: Path, out_dir: Path, overwrite: bool) -> None:
    """Swap the finished folder in under the parent's lock (an existing one is set aside, then removed)."""
    with atomic.FolderLock(out_dir.parent, exclusive=True):
        _refuse_existing(out_dir, overwrite)
        atomic.commit_folder(tmp_dir, out_dir)


def _tidy_shared_folder(models_dir: Path) -> None:
    """After a conversion, done or failed: remove the shared files no model folder names, such as the
    HuBERT of this conversion if it failed (a full disk, say) or of one killed earlier: 378 MB each on
    an SD card. Skipped while another writer holds the folder: the next conversion tidies up."""
    lock = atomic.FolderLock(models_dir, exclusive=True)
    try:
        if not lock.acquire(blocking=False):
            return
        removed = remove_unnamed_shared_files(models_dir)
    except OSError as err:  # the conversion's own error is the one to report
        _LOGGER.warning("could not tidy up %s after the conversion: %s", models_dir / SHARED_FOLDER, err)
        return
    finally:
        lock.release()
    for name, size in removed:
        _LOGGER.info("removed %s (%.0f MB): no model folder names it", name, size / 1e6)


def _plan_weight(plan: GraphPlan, want_int8: bool) -> int:
    if not want_int8:
        return WRITE_WEIGHT
    companion = COMPANION_WEIGHT if plan.int8_companion is not None else 0
    return WRITE_WEIGHT + QUANTIZE_WEIGHTS[plan.quantization] + companion


def convert_model(
    gpt: Path,
    sovits: Path,
    hubert_dir: Path,
    out_dir: Path,
    *,
    open_sources: OpenSources,
    sv: Path | None = None,
    bert_dir: Path | None = None,
    precision: str = "both",
    overwrite: bool = False,
    progress: Progress | None = None,
    int8_kv_cache: bool = True,
) -> Manifest:
    """Convert official GPT-SoVITS checkpoints into a model folder; raises ConversionError.

    `int8_kv_cache`: an INT8 conversion also writes the T2S step graph with an int8 KV cache
    (faster steps; see `t2s_kv_cache`).
    """
    report = progress or _no_progress
    use_mmap_for_large_buffers()  # each step's large buffers go back to the OS, not to a growing heap
    if precision not in PRECISION_CHOICES:
        raise ConversionError(f"precision must be one of {', '.join(PRECISION_CHOICES)}, not {precision!r}")
    check_inputs(hubert_dir, sv, bert_dir)
    if out_dir.name == SHARED_FOLDER:
        raise ConversionError(f"{SHARED_FOLDER!r} is where the shared HuBERT lives; choose another model id")
    report(0, 1, f"reading {gpt.name} and {sovits.name}")
    sources = open_sources(gpt, sovits, hubert_dir, sv, bert_dir)
    try:
        if sources.version in PRO_VERSIONS and sv is None:
            raise ConversionError(
                f"{sovits.name} is a {sources.version} model: pass the speaker-verification checkpoint "
                "with --sv (pretrained_eres2netv2w24s4ep4.ckpt)"
            )
        _refuse_existing(out_dir, overwrite)  # before minutes of work (and again at the swap)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = atomic.StagingFolder(out_dir.parent, out_dir.name)
        try:
            paths = (gpt, sovits, hubert_dir, sv, bert_dir)
            manifest, total = _build(
                sources, staging.path, shared_dir(out_dir), precision, int8_kv_cache, report, paths
            )
            _install(staging.path, out_dir, overwrite)
        except ConversionError:
            raise
        except Exception as err:
            raise ConversionError(f"conversion failed: {err}") from err
        finally:  # also on KeyboardInterrupt: nothing left behind (after the swap, only the owner file)
            staging.discard()
            _tidy_shared_folder(out_dir.parent)
    finally:
        sources.close()
    report(total, total, f"wrote {out_dir}")
    return manifest


def _build(
    sources: ModelSources, tmp_dir: Path, shared: Path, precision: str, int8_kv_cache: bool,
    progress: Progress, paths: tuple[Path, Path, Path, Path | None, Path | None],
) -> tuple[Manifest, int]:
    """Every graph, the extra files and the manifest into `tmp_dir` (HuBERT into `shared`); also the
    number of steps."""
    gpt, sovits, hubert_dir, sv, bert_dir = paths
    want_int8 = precision in ("int8", "both")

    def report(done: int, total: int, message: str) -> None:
        trim_heap()  # the step before freed hundreds of MB in small buffers: give them back first
        progress(done, total, message)

    plans = sources.plans(tmp_dir, int8_kv_cache)
    total = 1 + sum(_plan_weight(plan, want_int8) for plan in plans) + 1
    done = 1
    results: list[GraphResult] = []
    replaced: set[str] = set()  # graphs whose INT8 file a companion took the place of
    for plan in plans:
        report(done, total, f"writing {plan.name} ({sources.converter})")
        result = sources.write_fp32(plan, tmp_dir)
        done += WRITE_WEIGHT
        if want_int8 and plan.quantization != "none":
            report(done, total, f"quantizing {plan.name} ({plan.quantization})")
            result = quantize_graph(plan, result, tmp_dir)
            done += QUANTIZE_WEIGHTS[plan.quantization]
        results.append(result)
        if want_int8 and plan.int8_companion is not None and plan.quantization != "none":
            report(done, total, f"calibrating the int8 KV cache of {plan.name}")
            companion = plan.int8_companion(tmp_dir / result.files["fp32"], tmp_dir / result.files["int8"])
            if companion is not None:
                results.append(companion)
                replaced.add(plan.name)
            done += COMPANION_WEIGHT
    for name, data in sources.extra_files().items():
        (tmp_dir / name).write_bytes(data)
    if precision == "int8":
        results = [drop_fp32(r, tmp_dir) for r in results]
    results = [drop_int8(r, tmp_dir) if r.name in replaced else r for r in results]
    results = [r for r in results if r.files]  # an INT8-only folder's t2s_decoder: all in t2s_step
    shared_files: dict[str, Any] = {}
    for i, result in enumerate(results):
        if result.name == PROMPT_EXTRACTOR:
            report(done, total, f"moving HuBERT out of {PROMPT_EXTRACTOR} into the shared folder")
            results[i], shared_files = split_prompt_extractor(result, tmp_dir, shared)

    report(done, total, "hashing files and writing the manifest")
    manifest = Manifest(
        version=sources.version,
        symbol_table=SYMBOL_TABLE_V2,
        sample_rate_hz=SAMPLE_RATE_HZ,
        precision=["fp32", "int8"] if precision == "both" else [precision],
        dims=sources.manifest_dims(),
        sampling_defaults=sources.sampling_defaults(),
        graphs={
            r.name: GraphEntry(
                files=r.files,
                max_abs_error=r.max_abs_error,
                int8=r.int8_error or None,
                quantization=r.quantization if "int8" in r.files else "none",
            )
            for r in results
        },
        files={
            p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(tmp_dir.iterdir())
            if p.is_file()
        },
        shared_files=shared_files,
        sources={
            "gpt": gpt.name,
            "sovits": sovits.name,
            "hubert": hubert_dir.name,
            **({"sv": sv.name} if sv is not None else {}),
            **({"bert": bert_dir.name} if bert_dir is not None else {}),
        },
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        converter_version=__version__,
        extra={
            "converter": sources.converter,
            "int8_choices": {r.name: r.int8_note for r in results if "int8" in r.files and r.int8_note},
        },
    )
    (tmp_dir / MANIFEST_NAME).write_text(json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False) + "\n")
    _fsync_tree(tmp_dir)
    return manifest, total
