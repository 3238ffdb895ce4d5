"""Crash safety (CI size): SIGKILL the server and the converter, then check what a restart finds.

The full run is `python -m tests.reliability.crash_kill` (see docs/reliability.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tiny_models.checkpoints import TinyCheckpoints
from tests.support.tiny_models.model_folders import copy_model_folder

from .crash_checks import check_data_dir, wav_problem
from .crash_kill import run_crash
from .server_process import REPO, child_env
from .tiny_data import MODEL_ID, TinyCheckpointFiles
from .tiny_fixtures import data_dir, tiny_data_template

pytestmark = pytest.mark.slow
__all__ = ["data_dir", "tiny_data_template"]


def _files(tiny: TinyCheckpoints) -> TinyCheckpointFiles:
    return TinyCheckpointFiles(gpt=tiny.gpt, sovits=tiny.sovits_v2, hubert=tiny.hubert)


def _convert_args(tiny: TinyCheckpoints) -> list[str]:
    return ["convert", "--gpt", str(tiny.gpt), "--sovits", str(tiny.sovits_v2), "--hubert", str(tiny.hubert)]


async def test_random_kills_leave_whole_packs_models_and_cache_entries(
    tiny_checkpoints: TinyCheckpoints, data_dir: Path
) -> None:
    # Conversions are killed at chosen points by the two tests below; here the server only.
    report = await run_crash(data_dir, _files(tiny_checkpoints), server_kills=4, conversion_kills=0, seed=3)
    print(report.summary())
    assert report.problems == {}
    assert report.server_kills == 4
    assert report.replays > 0 and report.replay_cache_hits > 0
    assert report.last_state is not None and report.last_state.cache_entries > 0


def test_convert_force_killed_between_its_renames_keeps_the_old_model(
    tiny_checkpoints: TinyCheckpoints, tiny_model_v2: Path, tmp_path: Path
) -> None:
    """`convert --out <data>/models/v2 --force` killed with the old model set aside and the new one not yet in."""
    data_dir = tmp_path / "data"
    copy_model_folder(tiny_model_v2, data_dir / "models" / MODEL_ID)
    args = [*_convert_args(tiny_checkpoints), "--out", str(data_dir / "models" / MODEL_ID)]
    args += ["--precision", "fp32", "--force"]
    child = subprocess.run(
        [sys.executable, "-m", "tests.reliability.crash_convert_child", "old-moved-aside", *args],
        cwd=REPO,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == -9, child.stderr[-2000:]
    left = sorted(p.name for p in (data_dir / "models").iterdir() if p.name.startswith(".") and p.name != ".lock")
    assert left, "the kill left nothing to recover: the step was not reached"
    state = check_data_dir(data_dir)  # the first scan after a restart recovers
    assert state.problems == [] and state.models == [MODEL_ID]


def test_convert_killed_while_exporting_leaves_nothing_after_recovery(
    tiny_checkpoints: TinyCheckpoints, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    out = data_dir / "models" / "fresh"
    args = [*_convert_args(tiny_checkpoints), "--out", str(out), "--precision", "fp32"]
    child = subprocess.Popen(
        [sys.executable, "-m", "wyoming_server", *args],
        cwd=REPO,
        env=child_env(),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert child.stderr is not None
    for line in child.stderr:
        if "writing t2s_decoder" in line:  # the first graph is on disk, the second is being written
            break
    child.kill()
    assert child.wait(timeout=60) == -9
    child.stderr.close()
    assert [p.name for p in (data_dir / "models").iterdir() if p.name.startswith(".tmp-")]
    state = check_data_dir(data_dir)
    assert state.problems == [] and state.models == [] and not out.exists()


def test_wav_check_spots_a_truncated_entry(tmp_path: Path) -> None:
    from wyoming_server.server.cache import AudioCache, CachedAudio

    cache = AudioCache(tmp_path / "cache", 1 << 20)
    cache.store("ab" * 32, CachedAudio(pcm=b"\x01\x02" * 500, rate_hz=16000))
    (entry,) = (tmp_path / "cache").glob("??/*.wav")
    assert wav_problem(entry) is None
    entry.write_bytes(entry.read_bytes()[:-10])
    assert wav_problem(entry) is not None
