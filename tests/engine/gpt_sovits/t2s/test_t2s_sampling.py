"""The numpy sampler against hand-computed expectations (upstream's order, reference §7.1)."""

from __future__ import annotations

import numpy as np
import pytest

from wyoming_server.engine.gpt_sovits.sampling import (
    EOS_FREE_STEPS,
    apply_repetition_penalty,
    apply_top_k,
    apply_top_p,
    exponential_race,
    logits_to_probs,
    sample_token,
)

NONE = np.zeros(0, np.int64)


def f32(*values: float) -> np.ndarray:
    return np.array(values, np.float32)


def test_repetition_penalty_divides_positive_multiplies_negative_each_id_once() -> None:
    out = apply_repetition_penalty(f32(2.0, -2.0, 1.0, 0.5), np.array([0, 1, 1, 1], np.int64), 1.35)
    np.testing.assert_allclose(out, f32(2.0 / 1.35, -2.0 * 1.35, 1.0, 0.5), rtol=1e-6)


def test_repetition_penalty_of_one_or_no_history_changes_nothing() -> None:
    logits = f32(1.0, -1.0)
    assert apply_repetition_penalty(logits, np.array([0, 1], np.int64), 1.0).tolist() == [1.0, -1.0]
    assert apply_repetition_penalty(logits, NONE, 1.35).tolist() == [1.0, -1.0]


def test_top_p_drops_the_crossing_token() -> None:
    logits = np.log(f32(0.5, 0.3, 0.2))
    # cumulative 0.5, 0.8, 1.0: with top_p 0.7 the 0.3 token crosses it and is dropped (HF would keep it).
    kept = np.isfinite(apply_top_p(logits, 0.7))
    assert kept.tolist() == [True, False, False]
    assert np.isfinite(apply_top_p(logits, 0.9)).tolist() == [True, True, False]


def test_top_p_always_keeps_the_first_token() -> None:
    logits = np.log(f32(0.2, 0.5, 0.3))
    assert np.isfinite(apply_top_p(logits, 0.1)).tolist() == [False, True, False]


def test_top_p_comes_before_temperature() -> None:
    logits = np.log(f32(0.5, 0.3, 0.2))
    # On T=1 probabilities top_p 0.7 keeps only the first token; a hot temperature applied first
    # would flatten to ~1/3 each and keep two.
    probs, _ = logits_to_probs(logits, NONE, top_k=3, top_p=0.7, temperature=100.0, repetition_penalty=1.0)
    assert probs.tolist() == [1.0, 0.0, 0.0]


def test_temperature_sharpens_and_is_clamped() -> None:
    logits = np.log(f32(0.5, 0.3, 0.2))
    half, _ = logits_to_probs(logits, NONE, top_k=3, top_p=1.0, temperature=0.5, repetition_penalty=1.0)
    np.testing.assert_allclose(half, f32(0.25, 0.09, 0.04) / 0.38, rtol=1e-5)
    cold, _ = logits_to_probs(logits, NONE, top_k=3, top_p=1.0, temperature=0.0, repetition_penalty=1.0)
    assert cold.tolist() == [1.0, 0.0, 0.0]  # max(T, 1e-5): no division by zero


def test_top_k_keeps_ties_with_the_kth() -> None:
    assert np.isfinite(apply_top_k(f32(3.0, 3.0, 3.0, 1.0), 1)).tolist() == [True, True, True, False]
    assert np.isfinite(apply_top_k(f32(1.0, 3.0, 2.0, 2.0), 2)).tolist() == [False, True, True, True]
    assert np.isfinite(apply_top_k(f32(1.0, 3.0), 15)).all()


def test_penalty_applies_before_top_k() -> None:
    # Token 0 leads until penalized: 2.0 / 1.35 = 1.48 < 1.9, so top-1 becomes token 1.
    probs, penalized = logits_to_probs(
        f32(2.0, 1.9, 0.0),
        np.array([0], np.int64),
        top_k=1,
        top_p=1.0,
        temperature=1.0,
        repetition_penalty=1.35,
    )
    assert probs.tolist() == [0.0, 1.0, 0.0]
    assert int(np.argmax(penalized)) == 1


def test_eos_column_dropped_for_the_first_steps() -> None:
    logits = f32(0.0, 1.0, 50.0)  # last id is EOS
    rng = np.random.default_rng(0)
    for step in range(EOS_FREE_STEPS):
        choice = sample_token(
            logits, NONE, step=step, top_k=15, top_p=1.0, temperature=1.0, repetition_penalty=1.35, rng=rng
        )
        assert choice.token != 2 and choice.argmax == 1
    late = sample_token(
        logits,
        NONE,
        step=EOS_FREE_STEPS,
        top_k=15,
        top_p=1.0,
        temperature=1.0,
        repetition_penalty=1.35,
        rng=rng,
    )
    assert late.token == 2 and late.argmax == 2


def test_exponential_race_draws_the_distribution() -> None:
    probs = f32(0.7, 0.2, 0.1, 0.0)
    rng = np.random.default_rng(1234)
    counts = np.bincount([exponential_race(probs, rng) for _ in range(20000)], minlength=4)
    np.testing.assert_allclose(counts / 20000, probs, atol=0.015)
    assert counts[3] == 0


@pytest.mark.parametrize("seed", [0, 1])
def test_same_seed_same_draws(seed: int) -> None:
    logits = np.random.default_rng(9).standard_normal(50).astype(np.float32)

    def draws(s: int) -> list[int]:
        rng = np.random.default_rng(s)
        return [
            sample_token(
                logits, NONE, step=20, top_k=15, top_p=0.9, temperature=1.0, repetition_penalty=1.35, rng=rng
            ).token
            for _ in range(30)
        ]

    assert draws(seed) == draws(seed)
    assert draws(seed) != draws(seed + 100)
