"""float32 -> s16le conversion (the one place it happens)."""

from __future__ import annotations

import numpy as np

from wyoming_server.engine.audio import float_to_pcm16


def test_scale_rounding_and_byte_order() -> None:
    samples = np.array([0.0, 1.0, -1.0, 0.5, -0.5, 1 / 32767 * 0.6], dtype=np.float32)
    assert np.frombuffer(float_to_pcm16(samples), dtype="<i2").tolist() == [
        0,
        32767,
        -32767,
        16384,
        -16384,
        1,
    ]
    assert float_to_pcm16(np.array([1.0], dtype=np.float32)) == b"\xff\x7f"


def test_out_of_range_values_clip_instead_of_wrapping() -> None:
    samples = np.array([1.5, -3.0, np.inf, -np.inf, np.nan], dtype=np.float32)
    assert np.frombuffer(float_to_pcm16(samples), dtype="<i2").tolist() == [32767, -32767, 32767, -32767, 0]


def test_two_bytes_per_sample() -> None:
    assert len(float_to_pcm16(np.zeros(1023, dtype=np.float32))) == 2046
