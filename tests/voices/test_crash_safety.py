"""Crash safety: SIGKILL a writer at every crash point (and at random ones): old pack or new, never half."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.support.voices import make_store, request, to_wav
from wyoming_server.voices.folder_library import FolderLibrary

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _spawn(data_dir: Path, operation: str, audio: Path, mode: str, repeat: int = 1) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.voices.crash_child",
            str(data_dir),
            operation,
            str(audio),
            mode,
            str(repeat),
        ],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _run_to_step(data_dir: Path, operation: str, audio: Path, kill_at: int | None) -> list[str]:
    """Run the operation, pausing at each crash point; SIGKILL at step `kill_at` (None: let it finish)."""
    child = _spawn(data_dir, operation, audio, "pause")
    assert child.stdin is not None and child.stdout is not None
    steps: list[str] = []
    for line in child.stdout:
        step = line.strip()
        if step == "done":
            break
        steps.append(step)
        if kill_at is not None and len(steps) - 1 == kill_at:
            child.send_signal(signal.SIGKILL)
            break
        child.stdin.write("\n")
        child.stdin.flush()
    child.wait(timeout=60)
    child.stdout.close()
    child.stdin.close()
    return steps


def _state(data_dir: Path) -> dict[str, str]:
    """id -> revision of every usable enrolled pack, seen by a fresh library (as after a restart)."""
    library = make_store(data_dir)
    state = {v.id: v.revision for v in library.voices() if not v.builtin}
    assert library.skipped() == [], library.skipped()
    leftovers = [
        p.name for p in (data_dir / "voices").iterdir() if p.name.startswith(".") and p.name != ".lock"
    ]
    assert leftovers == [], f"recovery left {leftovers}"
    return state


@pytest.fixture
def setup(tmp_path: Path, speech: tuple[NDArray[np.float32], int]) -> tuple[Path, Path, Path]:
    """A template data folder with pack 'mum' (clip A) and clip B on disk for the child to write."""
    template = tmp_path / "template"
    from tests.support.voices import write_fake_model

    write_fake_model(template, "v2pro")
    samples, rate = speech
    make_store(template).enroll(request(to_wav(samples, rate)))
    audio_b = tmp_path / "b.wav"
    audio_b.write_bytes(to_wav(np.asarray(samples * 0.5, dtype=np.float32), rate))
    return tmp_path, template, audio_b


def _expected_states(
    setup: tuple[Path, Path, Path], operation: str
) -> tuple[dict[str, str], dict[str, str], int]:
    """(state before, state after a complete run, number of crash points) of `operation`."""
    root, template, audio_b = setup
    dry = root / f"dry-{operation}"
    shutil.copytree(template, dry)
    before = _state(dry)
    steps = _run_to_step(dry, operation, audio_b, kill_at=None)
    return before, _state(dry), len(steps)


@pytest.mark.parametrize("operation", ["replace", "create", "rename", "remove"])
def test_kill_at_every_crash_point(setup: tuple[Path, Path, Path], operation: str) -> None:
    root, template, audio_b = setup
    before, after, step_count = _expected_states(setup, operation)
    assert before != after and step_count >= 1
    outcomes = []
    for kill_at in range(step_count):
        data_dir = root / f"{operation}-{kill_at}"
        shutil.copytree(template, data_dir)
        steps = _run_to_step(data_dir, operation, audio_b, kill_at)
        state = _state(data_dir)
        assert state in (before, after), f"killed after {steps[-1]}: {state}"
        outcomes.append("new" if state == after else "old")
    # The swap happens exactly once: old up to the rename, new from then on.
    assert outcomes == sorted(outcomes, key=lambda o: o == "new"), outcomes


def test_kill_at_random_moments(setup: tuple[Path, Path, Path]) -> None:
    root, template, audio_b = setup
    before, after, _ = _expected_states(setup, "replace")
    rng = np.random.default_rng(7)
    for attempt in range(4):
        data_dir = root / f"random-{attempt}"
        shutil.copytree(template, data_dir)
        child = _spawn(data_dir, "replace", audio_b, "free", repeat=50)
        assert child.stdout is not None
        # Kill somewhere after a random number of crash points: the child keeps running meanwhile.
        target = int(rng.integers(1, 60))
        for index, _line in enumerate(child.stdout):
            if index == target:
                break
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
        assert _state(data_dir) in (before, after)


def test_disk_full_while_saving_keeps_the_old_pack(
    store: FolderLibrary, good_wav: bytes, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write error (ENOSPC here) leaves the previous pack untouched and no staging folder behind."""
    from wyoming_server.storage import atomic
    from wyoming_server.voices.registry import VoiceWriteError

    pack, _ = store.enroll(request(good_wav))
    real_write = atomic.write_durably

    def full_disk(path: Path, data: bytes) -> None:
        if path.name == "voice.json":
            raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(atomic, "write_durably", full_disk)
    with pytest.raises(VoiceWriteError, match="No space left on device"):
        store.enroll(request(good_wav, voice_id="mum", text=""))
    assert store.resolve("mum").revision == pack.revision
    assert [p.name for p in (data_dir / "voices").iterdir() if p.name.startswith(".tmp")] == []


def test_recovery_spares_a_live_staging_folder_and_cleans_dead_ones(tmp_path: Path) -> None:
    from wyoming_server.storage import atomic

    parent = tmp_path / "voices"
    live = atomic.StagingFolder(parent, "import")  # e.g. a long import in another process
    (live.path / "half.bin").write_bytes(b"x")
    dead = parent / ".tmp-mum-0badc0de"  # its writer was killed: the owner lock is gone
    dead.mkdir()
    (parent / ".tmp-mum-0badc0de.owner").write_bytes(b"")
    (parent / ".tmp-gone-12345678.owner").write_bytes(b"")  # orphan owner file
    (parent / ".del-dad-87654321").mkdir()
    actions = atomic.recover(parent)
    assert sorted(actions) == ["deleted unfinished .del-dad-87654321", "deleted unfinished .tmp-mum-0badc0de"]
    assert sorted(p.name for p in parent.iterdir()) == sorted(
        [".lock", live.path.name, live.path.name + ".owner"]
    )
    live.discard()
    assert sorted(p.name for p in parent.iterdir()) == [".lock"]
