"""Switching between people: first audio for a person whose model is not loaded, and peak RSS with several models.

A household has a fine-tuned model per person and a pool that keeps two loaded. A fresh child
process (the engine only, no torch) gets four model folders and a pool of two, as the server
builds it, and speaks one 10-character sentence per person in the order 1, 2, 3, 4, 1, 2: the
first two fill the pool (the peak RSS with two models), each later one evicts the least recently
used. After the first, every folder's files are checked, as the server's start-up does, so no
switch hashes them again. Every switch reports the time to first audio from the request, split
into checking the folder (manifest, and sha256 unless remembered), creating each graph's session,
and the warm-up.

The four folders are the benchmark's model hard-linked under four names. onnxruntime reads each
file into its own memory, so the RSS and load times are those of four different fine-tunes of the
same size; the files are in the page cache, as on a box that has spoken with them before.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from ..engine.gpt_sovits.shared_files import SHARED_FOLDER, shared_files_of

PEOPLE: Final = 4
POOL_SIZE: Final = 2
ORDER: Final = (0, 1, 2, 3, 0, 1)
"""Fills the pool with two people, then each switch evicts one."""
SENTENCE: Final = "晚饭好了，快来吃吧！我们"
"""Ten Chinese characters, as the warm first-audio figure uses."""
TOKENS: Final = 60
CHILD_TIMEOUT_S: Final = 900
PEOPLE_DIR: Final = "people"
_CHILD_CODE: Final = (
    "import json, sys; from pathlib import Path; from wyoming_server.bench.switching import child_report; "
    "print(json.dumps(child_report([Path(p) for p in sys.argv[5:]], Path(sys.argv[1]), int(sys.argv[2]), "
    "sys.argv[3], sys.argv[4])))"
)


def people_folders(model_dir: Path, root: Path, count: int = PEOPLE) -> list[Path]:
    """`count` model folders under `root`, each the files of `model_dir` hard-linked (copied where links fail)."""
    shutil.rmtree(root, ignore_errors=True)
    folders = []
    for index in range(count):
        folder = root / f"person-{index + 1}"
        folder.mkdir(parents=True)
        for source in sorted(p for p in model_dir.iterdir() if p.is_file()):
            _link_or_copy(source, folder / source.name)
        folders.append(folder)
    for source in shared_files_of(model_dir).values():  # the people enroll with the data folder's HuBERT
        (root / SHARED_FOLDER).mkdir(exist_ok=True)
        _link_or_copy(source, root / SHARED_FOLDER / source.name)
    return folders


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def child_report(
    model_dirs: list[Path], prompt_path: Path, threads: int, precision: str, provider: str
) -> dict[str, Any]:
    """In the child: a pool of two over `model_dirs`, one sentence per person in ORDER, figures per switch."""
    import numpy as np

    from ..engine import SynthesisOptions, VoicePrompt
    from ..engine.gpt_sovits.engine import GptSoVitsEngine
    from ..engine.gpt_sovits.manifest import Manifest
    from ..engine.gpt_sovits.model import GptSoVitsModel
    from ..voices.pool import LoadedModel, ModelPool
    from .timing import proc_status_mb

    loads: dict[str, dict[str, Any]] = {}

    def load(key: str) -> LoadedModel:
        started = time.perf_counter()
        model = GptSoVitsModel.load(Path(key), precision=precision, threads=threads, provider=provider)
        checked = time.perf_counter()
        engine = GptSoVitsEngine(model)  # creates the speaking sessions and warms them up, as the server's load
        loads[key] = {
            "check_s": checked - started,
            "graphs_s": dict(model.load_seconds),
            "warm_up_s": time.perf_counter() - checked - sum(model.load_seconds.values()),
            "load_s": time.perf_counter() - started,
        }
        return LoadedModel(engine=engine, model=model)

    pool = ModelPool(load, lambda key: 0, POOL_SIZE)
    with np.load(prompt_path) as arrays:
        # Every person speaks with the benchmark's prompt: their folders are the same model under other names.
        prompt = replace(VoicePrompt.from_npz_dict(dict(arrays)), model_id="")
    options = SynthesisOptions(seed=1, language="zh", max_tokens=TOKENS)
    switches: list[dict[str, Any]] = []
    after_two: dict[str, float] = {}
    for step, person in enumerate(ORDER):
        key = str(model_dirs[person])
        loads.pop(key, None)
        started = time.perf_counter()
        engine = pool.get(key).engine
        first_audio_s = None
        for _chunk in engine.synthesize(SENTENCE, prompt, options, threading.Event()):
            if first_audio_s is None:
                first_audio_s = time.perf_counter() - started
        del engine
        switches.append({
            "person": person + 1,
            "loaded": key in loads,
            **loads.get(key, {}),
            "first_audio_s": first_audio_s,
            "sentence_s": time.perf_counter() - started,
            "models_loaded": pool.loaded_models(),
            **proc_status_mb(),
        })
        if step == 0:  # as the server's start-up does after loading the default voice (`FolderLibrary.warm_up`)
            for folder in model_dirs:
                Manifest.read(folder).verify_files(folder)
        if step == 1:
            after_two = proc_status_mb()
    seen: set[int] = set()
    for switch in switches:  # a person's first load in the process also hashes their files
        switch["first_load"] = switch["person"] not in seen
        seen.add(switch["person"])
    later = [s for s in switches[1:] if s["loaded"]]  # the first includes the process's own start-up
    return {
        "switches": switches,
        "start_first_audio_s": switches[0]["first_audio_s"],
        "switch_first_audio_s": max(s["first_audio_s"] for s in later),
        "reload_first_audio_s": max((s["first_audio_s"] for s in later if not s["first_load"]), default=None),
        "two_models_peak_mb": after_two.get("VmHWM", float("nan")),
        "round_peak_mb": switches[-1].get("VmHWM", float("nan")),
        "people": len(model_dirs),
        "pool": POOL_SIZE,
        "torch_imported": "torch" in sys.modules,
    }


def measure_switching(
    model_dir: Path, prompt_path: Path, work_dir: Path, threads: int, provider: str, precision: str = "int8"
) -> dict[str, Any]:
    """Lay out the people's folders under `work_dir` and run the child; raises RuntimeError on failure."""
    folders = people_folders(model_dir, work_dir / PEOPLE_DIR)
    command = [sys.executable, "-c", _CHILD_CODE, str(prompt_path), str(threads), precision, provider]
    try:
        done = subprocess.run(
            [*command, *map(str, folders)], capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False
        )
    finally:
        shutil.rmtree(work_dir / PEOPLE_DIR, ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"the switching probe failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report
