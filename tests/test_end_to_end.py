"""The whole product on a tiny model: enroll over the admin API, then speak over Wyoming.

Real library, real converter output, real server sockets and the real `wyoming` client; the
GPT always stops after its 11 minimum tokens, so each sentence has an exact length.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import soundfile
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.support.tiny_models.model_folders import copy_model_folder
from wyoming_server.engine import SynthesisOptions
from wyoming_server.engine.audio import snr_db
from wyoming_server.engine.gpt_sovits.text import split_sentences
from wyoming_server.server.app import ServerApp
from wyoming_server.settings import ServerSettings
from wyoming_server.voices.folder_library import open_library

EOS_TOKENS = 11
SAMPLES_PER_TOKEN = 1280
RATE_HZ = 32000
SENTENCE_SILENCE = round(0.3 * RATE_HZ)
TIMEOUT_S = 120
TEXT = (
    "今天天气很好，我们去公园散步吧。Dinner is ready, everyone come to the table! "
    "晚饭已经做好了，大家快来吃饭。Please wash your hands before dinner. 明天早上七点半出门上学。"
)
"""Five sentences: 11 tokens each with the EOS-forcing GPT."""


async def _read_until(client: Any, kind: str) -> list[Event]:
    events: list[Event] = []
    while True:
        event = await asyncio.wait_for(client.read_event(), TIMEOUT_S)
        assert event is not None, "the server closed the connection"
        events.append(event)
        if event.type in (kind, "error"):
            return events


@pytest.fixture
async def server(tmp_path: Path, tiny_model_v2_eos: Path) -> Any:
    data = tmp_path / "data"
    copy_model_folder(tiny_model_v2_eos, data / "models" / "v2")
    library = open_library(data, max_loaded_models=2, threads=1)
    settings = ServerSettings(data_dir=data, uri="tcp://127.0.0.1:0", http_host="127.0.0.1", http_port=0)
    app = ServerApp(settings, library)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def test_enroll_over_http_then_speak_over_wyoming(server: ServerApp, reference_clip: tuple[Any, int]) -> None:
    from wyoming.client import AsyncTcpClient

    samples, rate_hz = reference_clip
    wav = io.BytesIO()
    soundfile.write(wav, samples, rate_hz, format="WAV", subtype="PCM_16")
    token = (server.settings.data_dir / "admin_token").read_text().strip()
    form = aiohttp.FormData()
    form.add_field("name", "Mum")
    form.add_field("text", "这是一段参考音频。")
    form.add_field("language", "zh")
    form.add_field("consent", "I, Mum, agree that my family may use my voice at home.")
    form.add_field("force", "true")  # a synthetic buzz is not speech: accept it with warnings
    form.add_field("audio", wav.getvalue(), filename="mum.wav", content_type="audio/wav")
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{server.http_port}/api/voices"
        async with http.post(url, data=form, headers={"Authorization": f"Bearer {token}"}) as response:
            body = await response.json()
            assert response.status == 201, body
    voice = body["voice"]
    assert voice["kind"] == "gpt-sovits" and voice["model_id"] == "v2"

    async with AsyncTcpClient("127.0.0.1", server.wyoming_port) as client:
        await client.write_event(Describe().event())
        (info_event,) = await _read_until(client, "info")
        names = {v.name: v for v in Info.from_event(info_event).tts[0].voices}
        assert voice["id"] in names and "zh" in names[voice["id"]].languages

        synthesize = Synthesize(text=TEXT, voice=SynthesizeVoice(name=voice["id"])).event()
        synthesize.data["edge_tts_clone"] = {"seed": 3}
        await client.write_event(synthesize)
        events = await _read_until(client, "audio-stop")

    assert AudioStart.is_type(events[0].type) and AudioStop.is_type(events[-1].type)
    chunks = [AudioChunk.from_event(e) for e in events if AudioChunk.is_type(e.type)]
    assert {(c.rate, c.width, c.channels) for c in chunks} == {(RATE_HZ, 2, 1)}
    audio = (np.frombuffer(b"".join(c.audio for c in chunks), dtype="<i2") / 32767).astype(np.float32)
    sentences = split_sentences(TEXT)
    assert len(sentences) == 5
    assert audio.size == len(sentences) * (EOS_TOKENS * SAMPLES_PER_TOKEN + SENTENCE_SILENCE)
    assert np.std(audio) > 0
    # The same request straight from the engine, unmarked: the served audio is it plus the watermark.
    # (Detection itself is tested on speech in tests/engine/test_watermark.py; a random tiny model's
    # output is not speech.)
    library = open_library(server.settings.data_dir, max_loaded_models=1, threads=1)
    pack = library.resolve(voice["id"])
    raw = library.engine_for(pack).synthesize(TEXT, library.prompt(pack, None), SynthesisOptions(seed=3))
    unmarked = np.concatenate([chunk.samples for chunk in raw])
    assert unmarked.shape == audio.shape
    assert 15.0 < snr_db(unmarked, audio) < 40.0


async def test_streamed_text_speaks_each_sentence(server: ServerApp, tmp_path: Path) -> None:
    """HA's streaming path: text split mid-word, audio per sentence, then synthesize-stopped."""
    from wyoming.client import AsyncTcpClient

    library = open_library(server.settings.data_dir, max_loaded_models=1, threads=1)
    stock = library.resolve(None)  # no GPT-SoVITS voice enrolled yet: the stock voice
    assert stock.kind == "piper"
    pieces = ["Dinner is re", "ady. Everyone, please come", " to the table now!"]
    async with AsyncTcpClient("127.0.0.1", server.wyoming_port) as client:
        await client.write_event(Event("synthesize-start", {"voice": {"name": stock.id}}))
        for piece in pieces:
            await client.write_event(Event("synthesize-chunk", {"text": piece}))
        await client.write_event(Event("synthesize", {"text": "".join(pieces), "voice": {"name": stock.id}}))
        await client.write_event(Event("synthesize-stop"))
        events = await _read_until(client, "synthesize-stopped")
    kinds = [e.type for e in events]
    assert kinds[-1] == "synthesize-stopped" and "error" not in kinds
    assert kinds.count("audio-start") == 2  # one group per sentence; the duplicate synthesize is ignored
    rates = {AudioChunk.from_event(e).rate for e in events if AudioChunk.is_type(e.type)}
    assert rates == {22050}
