"""T2S decoding on onnxruntime: text encoder, prefill, then one step per token with an in-place KV cache.

An INT8 folder with `t2s_step` runs the prefill and the steps on it, over one int8 cache
(`PREFILL_ON_STEP_GRAPH`); otherwise the prefill runs on `t2s_decoder` and, when `t2s_step` exists,
hands the state over to it. See `t2s_io` for the graphs and `t2s_state` for the cache. Sampling
happens here in numpy (`sampling.py`), so top-k/top-p/temperature/penalty, the seed and the EOS
rules are per request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Final

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from .. import SynthesisOptions
from ..errors import ModelLoadError, SynthesisCancelled, TextError, VoicePackError
from ..onnx import require_inputs
from . import t2s_io, t2s_state
from .model import GptSoVitsModel
from .sampling import sample_token
from .t2s_state import T2SState

_LOGGER = logging.getLogger(__name__)

BERT_DIM: Final = 1024
PREFILL_ON_STEP_GRAPH: Final = True
"""An INT8 folder's prefill runs on `t2s_step` too, so `t2s_decoder` is never opened: one copy of the
prepacked weights, for a slower prefill (docs/performance.md, "One T2S session")."""
FINISHED: Final = -1
"""`decode_steps` entry of a sentence that drew no token in that step (it has ended)."""

Sentence = tuple[NDArray[np.int64], NDArray[np.float32]]
"""(phones (N,), bert (1024, N)) of reference + target text."""


class T2SDecoder:
    """Semantic tokens from phones + BERT features + the voice's prompt tokens.

    Build one per loaded model and share it: construction checks the graphs and warms the sessions
    up; `generate`/`generate_batch`/`decode_steps` keep all per-sentence state local, so threads
    may call them concurrently.
    """

    def __init__(self, model: GptSoVitsModel, prefill_on_step_graph: bool = PREFILL_ON_STEP_GRAPH) -> None:
        self._encoder = model.session(t2s_io.ENCODER_GRAPH)
        require_inputs(self._encoder, t2s_io.ENCODER_GRAPH, t2s_io.ENCODER_INPUTS)
        one_session = model.precision == "int8" and model.has_graph(t2s_io.STEP_GRAPH) and (
            prefill_on_step_graph or not model.has_graph(t2s_io.DECODER_GRAPH)
        )
        graph = t2s_io.STEP_GRAPH if one_session else t2s_io.DECODER_GRAPH
        self.decoder_graph = graph
        """The graph the prefill runs on (the steps too, unless `int8_steps` hands them over)."""
        self._decoder = model.session(graph)
        require_inputs(self._decoder, graph, t2s_io.DECODER_FIXED_INPUTS)
        inputs = {i.name: i for i in self._decoder.get_inputs()}
        self.n_layer = sum(1 for name in inputs if name.startswith("past_key_"))
        if self.n_layer == 0:
            raise ModelLoadError(f"graph {graph} has no past_key_* inputs")
        require_inputs(self._decoder, graph, tuple(t2s_io.past_names(self.n_layer)))
        n_head, head_dim = inputs["past_key_0"].shape[1:4:2]
        d_model = inputs[t2s_io.DECODER_X].shape[-1]
        if not all(isinstance(n, int) for n in (n_head, head_dim, d_model)):
            raise ModelLoadError(f"graph {graph} has no fixed head count / width")
        self.n_head, self.head_dim, self.d_model = int(n_head), int(head_dim), int(d_model)
        cache_type = inputs["past_key_0"].type
        if cache_type not in t2s_state.CACHE_DTYPES:
            raise ModelLoadError(f"graph {graph} has a KV cache of type {cache_type}")
        self.cache_dtype = t2s_state.CACHE_DTYPES[cache_type]
        self._step_graph = None if one_session else self._load_step_graph(model)
        self.phone_vocab: int | None = model.manifest.dims.get("t2s", {}).get("phone_vocab")
        self.vocab: int | None = None
        # A one-row ref-free prefill and a step tell the vocabulary size and warm the sessions up at load time.
        warm = self.start([np.zeros((1, 1, self.d_model), np.float32)], np.zeros(0, np.int64), 2)
        self.vocab = int(warm.logits.shape[1])
        self.eos = self.vocab - 1
        """The EOS token id (upstream: vocab_size - 1)."""
        warm.step(np.zeros(1, np.int64))

    @property
    def int8_steps(self) -> bool:
        """True when steps run on the INT8 step graph with an int8 KV cache (`t2s_io.STEP_GRAPH`)."""
        return self._step_graph is not None or self.cache_dtype is np.int8

    def _load_step_graph(self, model: GptSoVitsModel) -> tuple[ort.InferenceSession, NDArray[np.float32]] | None:
        """The INT8 folder's step graph and its KV scales, when it has them."""
        if model.precision != "int8" or not model.has_graph(t2s_io.STEP_GRAPH):
            return None
        session = model.session(t2s_io.STEP_GRAPH)
        require_inputs(session, t2s_io.STEP_GRAPH, (*t2s_io.DECODER_FIXED_INPUTS, *t2s_io.past_names(self.n_layer)))
        past = {i.name: i.type for i in session.get_inputs()}
        if past["past_key_0"] != "tensor(int8)":
            raise ModelLoadError(f"graph {t2s_io.STEP_GRAPH} has a KV cache of type {past['past_key_0']}, not int8")
        scales = model.graph_array(t2s_io.STEP_GRAPH, t2s_io.KV_SCALES)
        shape = (self.n_layer, 2, self.n_head, self.head_dim)
        positive = bool(np.all(np.isfinite(scales) & (scales > 0)))
        if scales.shape != shape or scales.dtype != np.float32 or not positive:
            raise ModelLoadError(f"{t2s_io.STEP_GRAPH} KV scales must be positive float32 {shape}")
        return session, scales

    def encode(self, phones: NDArray[np.int64], bert: NDArray[np.float32]) -> NDArray[np.float32]:
        """Text embeddings (1, N, D) of phones (N,) and bert (1024, N)."""
        (x,) = self._encoder.run([t2s_io.ENCODER_OUTPUT], {"phones": phones, "bert": bert})
        return np.asarray(x, dtype=np.float32)

    def start(
        self, texts: Sequence[NDArray[np.float32]], prompt: NDArray[np.int64], max_new: int
    ) -> T2SState:
        """Prefill text embeddings (each (1, N_b, D)) + the shared `prompt` (Tp,); returns the state."""
        lengths = [int(x.shape[1]) for x in texts]
        n_text = max(lengths)
        x = np.zeros((len(texts), n_text, self.d_model), np.float32)
        for b, text in enumerate(texts):
            x[b, n_text - lengths[b] :] = text[0]  # left padding, see t2s_state
        rows = n_text + prompt.shape[0]
        capacity = rows + min(max_new, t2s_state.CACHE_CHUNK_TOKENS)
        prefill_rows = rows if self._step_graph is not None else capacity
        cache = t2s_state.KVCache(self.n_layer, len(texts), self.n_head, self.head_dim, prefill_rows, self.cache_dtype)
        state = T2SState(self._decoder, cache, lengths, prompt.shape[0], self.vocab)
        state.prefill(x, prompt, lengths)
        if self._step_graph is not None:
            step_session, kv_scales = self._step_graph
            state.hand_over(step_session, cache.quantized(kv_scales, capacity))
        return state

    def _check(self, phones: NDArray[np.int64], bert: NDArray[np.float32]) -> None:
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

    def _check_prompt(self, prompt: NDArray[np.int64]) -> None:
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

        Stops when the top (penalized) logit or the sample is EOS (that last sample is dropped, as
        upstream does), after `options.max_tokens` tokens, or raises SynthesisCancelled once `stop`
        is set. An empty `prompt` is ref-free mode (audio positions start at 0).
        """
        return self.generate_batch([(phones, bert)], prompt, options, [rng], stop)[0]

    def generate_batch(
        self,
        sentences: Sequence[Sentence],
        prompt: NDArray[np.int64],
        options: SynthesisOptions,
        rngs: Sequence[np.random.Generator],
        stop: threading.Event | None = None,
    ) -> list[NDArray[np.int64]]:
        """`generate` for several sentences of one voice at once (one rng each); same rules per sentence.

        The weights are read once per step for the whole batch; a sentence that has finished rides
        along until the last one ends. In fp32 the tokens equal one-by-one decoding; with the INT8
        graph they may differ, because dynamic quantization scales each step's activations over the
        whole batch.
        """
        generated: list[list[int]] = [[] for _ in sentences]
        for step in self.decode_steps(sentences, prompt, options, rngs, stop):
            for b, token in enumerate(step.tolist()):
                if token >= 0:
                    generated[b].append(token)
        return [np.array(tokens, dtype=np.int64) for tokens in generated]

    def decode_steps(
        self,
        sentences: Sequence[Sentence],
        prompt: NDArray[np.int64],
        options: SynthesisOptions,
        rngs: Sequence[np.random.Generator],
        stop: threading.Event | None = None,
    ) -> Iterator[NDArray[np.int64]]:
        """The decoding loop of `generate_batch`, one yield per step: (B,) the token each sentence drew.

        An entry is `FINISHED` (-1) once that sentence has ended by EOS; when the generator returns,
        every sentence has ended (EOS or `options.max_tokens`). Callers (token-chunk streaming) use
        the tokens between steps; the stop event is checked before every step.
        """
        if not sentences or len(rngs) != len(sentences):
            raise ValueError("generate_batch needs at least one sentence and one rng per sentence")
        for phones, bert in sentences:
            self._check(phones, bert)
        self._check_prompt(prompt)
        if stop is not None and stop.is_set():
            raise SynthesisCancelled("stopped before decoding")
        state = self.start([self.encode(p, b) for p, b in sentences], prompt, options.max_tokens)
        batch, eos = len(sentences), self.eos
        seen = np.zeros((batch, eos + 1), dtype=bool)
        seen[:, prompt] = True
        counts = [0] * batch
        active = [True] * batch
        feed = np.zeros(batch, np.int64)
        for step in range(options.max_tokens):
            if stop is not None and stop.is_set():
                raise SynthesisCancelled(f"stopped after {max(counts)} semantic tokens")
            drawn = np.full(batch, FINISHED, np.int64)
            for b in (b for b in range(batch) if active[b]):
                choice = sample_token(
                    state.logits[b],
                    np.flatnonzero(seen[b]),
                    step=step,
                    top_k=options.top_k,
                    top_p=options.top_p,
                    temperature=options.temperature,
                    repetition_penalty=options.repetition_penalty,
                    rng=rngs[b],
                )
                if choice.token == eos or choice.argmax == eos:
                    active[b] = False
                    continue
                drawn[b] = feed[b] = choice.token
                counts[b] += 1
                seen[b, choice.token] = True
            yield drawn
            if not any(active) or step + 1 == options.max_tokens:
                break
            state.step(feed)
        _LOGGER.debug("T2S: %d sentence(s), %d prompt tokens -> %s tokens", batch, prompt.size, counts)
