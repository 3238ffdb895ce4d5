"""Two (or more) enrollments at once, from threads and from processes, never corrupt each other."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.support.voices import make_store, request
from wyoming_server.voices.folder_library import FolderLibrary

from .test_crash_safety import _spawn


def test_threads_enrolling_the_same_name_get_distinct_ids(store: FolderLibrary, good_wav: bytes) -> None:
    barrier = threading.Barrier(4)
    results: list[str] = []
    errors: list[BaseException] = []

    def enroll() -> None:
        barrier.wait()
        try:
            results.append(store.enroll(request(good_wav))[0].id)
        except BaseException as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=enroll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == ["mum", "mum-2", "mum-3", "mum-4"]
    assert store.skipped() == []


def test_threads_adding_styles_to_one_voice_keep_every_style(store: FolderLibrary, good_wav: bytes) -> None:
    store.enroll(request(good_wav))
    barrier = threading.Barrier(3)

    def add(style: str) -> None:
        barrier.wait()
        store.enroll(request(good_wav, voice_id="mum", style=style))

    threads = [threading.Thread(target=add, args=(style,)) for style in ("calm", "cheerful", "sleepy")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(store.resolve("mum").styles) == ["calm", "cheerful", "default", "sleepy"]


@pytest.mark.slow
def test_processes_enrolling_at_once(data_dir: Path, good_wav: bytes, tmp_path: Path) -> None:
    audio = tmp_path / "a.wav"
    audio.write_bytes(good_wav)
    children = [_spawn(data_dir, "create", audio, "free", repeat=3) for _ in range(3)]
    for child in children:
        assert child.stdout is not None
        output = child.stdout.read()
        assert child.wait(timeout=120) == 0 and output.endswith("done\n")
        child.stdout.close()
    library = make_store(data_dir)
    ids = sorted(v.id for v in library.voices() if not v.builtin)
    assert ids == ["dad", *[f"dad-{n}" for n in range(2, 10)]]
    assert library.skipped() == []
