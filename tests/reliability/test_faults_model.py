"""A model file truncated or replaced under a running server: a clear error for its voices, the others
keep speaking, and the voice speaks again (the same audio) once the file is restored.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .load_plan import References
from .load_soak import ErrorReply, WyomingConnection
from .server_process import ServerProcess
from .tiny_data import MODEL_ID
from .tiny_fixtures import data_dir, tiny_data_template

pytestmark = pytest.mark.slow
__all__ = ["data_dir", "tiny_data_template"]

GRAPH = "t2s_decoder.int8.onnx"
"""The INT8 decoder: what the runtime loads by default."""


async def speak(server: ServerProcess, voice: str, text: str = "Is the oven still on?", seed: int = 5) -> bytes:
    """The audio of one request (raises ErrorReply on an `error` event)."""
    connection = await WyomingConnection.open(server.wyoming_port)
    try:
        _rate, pcm = await connection.speak(voice, text, seed)
    finally:
        await connection.close()
    return pcm


async def speak_error(server: ServerProcess, voice: str) -> ErrorReply:
    """The `error` a request for `voice` gets (fails the test if it got audio)."""
    with pytest.raises(ErrorReply) as caught:
        await speak(server, voice)
    return caught.value


async def test_model_file_truncated_or_replaced_under_a_running_server(
    data_dir: Path, tiny_data_template: Path
) -> None:
    references = References(tiny_data_template, threads=1)
    model = data_dir / "models" / MODEL_ID
    graph = model / GRAPH
    original = graph.read_bytes()
    server = await ServerProcess.start(data_dir, "--threads", "1", "--cache-size-mb", "0")
    try:
        assert await speak(server, "mum") == references.pcm_for("mum", "Is the oven still on?", 5)

        # Truncated in place (a copy interrupted, a failing SD card).
        with graph.open("r+b") as f:
            f.truncate(len(original) // 2)
        for voice in ("mum", "dad"):
            error = await speak_error(server, voice)
            assert error.code == "engine-error" and GRAPH in error.text, error
            print(f"{voice}: {error}")
        assert await speak(server, "joe-steady") == references.pcm_for("joe-steady", "Is the oven still on?", 5)
        assert await speak(server, "joe")  # the stock voice

        graph.write_bytes(original)  # restored: speaks again, the same audio as before
        assert await speak(server, "mum") == references.pcm_for("mum", "Is the oven still on?", 5)

        # Replaced by another (valid) graph of the same name.
        shutil.copyfile(model / "t2s_decoder.onnx", graph)
        error = await speak_error(server, "dad")
        assert error.code == "engine-error" and GRAPH in error.text, error
        graph.write_bytes(original)
        assert await speak(server, "dad") == references.pcm_for("dad", "Is the oven still on?", 5)

        # The manifest itself damaged: its voices are skipped with the reason, the rest go on.
        manifest = model / "manifest.json"
        manifest_bytes = manifest.read_bytes()
        manifest.write_bytes(manifest_bytes[:100])
        error = await speak_error(server, "mum")
        assert error.code == "unknown-voice" and "is skipped: needs model" in error.text, error
        print(f"mum: {error}")
        listing = await server.voices()
        assert {v["id"] for v in listing["voices"]} == {"joe-steady", "joe"}
        reasons = {Path(s["path"]).name: s["reason"] for s in listing["skipped"]}
        assert set(reasons) == {"mum", "dad"} and f"needs model {MODEL_ID!r}" in reasons["mum"]
        assert await speak(server, "joe-steady") == references.pcm_for("joe-steady", "Is the oven still on?", 5)
        manifest.write_bytes(manifest_bytes)
        assert await speak(server, "mum") == references.pcm_for("mum", "Is the oven still on?", 5)

        assert server.process.returncode is None
    finally:
        assert await server.stop() == 0
