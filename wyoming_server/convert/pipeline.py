"""`convert_model`: official checkpoints in, a complete model folder out (or nothing at all).

The folder is built in a staging sibling (`storage/atomic.py`: `.tmp-<name>-<hex>`, owned by this
process while it runs) and swapped into place only when every graph has been exported, verified
against torch, quantized and hashed; a failure at any step removes the staging folder. A process
killed meanwhile leaves only a staging folder (or, during the swap, the old folder set aside),
which the registry's recovery deletes (or restores) at its next scan of `<data>/models`, so
`--out <data>/models/<id>` never leaves a half model or a stray copy behind.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Final

from .. import __version__
from ..engine.gpt_sovits.manifest import (
    MANIFEST_NAME,
    SAMPLE_RATE_HZ,
    SYMBOL_TABLE_V2,
    GraphEntry,
    Manifest,
    sha256_file,
)
from ..storage import atomic
from .checkpoints import check_pair, load_gpt_checkpoint, load_sovits_checkpoint
from .errors import ConversionError
from .graph import GraphResult, GraphSpec, export_graph, quantize_graph

_LOGGER = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
"""progress(step, total, message)"""

PRECISION_CHOICES: Final = ("fp32", "int8", "both")
PRO_VERSIONS: Final = ("v2Pro", "v2ProPlus")


def _no_progress(step: int, total: int, message: str) -> None:
    _LOGGER.info("[%d/%d] %s", step, total, message)


def _check_inputs(hubert_dir: Path, sv: Path | None, bert_dir: Path | None) -> None:
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


def convert_model(
    gpt: Path,
    sovits: Path,
    hubert_dir: Path,
    out_dir: Path,
    *,
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
    from .sovits_export import bert_dims, bert_extra_files, bert_graph_specs, sovits_dims, sovits_graph_specs
    from .t2s_export import t2s_dims, t2s_graph_specs

    report = progress or _no_progress
    if precision not in PRECISION_CHOICES:
        raise ConversionError(f"precision must be one of {', '.join(PRECISION_CHOICES)}, not {precision!r}")
    _check_inputs(hubert_dir, sv, bert_dir)

    report(0, 1, f"reading {gpt.name} and {sovits.name}")
    gpt_ckpt = load_gpt_checkpoint(gpt)
    sovits_ckpt = load_sovits_checkpoint(sovits)
    check_pair(gpt_ckpt, sovits_ckpt)
    if sovits_ckpt.version in PRO_VERSIONS and sv is None:
        raise ConversionError(
            f"{sovits.name} is a {sovits_ckpt.version} model: pass the speaker-verification checkpoint "
            "with --sv (pretrained_eres2netv2w24s4ep4.ckpt)"
        )
    specs: list[GraphSpec] = [
        *t2s_graph_specs(gpt_ckpt, int8_kv_cache),
        *sovits_graph_specs(sovits_ckpt, hubert_dir, sv if sovits_ckpt.version in PRO_VERSIONS else None),
        *(bert_graph_specs(bert_dir) if bert_dir is not None else []),
    ]
    want_int8 = precision in ("int8", "both")
    total = len(specs) * (2 if want_int8 else 1) + 1

    _refuse_existing(out_dir, overwrite)  # before minutes of work (and again at the swap)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = atomic.StagingFolder(out_dir.parent, out_dir.name)
    tmp_dir = staging.path
    try:
        results: list[GraphResult] = []
        step = 0
        for spec in specs:
            step += 1
            report(step, total, f"exporting {spec.name} and checking it against torch")
            result = export_graph(spec, tmp_dir)
            if want_int8:
                step += 1
                report(step, total, f"quantizing {spec.name} ({spec.quantization})")
                result = quantize_graph(spec, result, tmp_dir)
            results.append(result)
            if want_int8 and spec.int8_companion is not None and spec.quantization != "none":
                companion = spec.int8_companion(tmp_dir / result.files["fp32"], tmp_dir / result.files["int8"])
                results.extend([companion] if companion is not None else [])
        if bert_dir is not None:
            for name, data in bert_extra_files(bert_dir).items():
                (tmp_dir / name).write_bytes(data)
        if precision == "int8":
            results = [_drop_fp32(r, tmp_dir) for r in results]

        report(total, total, "hashing files and writing the manifest")
        manifest = Manifest(
            version=sovits_ckpt.version,
            symbol_table=SYMBOL_TABLE_V2,
            sample_rate_hz=SAMPLE_RATE_HZ,
            precision=["fp32", "int8"] if precision == "both" else [precision],
            dims={
                "t2s": t2s_dims(gpt_ckpt),
                "sovits": sovits_dims(sovits_ckpt),
                **({"bert": bert_dims(bert_dir)} if bert_dir is not None else {}),
            },
            sampling_defaults={"top_k": int(gpt_ckpt.config.get("inference", {}).get("top_k", 15))},
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
            sources={
                "gpt": gpt.name,
                "sovits": sovits.name,
                "hubert": hubert_dir.name,
                **({"sv": sv.name} if sv is not None else {}),
                **({"bert": bert_dir.name} if bert_dir is not None else {}),
            },
            created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            converter_version=__version__,
            extra={"int8_choices": {r.name: r.int8_note for r in results if "int8" in r.files and r.int8_note}},
        )
        (tmp_dir / MANIFEST_NAME).write_text(json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False) + "\n")
        _fsync_tree(tmp_dir)
        _install(tmp_dir, out_dir, overwrite)
    except ConversionError:
        raise
    except Exception as err:
        raise ConversionError(f"conversion failed: {err}") from err
    finally:  # also on KeyboardInterrupt: nothing left behind (after the swap, only the owner file)
        staging.discard()
    return manifest


def _drop_fp32(result: GraphResult, folder: Path) -> GraphResult:
    """For --precision int8: keep only the INT8 files of graphs that have one."""
    if "int8" not in result.files or "fp32" not in result.files:
        return result
    (folder / result.files["fp32"]).unlink(missing_ok=True)
    return GraphResult(
        name=result.name,
        files={key: name for key, name in result.files.items() if key != "fp32"},
        max_abs_error=result.max_abs_error,
        int8_error=result.int8_error,
        quantization=result.quantization,
        int8_note=result.int8_note,
    )
