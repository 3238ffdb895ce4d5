"""T2S decoding on onnxruntime: text encoder, prefill, then one step per token with an in-place KV cache.

The decoder graph (see `t2s_io`) runs onnxruntime's GroupQueryAttention. Each layer's K and V live
in a preallocated (1, H, capacity, head_dim) numpy buffer wrapped once as an OrtValue and bound as
both `past_*` input and `present_*` output, so a step appends one row in place and attention reads
the cache where it lies: no per-step copy or allocation that grows with the length. When a
sentence outgrows the capacity the buffers grow by a chunk (one copy per chunk, not per step).
"""

from __future__ import annotations

import logging
import threading
from typing import Final

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from .. import SynthesisOptions
from ..errors import ModelLoadError, SynthesisCancelled, TextError, VoicePackError
from . import t2s_io
from .model import GptSoVitsModel, require_inputs
from .sampling import sample_token

_LOGGER = logging.getLogger(__name__)

BERT_DIM: Final = 1024
CACHE_CHUNK_TOKENS: Final = 256
"""The cache is allocated for the prefill plus this many tokens and grows by this much when full."""


def prefix_lm_bias(n_text: int, n_audio: int) -> NDArray[np.float32]:
    """(1, 1, N+T, N+T) prefill mask: text rows see all text, no audio; audio rows see text + causal audio."""
    total = n_text + n_audio
    rows = np.arange(total)[:, None]
    cols = np.arange(total)[None, :]
    blocked = np.where(rows < n_text, cols >= n_text, cols > rows)
    return np.where(blocked, np.float32(-np.inf), np.float32(0.0)).astype(np.float32)[None, None]


class KVCache:
    """Per-layer K/V buffers bound in place to a decoder IO binding."""

    def __init__(self, n_layer: int, n_head: int, head_dim: int, capacity: int) -> None:
        self.shape_head = (1, n_head)
        self.head_dim = head_dim
        self.names = t2s_io.past_names(n_layer)
        self.capacity = 0
        self.length = 0
        """Rows filled so far."""
        self.buffers: list[NDArray[np.float32]] = []
        self._values: list[ort.OrtValue] = []
        self._allocate(capacity)

    def _allocate(self, capacity: int) -> None:
        fresh = [np.empty((*self.shape_head, capacity, self.head_dim), np.float32) for _ in self.names]
        for new, old in zip(fresh, self.buffers, strict=False):
            new[:, :, : self.length] = old[:, :, : self.length]
        self.buffers = fresh
        self._values = [ort.OrtValue.ortvalue_from_numpy(b) for b in fresh]
        self.capacity = capacity

    def ensure(self, needed: int) -> bool:
        """Make room for `needed` rows, growing by whole chunks; True when the buffers were replaced."""
        if self.capacity >= needed:
            return False
        chunks = -(-(needed - self.capacity) // CACHE_CHUNK_TOKENS)
        self._allocate(self.capacity + chunks * CACHE_CHUNK_TOKENS)
        _LOGGER.debug("KV cache grown to %d rows", self.capacity)
        return True

    def bind(self, binding: ort.IOBinding) -> None:
        """Bind every buffer as its layer's past input and present output (the same memory)."""
        for past, value in zip(self.names, self._values, strict=True):
            binding.bind_ortvalue_input(past, value)
            binding.bind_ortvalue_output(past.replace("past_", "present_", 1), value)


class T2SDecoder:
    """Semantic tokens from phones + BERT features + the voice's prompt tokens."""

    def __init__(self, model: GptSoVitsModel) -> None:
        self._encoder = model.session(t2s_io.ENCODER_GRAPH)
        self._decoder = model.session(t2s_io.DECODER_GRAPH)
        require_inputs(self._encoder, t2s_io.ENCODER_GRAPH, t2s_io.ENCODER_INPUTS)
        require_inputs(self._decoder, t2s_io.DECODER_GRAPH, t2s_io.DECODER_FIXED_INPUTS)
        inputs = {i.name: i for i in self._decoder.get_inputs()}
        self.n_layer = sum(1 for name in inputs if name.startswith("past_key_"))
        if self.n_layer == 0:
            raise ModelLoadError(f"graph {t2s_io.DECODER_GRAPH} has no past_key_* inputs")
        require_inputs(self._decoder, t2s_io.DECODER_GRAPH, tuple(t2s_io.past_names(self.n_layer)))
        _, n_head, _, head_dim = inputs["past_key_0"].shape
        d_model = inputs[t2s_io.DECODER_X].shape[-1]
        if not all(isinstance(n, int) for n in (n_head, head_dim, d_model)):
            raise ModelLoadError(f"graph {t2s_io.DECODER_GRAPH} has no fixed head count / width")
        self.n_head, self.head_dim, self.d_model = int(n_head), int(head_dim), int(d_model)
        dims = model.manifest.dims.get("t2s", {})
        self.phone_vocab: int | None = dims.get("phone_vocab")
        self._empty_x = np.zeros((1, 0, self.d_model), np.float32)
        # A one-phone ref-free prefill tells the vocabulary size and warms the sessions up at load time.
        warm = self.start(np.zeros((1, 1, self.d_model), np.float32), np.zeros(0, np.int64), 1)
        self.vocab = warm.vocab
        self.eos = self.vocab - 1

    # -- graph calls ---------------------------------------------------------------------------

    def encode(self, phones: NDArray[np.int64], bert: NDArray[np.float32]) -> NDArray[np.float32]:
        """Text embeddings (1, N, D) of phones (N,) and bert (1024, N)."""
        (x,) = self._encoder.run([t2s_io.ENCODER_OUTPUT], {"phones": phones, "bert": bert})
        return np.asarray(x, dtype=np.float32)

    def start(self, x: NDArray[np.float32], prompt: NDArray[np.int64], max_new: int) -> T2SState:
        """Run the prefill over text rows `x` (1, N, D) and `prompt` (Tp,); returns the decoding state."""
        n_text, n_prompt = x.shape[1], prompt.shape[0]
        total = n_text + n_prompt
        cache = KVCache(self.n_layer, self.n_head, self.head_dim, total + min(max_new, CACHE_CHUNK_TOKENS))
        state = T2SState(self, cache, n_prompt)
        state.run(
            x,
            prompt.reshape(1, -1).astype(np.int64),
            np.arange(n_prompt, dtype=np.int64).reshape(1, -1),
            prefix_lm_bias(n_text, n_prompt),
        )
        return state

    # -- decoding ------------------------------------------------------------------------------

    def _check(self, phones: NDArray[np.int64], bert: NDArray[np.float32], prompt: NDArray[np.int64]) -> None:
        if phones.ndim != 1 or phones.dtype != np.int64:
            raise ValueError(f"phones must be int64 (N,), got {phones.dtype} {phones.shape}")
        if phones.size == 0:
            raise TextError("no phones to speak")
        if self.phone_vocab is not None and (phones.min() < 0 or phones.max() >= self.phone_vocab):
            raise TextError(f"phone ids must be in [0, {self.phone_vocab})")
        if bert.shape != (BERT_DIM, phones.shape[0]) or bert.dtype != np.float32:
            raise ValueError(
                f"bert must be float32 ({BERT_DIM}, {phones.shape[0]}), got {bert.dtype} {bert.shape}"
            )
        if prompt.ndim != 1 or prompt.dtype != np.int64:
            raise ValueError(f"prompt must be int64 (Tp,), got {prompt.dtype} {prompt.shape}")
        if prompt.size and (prompt.min() < 0 or prompt.max() >= self.eos):
            raise VoicePackError(f"prompt semantic tokens must be in [0, {self.eos})")

    def generate(
        self,
        phones: NDArray[np.int64],
        bert: NDArray[np.float32],
        prompt: NDArray[np.int64],
        options: SynthesisOptions,
        rng: np.random.Generator,
        stop: threading.Event | None = None,
    ) -> NDArray[np.int64]:
        """New semantic tokens (T,) int64 for reference+target `phones`/`bert` after `prompt` (EOS removed).

        Stops when the top logit or the sample is EOS (that last sample is dropped, as upstream
        does), after `options.max_tokens` tokens, or raises SynthesisCancelled once `stop` is set.
        An empty `prompt` is ref-free mode (audio positions start at 0).
        """
        self._check(phones, bert, prompt)
        if stop is not None and stop.is_set():
            raise SynthesisCancelled("stopped before decoding")
        state = self.start(self.encode(phones, bert), prompt, options.max_tokens)
        eos = self.eos
        seen = np.zeros(self.vocab, dtype=bool)
        seen[prompt] = True
        generated = np.empty(options.max_tokens, dtype=np.int64)
        count = 0
        for step in range(options.max_tokens):
            if stop is not None and stop.is_set():
                raise SynthesisCancelled(f"stopped after {count} semantic tokens")
            choice = sample_token(
                state.logits,
                np.flatnonzero(seen),
                step=step,
                top_k=options.top_k,
                top_p=options.top_p,
                temperature=options.temperature,
                repetition_penalty=options.repetition_penalty,
                rng=rng,
            )
            if choice.token == eos or choice.argmax == eos:
                break
            generated[count] = choice.token
            count += 1
            seen[choice.token] = True
            if count < options.max_tokens:
                state.step(choice.token)
        _LOGGER.debug("T2S: %d phones, %d prompt tokens -> %d tokens", phones.size, prompt.size, count)
        return generated[:count].copy()


class T2SState:
    """One sentence being decoded: its KV cache, IO binding and the latest logits."""

    def __init__(self, decoder: T2SDecoder, cache: KVCache, n_prompt: int) -> None:
        self._decoder = decoder
        self.cache = cache
        self.n_prompt = n_prompt
        self.generated = 0
        self.logits: NDArray[np.float32] = np.empty(0, np.float32)
        """(V,) logits of the latest position."""
        self._binding = decoder._decoder.io_binding()
        self._cache_bound = False
        vocab: int | None = getattr(decoder, "vocab", None)  # unknown only during the warm-up at load
        self._logits: NDArray[np.float32] | None = None
        if vocab is None:
            self._binding.bind_output(t2s_io.DECODER_LOGITS, "cpu")
        else:
            self._logits = np.empty((1, vocab), np.float32)
            logits_value = ort.OrtValue.ortvalue_from_numpy(self._logits)
            self._binding.bind_ortvalue_output(t2s_io.DECODER_LOGITS, logits_value)
        self._bias = np.zeros(0, np.float32)
        self._tokens = np.zeros((1, 1), np.int64)
        self._positions = np.zeros((1, 1), np.int64)

    @property
    def vocab(self) -> int:
        """Audio vocabulary size (EOS is the last id)."""
        return int(self.logits.shape[0])

    def run(
        self,
        x: NDArray[np.float32],
        tokens: NDArray[np.int64],
        positions: NDArray[np.int64],
        bias: NDArray[np.float32],
    ) -> None:
        """Append the rows of `x` and `tokens` to the cache and keep the last row's logits."""
        total = self.cache.length + x.shape[1] + tokens.shape[1]
        binding = self._binding
        if self.cache.ensure(total) or not self._cache_bound:
            self.cache.bind(binding)
            self._cache_bound = True
        binding.bind_cpu_input(t2s_io.DECODER_X, x)
        binding.bind_cpu_input(t2s_io.DECODER_TOKENS, tokens)
        binding.bind_cpu_input(t2s_io.DECODER_POSITIONS, positions)
        binding.bind_cpu_input(t2s_io.DECODER_BIAS, bias)
        binding.bind_cpu_input(t2s_io.DECODER_SEQLENS, np.array([total - 1], np.int32))
        binding.bind_cpu_input(t2s_io.DECODER_TOTAL, np.array(total, np.int32))
        self._decoder._decoder.run_with_iobinding(binding)
        self.cache.length = total
        # A copy: the bound buffer is overwritten by the next step.
        logits = self._logits if self._logits is not None else binding.get_outputs()[0].numpy()
        self.logits = logits[0].copy()

    def step(self, token: int) -> None:
        """Feed the token just generated (its audio position follows the prompt) and update `logits`."""
        total = self.cache.length + 1
        if self._bias.shape[0] < total:
            self._bias = np.zeros(total + CACHE_CHUNK_TOKENS, np.float32)
        self._tokens[0, 0] = token
        self._positions[0, 0] = self.n_prompt + self.generated
        self.generated += 1
        bias = self._bias[:total].reshape(1, 1, 1, total)
        self.run(self._decoder._empty_x, self._tokens, self._positions, bias)
