"""onnxruntime failing to create a session (injected): a clear error for the voices of that model, the
others keep speaking, the server stays up; the voice speaks as soon as sessions can be made again
(a failed load is not cached, so no restart is needed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.wyoming_connection import speak, speak_error

from .faults_ort_child import TRIGGER_ENV
from .load_plan import References
from .server_process import ServerProcess
from .tiny_data import MODEL_ID, clip_text, enrollment_clip
from .tiny_fixtures import data_dir, tiny_data_template

pytestmark = pytest.mark.slow
__all__ = ["data_dir", "tiny_data_template"]

TEXT = "Is the oven still on?"


async def test_session_creation_failures_give_clear_errors_and_recover(
    data_dir: Path, tiny_data_template: Path, tmp_path: Path
) -> None:
    references = References(tiny_data_template, threads=1)
    trigger = tmp_path / "fail-sessions-of"
    trigger.write_text(f"/models/{MODEL_ID}/", encoding="utf-8")
    server = await ServerProcess.start(
        data_dir,
        "--threads",
        "1",
        "--cache-size-mb",
        "0",
        module="tests.reliability.faults_ort_child",
        env={TRIGGER_ENV: str(trigger)},
    )
    port = server.wyoming_port
    try:
        for voice in ("mum", "dad", "mum"):
            error = await speak_error(port, voice)
            assert error.code == "engine-error" and "cannot load graph" in error.text, error
            assert "failed to allocate memory" in error.text, error
        assert await speak(port, "joe-steady") == references.pcm_for("joe-steady", TEXT, 5)
        status, body = await server.enroll("Gran", enrollment_clip("dad"), clip_text("dad"))
        assert (status, body["code"]) == (503, "engine-error") and "cannot load graph" in body["error"], body

        trigger.write_text("joe", encoding="utf-8")  # the stock voice's model (not loaded yet) now fails
        assert (await speak_error(port, "joe")).code == "engine-error"
        assert await speak(port, "mum") == references.pcm_for("mum", TEXT, 5)  # the fault is gone for v2

        trigger.unlink()
        assert await speak(port, "joe")
        status, body = await server.enroll("Gran", enrollment_clip("dad"), clip_text("dad"))
        assert status == 201, body
        assert server.process.returncode is None
    finally:
        assert await server.stop() == 0
