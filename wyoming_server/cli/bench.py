"""`edge-tts-clone bench ...`: every benchmark, started one way. Figures are printed, never asserted.

`bench` alone (or `bench engine`) measures the engine's speed, memory and INT8 quality against the
targets in docs/performance.md; `bench convert` the peak memory and time of converting a real-size
model without torch (and, with --compare, how its graphs compare with the torch converter's);
`bench server` the server under concurrent clients; `bench soak` a real server's memory over hours;
`bench watermark` the watermark's detection rates.
The engine and conversion benchmarks need the converter's extra (torch): they write random-weight
checkpoints at the released sizes. The engine benchmark's converted model is cached under
`--out-dir`, keyed by the converter's code, so reruns skip the conversion. Benchmark modules are imported
only when their action runs, so the other commands never load torch.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Final

from ..settings import DEFAULT_PROVIDER, DEFAULT_THREADS

DEFAULT_CACHE_DIR: Final = Path.home() / ".cache" / "edge-tts-clone" / "bench"
DEFAULT_ACTION: Final = "engine"
"""What `edge-tts-clone bench` alone runs."""
SERVER_TEXT: Final = "The washing machine has finished. Please hang the laundry before dinner."


def register(subparsers: Any) -> None:
    """Add `bench` and its actions."""
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks: the engine (default), the server, the watermark",
        description="Benchmarks of the engine (the default), the server and the watermark; figures are printed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    actions = parser.add_subparsers(dest="bench_action", metavar="BENCHMARK", required=True)

    def action(name: str, help_text: str | None) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(
            name, help=help_text, formatter_class=argparse.ArgumentDefaultsHelpFormatter
        )
        sub.add_argument("--debug", action="store_true", help="log debug messages")
        return sub

    engine = action("engine", "T2S/decoder speed, first-audio time, memory and INT8 quality against the targets")
    engine.add_argument("--json", action="store_true", help="print every figure as JSON instead of the report")
    engine.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS,
        help="intra-op threads of every onnxruntime session and of torch (the runtime's default)",
    )
    engine.add_argument(
        "--provider", default=DEFAULT_PROVIDER,
        help="onnxruntime execution provider of the ONNX figures: cpu, or cuda... with its onnxruntime build",
    )
    engine.add_argument("--tiny", action="store_true", help="tiny models: checks the code path in seconds")
    engine.add_argument("--bert", action="store_true", help="also convert and use a Chinese BERT (real size: 326 M)")
    engine.add_argument(
        "--out-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where converted benchmark models are cached"
    )
    engine.set_defaults(func=_engine)

    conversion = action("convert", "peak memory and time of converting a real-size model without torch")
    conversion.add_argument("--version", choices=("v2", "v2Pro", "v2ProPlus"), default="v2Pro", help="model version")
    conversion.add_argument("--tiny", action="store_true", help="tiny models: checks the code path in seconds")
    conversion.add_argument("--precision", choices=("both", "int8", "fp32"), default="both", help="graphs to write")
    conversion.add_argument(
        "--compare", action="store_true", help="also convert with torch and compare every graph (the reference)"
    )
    conversion.add_argument("--templates", type=Path, help="extra templates (e.g. for --tiny sizes)")
    conversion.add_argument("--json", action="store_true", help="print every figure as JSON")
    conversion.add_argument(
        "--out-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where checkpoints and converted folders are kept"
    )
    conversion.set_defaults(func=_convert)

    long_text = action("long-text", "peak RSS speaking a 2,000-character text in one request, at speed 1 and another")
    long_text.add_argument("--speed", type=float, default=0.8, help="the other speed (decoded sentence by sentence)")
    long_text.add_argument("--chars", type=int, default=2000, help="characters of the text")
    long_text.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="onnxruntime intra-op threads")
    long_text.add_argument("--provider", default=DEFAULT_PROVIDER, help="onnxruntime execution provider")
    long_text.add_argument("--tiny", action="store_true", help="tiny models: checks the code path in seconds")
    long_text.add_argument("--json", action="store_true", help="print every figure as JSON")
    long_text.add_argument(
        "--out-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where converted benchmark models are cached"
    )
    long_text.set_defaults(func=_long_text)

    server = action("server", "time to first audio and throughput under concurrent Wyoming clients")
    server.add_argument("--uri", help="a running server (tcp://host:port); default: an in-process one")
    server.add_argument("--voice", help="voice id to request (running server)")
    server.add_argument("--clients", type=int, default=4, help="concurrent clients")
    server.add_argument("--requests", type=int, default=3, help="requests per client")
    server.add_argument("--text", default=SERVER_TEXT, help="text of every request (a counter is appended)")
    server.add_argument("--rtf", type=float, default=0.3, help="in-process: simulated engine real-time factor")
    server.add_argument("--max-concurrent", type=int, default=2, help="in-process: --max-concurrent")
    server.set_defaults(func=_server)

    soak = action("soak", "RSS of a real server under concurrent clients for hours (growth after warm-up)")
    soak.add_argument("--hours", type=float, default=2.0, help="how long the clients keep the server busy")
    soak.add_argument("--clients", type=int, default=8, help="concurrent clients, each sending back to back")
    soak.add_argument("--warm-up-min", type=float, default=10.0, help="minutes before growth is measured "
                      "(at most a quarter of the run)")
    soak.add_argument("--sample-s", type=float, default=10.0, help="seconds between RSS samples")
    soak.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="the server's onnxruntime threads")
    soak.add_argument("--nice", type=int, default=0, help="niceness of the server (a soak beside other work)")
    soak.add_argument("--tiny", action="store_true", help="tiny models: checks the code path in minutes")
    soak.add_argument(
        "--out-dir", type=Path, default=DEFAULT_CACHE_DIR,
        help="where converted benchmark models are cached; the run's data folder and samples go in soak/",
    )
    soak.set_defaults(func=_soak)

    watermark = action("watermark", "watermark detection and false-positive rates after transforms")
    watermark.add_argument("--clips", type=int, default=200, help="number of speech clips")
    watermark.add_argument("--seed", type=int, default=1, help="seed for sentences and keys")
    watermark.add_argument(
        "--rate", type=int, default=32000, help="rate the clips are marked at (32000: the GPT-SoVITS output rate)"
    )
    watermark.set_defaults(func=_watermark)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _engine(args: argparse.Namespace) -> int:
    """Run the engine benchmark and print the report (or JSON); 1 with a message when it cannot run."""
    if args.threads < 1:
        print("error: --threads must be at least 1", file=sys.stderr)
        return 2
    from ..engine.onnx import ProviderError, resolve_provider

    try:
        provider = resolve_provider(args.provider)
    except ProviderError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        from ..bench.engine import BenchConfig, run_bench
        from ..bench.report import format_report
    except ImportError as err:
        return _needs_convert_extras(err)

    def progress(message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    config = BenchConfig(
        threads=args.threads, cache_dir=args.out_dir.expanduser(), tiny=args.tiny, bert=args.bert, provider=provider
    )
    try:
        figures = run_bench(config, progress)
    except (OSError, RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(_json_safe(figures), indent=1, ensure_ascii=False) if args.json else format_report(figures))
    return 0


def _long_text(args: argparse.Namespace) -> int:
    """Peak RSS over a long text at speed 1 and at `--speed`, each in a fresh process."""
    from ..engine.onnx import ProviderError, resolve_provider

    try:
        provider = resolve_provider(args.provider)
        from ..bench.long_text import format_long_text, measure_long_text
        from ..bench.random_models import REAL_V2, TINY_V2, prepare_models, reference_prompt
    except ProviderError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ImportError as err:
        return _needs_convert_extras(err)
    try:
        models = prepare_models(args.out_dir.expanduser(), TINY_V2 if args.tiny else REAL_V2)
        _, prompt_path = reference_prompt(models, args.threads)
        reports = [
            measure_long_text(models.model_dir, prompt_path, args.threads, speed, args.chars, provider)
            for speed in dict.fromkeys((1.0, args.speed))
        ]
    except (OSError, RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(_json_safe(reports), indent=1) if args.json else format_long_text(reports))
    return 0


def _convert(args: argparse.Namespace) -> int:
    """Peak RSS and time of a torch-free conversion (and with --compare, the comparison with torch)."""
    try:
        from ..bench.conversion import format_conversion_report, run_conversion_bench
    except ImportError as err:
        print(f"error: the benchmark writes its checkpoints with torch: pip install 'edge-tts-clone[convert]' ({err})",
              file=sys.stderr)
        return 1

    def progress(message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    size = "tiny" if args.tiny else "real"
    try:
        figures = run_conversion_bench(
            args.out_dir.expanduser() / "convert", args.version, size, args.precision, args.compare, progress,
            args.templates,
        )
    except (OSError, RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(_json_safe(figures), indent=1) if args.json else format_conversion_report(figures))
    return 0


def _server(args: argparse.Namespace) -> int:
    import asyncio

    from ..bench.server import in_process_report, run_load
    from ..server.transport import parse_uri

    if not args.uri:
        report = in_process_report(
            clients=args.clients, requests=args.requests, text=args.text, rtf=args.rtf,
            max_concurrent=args.max_concurrent,
        )
        print(asyncio.run(report))
        return 0
    endpoint = parse_uri(args.uri)
    if endpoint.scheme != "tcp":
        print("error: --uri must be tcp://host:port", file=sys.stderr)
        return 2
    load = run_load(
        endpoint.host, endpoint.port, clients=args.clients, requests=args.requests, text=args.text, voice=args.voice
    )
    print(asyncio.run(load))
    return 0


def _soak(args: argparse.Namespace) -> int:
    """A real server under `--clients` for `--hours`; its RSS growth after warm-up."""
    import asyncio
    import shutil

    if args.hours <= 0 or args.clients < 1 or args.sample_s <= 0:
        print("error: --hours and --sample-s must be positive, --clients at least 1", file=sys.stderr)
        return 2
    try:
        from ..bench.random_models import REAL_V2, TINY_V2, prepare_models
        from ..bench.soak import format_soak, make_data_folder, run_soak, write_samples
    except ImportError as err:
        return _needs_convert_extras(err)
    duration_s = args.hours * 3600.0
    run_dir = args.out_dir.expanduser() / "soak"
    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        models = prepare_models(args.out_dir.expanduser(), TINY_V2 if args.tiny else REAL_V2)
        voice = make_data_folder(models, run_dir / "data", args.threads)
        run = asyncio.run(run_soak(
            run_dir / "data", voice, duration_s=duration_s, warm_up_s=min(args.warm_up_min * 60.0, duration_s / 4),
            clients=args.clients, sample_s=args.sample_s, threads=args.threads, nice=args.nice,
        ))
    except (OSError, RuntimeError, ValueError) as err:
        print(f"error: {err or type(err).__name__}", file=sys.stderr)
        return 1
    write_samples(run, run_dir / "rss.csv")
    print(format_soak(run, "tiny v2" if args.tiny else "v2 at the released size, random weights"))
    print(f"samples: {run_dir / 'rss.csv'}; server log: {run_dir / 'data' / 'server.log'}")
    return 0


def _watermark(args: argparse.Namespace) -> int:
    from ..bench.watermark import print_report

    print_report(args.clips, args.seed, args.rate)
    return 0


def _needs_convert_extras(err: ImportError) -> int:
    """Say which extras a benchmark needs; the exit code."""
    print(f"error: the benchmark needs torch and onnx: pip install 'edge-tts-clone[convert]' ({err})", file=sys.stderr)
    return 1
