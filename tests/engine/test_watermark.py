"""Watermark: marked clips are detected after each transform, unmarked ones are not; key handling."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.support.voices import stock_speech
from wyoming_server.bench.watermark import TRANSFORMS
from wyoming_server.engine.audio import resample, snr_db
from wyoming_server.engine.watermark import (
    DETECTION_THRESHOLD,
    KEY_FILE,
    WatermarkKey,
    WatermarkStream,
    detect,
    embed,
    load_or_create_key,
)

KEY = WatermarkKey(bytes(range(32)))
OTHER = WatermarkKey(bytes(range(1, 33)))
TEXTS = (
    "The washing machine has finished its cycle.",
    "Your package has arrived and is waiting at the front door.",
    "Remember to take the bins out before Thursday morning.",
)


@pytest.fixture(scope="module")
def clips() -> list[NDArray[np.float32]]:
    """Three speech clips at 32 kHz (the GPT-SoVITS output rate)."""
    out = []
    for text in TEXTS:
        samples, rate = stock_speech(text)
        out.append(resample(samples, rate, 32000))
    return out


@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_detection_after_transform(clips: list[NDArray[np.float32]], transform: str) -> None:
    apply = TRANSFORMS[transform]
    for clip in clips:
        marked = detect(*apply(embed(clip, 32000, KEY), 32000), KEY)
        plain = detect(*apply(clip, 32000), KEY)
        foreign = detect(*apply(embed(clip, 32000, OTHER), 32000), KEY)
        assert marked.marked and marked.score >= DETECTION_THRESHOLD, marked
        assert not plain.marked and plain.score < 5.5, plain
        assert not foreign.marked and foreign.score < 5.5, foreign


def test_mark_is_well_below_the_speech(clips: list[NDArray[np.float32]]) -> None:
    for clip in clips:
        assert snr_db(clip, embed(clip, 32000, KEY)) > 22.0


def test_stream_of_chunks_keeps_one_mark(clips: list[NDArray[np.float32]]) -> None:
    """Chunks marked one by one (as the library does), joined, cropped at an odd offset, then MP3."""
    stream = WatermarkStream(KEY, 22050)
    pieces = [stream.mark(resample(clip, 32000, 22050)) for clip in clips]
    joined = np.concatenate(pieces)[1234:]
    result = detect(*TRANSFORMS["mp3-64k"](joined, 22050), KEY)
    assert result.marked and result.score > 12.0


def test_short_and_silent_clips_are_not_scored() -> None:
    short = detect(np.full(8000, 0.1, dtype=np.float32), 16000, KEY)
    assert not short.marked and short.reason == "clip shorter than 1 s"
    silent = detect(np.zeros(32000, dtype=np.float32), 16000, KEY)
    assert not silent.marked and silent.reason == "clip is silent"


def test_rates_that_are_not_a_multiple_of_25_hz_are_refused() -> None:
    with pytest.raises(ValueError, match="multiple of 25 Hz"):
        WatermarkStream(KEY, 11111)


def test_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key.secret) == 32
    assert load_or_create_key(tmp_path) == key
    assert len(key.fingerprint()) == 12 and key.fingerprint() not in path.read_text()
    path.write_text("zz", encoding="ascii")
    with pytest.raises(ValueError, match="is not a watermark key"):
        load_or_create_key(tmp_path)
