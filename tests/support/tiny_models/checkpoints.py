"""Tiny random-weight checkpoints in the official formats, written and converted once per session.

The writers live in wyoming_server/convert/random_weights/ and need torch; server-only test runs never
import them. The root conftest imports the fixtures from here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


UPSTREAM_FIXTURES_ENV: Final = "EDGE_TTS_CLONE_UPSTREAM_FIXTURES"
UPSTREAM_FIXTURE_FILES: Final = (
    "tiny-v2/gpt.ckpt",
    "tiny-v2/sovits.pth",
    "tiny-v2/chinese-hubert-base/pytorch_model.bin",
    "tiny-v2/ref_32k.wav",
    "tiny-v2Pro/sovits.pth",
)
"""What the conformance tests read of the upstream-written fixtures (75 MB, outside the repository)."""


def _upstream_candidates() -> list[Path]:
    named = os.environ.get(UPSTREAM_FIXTURES_ENV, "")
    if named:
        return [Path(named)]
    return [REPO_ROOT.parent / "shared" / "fixtures" / "upstream-format", Path("/work/shared/fixtures/upstream-format")]


def upstream_fixtures_dir() -> Path | None:
    """The folder of upstream-written tiny checkpoints, when this machine has all of them."""
    for candidate in _upstream_candidates():
        if all((candidate / name).is_file() for name in UPSTREAM_FIXTURE_FILES):
            return candidate
    return None


@pytest.fixture(scope="session")
def upstream_fixtures() -> Path:
    """The upstream-written tiny checkpoints, or a skip that says where they were looked for.

    They are 75 MB outside the repository, so a clone elsewhere (a CI runner) may not have them: a
    missing environment asset must not turn every run red. The skip reason is printed in the run's
    summary (pytest -ra, tests/run_all.sh), so a skipped conformance check never reads as a pass. A
    folder named by $EDGE_TTS_CLONE_UPSTREAM_FIXTURES that lacks them is a mistake and fails.
    """
    found = upstream_fixtures_dir()
    if found is not None:
        return found
    looked = ", ".join(str(path) for path in _upstream_candidates())
    missing = f"the upstream-written fixtures ({', '.join(UPSTREAM_FIXTURE_FILES)}) are not in {looked}"
    if os.environ.get(UPSTREAM_FIXTURES_ENV):
        pytest.fail(f"{UPSTREAM_FIXTURES_ENV} is set, but {missing}", pytrace=False)
    pytest.skip(
        f"conformance with upstream-written files NOT checked: {missing}; set {UPSTREAM_FIXTURES_ENV} to the "
        "folder that has them (docs/development.md, Tests)"
    )


@dataclass(frozen=True)
class TinyCheckpoints:
    """Paths of one set of tiny official-format files."""

    gpt: Path
    sovits_v2: Path
    sovits_v2pro: Path
    sovits_v2proplus: Path
    hubert: Path
    sv: Path
    bert: Path


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> TinyCheckpoints:
    """Write tiny GPT/SoVITS/HuBERT/SV/BERT files once per test session."""
    from wyoming_server.convert.random_weights.gpt import write_tiny_gpt
    from wyoming_server.convert.random_weights.sovits import (
        write_tiny_bert,
        write_tiny_hubert,
        write_tiny_sovits,
        write_tiny_sv,
    )

    root = tmp_path_factory.mktemp("tiny-checkpoints")
    return TinyCheckpoints(
        gpt=write_tiny_gpt(root / "gpt.ckpt"),
        sovits_v2=write_tiny_sovits(root / "sovits_v2.pth", version="v2"),
        sovits_v2pro=write_tiny_sovits(root / "sovits_v2pro.pth", version="v2Pro"),
        sovits_v2proplus=write_tiny_sovits(root / "sovits_v2proplus.pth", version="v2ProPlus"),
        hubert=write_tiny_hubert(root / "chinese-hubert-base"),
        sv=write_tiny_sv(root / "sv.ckpt"),
        bert=write_tiny_bert(root / "chinese-roberta"),
    )


@pytest.fixture(scope="session")
def tiny_model_v2(tiny_checkpoints: TinyCheckpoints, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A converted v2 model folder (fp32 + INT8, with BERT)."""
    from wyoming_server.convert.pipeline import convert_model

    out = tmp_path_factory.mktemp("models") / "tiny-v2"
    c = tiny_checkpoints
    convert_model(c.gpt, c.sovits_v2, c.hubert, out, bert_dir=c.bert, precision="both")
    return out


@pytest.fixture(scope="session")
def tiny_model_v2pro(tiny_checkpoints: TinyCheckpoints, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A converted v2Pro model folder (fp32 + INT8, no BERT)."""
    from wyoming_server.convert.pipeline import convert_model

    out = tmp_path_factory.mktemp("models") / "tiny-v2pro"
    c = tiny_checkpoints
    convert_model(c.gpt, c.sovits_v2pro, c.hubert, out, sv=c.sv, precision="both")
    return out


@pytest.fixture(scope="session")
def reference_clip() -> tuple[object, int]:
    """A 4 s voiced buzz at 24 kHz stereo: not speech, but shaped like a reference clip."""
    import numpy as np

    rate_hz = 24000
    t = np.arange(4 * rate_hz) / rate_hz
    f0 = 140 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate_hz
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
    mono = (0.3 * voiced / np.max(np.abs(voiced))).astype(np.float32)
    return np.stack([mono, 0.8 * mono], axis=1), rate_hz


@pytest.fixture(scope="session")
def tiny_model_v2_eos(tiny_checkpoints: TinyCheckpoints, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A v2 model whose GPT always says EOS as soon as it may (after 11 tokens): short, real audio."""
    from tests.support.tiny_models.t2s import eos_forcing_weights
    from wyoming_server.convert.pipeline import convert_model
    from wyoming_server.convert.random_weights.gpt import write_tiny_gpt

    root = tmp_path_factory.mktemp("eos-model")
    gpt = write_tiny_gpt(root / "gpt.ckpt", weights=eos_forcing_weights())
    out = root / "v2"
    convert_model(gpt, tiny_checkpoints.sovits_v2, tiny_checkpoints.hubert, out, precision="both")
    return out
