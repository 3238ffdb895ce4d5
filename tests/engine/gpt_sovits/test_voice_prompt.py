"""Enrollment: reference clip + transcript -> VoicePrompt, through the real tiny graphs."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from tests.support.tiny_models.sovits_folder import TINY_BERT_HIDDEN, cached_sovits_folder, sovits_model
from wyoming_server.convert.checkpoints import load_sovits_checkpoint
from wyoming_server.convert.sovits_export import PromptExtractor
from wyoming_server.convert.torch_modules.bert import load_bert
from wyoming_server.convert.torch_modules.hubert import load_hubert
from wyoming_server.convert.torch_modules.sovits import build_sovits_modules
from wyoming_server.engine import ReferenceAudioError, TextError, VoicePrompt
from wyoming_server.engine.audio import resample
from wyoming_server.engine.gpt_sovits.bert import BertFeaturizer
from wyoming_server.engine.gpt_sovits.prompt import build_voice_prompt
from wyoming_server.engine.gpt_sovits.reference import linear_spectrogram
from wyoming_server.engine.gpt_sovits.text import Phones, to_phones
from wyoming_server.importer.calibration import synthetic_voice


class RecordingFrontend:
    """The real text frontend, recording what it is asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, text: str, language: str) -> Phones:
        self.calls.append((text, language))
        return to_phones(text, language)

pytestmark = pytest.mark.slow


def _clip(seconds: float, rate_hz: int = 32000, seed: int = 0) -> NDArray[np.float32]:
    return synthetic_voice(seconds, rate_hz, seed)


def test_v2_prompt_matches_the_torch_modules() -> None:
    folder = cached_sovits_folder("v2")
    model = sovits_model(folder)
    frontend = RecordingFrontend()
    clip = _clip(5.0, 44100)
    prompt = build_voice_prompt(clip, 44100, "你好，欢迎回家", "zh", model, frontend=frontend)
    assert frontend.calls == [("你好，欢迎回家。", "zh")]  # upstream ends the prompt text with 。
    assert prompt.phones.dtype == np.int64 and prompt.phones.shape == (14,)
    assert prompt.bert.shape == (1024, 14) and not prompt.bert.any()  # no bert graph: zeros
    assert prompt.model_id == "model" and prompt.extras == {} and not prompt.ref_free
    clip_16k = resample(clip, 44100, 16000)
    tail = np.concatenate([clip_16k, np.zeros(9600, np.float32)])
    assert prompt.semantic.shape == (((tail.shape[0] - 400) // 320 + 1) // 2,)
    modules = build_sovits_modules(load_sovits_checkpoint(folder.sovits_path))
    extractor = PromptExtractor(load_hubert(folder.hubert_dir), modules.codebook)
    with torch.inference_mode():
        codes = extractor(torch.from_numpy(tail)[None]).numpy()
        ge = modules.ref_embedder(torch.from_numpy(linear_spectrogram(resample(clip, 44100, 32000)))).numpy()
    np.testing.assert_array_equal(prompt.semantic, codes)
    assert prompt.ge.shape == (1, 16, 1) and prompt.ge.dtype == np.float32
    np.testing.assert_allclose(prompt.ge, ge, atol=1e-4)


@pytest.mark.parametrize("version", ["v2Pro", "v2ProPlus"])
def test_v2pro_prompt_carries_the_sv_embedding(version: str) -> None:
    model = sovits_model(cached_sovits_folder(version))
    prompt = build_voice_prompt(_clip(4.0), 32000, "Hello there", "en", model, frontend=RecordingFrontend())
    sv_emb = prompt.extras["sv_emb"]
    assert sv_emb.shape == (1, 640) and sv_emb.dtype == np.float32 and np.all(np.isfinite(sv_emb))
    assert prompt.ge.shape == (1, 24, 1)
    buffer = io.BytesIO()
    np.savez(buffer, **prompt.to_npz_dict())  # type: ignore[arg-type]  # numpy stubs type **kwds as allow_pickle
    buffer.seek(0)
    with np.load(buffer) as arrays:
        restored = VoicePrompt.from_npz_dict(dict(arrays))
    np.testing.assert_array_equal(restored.extras["sv_emb"], sv_emb)
    assert restored.model_id == "model"


@pytest.mark.parametrize(("seconds", "ok"), [(2.9, False), (3.0, True), (9.9, True), (10.05, False)])
def test_three_to_ten_seconds_before_the_tail(seconds: float, ok: bool) -> None:
    model = sovits_model(cached_sovits_folder("v2"))
    clip = _clip(seconds, 48000)
    if ok:  # 9.9 s passes although 9.9 s + the 0.6 s tail would not
        assert build_voice_prompt(clip, 48000, "你好", "zh", model, frontend=RecordingFrontend()).semantic.size > 0
    else:
        with pytest.raises(
            ReferenceAudioError, match=rf"{seconds:.1f} s long; it must be between 3 and 10 seconds"
        ):
            build_voice_prompt(clip, 48000, "你好", "zh", model, frontend=RecordingFrontend())


def test_stereo_is_mixed_to_mono() -> None:
    model = sovits_model(cached_sovits_folder("v2"))
    left, right = _clip(3.5, seed=1), _clip(3.5, seed=2)
    stereo = build_voice_prompt(np.stack([left, right], axis=1), 32000, "", "zh", model)
    mono = build_voice_prompt((left + right) / 2, 32000, "", "zh", model)
    np.testing.assert_allclose(stereo.ge, mono.ge, atol=1e-6)


def test_empty_transcript_gives_a_reference_free_prompt() -> None:
    model = sovits_model(cached_sovits_folder("v2"))
    frontend = RecordingFrontend()
    prompt = build_voice_prompt(_clip(4.0), 32000, "   ", "zh", model, frontend=frontend)
    assert prompt.ref_free and frontend.calls == []
    assert prompt.phones.shape == (0,) and prompt.semantic.shape == (0,)
    assert prompt.bert.shape == (1024, 0)
    assert prompt.ge.shape == (1, 16, 1) and np.any(prompt.ge != 0)


def test_unusable_clips_and_transcripts_are_rejected() -> None:
    model = sovits_model(cached_sovits_folder("v2"))
    with pytest.raises(ReferenceAudioError, match="silent"):
        build_voice_prompt(np.zeros(64000, np.float32), 16000, "你好", "zh", model, frontend=RecordingFrontend())
    with pytest.raises(ReferenceAudioError, match="float samples"):
        build_voice_prompt(np.ones(64000, np.int16), 16000, "你好", "zh", model, frontend=RecordingFrontend())
    with pytest.raises(ReferenceAudioError, match=r"\(frames, channels\)"):
        build_voice_prompt(
            np.zeros((2, 64000), np.float32) + 0.1, 16000, "你好", "zh", model, frontend=RecordingFrontend()
        )
    bad = _clip(4.0)
    bad[100] = np.nan
    with pytest.raises(ReferenceAudioError, match="NaN"):
        build_voice_prompt(bad, 32000, "你好", "zh", model, frontend=RecordingFrontend())
    with pytest.raises(TextError, match="nothing that can be spoken"):
        build_voice_prompt(
            _clip(4.0),
            32000,
            "###",
            "zh",
            model,
            frontend=lambda t, lang: Phones(segments=(), symbols=(), ids=np.zeros(0, np.int64)),
        )


def test_bert_features_expand_zh_and_zero_other_languages() -> None:
    folder = cached_sovits_folder("v2", bert=True)
    assert folder.bert_dir is not None
    featurizer = BertFeaturizer(sovits_model(folder))
    assert featurizer.enabled and featurizer.dim == TINY_BERT_HIDDEN
    phones = to_phones("你好hello天气雪.", "zh")  # 雪 is not in the tiny vocabulary: [UNK]
    assert [seg.language for seg in phones.segments] == ["zh", "en", "zh"]
    n_zh_a, n_en, n_zh_b = (len(seg.phones) for seg in phones.segments)
    features = featurizer.features(phones)
    zh_b = phones.segments[2]
    assert zh_b.norm_text == "天气雪."
    assert features.shape == (TINY_BERT_HIDDEN, n_zh_a + n_en + n_zh_b)
    assert not features[:, n_zh_a : n_zh_a + n_en].any()  # the English segment
    model = load_bert(folder.bert_dir)
    vocab = (folder.model_dir / "bert_vocab.txt").read_text(encoding="utf-8").splitlines()
    ids = [vocab.index(t) for t in ("[CLS]", "天", "气", "[UNK]", ".", "[SEP]")]
    with torch.inference_mode():
        per_char = model(torch.tensor([ids])).numpy()  # (4, hidden)
    assert zh_b.word2ph is not None
    expected = np.repeat(per_char, zh_b.word2ph, axis=0).T
    np.testing.assert_allclose(features[:, n_zh_a + n_en :], expected, atol=1e-4)
    np.testing.assert_array_equal(features[:, 0], features[:, 1])  # 你 -> 2 phones, same row
    # Longer than the model's positions: split into calls of `max_chars` characters, nothing lost.
    assert featurizer.max_chars == 62
    long_text = to_phones("天气" * 50 + ".", "zh")
    assert featurizer.features(long_text).shape == (TINY_BERT_HIDDEN, 201)


def test_without_bert_graph_features_are_zeros() -> None:
    featurizer = BertFeaturizer(sovits_model(cached_sovits_folder("v2")))
    assert not featurizer.enabled
    phones = to_phones("天气", "zh")
    features = featurizer.features(phones)
    assert features.shape == (1024, phones.ids.size) and not features.any()
