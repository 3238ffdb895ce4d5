"""Writes a tiny converted GPT-SoVITS v2 model and a reference clip for the emulated-Pi run (needs torch).

Usage: python -m tests.aarch64.make_tiny_model OUT_DIR  ->  OUT_DIR/tiny-v2/ and OUT_DIR/ref.wav
The conversion runs on the x86-64 host; the emulated Pi only loads and runs the graphs.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile
from numpy.typing import NDArray

REF_RATE_HZ = 24000


def reference_buzz() -> NDArray[np.float32]:
    """A 4 s voiced buzz (the shape of a reference clip, as tests/conftest.py's `reference_clip`)."""
    t = np.arange(4 * REF_RATE_HZ) / REF_RATE_HZ
    f0 = 140 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / REF_RATE_HZ
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
    buzz: NDArray[np.float32] = (0.3 * voiced / np.max(np.abs(voiced))).astype(np.float32)
    return buzz


def main(out_dir: Path) -> int:
    """Convert tiny random-weight checkpoints into `out_dir/tiny-v2` and write `out_dir/ref.wav`."""
    from wyoming_server.convert.pipeline import convert_model
    from wyoming_server.convert.random_weights.frozen_nets import write_tiny_hubert
    from wyoming_server.convert.random_weights.gpt import write_tiny_gpt
    from wyoming_server.convert.random_weights.sovits import write_tiny_sovits

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        gpt = write_tiny_gpt(root / "gpt.ckpt")
        sovits = write_tiny_sovits(root / "sovits_v2.pth", version="v2")
        hubert = write_tiny_hubert(root / "chinese-hubert-base")
        convert_model(gpt, sovits, hubert, out_dir / "tiny-v2", precision="both")
    soundfile.write(out_dir / "ref.wav", reference_buzz(), REF_RATE_HZ)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.aarch64.make_tiny_model OUT_DIR")
    sys.exit(main(Path(sys.argv[1])))
