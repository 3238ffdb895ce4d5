"""T2SDecoder on onnxruntime against our torch reference, on tiny converted models."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest
import torch

from tests.support.tiny_models.t2s import ConvertedT2S, Inputs
from wyoming_server.engine import SynthesisOptions
from wyoming_server.engine.errors import ModelLoadError, SynthesisCancelled, TextError, VoicePackError
from wyoming_server.engine.gpt_sovits import t2s as t2s_runtime
from wyoming_server.engine.gpt_sovits import t2s_state
from wyoming_server.engine.gpt_sovits.manifest import Manifest
from wyoming_server.engine.gpt_sovits.model import GptSoVitsModel
from wyoming_server.engine.gpt_sovits.sampling import EOS_FREE_STEPS

GREEDY = SynthesisOptions(top_k=1, repetition_penalty=1.0, max_tokens=40)
STEPS = 40


def torch_reference(
    converted: ConvertedT2S, inputs: Inputs, steps: int
) -> tuple[list[int], list[np.ndarray]]:
    phones, bert, prompt = (torch.from_numpy(a) for a in inputs)
    tokens, logits = converted.model.infer_no_cache(phones, bert, prompt, steps)
    return tokens, [step.numpy() for step in logits]


def onnx_logits(converted: ConvertedT2S, inputs: Inputs, tokens: list[int]) -> list[np.ndarray]:
    """Logits of every step when the runtime is fed `tokens` (forced decoding)."""
    decoder = converted.decoder()
    phones, bert, prompt = inputs
    state = decoder.start([decoder.encode(phones, bert)], prompt, len(tokens))
    collected = [state.logits[0]]
    for token in tokens[:-1]:
        state.step(np.array([token]))
        collected.append(state.logits[0])
    return collected


@pytest.mark.parametrize("n_prompt", [7, 0], ids=["prompt", "ref_free"])
def test_greedy_tokens_equal_torch_reference(
    tiny_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs], n_prompt: int
) -> None:
    inputs = make_inputs(n_prompt=n_prompt)
    expected, _ = torch_reference(tiny_t2s, inputs, STEPS)
    tokens = tiny_t2s.decoder().generate(*inputs, GREEDY, np.random.default_rng(0))
    assert tokens.dtype == np.int64
    assert tokens.tolist() == expected


def test_logits_of_every_step_match_torch(tiny_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs]) -> None:
    inputs = make_inputs(n_phones=9, n_prompt=5, seed=4)
    expected_tokens, expected_logits = torch_reference(tiny_t2s, inputs, STEPS)
    actual = onnx_logits(tiny_t2s, inputs, expected_tokens)
    worst = max(float(np.max(np.abs(a - e))) for a, e in zip(actual, expected_logits, strict=True))
    print(f"max |onnx - torch| logits over {STEPS} steps: {worst:.2e}")
    assert worst < 1e-4


def test_cache_growth_keeps_tokens(
    tiny_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Growing the cache by small chunks (several reallocations) gives the same tokens."""
    monkeypatch.setattr(t2s_state, "CACHE_CHUNK_TOKENS", 6)
    inputs = make_inputs(seed=2)
    expected, _ = torch_reference(tiny_t2s, inputs, STEPS)
    decoder = tiny_t2s.decoder()
    state = decoder.start([decoder.encode(inputs[0], inputs[1])], inputs[2], STEPS)
    first_capacity = state.cache.capacity
    assert decoder.generate(*inputs, GREEDY, np.random.default_rng(0)).tolist() == expected
    assert first_capacity == 12 + 7 + 6  # prefill rows + one chunk: the rest was grown on the way


def test_eos_stops_after_the_eos_free_steps(
    eos_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs]
) -> None:
    decoder = eos_t2s.decoder()
    for n_prompt in (7, 0):
        tokens = decoder.generate(
            *make_inputs(n_prompt=n_prompt), SynthesisOptions(max_tokens=100), np.random.default_rng(1)
        )
        assert len(tokens) == EOS_FREE_STEPS
        assert decoder.eos not in tokens.tolist()


def test_max_tokens_caps_decoding(tiny_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs]) -> None:
    tokens = tiny_t2s.decoder().generate(
        *make_inputs(), SynthesisOptions(max_tokens=17), np.random.default_rng(0)
    )
    assert tokens.shape == (17,)


def test_same_seed_same_tokens_other_seed_different(
    tiny_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs]
) -> None:
    decoder = tiny_t2s.decoder()
    options = SynthesisOptions(max_tokens=30)  # upstream defaults: top_k 15, penalty 1.35
    inputs = make_inputs()
    first = decoder.generate(*inputs, options, np.random.default_rng(42))
    again = decoder.generate(*inputs, options, np.random.default_rng(42))
    other = decoder.generate(*inputs, options, np.random.default_rng(43))
    assert first.tolist() == again.tolist()
    assert first.tolist() != other.tolist()


class _SetAfter(threading.Event):
    """An event that reports itself set from its n-th check on (a client dropping mid-sentence)."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.remaining = checks

    def is_set(self) -> bool:
        self.remaining -= 1
        return self.remaining < 0 or super().is_set()


def test_stop_event_cancels_mid_generation(
    tiny_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs]
) -> None:
    stop = _SetAfter(checks=6)  # one check before the prefill, then one before each token
    with pytest.raises(SynthesisCancelled, match="after 5 semantic tokens"):
        tiny_t2s.decoder().generate(
            *make_inputs(), SynthesisOptions(max_tokens=50), np.random.default_rng(0), stop
        )


def test_stop_event_already_set_does_no_work(
    tiny_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs]
) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(SynthesisCancelled):
        tiny_t2s.decoder().generate(*make_inputs(), GREEDY, np.random.default_rng(0), stop)


def test_int8_decoder_runs_close_to_fp32(tiny_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs]) -> None:
    entry = tiny_t2s.results["t2s_decoder"]
    assert entry.files["int8"] == "t2s_decoder.int8.onnx"
    inputs = make_inputs(seed=7)
    tokens, _ = torch_reference(tiny_t2s, inputs, 20)
    fp32 = np.concatenate(onnx_logits(tiny_t2s, inputs, tokens))
    decoder = tiny_t2s.decoder("int8")
    state = decoder.start([decoder.encode(inputs[0], inputs[1])], inputs[2], 20)
    int8_steps = [state.logits[0]]
    for token in tokens[:-1]:
        state.step(np.array([token]))
        int8_steps.append(state.logits[0])
    int8 = np.concatenate(int8_steps)
    cosine = float(np.dot(fp32, int8) / np.linalg.norm(fp32) / np.linalg.norm(int8))
    print(
        f"INT8 vs fp32 decoder logits over 20 forced steps: cosine {cosine:.6f}; "
        f"converter: {entry.int8_error}"
    )
    assert cosine > 0.99
    generated = decoder.generate(*inputs, SynthesisOptions(max_tokens=25), np.random.default_rng(0))
    assert generated.shape == (25,) and generated.max() < decoder.eos


def test_rejects_bad_inputs(tiny_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs]) -> None:
    decoder = tiny_t2s.decoder()
    phones, bert, prompt = make_inputs()
    rng = np.random.default_rng(0)
    with pytest.raises(TextError, match="no phones"):
        decoder.generate(phones[:0], bert[:, :0], prompt, GREEDY, rng)
    with pytest.raises(TextError, match="phone ids"):
        decoder.generate(phones + 1000, bert, prompt, GREEDY, rng)
    with pytest.raises(ValueError, match="bert must be"):
        decoder.generate(phones, bert[:, :-1], prompt, GREEDY, rng)
    with pytest.raises(VoicePackError, match="prompt semantic tokens"):
        decoder.generate(phones, bert, np.array([3, 1024], np.int64), GREEDY, rng)


def test_wrong_graph_is_named(tiny_t2s: ConvertedT2S) -> None:
    decoder = tiny_t2s.decoder()
    swapped = {"t2s_encoder": decoder._encoder, "t2s_decoder": decoder._encoder}
    manifest = Manifest(version="v2", symbol_table="x", dims={}, graphs={}, files={}, precision=["fp32"])
    with pytest.raises(ModelLoadError, match="t2s_decoder lacks input"):
        t2s_runtime.T2SDecoder(GptSoVitsModel.from_sessions(manifest, swapped))


@pytest.mark.parametrize("n_prompt", [7, 0], ids=["prompt", "ref_free"])
def test_batch_greedy_equals_one_by_one(
    tiny_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs], n_prompt: int
) -> None:
    """Sentences of different lengths decoded together give each its one-by-one tokens (fp32)."""
    decoder = tiny_t2s.decoder()
    sentences = [make_inputs(n_phones=n, n_prompt=n_prompt, seed=s) for n, s in ((5, 1), (14, 2), (9, 3))]
    prompt = sentences[0][2]
    alone = [
        decoder.generate(p, b, prompt, GREEDY, np.random.default_rng(0)).tolist() for p, b, _ in sentences
    ]
    rngs = [np.random.default_rng(0) for _ in sentences]
    together = decoder.generate_batch([(p, b) for p, b, _ in sentences], prompt, GREEDY, rngs)
    assert [t.tolist() for t in together] == alone


def test_batch_sampling_with_own_rngs_equals_one_by_one(
    tiny_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs]
) -> None:
    decoder = tiny_t2s.decoder()
    options = SynthesisOptions(max_tokens=25)
    sentences = [make_inputs(n_phones=n, seed=s) for n, s in ((6, 4), (11, 5))]
    prompt = sentences[0][2]
    alone = [
        decoder.generate(p, b, prompt, options, np.random.default_rng(s)).tolist()
        for s, (p, b, _) in enumerate(sentences)
    ]
    rngs = [np.random.default_rng(s) for s in range(len(sentences))]
    together = decoder.generate_batch([(p, b) for p, b, _ in sentences], prompt, options, rngs)
    assert [t.tolist() for t in together] == alone


def test_batch_sentences_stop_on_their_own(eos_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs]) -> None:
    decoder = eos_t2s.decoder()
    sentences = [make_inputs(n_phones=n, seed=s)[:2] for n, s in ((4, 1), (10, 2))]
    rngs = [np.random.default_rng(s) for s in range(2)]
    together = decoder.generate_batch(sentences, make_inputs()[2], SynthesisOptions(max_tokens=60), rngs)
    assert [len(t) for t in together] == [EOS_FREE_STEPS, EOS_FREE_STEPS]
