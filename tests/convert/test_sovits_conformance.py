"""Conformance: files written by upstream GPT-SoVITS's own code go through our modules and graphs unchanged.

The fixtures live outside the repository (the `upstream_fixtures` fixture says where it looks);
without them these tests are skipped, and the run's summary says why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.support.tiny_models.sovits_folder import convert_sovits_folder, sovits_model
from wyoming_server.convert.checkpoints import load_sovits_checkpoint
from wyoming_server.convert.random_weights.sovits import REAL_SV_CHANNELS, write_tiny_sv
from wyoming_server.engine.gpt_sovits.prompt import build_voice_prompt
from wyoming_server.engine.gpt_sovits.sovits import SovitsDecoder

pytestmark = pytest.mark.slow


def test_tiny_v2_converts_and_speaks(upstream_fixtures: Path, tmp_path: Path) -> None:
    checkpoint = load_sovits_checkpoint(upstream_fixtures / "tiny-v2" / "sovits.pth")
    assert (checkpoint.version, checkpoint.header) == ("v2", b"PK")
    hubert = upstream_fixtures / "tiny-v2" / "chinese-hubert-base"
    results = convert_sovits_folder(tmp_path / "model", checkpoint.path, hubert, None, int8=True)
    assert set(results) == {"vits_decoder", "ref_embedder", "prompt_extractor"}
    assert all(r.max_abs_error <= 1e-4 for r in results.values())
    # INT8 decoder vs fp32 on the converter's random inputs: measured 29.3 dB (the convolutions' INT8
    # does not depend on the CPU's kernels; see tests/engine/gpt_sovits/test_sovits_decoder.py).
    assert results["vits_decoder"].int8_error["snr_db"] >= 15.0
    model = sovits_model(tmp_path / "model")
    clip, rate = sf.read(upstream_fixtures / "tiny-v2" / "ref_32k.wav", dtype="float32")
    prompt = build_voice_prompt(clip, rate, "你好", "zh", model)
    assert prompt.semantic.shape == ((((clip.shape[0] // 2 + 9600) - 400) // 320 + 1) // 2,)
    assert prompt.ge.shape == (1, 512, 1)
    decoder = SovitsDecoder(model)
    wave = decoder.decode(prompt.semantic[:30], prompt.phones, prompt.ge, 1.0, 0.5, np.random.default_rng(0))
    assert wave.shape == (30 * 1280,) and np.all(np.isfinite(wave))
    assert float(np.std(wave)) > 1e-4  # not silence (measured 0.0034)


def test_tiny_v2pro_converts_with_a_full_width_sv(upstream_fixtures: Path, tmp_path: Path) -> None:
    checkpoint = load_sovits_checkpoint(upstream_fixtures / "tiny-v2Pro" / "sovits.pth")
    assert (checkpoint.version, checkpoint.header) == ("v2Pro", b"05")
    # Upstream's sv_emb takes the released network's 20480-d map; ours has that width at minimal depth.
    sv_path = write_tiny_sv(tmp_path / "sv.ckpt", REAL_SV_CHANNELS, half=True)
    hubert = upstream_fixtures / "tiny-v2" / "chinese-hubert-base"
    results = convert_sovits_folder(tmp_path / "model", checkpoint.path, hubert, sv_path)
    assert set(results) == {"vits_decoder", "ref_embedder", "prompt_extractor", "sv_embedder"}
    assert all(r.max_abs_error <= 1e-4 for r in results.values())
    model = sovits_model(tmp_path / "model")
    clip, rate = sf.read(upstream_fixtures / "tiny-v2" / "ref_32k.wav", dtype="float32")
    prompt = build_voice_prompt(clip, rate, "Hello", "en", model)
    assert prompt.extras["sv_emb"].shape == (1, 20480)
    assert prompt.ge.shape == (1, 64, 1)
    wave = SovitsDecoder(model).decode(
        prompt.semantic[:20], prompt.phones, prompt.ge, 0.9, 0.0, np.random.default_rng(0)
    )
    assert wave.shape == ((int(40 / 0.9) + 1) * 640,)
    assert float(np.std(wave)) > 1e-4  # not silence (measured 0.0035)
