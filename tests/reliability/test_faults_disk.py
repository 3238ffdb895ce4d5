"""Disk full while enrolling and caching: clear errors, nothing half-written, speech goes on, recovery.

The data folder lives on a small tmpfs filled to the last block (root can mount one); without
root the server runs under RLIMIT_FSIZE instead, which fails the same writes with EFBIG. The
test prints which of the two ran.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.wyoming_connection import speak

from .crash_checks import check_data_dir
from .faults_env import file_size_limit, fill_disk, small_disk
from .load_plan import References
from .server_process import ServerProcess
from .tiny_data import clip_text, enrollment_clip
from .tiny_fixtures import tiny_data_template

pytestmark = pytest.mark.slow
__all__ = ["tiny_data_template"]

SPARE_BYTES = 6 * 1024 * 1024
"""Room on the tmpfs beyond the data folder's files: filled up, then freed for a new pack and a cache entry."""
FILE_LIMIT_BYTES = 48 * 1024


async def _cache_entries(server: ServerProcess) -> float:
    return (await server.metrics())["edge_tts_clone_cache_entries"]


async def test_disk_full_while_enrolling_and_caching(tiny_data_template: Path, tmp_path: Path) -> None:
    references = References(tiny_data_template, threads=1)
    disk = tmp_path / "disk"
    size = sum(p.stat().st_size for p in tiny_data_template.rglob("*") if p.is_file() and not p.is_symlink())
    with small_disk(disk, size + SPARE_BYTES) as mounted:
        data_dir = disk / "data"
        shutil.copytree(tiny_data_template, data_dir, symlinks=True)
        preexec: Callable[[], None] | None = None if mounted else file_size_limit(FILE_LIMIT_BYTES)
        print("disk full simulated with", "a filled tmpfs" if mounted else "RLIMIT_FSIZE of 48 kB")
        cause = "No space left on device" if mounted else "File too large"  # ENOSPC, or EFBIG
        server = await ServerProcess.start(data_dir, "--cache-size-mb", "8", "--threads", "1", preexec_fn=preexec)
        try:
            filler = fill_disk(disk) if mounted else None

            # Speech goes on; the cache entry cannot be written, so it is simply not stored.
            for _ in range(2):
                pcm = await speak(server.wyoming_port, "mum", "The disk is full now.", 7)
                assert pcm == references.pcm_for("mum", "The disk is full now.", 7)
            assert await _cache_entries(server) == 0
            assert cause in await server.wait_for_log("Could not write cache entry")

            # Enrollment fails with a message naming the cause; the voices are as they were.
            before = await server.voices()
            status, body = await server.enroll("Gran", enrollment_clip("dad"), clip_text("dad"))
            assert status == 507, body
            assert body["code"] == "insufficient-storage"
            assert cause in body["error"], body
            assert await server.voices() == before
            assert check_data_dir(data_dir).problems == []

            # A restart on the full disk comes up and serves.
            assert await server.stop() == 0
            server = await ServerProcess.start(data_dir, "--cache-size-mb", "8", "--threads", "1", preexec_fn=preexec)
            pcm = await speak(server.wyoming_port, "dad", "Still speaking.", 3)
            assert pcm == references.pcm_for("dad", "Still speaking.", 3)

            if filler is not None:  # space is back: both writes work again, without a restart
                filler.unlink()
                status, body = await server.enroll("Gran", enrollment_clip("dad"), clip_text("dad"))
                assert status == 201, body
                first = await speak(server.wyoming_port, "gran", "Hello.", 1)
                assert await speak(server.wyoming_port, "gran", "Hello.", 1) == first  # waits for its entry
                assert (await server.metrics())["edge_tts_clone_cache_hits_total"] == 1, "\n".join(server.log_tail)
        finally:
            assert await server.stop() == 0
