"""The model pool: LRU bound, reload after a change on disk, one load per model under concurrency."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.tiny_models.model_folders import copy_model_folder
from tests.support.voices import fake_engine, make_store, request, write_fake_model
from wyoming_server.engine import SynthesisOptions
from wyoming_server.engine.errors import ModelLoadError
from wyoming_server.voices.folder_library import GPT_SOVITS_KEY
from wyoming_server.voices.pool import LoadedModel, ModelPool


def _pool(max_loaded: int, versions: dict[str, int], loads: list[str]) -> ModelPool:
    def loader(key: str) -> LoadedModel:
        if key == "broken":
            raise ModelLoadError("model broken: file t2s_decoder.onnx is missing")
        loads.append(key)
        return LoadedModel(engine=fake_engine(key), model=key)

    return ModelPool(loader, lambda key: versions.get(key, 0), max_loaded)


def test_lru_bound_evicts_the_least_recently_used() -> None:
    loads: list[str] = []
    pool = _pool(2, {}, loads)
    a = pool.get("a")
    pool.get("b")
    assert pool.get("a") is a  # a is now the most recent
    pool.get("c")  # evicts b
    assert pool.loaded_keys() == ["a", "c"] and pool.loaded_models() == 2
    pool.get("b")  # reloaded, evicts a
    assert loads == ["a", "b", "c", "b"] and pool.loaded_keys() == ["c", "b"]


def test_a_full_pool_unloads_before_it_loads_the_next_model() -> None:
    """Issue 17: four people and a pool of two must never hold three models while one loads."""
    held_while_loading: list[int] = []
    pool: ModelPool

    def loader(key: str) -> LoadedModel:
        held_while_loading.append(pool.loaded_models())
        return LoadedModel(engine=fake_engine(key), model=key)

    pool = ModelPool(loader, lambda key: 0, 2)
    for key in ("a", "b", "c", "d", "a", "b"):
        pool.get(key)
        assert pool.loaded_models() <= 2
    assert held_while_loading == [0, 1, 1, 1, 1, 1]
    assert pool.loaded_keys() == ["a", "b"]


def test_a_model_changed_on_disk_is_dropped_before_its_reload() -> None:
    held_while_loading: list[list[str]] = []
    versions = {"a": 1}
    pool: ModelPool

    def loader(key: str) -> LoadedModel:
        held_while_loading.append(pool.loaded_keys())
        return LoadedModel(engine=fake_engine(key), model=key)

    pool = ModelPool(loader, lambda key: versions.get(key, 0), 2)
    pool.get("a")
    pool.get("b")
    versions["a"] = 2
    pool.get("a")
    assert held_while_loading == [[], ["a"], ["b"]]  # the old "a" is gone, and "b" stays
    assert pool.loaded_keys() == ["b", "a"]


def test_changed_fingerprint_reloads_on_next_use() -> None:
    loads: list[str] = []
    versions = {"a": 1}
    pool = _pool(2, versions, loads)
    first = pool.get("a")
    assert pool.get("a") is first
    versions["a"] = 2
    second = pool.get("a")
    assert second is not first and loads == ["a", "a"] and pool.loaded_models() == 1


def test_failed_load_is_not_cached() -> None:
    pool = _pool(2, {}, [])
    with pytest.raises(ModelLoadError, match=r"t2s_decoder\.onnx is missing"):
        pool.get("broken")
    assert pool.loaded_models() == 0


def test_concurrent_gets_load_once() -> None:
    loads: list[str] = []
    pool = _pool(2, {}, loads)
    barrier = threading.Barrier(8)
    results: list[LoadedModel] = []

    def get() -> None:
        barrier.wait()
        results.append(pool.get("a"))

    threads = [threading.Thread(target=get) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["a"] and all(r is results[0] for r in results)


def test_library_pool_bound_and_reconverted_model(data_dir: Path, good_wav: bytes) -> None:
    for model_id in ("m1", "m2", "m3"):
        write_fake_model(data_dir, model_id)
    library = make_store(data_dir, max_loaded_models=2)
    packs = [library.enroll(request(good_wav, name=m, model_id=m))[0] for m in ("m1", "m2", "m3")]
    for pack in packs:
        list(library.synthesize(pack, None, "Hi.", SynthesisOptions()))
    assert library.loaded_models() == 2
    assert library.pool.loaded_keys() == [GPT_SOVITS_KEY + "m2", GPT_SOVITS_KEY + "m3"]
    loads = library.pool.loads
    # The converter writes a new folder and swaps it in: a new manifest inode, so the next use reloads.
    manifest = data_dir / "models" / "m3" / "manifest.json"
    replacement = manifest.with_name("manifest.new")
    replacement.write_text(manifest.read_text(encoding="utf-8"), encoding="utf-8")
    replacement.replace(manifest)
    list(library.synthesize(library.resolve("m3"), None, "Hi.", SynthesisOptions()))
    assert library.pool.loads == loads + 1


def test_truncated_graph_is_noticed_on_next_use(data_dir: Path, good_wav: bytes) -> None:
    graph = data_dir / "models" / "v2pro" / "t2s_decoder.onnx"
    graph.write_bytes(b"x" * 1000)
    library = make_store(data_dir)
    pack, _ = library.enroll(request(good_wav))
    list(library.synthesize(pack, None, "Hi.", SynthesisOptions()))
    loads = library.pool.loads
    with graph.open("r+b") as f:
        f.truncate(10)
    list(library.synthesize(pack, None, "Hi.", SynthesisOptions()))
    assert library.pool.loads == loads + 1  # the real loader would now fail with a clear ModelLoadError


def test_stock_voice_from_several_threads(tmp_path: Path) -> None:
    """espeak-ng is not thread-safe: the engine serializes phonemization, synthesis runs in parallel."""
    library = make_store(tmp_path)
    voice = library.resolve(None)
    barrier = threading.Barrier(4)
    levels: list[float] = []

    def speak(number: int) -> None:
        barrier.wait()
        chunks = library.synthesize(voice, None, f"Request number {number}. It is ready.", SynthesisOptions())
        audio = np.concatenate([c.samples for c in chunks])
        levels.append(float(np.sqrt(np.mean(audio**2))))

    threads = [threading.Thread(target=speak, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(levels) == 4 and min(levels) > 0.02 and library.loaded_models() == 1


def test_warm_up_loads_the_default_voice_only(data_dir: Path, good_wav: bytes) -> None:
    for model_id in ("m1", "m2"):
        write_fake_model(data_dir, model_id)
    enrolling = make_store(data_dir)
    first = enrolling.enroll(request(good_wav, name="first", model_id="m1"))[0]
    enrolling.enroll(request(good_wav, name="second", model_id="m2"))
    library = make_store(data_dir)  # as at a server start
    assert library.loaded_models() == 0
    library.warm_up()
    assert library.pool.loaded_keys() == [GPT_SOVITS_KEY + "m1"] and library.default_voice() == first
    loads = library.pool.loads
    list(library.synthesize(first, None, "Hi.", SynthesisOptions()))
    assert library.pool.loads == loads


def test_warm_up_checks_every_model_so_a_later_switch_hashes_nothing(
    data_dir: Path, good_wav: bytes, tiny_model_v2: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: hashing a real model's 300 MB took 0.6 s of a 1.7 s switch; start-up does it instead."""

    from wyoming_server.engine.gpt_sovits import manifest as manifest_module
    from wyoming_server.engine.gpt_sovits.model import GptSoVitsModel

    write_fake_model(data_dir, "m1")
    make_store(data_dir).enroll(request(good_wav, name="first", model_id="m1"))
    person = data_dir / "models" / "dad"
    copy_model_folder(tiny_model_v2, person)
    hashed: list[str] = []
    real_sha256 = manifest_module.sha256_file

    def counting_sha256(path: Path, chunk_bytes: int = 1 << 20) -> str:
        hashed.append(path.name)
        return real_sha256(path, chunk_bytes)

    monkeypatch.setattr(manifest_module, "sha256_file", counting_sha256)
    library = make_store(data_dir)
    library.warm_up()
    assert library.pool.loaded_keys() == [GPT_SOVITS_KEY + "m1"]  # only the default voice is loaded ...
    assert sorted(hashed) == sorted(manifest_module.Manifest.read(person).files)  # ... but dad's files are checked
    hashed.clear()
    GptSoVitsModel.load(person)
    assert hashed == []


def test_an_evicted_model_is_freed_at_once(tiny_model_v2: Path, reference_clip: tuple[Any, int]) -> None:
    """Issue 17: with a pool of two, a third person's model must replace, not join, the evicted one's memory:
    no reference cycle may keep the evicted engine and its sessions alive until a garbage collection."""
    import gc
    import weakref

    from wyoming_server.engine.gpt_sovits.model import GptSoVitsModel
    from wyoming_server.engine.gpt_sovits.prompt import build_voice_prompt
    from wyoming_server.voices.folder_library import load_gpt_sovits

    samples, rate_hz = reference_clip
    prompt = build_voice_prompt(samples, rate_hz, "这是一段参考音频。", "zh", GptSoVitsModel.load(tiny_model_v2))
    alive: dict[str, weakref.ref[object]] = {}

    def loader(key: str) -> LoadedModel:
        loaded = load_gpt_sovits(tiny_model_v2, 1)
        alive[key] = weakref.ref(loaded.engine)
        return loaded

    pool = ModelPool(loader, lambda key: 0, 2)
    gc.disable()
    try:
        for key in ("mum", "dad", "gran"):
            options = SynthesisOptions(seed=1, max_tokens=16)
            for _chunk in pool.get(key).engine.synthesize("晚饭好了。", prompt, options, threading.Event()):
                pass
        assert alive["mum"]() is None and alive["dad"]() is not None and alive["gran"]() is not None
    finally:
        gc.enable()
