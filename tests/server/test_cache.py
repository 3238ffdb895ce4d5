"""The audio cache: LRU on disk, atomic, never serves a damaged entry; a hit never touches the engine."""

from __future__ import annotations

from pathlib import Path

from wyoming.tts import Synthesize, SynthesizeVoice

from tests.support.fakes import expected_pcm
from tests.support.servers import StartServer
from tests.support.wire import read_reply
from wyoming_server.server.cache import AudioCache, CachedAudio, cache_key


def _audio(byte: int, samples: int = 1000) -> CachedAudio:
    return CachedAudio(pcm=bytes([byte, 0]) * samples, rate_hz=32000)


def test_store_then_load_gives_the_same_audio(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path, max_bytes=1_000_000)
    assert cache.store("ab" * 32, _audio(1))
    assert cache.load("ab" * 32) == _audio(1)
    assert AudioCache(tmp_path, max_bytes=1_000_000).load("ab" * 32) == _audio(1), "survives a restart"
    assert not list((tmp_path / ".tmp").iterdir()), "no temp files are left"


def test_the_least_recently_used_entry_is_evicted_first(tmp_path: Path) -> None:
    entry_bytes = len(b"RIFF") + 40 + 2000
    cache = AudioCache(tmp_path, max_bytes=3 * entry_bytes)
    for key in ("aa", "bb", "cc"):
        cache.store(key * 32, _audio(ord(key[0])))
    assert cache.load("aa" * 32) is not None  # now "bb" is the oldest
    cache.store("dd" * 32, _audio(4))
    assert cache.load("bb" * 32) is None
    assert all(cache.load(key * 32) is not None for key in ("aa", "cc", "dd"))
    assert cache.total_bytes <= cache.max_bytes


def test_a_truncated_entry_is_dropped_not_served(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path, max_bytes=1_000_000)
    cache.store("ee" * 32, _audio(5))
    path = next(tmp_path.glob("??/*.wav"))
    path.write_bytes(path.read_bytes()[:-10])
    assert cache.load("ee" * 32) is None
    assert not path.exists()
    reopened = AudioCache(tmp_path, max_bytes=1_000_000)
    assert len(reopened) == 0


def test_leftovers_of_a_crash_are_removed_at_start(tmp_path: Path) -> None:
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "half-written.part").write_bytes(b"RIFF....")
    cache = AudioCache(tmp_path, max_bytes=1_000_000)
    assert len(cache) == 0 and not list((tmp_path / ".tmp").iterdir())


def test_an_entry_larger_than_the_whole_cache_is_not_stored(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path, max_bytes=1000)
    assert not cache.store("ff" * 32, _audio(6, samples=1000))
    assert len(cache) == 0


def test_the_key_covers_voice_revision_model_style_text_and_options() -> None:
    base = {
        "voice_id": "mum",
        "revision": "r1",
        "model_id": "m",
        "style": "default",
        "text": "Hi.",
        "options": {"speed": 1.0, "seed": None},
    }
    keys = {cache_key(**base)}  # type: ignore[arg-type]
    for field, value in [
        ("voice_id", "dad"),
        ("revision", "r2"),
        ("model_id", "m2"),
        ("style", "calm"),
        ("text", "Hi!"),
        ("options", {"speed": 1.1, "seed": None}),
    ]:
        keys.add(cache_key(**{**base, field: value}))  # type: ignore[arg-type]
    assert len(keys) == 7


async def test_a_repeated_request_is_served_from_the_cache_without_the_engine(
    start_server: StartServer,
) -> None:
    server = await start_server(cache_mb=5)
    text = "Dinner is ready. Come down."
    replies = []
    for _ in range(2):
        async with server.client() as client:
            await client.write_event(Synthesize(text, voice=SynthesizeVoice(name="mum")).event())
            replies.append(await read_reply(client))
    assert [reply.pcm for reply in replies] == [expected_pcm("mum", "default", text)] * 2
    assert replies[0].start == replies[1].start
    assert len(server.library.behaviour.calls) == 1, "the second request must not reach the engine"
    metrics = server.app.metrics
    assert (metrics.cache_hits.value(), metrics.cache_misses.value()) == (1.0, 1.0)


async def test_different_options_are_not_served_each_others_audio(start_server: StartServer) -> None:
    server = await start_server(cache_mb=5)
    for seed in (1, 2):
        async with server.client() as client:
            event = Synthesize("Same text.", voice=SynthesizeVoice(name="mum")).event()
            event.data["edge_tts_clone"] = {"seed": seed}
            await client.write_event(event)
            await read_reply(client)
    assert len(server.library.behaviour.calls) == 2


async def test_an_interrupted_request_is_not_cached(start_server: StartServer) -> None:
    server = await start_server(cache_mb=5)
    text = "Fine first. FAILME second."
    async with server.client() as client:
        await client.write_event(Synthesize(text, voice=SynthesizeVoice(name="mum")).event())
        assert (await read_reply(client)).error is not None
    runner = server.app.runner
    assert runner is not None
    await runner.drain()
    assert server.app.cache is not None and len(server.app.cache) == 0
