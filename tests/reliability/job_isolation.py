"""What a fine-tune conversion costs the server while it runs: memory and the speed of everyone else's speech.

    PYTHONPATH=$PWD .venv/bin/python -m tests.reliability.job_isolation              # tiny checkpoints, ~1 min
    PYTHONPATH=$PWD .venv/bin/python -m tests.reliability.job_isolation --real-size  # released v2Pro sizes

Random-weight checkpoints in the official formats are written by a child process (torch stays out
of this one), HuBERT and the speaker-verification net are served from disk by `python -m
http.server` in another (so this process holds only the server), and a real `ServerApp` (real
library: the stock voice speaks) imports the fine-tune through the admin API
with the real converter in its worker process. Meanwhile the stock voice is asked for one sentence
after another over Wyoming. Printed: the conversion's wall time and the worker's peak RSS, the
server process's RSS before, during and after, and the stock voice's time to first audio with and
without a conversion running. Figures only; nothing is asserted (docs/decisions.md has a run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from wyoming.audio import AudioChunk
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize

from wyoming_server.engine.gpt_sovits.manifest import Manifest
from wyoming_server.jobs.manager import JobManager
from wyoming_server.models import catalogue
from wyoming_server.models.catalogue import RemoteFile
from wyoming_server.server.app import ServerApp
from wyoming_server.settings import ModelJobSettings, ServerSettings
from wyoming_server.voices.folder_library import open_library

SENTENCE: Final = "The washing machine has finished."
WARM_REQUESTS: Final = 40
"""Before measuring: the stock voice, the allocator's arenas and the thread pools reach their working size."""
IDLE_REQUESTS: Final = 20
_WRITER: Final = """
import sys
from pathlib import Path
from wyoming_server.convert.random_weights.frozen_nets import HUBERT_REAL, REAL_SV_CHANNELS
from wyoming_server.convert.random_weights.frozen_nets import write_tiny_hubert, write_tiny_sv
from wyoming_server.convert.random_weights.gpt import T2S_REAL, write_tiny_gpt
from wyoming_server.convert.random_weights.sovits import SOVITS_REAL, write_tiny_sovits
root, real = Path(sys.argv[1]), sys.argv[2] == "real"
write_tiny_gpt(root / "gpt.ckpt", **(T2S_REAL if real else {}))
write_tiny_sovits(root / "sovits.pth", version="v2Pro", size=SOVITS_REAL["v2Pro"] if real else None)
write_tiny_hubert(root / "hubert", dims=HUBERT_REAL if real else None)
write_tiny_sv(root / "sv.ckpt", **({"stage4_channels": REAL_SV_CHANNELS} if real else {}))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _status_mb(pid: int | str = "self") -> dict[str, float]:
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


async def _first_audio_s(port: int) -> float:
    started = time.perf_counter()
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Synthesize(SENTENCE).event())
        while True:
            event = await client.read_event()
            assert event is not None, "the server closed the connection"
            if AudioChunk.is_type(event.type):
                first = time.perf_counter() - started
            if event.type in ("audio-stop", "error"):
                assert event.type == "audio-stop", event
                return first


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    median = statistics.median(ordered)
    return f"median {1000 * median:.0f} ms, p90 {1000 * p90:.0f} ms, max {1000 * ordered[-1]:.0f} ms"


async def _measure(root: Path, base_url: str) -> dict[str, Any]:
    data = root / "data"
    library = open_library(data, max_loaded_models=2, threads=1)
    settings = ServerSettings(data_dir=data, uri="tcp://127.0.0.1:0", http_host="127.0.0.1", http_port=0)
    app = ServerApp(settings, library, JobManager(data, ModelJobSettings(base_url=base_url)))
    await app.start()
    try:
        assert app.warm_up_done is not None
        await app.warm_up_done
        for _ in range(WARM_REQUESTS):
            await _first_audio_s(app.wyoming_port)
        idle = [await _first_audio_s(app.wyoming_port) for _ in range(IDLE_REQUESTS)]
        before = _status_mb()
        token = (data / "admin_token").read_text().strip()
        form = aiohttp.FormData()
        form.add_field("model_id", "measure-ft")
        form.add_field("gpt", (root / "gpt.ckpt").open("rb"), filename="gpt.ckpt")  # streamed, not held here
        form.add_field("sovits", (root / "sovits.pth").open("rb"), filename="sovits.pth")
        url = f"http://127.0.0.1:{app.http_port}"
        during: list[float] = []
        server_peak_rss = 0.0
        auth = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as http:
            started = time.perf_counter()
            async with http.post(f"{url}/api/models/import", data=form, headers=auth) as r:
                job = await r.json()
                assert r.status == 202, job
            while job["state"] not in ("succeeded", "failed", "cancelled"):
                during.append(await _first_audio_s(app.wyoming_port))
                server_peak_rss = max(server_peak_rss, _status_mb()["VmRSS"])
                async with http.get(f"{url}/api/jobs/{job['id']}") as r:
                    job = await r.json()
            elapsed = time.perf_counter() - started
        assert job["state"] == "succeeded", job
        after = _status_mb()
        model_bytes = sum(f["bytes"] for f in Manifest.read(data / "models" / "measure-ft").files.values())
        return {
            "conversion_s": round(elapsed, 1),
            "worker_peak_rss_mb": job["peak_rss_mb"],
            "model_mb": round(model_bytes / 1e6, 1),
            "server_rss_mb": {"before": before["VmRSS"], "during_max": server_peak_rss, "after": after["VmRSS"]},
            "server_hwm_mb": {"before": before["VmHWM"], "after": after["VmHWM"]},
            "stock_voice_first_audio": {"idle": _summary(idle), "during_conversion": _summary(during)},
            "requests_during_conversion": len(during),
        }
    finally:
        await app.stop()


def main(argv: list[str] | None = None) -> int:
    """Write the checkpoints, run the measurement, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real-size", action="store_true", help="the released v2Pro sizes (minutes, GBs)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        subprocess.run([sys.executable, "-c", _WRITER, str(root), "real" if args.real_size else "tiny"], check=True)
        served = root / "served"
        hubert = served / catalogue.HUBERT_DIR
        hubert.mkdir(parents=True)
        (root / "hubert" / "config.json").rename(hubert / "config.json")
        (root / "hubert" / "pytorch_model.bin").rename(hubert / "pytorch_model.bin")
        (hubert / "preprocessor_config.json").write_text("{}")
        (served / catalogue.SV_FILE.path).parent.mkdir(parents=True)
        (root / "sv.ckpt").rename(served / catalogue.SV_FILE.path)
        sizes = tuple(RemoteFile(f"{hubert.name}/{f.name}", f.stat().st_size) for f in sorted(hubert.iterdir()))
        patch = pytest.MonkeyPatch()
        patch.setattr(catalogue, "HUBERT_FILES", sizes)  # the random HuBERT's own sizes, not the release's
        port = _free_port()
        files = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(served)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            figures = asyncio.run(_measure(root, f"http://127.0.0.1:{port}/"))
        finally:
            files.terminate()
            files.wait()
            patch.undo()
    figures["size"] = "released v2Pro" if args.real_size else "tiny"
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
