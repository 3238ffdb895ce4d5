"""`run_bench`: every figure of the engine benchmark from one run, so the ratios compare like with like.

Steps: random-weight checkpoints at the released v2 sizes (or tiny ones), converted by the real
converter (cached, see `random_models`); a voice prompt from a synthetic clip; then the T2S
(`t2s`), the SoVITS decoder (`sovits`) and the whole engine (`pipeline`) in INT8,
fp32 and (for the first two) our torch fp32 eager modules; memory bandwidth; peak RSS in a fresh
child process (`peak_memory`); model sizes; and the targets (`report`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from ..convert.checkpoints import load_gpt_checkpoint, load_sovits_checkpoint
from ..convert.torch_modules.eager import set_threads
from ..convert.torch_modules.sovits import build_sovits_modules
from ..convert.torch_modules.t2s import load_t2s_model
from ..engine.gpt_sovits import t2s_io, text
from ..engine.gpt_sovits.bert import BertFeaturizer
from ..engine.gpt_sovits.manifest import Manifest
from ..engine.gpt_sovits.model import GptSoVitsModel
from . import pipeline as pipeline_bench
from . import sovits as sovits_bench
from . import switching
from . import t2s as t2s_bench
from .peak_memory import measure_peak_rss
from .random_models import REAL_V2, TINY_V2, prepare_models, reference_prompt
from .report import Figures, check_targets
from .timing import BANDWIDTH_BYTES, machine_info, memory_bandwidth

_LOGGER = logging.getLogger(__name__)

IMPLEMENTATIONS: Final = ("int8", "fp32", "torch")
REPEATS: Final = 5
"""Timed runs of each whole decode / synthesis (the best is reported, the median kept in the JSON)."""
TINY_BANDWIDTH_BYTES: Final = 32 << 20
TINY_AUDIO_S: Final = 1.0
"""Tiny models decode 1 s (torch's eager convolutions are slow on tiny channel counts)."""
MB: Final = 1e6

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    """What to benchmark and where to keep the converted model."""

    threads: int
    """Intra-op threads of every onnxruntime session and of torch."""
    cache_dir: Path
    tiny: bool = False
    bert: bool = False
    """Convert and use a BERT (real size: chinese-roberta-wwm-ext-large) for Chinese features."""
    provider: str = "CPUExecutionProvider"
    """onnxruntime's name of the execution provider every ONNX figure runs on."""


def _log(message: str) -> None:
    _LOGGER.info("%s", message)


def _t2s_inputs(model_dir: Path, prompt: Any, threads: int) -> t2s_bench.T2SInputs:
    phones = text.to_phones(pipeline_bench.PIPELINE_TEXT, "zh")
    featurizer = BertFeaturizer(GptSoVitsModel.load(model_dir, precision="int8", threads=threads, verify_hashes=False))
    return t2s_bench.T2SInputs(
        phones=np.concatenate([prompt.phones, phones.ids]).astype(np.int64),
        bert=np.concatenate([prompt.bert, featurizer.features(phones)], axis=1).astype(np.float32),
        prompt=prompt.semantic.astype(np.int64),
    )


def _sizes_mb(model_dir: Path) -> dict[str, dict[str, float]]:
    manifest = Manifest.read(model_dir)
    listed = {**manifest.files, **manifest.shared_files}  # the shared HuBERT counts under prompt_extractor
    return {
        graph: {precision: listed[name]["bytes"] / MB for precision, name in entry.files.items()}
        for graph, entry in manifest.graphs.items()
    }


def _sentence_seconds(t2s: dict[str, Any], decoder: dict[str, Any], prefix_rows: int) -> float:
    """Prefill + PIPELINE_TOKENS steps (interpolated at the mean cache length) + decoding 6 s."""
    lengths = t2s_bench.CACHE_LENGTHS
    tokens = pipeline_bench.PIPELINE_TOKENS
    step_ms = float(np.interp(prefix_rows + tokens / 2, lengths, [t2s[f"step_ms_{n}"] for n in lengths]))
    return float((t2s["prefill_ms"] + tokens * step_ms) / 1000.0 + decoder["seconds"])


def _speedups(figures: Figures, prefix_rows: int) -> dict[str, dict[str, float]]:
    t2s, decoder = figures["t2s"], figures["decoder"]
    sentence = {i: _sentence_seconds(t2s[i], decoder[i], prefix_rows) for i in IMPLEMENTATIONS}
    result: dict[str, dict[str, float]] = {}
    for fast, slow in (("int8", "torch"), ("fp32", "torch"), ("int8", "fp32")):
        result[f"{fast}_vs_{slow}"] = {
            "prefill": t2s[slow]["prefill_ms"] / t2s[fast]["prefill_ms"],
            **{f"step_{n}": t2s[slow][f"step_ms_{n}"] / t2s[fast][f"step_ms_{n}"] for n in t2s_bench.CACHE_LENGTHS},
            "decoder": decoder[slow]["seconds"] / decoder[fast]["seconds"],
            "sentence": sentence[slow] / sentence[fast],
        }
    result["sentence_seconds"] = sentence
    return result


def _floors(figures: Figures, model_dir: Path, dims: dict[str, Any]) -> None:
    t2s = figures["t2s"]
    step_graph = model_dir / f"{t2s_io.STEP_GRAPH}.int8.onnx"  # what INT8 steps run on, when present
    paths = {"int8": step_graph if step_graph.is_file() else model_dir / "t2s_decoder.int8.onnx",
             "fp32": model_dir / "t2s_decoder.onnx"}
    weights = {p: t2s_bench.bytes_per_token(path) for p, path in paths.items()}
    value_bytes = {p: t2s_bench.cache_value_bytes(path) for p, path in paths.items()}
    floors = t2s_bench.bandwidth_floor(dims, weights, value_bytes, figures["bandwidth"]["read_gb_s"])
    t2s["bytes_per_token"] = weights
    t2s["kv_value_bytes"] = value_bytes
    t2s["kv_mb_per_token"] = {
        p: {str(n): t2s_bench.kv_bytes_per_token(dims, n, value_bytes[p]) / MB for n in t2s_bench.CACHE_LENGTHS}
        for p in paths
    }
    t2s["gflop_per_token"] = t2s_bench.gflops(dims)
    t2s["floor_ms"] = floors
    t2s["vs_floor"] = {
        impl: {str(n): t2s[impl][f"step_ms_{n}"] / floors["fp32" if impl == "torch" else impl][str(n)]
               for n in t2s_bench.CACHE_LENGTHS}
        for impl in IMPLEMENTATIONS
    }


def run_bench(config: BenchConfig, progress: Progress = _log) -> Figures:
    """Measure everything; returns the figures with `targets` filled in."""
    size = TINY_V2 if config.tiny else REAL_V2
    started = time.perf_counter()
    sections: dict[str, float] = {}

    def section(message: str) -> None:
        sections[message] = time.perf_counter()
        progress(message)

    section(f"preparing the {size.name} model (cache: {config.cache_dir})")
    models = prepare_models(config.cache_dir, size, config.bert)
    repeats = 1 if config.tiny else REPEATS
    model_dir = models.model_dir
    prompt, prompt_path = reference_prompt(models, config.threads)
    figures: Figures = {
        "config": {
            "size": size.name, "threads": config.threads, "tiny": config.tiny, "bert": config.bert,
            "provider": config.provider,
            "model_dir": str(model_dir), "cached": models.cached, "conversion_s": models.conversion_s,
            "key": models.key,
        },
        "machine": machine_info(config.threads),
    }
    section("measuring memory bandwidth")
    figures["bandwidth"] = memory_bandwidth(config.threads, TINY_BANDWIDTH_BYTES if config.tiny else BANDWIDTH_BYTES)

    section("T2S: prefill and steps at cache lengths 100 / 500 / 1000 (INT8, fp32, torch)")
    gpt = load_gpt_checkpoint(models.gpt_path)
    inputs = _t2s_inputs(model_dir, prompt, config.threads)
    int8 = t2s_bench.onnx_decoder(model_dir, "int8", config.threads, config.provider)
    fp32 = t2s_bench.onnx_decoder(model_dir, "fp32", config.threads, config.provider)
    t2s: dict[str, Any] = {"int8": t2s_bench.onnx_figures(int8, inputs), "fp32": t2s_bench.onnx_figures(fp32, inputs)}
    t2s_model = load_t2s_model(gpt.weights, gpt.config)
    t2s["torch"] = t2s_bench.torch_figures(t2s_model, inputs, config.threads)
    t2s["quality"] = t2s_bench.logits_agreement(fp32, int8, inputs)
    t2s["prefill_rows"] = int(inputs.phones.size + inputs.prompt.size)
    figures["t2s"] = t2s
    del int8, fp32, t2s_model, gpt
    _floors(figures, model_dir, Manifest.read(model_dir).dims["t2s"])

    section("SoVITS decoder: 6 s of audio (INT8, fp32, torch)")
    modules = build_sovits_modules(load_sovits_checkpoint(models.sovits_path))
    phones = text.to_phones(pipeline_bench.PIPELINE_TEXT, "zh").ids
    seconds = TINY_AUDIO_S if config.tiny else sovits_bench.AUDIO_SECONDS
    decoder_inputs = sovits_bench.decoder_inputs(prompt.semantic, phones, prompt.ge, seconds)
    figures["decoder"] = sovits_bench.decoder_figures(
        model_dir, modules.decoder, decoder_inputs, config.threads, repeats, config.provider
    )
    del modules
    set_threads(1)  # torch is done; keep its thread pool from competing

    section("whole pipeline: first audio and RTF through GptSoVitsEngine (INT8, fp32)")
    pipeline: dict[str, Any] = {}
    for precision in ("int8", "fp32"):
        engine = pipeline_bench.load_engine(model_dir, precision, config.threads, config.provider)
        pipeline[precision] = pipeline_bench.engine_figures(engine, prompt, repeats)
        del engine
    figures["pipeline"] = pipeline
    figures["speedups"] = _speedups(figures, t2s["prefill_rows"])
    pipeline["torch_sum_of_parts_rtf"] = figures["speedups"]["sentence_seconds"]["torch"] / decoder_inputs.seconds

    section("peak RSS: speaking with one voice in a fresh process")
    figures["memory"] = measure_peak_rss(model_dir, prompt_path, config.threads, provider=config.provider)
    section(f"switching: {switching.PEOPLE} people, a pool of {switching.POOL_SIZE}, in a fresh process")
    figures["switching"] = switching.measure_switching(
        model_dir, prompt_path, config.cache_dir, config.threads, config.provider
    )
    figures["sizes_mb"] = _sizes_mb(model_dir)
    figures["targets"] = check_targets(figures)
    figures["bench_s"] = time.perf_counter() - started
    ends = [*list(sections.values())[1:], time.perf_counter()]
    figures["section_s"] = {name: end - start for (name, start), end in zip(sections.items(), ends, strict=True)}
    return figures
