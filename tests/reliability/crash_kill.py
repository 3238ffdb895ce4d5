"""Crash safety: SIGKILL the server and the converting CLI at random moments, then check the data folder.

    python -m tests.reliability.crash_kill --server-kills 70 --conversion-kills 30

Server cycles: start `edge-tts-clone serve`; ask again for audio spoken before the last kill (it
often comes from the cache and must equal audio synthesized alone); then start an enrollment
(admin API), a deletion of an earlier enrolled voice, and syntheses of new texts (cache writes)
at random offsets, and SIGKILL the server at a random moment among them. Conversion cycles:
`edge-tts-clone convert --out <data>/models/<id> [--force]` killed after a random progress step,
and `edge-tts-clone voices add --gpt --sovits` (fine-tune conversion + enrollment) killed at a
random time. After every kill, `crash_checks.check_data_dir` looks at the folder as a restarted
server would, and the next server start must come up and serve.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp

from tests.support.wyoming_connection import WyomingConnection

from .crash_checks import CrashReport, check_data_dir
from .load_plan import ENGLISH, References
from .server_process import REPO, ServerProcess, child_env
from .tiny_data import (
    CONSENT,
    ENROLLED_VOICES,
    STEADY_PIPER_ID,
    TinyCheckpointFiles,
    build_data_dir,
    clip_text,
    enrollment_clip,
    write_checkpoints,
)

CLIP_TEXT: Final = clip_text("mum")
SPEAKING_VOICES: Final = (*ENROLLED_VOICES, STEADY_PIPER_ID)
"""Voices the cycles speak with (never deleted, so their references stay valid)."""
CONVERTED_IDS: Final = ("conv-a", "conv-b")
SERVER_FLAGS: Final = ("--cache-size-mb", "4", "--max-concurrent", "2", "--threads", "1", "--max-loaded-models", "2")
_PROGRESS_RE: Final = re.compile(r"^\[(\d+)/(\d+)\]")
_TIMEOUT_S: Final = 300.0


@dataclass
class _Op:
    kind: str
    started: float | None = None
    finished: float | None = None
    result: Any = None


class _Run:
    """State shared by the cycles of one run."""

    def __init__(self, data_dir: Path, checkpoints: TinyCheckpointFiles, seed: int) -> None:
        self.data_dir = data_dir
        self.checkpoints = checkpoints
        self.rng = random.Random(seed)
        self.report = CrashReport()
        self.references = References(data_dir, threads=1)
        self.clip = data_dir.parent / "clip.wav"
        self.clip.write_bytes(enrollment_clip("mum"))
        self.spoken: list[tuple[str, str, int]] = []
        self.acked_enrolled: set[str] = set()
        self.acked_deleted: set[str] = set()
        self.base_revisions: dict[str, str] = {}
        self.checked_voices: set[str] = set()
        self.server_window_s = 0.0
        self.fine_tune_window_s = 0.0
        self.next_seed = 5000
        self.counter = 0

    # ----- checks ------------------------------------------------------------------------------

    def problem(self, context: str, message: str) -> None:
        """Record a problem (each distinct one once, with where it was first seen)."""
        self.report.problems.setdefault(message, context)

    def check(self, context: str, must_have_models: tuple[str, ...] = ()) -> None:
        state = check_data_dir(self.data_dir)
        self.report.last_state = state
        problems = list(state.problems)
        if not self.base_revisions:
            self.base_revisions = {v: state.voices[v] for v in ENROLLED_VOICES}
        for voice, revision in self.base_revisions.items():
            if state.voices.get(voice) != revision:
                problems.append(f"untouched voice {voice} changed or vanished")
        problems += [f"acknowledged enrollment {v} is gone" for v in self.acked_enrolled - set(state.voices)]
        problems += [f"acknowledged deletion {v} is back" for v in self.acked_deleted & set(state.voices)]
        problems += [f"model {m} vanished" for m in must_have_models if m not in state.models]
        for voice in sorted(set(state.voices) - self.checked_voices):
            try:  # a voice that survived must speak: its prompt and model are whole
                self.references.pcm_for(voice, "Hello there.", 1)
                self.checked_voices.add(voice)
            except Exception as err:
                problems.append(f"voice {voice} is listed but cannot speak: {err!r}")
        for message in problems:
            self.problem(context, message)

    # ----- server cycles -----------------------------------------------------------------------

    async def _enroll(self, server: ServerProcess, op: _Op) -> None:
        self.counter += 1
        op.started = time.monotonic()
        status, body = await server.enroll(f"Voice {self.counter}", self.clip.read_bytes(), CLIP_TEXT)
        op.finished = time.monotonic()
        if status != 201:
            raise RuntimeError(f"enrollment answered {status}: {body}")
        self.acked_enrolled.add(body["voice"]["id"])

    async def _delete(self, server: ServerProcess, op: _Op, voice: str) -> None:
        headers = {"Authorization": f"Bearer {server.token}"}
        async with aiohttp.ClientSession() as session:
            op.started = time.monotonic()
            async with session.delete(f"{server.http_url}/api/voices/{voice}", headers=headers) as response:
                op.finished = time.monotonic()
                status = response.status
        if status != 204:
            raise RuntimeError(f"deleting {voice} answered {status}")
        self.acked_enrolled.discard(voice)
        self.acked_deleted.add(voice)

    async def _speak(self, server: ServerProcess, op: _Op) -> None:
        voice, text, seed = self.rng.choice(SPEAKING_VOICES), self.rng.choice(ENGLISH), self.next_seed
        self.next_seed += 1
        connection = await WyomingConnection.open(server.wyoming_port)
        try:
            op.started = time.monotonic()
            _rate, pcm = await connection.speak(voice, text, seed)
            op.finished = time.monotonic()
        finally:
            await connection.close()
        if pcm != self.references.pcm_for(voice, text, seed):
            raise RuntimeError(f"{voice} said {text!r} (seed {seed}) wrongly before any kill")
        self.spoken.append((voice, text, seed))

    async def _replay(self, server: ServerProcess) -> None:
        """Texts spoken before the kill, again: whatever the cache holds must be whole and right."""
        before = (await server.metrics()).get("edge_tts_clone_cache_hits_total", 0.0)
        for voice, text, seed in self.rng.sample(self.spoken, min(3, len(self.spoken))):
            connection = await WyomingConnection.open(server.wyoming_port)
            try:
                _rate, pcm = await connection.speak(voice, text, seed)
            finally:
                await connection.close()
            self.report.replays += 1
            if pcm != self.references.pcm_for(voice, text, seed):
                self.problem("replay", f"after a restart, {voice} {text!r} seed {seed} came back different")
        self.report.replay_cache_hits += (await server.metrics()).get("edge_tts_clone_cache_hits_total", 0.0) - before

    async def server_cycle(self, kill: bool) -> None:
        server = await ServerProcess.start(self.data_dir, *SERVER_FLAGS)
        self.report.restarts += 1
        ops: list[_Op] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            await self._replay(server)
            enroll_window = self.server_window_s or 1.0
            deletable = sorted(
                set(self.report.last_state.voices if self.report.last_state else {}) - set(ENROLLED_VOICES)
            )
            plans: list[tuple[float, _Op, Callable[[_Op], Awaitable[None]]]] = [
                (0.0, _Op("enrollment"), lambda op: self._enroll(server, op))
            ]
            if deletable:
                victim = self.rng.choice(deletable)
                self.acked_enrolled.discard(victim)  # from now on either state is right (until a 204)
                plans.append(
                    (self.rng.uniform(0, enroll_window), _Op("deletion"), lambda op: self._delete(server, op, victim))
                )
            for _ in range(2):
                plans.append((self.rng.uniform(0, enroll_window), _Op("synthesis"), lambda op: self._speak(server, op)))
            launched = time.monotonic()
            for offset, op, action in plans:
                ops.append(op)
                tasks.append(asyncio.get_running_loop().create_task(_after(offset, action, op)))
            if kill:
                await asyncio.sleep(self.rng.uniform(0.0, self.server_window_s * 1.1))
                await server.kill()
                self.report.server_kills += 1
            else:
                await asyncio.gather(*tasks)
                self.server_window_s = max(self.server_window_s, time.monotonic() - launched)
        finally:
            await server.kill()
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for op, result in zip(ops, results, strict=True):
            if op.finished is not None:
                self.report.completed[op.kind] += 1
            elif op.started is not None:
                self.report.in_flight[op.kind] += 1
            if isinstance(result, BaseException) and (not kill or op.finished is not None):
                self.problem("server cycle", f"{op.kind} failed before any kill: {result!r}")
        self.check(f"server kill {self.report.server_kills}" if kill else "server run")

    # ----- conversion cycles -------------------------------------------------------------------

    async def convert_cycle(self, kill: bool) -> None:
        model_id = self.rng.choice(CONVERTED_IDS)
        replacing = (self.data_dir / "models" / model_id).is_dir()
        c = self.checkpoints
        args = ["convert", "--gpt", str(c.gpt), "--sovits", str(c.sovits), "--hubert", str(c.hubert)]
        args += [
            "--out",
            str(self.data_dir / "models" / model_id),
            "--precision",
            "fp32",
            *(["--force"] if replacing else []),
        ]
        process = await _spawn(args)
        assert process.stderr is not None
        kill_step = self.rng.randint(1, 7) if kill else None
        killed = False
        while line := (await asyncio.wait_for(process.stderr.readline(), _TIMEOUT_S)).decode(errors="replace"):
            match = _PROGRESS_RE.match(line)
            if match and kill_step is not None and int(match.group(1)) >= min(kill_step, int(match.group(2))):
                await asyncio.sleep(self.rng.uniform(0.0, 1.0))
                killed = await _kill(process)
                break
        code = await process.wait()
        self._count_conversion("conversion" + (" replacing a model" if replacing else ""), killed, code)
        self.check(f"conversion kill {self.report.conversion_kills}", must_have_models=(model_id,) if replacing else ())

    async def fine_tune_cycle(self, kill: bool) -> None:
        self.counter += 1
        c = self.checkpoints
        args = ["voices", "add", "--data-dir", str(self.data_dir), "--name", f"Tune {self.counter}"]
        args += ["--audio", str(self.clip), "--language", "en", "--consent", CONSENT]
        args += ["--text", CLIP_TEXT]
        args += ["--gpt", str(c.gpt), "--sovits", str(c.sovits), "--hubert-dir", str(c.hubert)]
        started = time.monotonic()
        process = await _spawn(args)
        killed = False
        if kill:
            # Most of the first quarter is imports (nothing written yet): aim past it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), self.rng.uniform(0.25, 1.0) * self.fine_tune_window_s)
            killed = await _kill(process)
        code = await asyncio.wait_for(process.wait(), _TIMEOUT_S)
        if not killed and code == 0:  # the machine's speed changes: keep the window at the latest whole run
            self.fine_tune_window_s = time.monotonic() - started
        self._count_conversion("fine-tune conversion + enrollment", killed, code)
        self.check(f"fine-tune kill {self.report.conversion_kills}")
        self._forget_fine_tunes()

    def _forget_fine_tunes(self) -> None:
        """Delete the fine-tuned voices and models, so every later check stays as cheap as the first."""
        from wyoming_server.voices.folder_library import open_library

        library = open_library(self.data_dir, max_loaded_models=1, threads=1)
        for pack in library.voices():
            if pack.model_id.endswith("-ft"):
                library.remove(pack.id)
                if self.report.last_state is not None:
                    self.report.last_state.voices.pop(pack.id, None)
        for folder in (self.data_dir / "models").glob("*-ft"):
            shutil.rmtree(folder)

    def _count_conversion(self, kind: str, killed: bool, code: int) -> None:
        if killed:
            self.report.conversion_kills += 1
            self.report.in_flight[kind] += 1
        elif code == 0:
            self.report.completed[kind] += 1
        else:
            self.problem("conversion", f"{kind} exited with {code} without a kill")


async def _after(delay_s: float, action: Callable[[_Op], Awaitable[None]], op: _Op) -> None:
    await asyncio.sleep(delay_s)
    await action(op)


async def _spawn(args: list[str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wyoming_server",
        *args,
        cwd=REPO,
        env=child_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def _kill(process: asyncio.subprocess.Process) -> bool:
    """SIGKILL unless it has already finished; True when it was killed."""
    if process.returncode is not None:
        return False
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    return await process.wait() < 0


async def run_crash(
    data_dir: Path,
    checkpoints: TinyCheckpointFiles,
    *,
    server_kills: int,
    conversion_kills: int,
    fine_tunes: bool = True,
    seed: int = 6,
    progress: bool = False,
) -> CrashReport:
    """Calibrate (one uninterrupted run of each kind used), then kill until the counts are reached.

    Conversion kills alternate between `convert` and, with `fine_tunes`, `voices add --gpt --sovits`.
    """
    run = _Run(data_dir, checkpoints, seed)
    run.check("before any kill")
    await run.server_cycle(kill=False)
    if conversion_kills:
        await run.convert_cycle(kill=False)  # leaves a model for later runs to replace (--force)
    report = run.report
    while report.server_kills < server_kills or report.conversion_kills < conversion_kills:
        server_due = report.server_kills * max(conversion_kills, 1) <= report.conversion_kills * max(server_kills, 1)
        if report.server_kills < server_kills and (server_due or report.conversion_kills >= conversion_kills):
            await run.server_cycle(kill=True)
        elif fine_tunes and report.conversion_kills % 2 == 1:
            if not run.fine_tune_window_s:
                await run.fine_tune_cycle(kill=False)
            await run.fine_tune_cycle(kill=True)
        else:
            await run.convert_cycle(kill=True)
        if progress:
            print(
                f"kills: server {report.server_kills}/{server_kills}, "
                f"conversion {report.conversion_kills}/{conversion_kills}; problems {len(report.problems)}",
                file=sys.stderr,
                flush=True,
            )
    await run.server_cycle(kill=False)  # after everything: the server starts and serves
    return report


def main(argv: list[str] | None = None) -> int:
    """The command: a fresh tiny data folder, the kills, the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-kills", type=int, default=70, help="SIGKILLs of the server")
    parser.add_argument("--conversion-kills", type=int, default=30, help="SIGKILLs of converting CLI processes")
    parser.add_argument("--seed", type=int, default=6, help="seed of the kill moments")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="crash-kill-") as scratch:
        root = Path(scratch)
        checkpoints = write_checkpoints(root / "checkpoints")
        data_dir = build_data_dir(root / "data", checkpoints=checkpoints)
        report = asyncio.run(
            run_crash(
                data_dir,
                checkpoints,
                server_kills=args.server_kills,
                conversion_kills=args.conversion_kills,
                seed=args.seed,
                progress=True,
            )
        )
    print(report.summary())
    return 0 if not report.problems else 1


if __name__ == "__main__":
    sys.exit(main())
