"""The decoding state of the T2S decoder graph: in-place KV cache, IO binding, attention masks.

Each layer's K and V live in a preallocated (B, H, capacity, head_dim) numpy buffer, wrapped once as
an OrtValue and bound both as `past_*` input and `present_*` output. onnxruntime's
GroupQueryAttention sees the same memory on both sides and appends the new rows in place, and the
attention reads the cache where it lies: nothing is copied or reallocated per step. When a
sentence outgrows the capacity, the buffers grow by whole chunks (one copy per chunk).

With an INT8 model's step graph (`t2s_io.STEP_GRAPH`), the prefill runs on it too (the cache is
int8 from the start), or, when the prefill runs on the fp32-cache graph, the state hands over to the
step graph with an int8 copy of the cache (`KVCache.quantized`): a quarter of the bytes per step.

Sentences of a batch have different text lengths. Their text rows are padded on the *left* (so
every sentence's last text row and its audio rows line up at the same indices) and the padding
columns are masked out of every attention row by the additive bias.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from . import t2s_io

_LOGGER = logging.getLogger(__name__)

CACHE_CHUNK_TOKENS: Final = 256
"""The cache holds the prefill plus this many tokens at first and grows by this much when full."""
BLOCKED: Final = np.float32(-np.inf)
INT8_MIN: Final = -128
INT8_MAX: Final = 127


def prefill_bias(text_lengths: Sequence[int], n_audio: int) -> NDArray[np.float32]:
    """(B, 1, R, R) additive prefill mask, R = max(text) + n_audio, text left-padded per sentence.

    Text rows see all of their sentence's text and no audio; audio rows see the text and the audio
    up to themselves (the prefix-LM mask). Padding columns are blocked everywhere; padding rows see
    the text (their output is never used, but must stay finite so no NaN reaches the cache).
    """
    n_text = max(text_lengths)
    size = n_text + n_audio
    rows = np.arange(size)[:, None]
    cols = np.arange(size)[None, :]
    bias = np.zeros((len(text_lengths), 1, size, size), np.float32)
    for b, length in enumerate(text_lengths):
        pad = n_text - length
        blocked = (cols < pad) | np.where(rows < n_text, cols >= n_text, cols > rows)
        bias[b, 0][blocked] = BLOCKED
    return bias


CacheDType = type[np.float32] | type[np.int8]
CACHE_DTYPES: Final[dict[str, CacheDType]] = {"tensor(float)": np.float32, "tensor(int8)": np.int8}
"""onnxruntime input type of `past_key_*` -> buffer dtype (INT8 graphs keep the cache in int8)."""


class KVCache:
    """Per-layer K/V buffers, (B, H, capacity, head_dim) each, float32 or int8 (the graph's cache type)."""

    def __init__(
        self,
        n_layer: int,
        batch: int,
        n_head: int,
        head_dim: int,
        capacity: int,
        dtype: CacheDType = np.float32,
    ) -> None:
        self.lead_shape = (batch, n_head)
        self.head_dim = head_dim
        self.dtype = dtype
        self.names = t2s_io.past_names(n_layer)
        self.capacity = 0
        self.length = 0
        """Rows filled so far (the same for every sentence of a batch)."""
        self.buffers: list[NDArray[np.float32 | np.int8]] = []
        self._values: list[ort.OrtValue] = []
        self._allocate(capacity)

    def _allocate(self, capacity: int) -> None:
        fresh = [np.empty((*self.lead_shape, capacity, self.head_dim), self.dtype) for _ in self.names]
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

    def quantized(self, scales: NDArray[np.float32], capacity: int) -> KVCache:
        """An int8 cache of `capacity` rows holding this cache's rows, quantized the way the step graph's
        GroupQueryAttention quantizes new rows: round(x / scale) per (head, channel), saturated.

        scales: (n_layer, 2, H, head_dim), K then V of each layer.
        """
        batch, n_head = self.lead_shape
        n_layer = len(self.names) // 2
        if scales.shape != (n_layer, 2, n_head, self.head_dim):
            raise ValueError(f"KV scales must have shape {(n_layer, 2, n_head, self.head_dim)}, got {scales.shape}")
        if capacity < self.length:
            raise ValueError(f"capacity {capacity} is below the {self.length} rows to copy")
        out = KVCache(n_layer, batch, n_head, self.head_dim, capacity, np.int8)
        rows = self.length
        for index, (source, target) in enumerate(zip(self.buffers, out.buffers, strict=True)):
            scale = scales[index // 2, index % 2][np.newaxis, :, np.newaxis, :]
            scaled = np.rint(source[:, :, :rows] / scale)
            np.clip(scaled, INT8_MIN, INT8_MAX, out=scaled)
            target[:, :, :rows] = scaled
        out.length = rows
        return out

    def bind(self, binding: ort.IOBinding) -> None:
        """Bind every buffer as its layer's past input and present output (the same memory)."""
        for past, value in zip(self.names, self._values, strict=True):
            binding.bind_ortvalue_input(past, value)
            binding.bind_ortvalue_output(past.replace("past_", "present_", 1), value)


class T2SState:
    """Sentences being decoded together: their KV cache, IO binding and latest logits."""

    def __init__(
        self,
        session: ort.InferenceSession,
        cache: KVCache,
        text_lengths: Sequence[int],
        n_prompt: int,
        vocab: int | None,
    ) -> None:
        self._session = session
        self.cache = cache
        self.n_prompt = n_prompt
        self.batch = len(text_lengths)
        self.generated = 0
        """Tokens fed back so far (each sentence of the batch gets one per step)."""
        self.logits: NDArray[np.float32] = np.empty((self.batch, 0), np.float32)
        """(B, V) logits of every sentence's latest position (a copy)."""
        self._vocab = vocab
        self._binding = self._new_binding()
        self._cache_bound = False
        self._pads = [max(text_lengths) - n for n in text_lengths]
        self._step_bias = np.zeros((self.batch, 0), np.float32)
        self._tokens = np.zeros((self.batch, 1), np.int64)
        self._positions = np.zeros((self.batch, 1), np.int64)
        self._empty_x = np.zeros((self.batch, 0, 0), np.float32)

    def _new_binding(self) -> ort.IOBinding:
        binding = self._session.io_binding()
        self._logits: NDArray[np.float32] | None = None
        if self._vocab is None:  # only the warm-up at load time, which learns the vocabulary size
            binding.bind_output(t2s_io.DECODER_LOGITS, "cpu")
        else:
            self._logits = np.empty((self.batch, self._vocab), np.float32)
            binding.bind_ortvalue_output(t2s_io.DECODER_LOGITS, ort.OrtValue.ortvalue_from_numpy(self._logits))
        return binding

    def hand_over(self, session: ort.InferenceSession, cache: KVCache) -> None:
        """Go on decoding with another graph over another cache holding the same rows (see the module doc)."""
        if cache.length != self.cache.length:
            raise ValueError(f"the new cache holds {cache.length} rows, not {self.cache.length}")
        self._session = session
        self.cache = cache
        self._binding = self._new_binding()
        self._cache_bound = False

    def run(
        self,
        x: NDArray[np.float32],
        tokens: NDArray[np.int64],
        positions: NDArray[np.int64],
        bias: NDArray[np.float32],
    ) -> None:
        """Append the rows of `x` (B, N, D) and `tokens` (B, S) to the cache; keep the last rows' logits."""
        total = self.cache.length + x.shape[1] + tokens.shape[1]
        binding = self._binding
        if self.cache.ensure(total) or not self._cache_bound:
            self.cache.bind(binding)
            self._cache_bound = True
        binding.bind_cpu_input(t2s_io.DECODER_X, x)
        binding.bind_cpu_input(t2s_io.DECODER_TOKENS, tokens)
        binding.bind_cpu_input(t2s_io.DECODER_POSITIONS, positions)
        binding.bind_cpu_input(t2s_io.DECODER_BIAS, bias)
        binding.bind_cpu_input(t2s_io.DECODER_SEQLENS, np.full(self.batch, total - 1, np.int32))
        binding.bind_cpu_input(t2s_io.DECODER_TOTAL, np.array(total, np.int32))
        self._session.run_with_iobinding(binding)
        self.cache.length = total
        # A copy: the bound buffer is overwritten by the next step.
        logits = self._logits if self._logits is not None else binding.get_outputs()[0].numpy()
        self.logits = logits.copy()

    def prefill(self, x: NDArray[np.float32], prompt: NDArray[np.int64], text_lengths: Sequence[int]) -> None:
        """Text rows `x` (B, N, D, left-padded) then the prompt tokens (Tp,), shared by every sentence.

        One run over an fp32 cache; over an int8 cache a single sentence's text rows run first, then
        its prompt rows (the same mask, sliced: text sees no audio), which saves about a sixth of the
        prefill.
        """
        self._empty_x = np.zeros((self.batch, 0, x.shape[2]), np.float32)
        tokens = np.broadcast_to(prompt.astype(np.int64), (self.batch, prompt.shape[0])).copy()
        positions = np.broadcast_to(np.arange(prompt.shape[0], dtype=np.int64), tokens.shape).copy()
        bias = prefill_bias(text_lengths, prompt.shape[0])
        n_text = x.shape[1]
        if self.cache.dtype is np.float32 or prompt.size == 0 or self.batch > 1:
            self.run(x, tokens, positions, bias)
            return
        # The int8-cache kernel's cost grows with rows x columns: text rows need only the text columns.
        # (onnxruntime refuses several rows after a past context when B > 1, so batches prefill at once.)
        no_tokens = np.zeros((self.batch, 0), np.int64)
        self.run(x, no_tokens, no_tokens, np.ascontiguousarray(bias[:, :, :n_text, :n_text]))
        self.run(self._empty_x, tokens, positions, np.ascontiguousarray(bias[:, :, n_text:]))

    def step(self, tokens: NDArray[np.int64]) -> None:
        """Feed each sentence's latest token (B,) at the next audio position; updates `logits`."""
        total = self.cache.length + 1
        if self._step_bias.shape[1] < total:
            self._step_bias = np.zeros((self.batch, total + CACHE_CHUNK_TOKENS), np.float32)
            for b, pad in enumerate(self._pads):
                self._step_bias[b, :pad] = BLOCKED
        self._tokens[:, 0] = tokens
        self._positions[:, 0] = self.n_prompt + self.generated
        self.generated += 1
        bias = np.ascontiguousarray(self._step_bias[:, :total]).reshape(self.batch, 1, 1, total)
        self.run(self._empty_x, self._tokens, self._positions, bias)
