"""The pronunciation dictionary in the server: it reaches the engine, keys the cache, and the admin API edits it."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.support.fakes import FakeLibrary
from tests.support.servers import RunningServer, StartServer
from tests.support.wire import read_reply
from wyoming_server.engine import AudioChunk, SynthesisOptions
from wyoming_server.voices.pack import VoicePack

DICTIONARY = {"zh": {"乐乐": "le4 le4"}, "voices": {"mum": {"zh": {"乐乐": "le4 le5"}}}}


class RecordingLibrary(FakeLibrary):
    """A FakeLibrary that keeps the options of every synthesis."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.options: list[SynthesisOptions] = []

    def synthesize(
        self,
        pack: VoicePack,
        style: str | None,
        text: str,
        options: SynthesisOptions,
        stop: threading.Event | None = None,
    ) -> Iterator[AudioChunk]:
        self.options.append(options)
        return super().synthesize(pack, style, text, options, stop)


@pytest.fixture
def library(tmp_path: Path) -> RecordingLibrary:
    return RecordingLibrary(tmp_path / "data")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


def _auth(server: RunningServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


async def _say(server: RunningServer, text: str, voice: str) -> None:
    async with server.client() as client:
        await client.write_event(Synthesize(text, voice=SynthesizeVoice(name=voice)).event())
        assert (await read_reply(client)).error is None


async def test_each_voice_gets_its_entries_over_the_servers(
    tmp_path: Path, start_server: StartServer, library: RecordingLibrary
) -> None:
    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    (tmp_path / "data" / "pronunciations.json").write_text(json.dumps(DICTIONARY), encoding="utf-8")
    server = await start_server()
    await _say(server, "乐乐该睡觉了。", "mum")
    await _say(server, "Dinner is ready.", "joe")
    mum, joe = (options.pronunciations for options in library.options)
    assert mum is not None and mum.zh_reading("乐乐") == ("le4", "le5")
    assert joe is not None and joe.zh_reading("乐乐") == ("le4", "le4")


async def test_without_a_dictionary_no_entries_are_passed(start_server: StartServer, library: RecordingLibrary) -> None:
    server = await start_server()
    await _say(server, "乐乐该睡觉了。", "mum")
    assert library.options[0].pronunciations is None


async def test_the_admin_api_edits_the_dictionary_and_the_cache_follows(
    start_server: StartServer, library: RecordingLibrary, http: aiohttp.ClientSession
) -> None:
    server = await start_server(cache_mb=5)
    url = server.http_url + "/api/pronunciations"
    async with http.get(url) as response:
        assert response.status == 401  # it holds the family's names
    async with http.put(url, json=DICTIONARY) as response:
        assert response.status == 401
    async with http.get(url, headers=_auth(server)) as response:
        assert response.status == 200
        assert (await response.json())["dictionary"] == {}
    await _say(server, "乐乐该睡觉了。", "mum")
    await _say(server, "乐乐该睡觉了。", "mum")
    assert len(library.options) == 1, "the same text and dictionary come from the cache"

    async with http.put(url, json={**DICTIONARY, "en": {"Nguyen": "W IH N"}}, headers=_auth(server)) as response:
        assert response.status == 200
        assert (await response.json())["problems"] == [
            "en 'Nguyen': the vowel 'IH' needs a stress digit (IH0, IH1 or IH2)"
        ]
    await _say(server, "乐乐该睡觉了。", "mum")
    assert len(library.options) == 2, "a changed dictionary is not served the old audio"
    assert library.options[1].pronunciations is not None
    async with http.get(url, headers=_auth(server)) as response:
        body = await response.json()
    assert body["dictionary"]["voices"] == DICTIONARY["voices"] and len(body["problems"]) == 1

    async with http.put(url, json=["not", "an", "object"], headers=_auth(server)) as response:
        assert response.status == 400
        assert (await response.json())["code"] == "bad-request"
