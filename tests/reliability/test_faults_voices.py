"""Unreadable voices under a running server: a corrupt voice.json, a chmod 000 pack folder, an unreadable
voices folder, a pack folder replaced by a file. Each voice is skipped with its reason (or, for the
folder, the stock voice goes on alone); the others keep speaking; restoring brings the voice back.

The server runs without CAP_DAC_OVERRIDE (faults_env.drop_dac_override), so chmod binds it as root.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.wyoming_connection import speak, speak_error

from .faults_env import drop_dac_override
from .load_plan import References
from .server_process import ServerProcess
from .tiny_data import clip_text, enrollment_clip
from .tiny_fixtures import data_dir, tiny_data_template

pytestmark = pytest.mark.slow
__all__ = ["data_dir", "tiny_data_template"]

TEXT = "Is the oven still on?"
FLAGS = ("--threads", "1", "--cache-size-mb", "0")


def _listed(listing: dict[str, Any]) -> set[str]:
    return {voice["id"] for voice in listing["voices"]}


def _skipped(listing: dict[str, Any]) -> dict[str, str]:
    return {Path(item["path"]).name: item["reason"] for item in listing["skipped"]}


async def test_unreadable_voices_are_skipped_and_come_back(data_dir: Path, tiny_data_template: Path) -> None:
    references = References(tiny_data_template, threads=1)
    voices = data_dir / "voices"
    dad_json = voices / "dad" / "voice.json"
    original_json = dad_json.read_bytes()
    server = await ServerProcess.start(data_dir, *FLAGS, preexec_fn=drop_dac_override)
    try:
        assert await speak(server.wyoming_port, "dad") == references.pcm_for("dad", TEXT, 5)

        # A corrupt voice.json.
        dad_json.write_bytes(b"\x00garbage{")
        listing = await server.voices()
        assert _listed(listing) == {"mum", "joe-steady", "joe"} and "voice.json" in _skipped(listing)["dad"]
        error = await speak_error(server.wyoming_port, "dad")
        assert error.code == "unknown-voice" and "is skipped" in error.text, error
        assert await speak(server.wyoming_port, "mum") == references.pcm_for("mum", TEXT, 5)
        dad_json.write_bytes(original_json)
        assert await speak(server.wyoming_port, "dad") == references.pcm_for("dad", TEXT, 5)

        # The pack folder unreadable (chmod 000).
        (voices / "dad").chmod(0)
        try:
            listing = await server.voices()
            assert "Permission denied" in _skipped(listing)["dad"], listing
            assert await speak(server.wyoming_port, "mum") == references.pcm_for("mum", TEXT, 5)
            assert (await speak_error(server.wyoming_port, "dad")).code == "unknown-voice"
        finally:
            (voices / "dad").chmod(0o755)
        assert await speak(server.wyoming_port, "dad") == references.pcm_for("dad", TEXT, 5)

        # The whole voices folder unreadable: the stock voice goes on alone, writes fail clearly.
        voices.chmod(0)
        try:
            listing = await server.voices()
            assert _listed(listing) == {"joe"} and "cannot read the folder" in _skipped(listing)["voices"]
            assert await speak(server.wyoming_port, "joe")
            status, body = await server.enroll("Gran", enrollment_clip("dad"), clip_text("dad"))
            assert (status, body["code"]) == (500, "storage-error") and "Permission denied" in body["error"], body
            assert await server.stop() == 0  # and a restart in this state comes up with the stock voice
            server = await ServerProcess.start(data_dir, *FLAGS, preexec_fn=drop_dac_override)
            assert _listed(await server.voices()) == {"joe"} and await speak(server.wyoming_port, "joe")
        finally:
            voices.chmod(0o755)
        assert _listed(await server.voices()) == {"mum", "dad", "joe-steady", "joe"}

        # The pack folder replaced by a file of the same name: the voice is gone, nothing else is.
        shutil.move(voices / "dad", data_dir / "dad-aside")
        (voices / "dad").write_bytes(b"not a folder")
        assert (await speak_error(server.wyoming_port, "dad")).code == "unknown-voice"
        assert await speak(server.wyoming_port, "mum") == references.pcm_for("mum", TEXT, 5)
        (voices / "dad").unlink()
        shutil.move(data_dir / "dad-aside", voices / "dad")
        assert await speak(server.wyoming_port, "dad") == references.pcm_for("dad", TEXT, 5)

        assert server.process.returncode is None
    finally:
        assert await server.stop() == 0
