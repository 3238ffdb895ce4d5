"""Token sampling for T2S decoding, in numpy, in upstream's exact order.

Upstream (`AR/models/utils.py` `logits_to_probs` + `multinomial_sample_one_no_sync`, called from
`t2s_model.py` `infer_panel_naive`), reference §7.1 and pitfall 3:

1. for the first 11 steps the EOS column is dropped, before anything else;
2. repetition penalty over every id in prompt + generated tokens, each id once: a negative logit is
   multiplied by the penalty, any other divided by it. Upstream does this in place, so the
   "argmax == EOS" stop test sees the penalized logits, and so does ours;
3. top-p on the penalized logits: sort descending, drop every token whose cumulative probability
   exceeds top_p (the crossing token too: no shift as in Hugging Face's version), always keep the first;
4. divide by max(temperature, 1e-5);
5. top-k: drop logits below the k-th largest (ties with it are kept);
6. softmax, then the exponential race `argmax(probs / Exp(1))`, an exact categorical draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

EOS_FREE_STEPS: Final = 11
"""Steps 0..10 cannot end the sentence (upstream: `if idx < 11: logits = logits[:, :-1]`)."""
MIN_TEMPERATURE: Final = 1e-5


@dataclass(frozen=True, slots=True)
class SampledToken:
    """One sampling decision."""

    token: int
    """The drawn token id."""
    argmax: int
    """The top token of the penalized logits (upstream also stops when this is EOS)."""


def apply_repetition_penalty(
    logits: NDArray[np.float32], previous: NDArray[np.int64], penalty: float
) -> NDArray[np.float32]:
    """Penalize every id in `previous` once: x * penalty if x < 0, else x / penalty (returns a copy)."""
    out = logits.copy()
    if penalty == 1.0 or previous.size == 0:
        return out
    ids = np.unique(previous)
    ids = ids[(ids >= 0) & (ids < out.shape[0])]  # EOS is never in `previous`; guard all the same
    score = out[ids]
    out[ids] = np.where(score < 0, score * np.float32(penalty), score / np.float32(penalty))
    return out


def _softmax(logits: NDArray[np.float32]) -> NDArray[np.float32]:
    shifted = logits - np.max(logits)
    weights = np.exp(shifted)
    result: NDArray[np.float32] = (weights / np.sum(weights)).astype(np.float32)
    return result


def apply_top_p(logits: NDArray[np.float32], top_p: float) -> NDArray[np.float32]:
    """Drop tokens whose cumulative probability (descending order) exceeds top_p; keep the first."""
    if top_p >= 1.0:
        return logits
    order = np.argsort(-logits, kind="stable")
    cumulative = np.cumsum(_softmax(logits[order]))
    remove = cumulative > np.float32(top_p)
    remove[0] = False
    out = logits.copy()
    out[order[remove]] = -np.inf
    return out


def apply_top_k(logits: NDArray[np.float32], top_k: int) -> NDArray[np.float32]:
    """Set every logit below the k-th largest to -inf (ties with the k-th are kept)."""
    k = min(top_k, logits.shape[0])
    pivot = np.partition(logits, logits.shape[0] - k)[logits.shape[0] - k]
    return np.where(logits < pivot, np.float32(-np.inf), logits).astype(np.float32)


def logits_to_probs(
    logits: NDArray[np.float32],
    previous: NDArray[np.int64],
    *,
    top_k: int,
    top_p: float,
    temperature: float,
    repetition_penalty: float,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """(probabilities, penalized logits) of one step, steps 2-6 of the module docstring but the draw."""
    penalized = apply_repetition_penalty(logits.astype(np.float32, copy=False), previous, repetition_penalty)
    filtered = apply_top_p(penalized, top_p)
    filtered = (filtered / np.float32(max(temperature, MIN_TEMPERATURE))).astype(np.float32)
    filtered = apply_top_k(filtered, top_k)
    return _softmax(filtered), penalized


def exponential_race(probs: NDArray[np.float32], rng: np.random.Generator) -> int:
    """Draw an index with probability `probs` as argmax(probs / Exp(1)) (upstream's sampler)."""
    race = rng.exponential(1.0, size=probs.shape[0])
    return int(np.argmax(probs / race))


def sample_token(
    logits: NDArray[np.float32],
    previous: NDArray[np.int64],
    *,
    step: int,
    top_k: int,
    top_p: float,
    temperature: float,
    repetition_penalty: float,
    rng: np.random.Generator,
) -> SampledToken:
    """Sample the token of decoding step `step` from logits (V,) whose last column is EOS."""
    if step < EOS_FREE_STEPS:
        logits = logits[:-1]
    probs, penalized = logits_to_probs(
        logits,
        previous,
        top_k=top_k,
        top_p=top_p,
        temperature=temperature,
        repetition_penalty=repetition_penalty,
    )
    return SampledToken(token=exponential_race(probs, rng), argmax=int(np.argmax(penalized)))
