"""A model file truncated or replaced under a running server: a clear error for its voices, the others
keep speaking, and the voice speaks again (the same audio) once the file is restored.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.wyoming_connection import speak, speak_error

from .load_plan import References
from .server_process import ServerProcess
from .tiny_data import MODEL_ID
from .tiny_fixtures import data_dir, tiny_data_template

pytestmark = pytest.mark.slow
__all__ = ["data_dir", "tiny_data_template"]

TEXT = "Is the oven still on?"
"""What every request says (with seed 5): wyoming_connection.speak's default."""
GRAPH = "t2s_step.int8.onnx"
"""The INT8 T2S graph: what the runtime loads by default for the prefill and the steps."""


async def test_model_file_truncated_or_replaced_under_a_running_server(
    data_dir: Path, tiny_data_template: Path
) -> None:
    references = References(tiny_data_template, threads=1)
    model = data_dir / "models" / MODEL_ID
    graph = model / GRAPH
    original = graph.read_bytes()
    server = await ServerProcess.start(data_dir, "--threads", "1", "--cache-size-mb", "0")
    try:
        assert await speak(server.wyoming_port, "mum") == references.pcm_for("mum", TEXT, 5)

        # Truncated in place (a copy interrupted, a failing SD card).
        with graph.open("r+b") as f:
            f.truncate(len(original) // 2)
        for voice in ("mum", "dad"):
            error = await speak_error(server.wyoming_port, voice)
            assert error.code == "engine-error" and GRAPH in error.text, error
            print(f"{voice}: {error}")
        assert await speak(server.wyoming_port, "joe-steady") == references.pcm_for(
            "joe-steady", "Is the oven still on?", 5
        )
        assert await speak(server.wyoming_port, "joe")  # the stock voice

        graph.write_bytes(original)  # restored: speaks again, the same audio as before
        assert await speak(server.wyoming_port, "mum") == references.pcm_for("mum", TEXT, 5)

        # Replaced by another (valid) graph of the same name.
        shutil.copyfile(model / "t2s_decoder.onnx", graph)
        error = await speak_error(server.wyoming_port, "dad")
        assert error.code == "engine-error" and GRAPH in error.text, error
        graph.write_bytes(original)
        assert await speak(server.wyoming_port, "dad") == references.pcm_for("dad", TEXT, 5)

        # The manifest itself damaged: its voices are skipped with the reason, the rest go on.
        manifest = model / "manifest.json"
        manifest_bytes = manifest.read_bytes()
        manifest.write_bytes(manifest_bytes[:100])
        error = await speak_error(server.wyoming_port, "mum")
        assert error.code == "unknown-voice" and "is skipped: needs model" in error.text, error
        print(f"mum: {error}")
        listing = await server.voices()
        assert {v["id"] for v in listing["voices"]} == {"joe-steady", "joe"}
        reasons = {Path(s["path"]).name: s["reason"] for s in listing["skipped"]}
        assert set(reasons) == {"mum", "dad"} and f"needs model {MODEL_ID!r}" in reasons["mum"]
        assert await speak(server.wyoming_port, "joe-steady") == references.pcm_for(
            "joe-steady", "Is the oven still on?", 5
        )
        manifest.write_bytes(manifest_bytes)
        assert await speak(server.wyoming_port, "mum") == references.pcm_for("mum", TEXT, 5)

        assert server.process.returncode is None
    finally:
        assert await server.stop() == 0
