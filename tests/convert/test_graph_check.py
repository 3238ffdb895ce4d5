"""The converter's graph check: scale-aware, so rounding passes on any CPU and a wrong graph never does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from wyoming_server.convert.errors import ConversionError
from wyoming_server.convert.graph import GraphSpec, export_graph, verify_graph
from wyoming_server.convert.graph_compare import output_scale
from wyoming_server.importer.plans import Inputs

WIDTH = 16
LARGE = 8000.0
"""Logits of this size are where one float32 rounding step (0.000977) exceeded the old absolute bound."""


class _Head(torch.nn.Module):
    """A linear head, `gain` times a random unit-scale one: outputs of about `gain` in size."""

    def __init__(self, gain: float, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.weight = torch.nn.Parameter(gain * torch.randn(WIDTH, WIDTH, generator=generator) / WIDTH**0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight


class _Nudged(torch.nn.Module):
    """`inner`'s output moved by `steps` float32 rounding steps: another CPU's summation order."""

    def __init__(self, inner: torch.nn.Module, steps: int) -> None:
        super().__init__()
        self.inner, self.steps = inner, steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x).detach().numpy()
        for _ in range(self.steps):
            out = np.nextafter(out, np.float32(np.inf))
        return torch.from_numpy(out)


def _inputs(rng: np.random.Generator) -> Inputs:
    return {"x": rng.standard_normal((4, WIDTH)).astype(np.float32)}


def _spec(module: torch.nn.Module, tolerance: float = 2e-4) -> GraphSpec:
    return GraphSpec(
        name="head", module=module, input_names=["x"], output_names=["y"], sample_inputs=_inputs, tolerance=tolerance
    )


def _exported(tmp_path: Path, gain: float) -> tuple[torch.nn.Module, Path]:
    module = _Head(gain)
    result = export_graph(_spec(module), tmp_path)
    return module, tmp_path / result.files["fp32"]


def test_output_scale_is_rms_and_never_below_one() -> None:
    small: NDArray[np.float32] = np.full(10, 0.01, dtype=np.float32)
    assert output_scale(small) == 1.0
    large = np.array([3000.0, -4000.0], dtype=np.float32)
    assert output_scale(large) == pytest.approx(np.sqrt((3000.0**2 + 4000.0**2) / 2))
    with_nan = np.array([np.nan, 2000.0, -2000.0], dtype=np.float32)
    assert output_scale(with_nan) == pytest.approx(2000.0)


def test_large_outputs_pass_with_another_cpus_rounding(tmp_path: Path) -> None:
    module, path = _exported(tmp_path, LARGE)
    rng = np.random.default_rng(3)
    with torch.no_grad():
        largest = float(module(torch.from_numpy(_inputs(rng)["x"])).abs().max())
    assert largest > 4096  # rounding steps of 0.000977 and more
    error = verify_graph(_spec(_Nudged(module, steps=4)), path, rng)
    assert error > 2e-4  # the old absolute bound would have refused this correct graph
    assert error < 0.02


def test_unit_scale_outputs_keep_the_absolute_bound(tmp_path: Path) -> None:
    module, path = _exported(tmp_path, 1.0)
    rng = np.random.default_rng(4)
    assert verify_graph(_spec(_Nudged(module, steps=4)), path, rng) < 1e-5
    # One weight off by 1e-3 moves outputs of about 1 by about 1e-3, five tolerances: refused as before.
    shifted = _Head(1.0)
    with torch.no_grad():
        shifted.weight[0, 0] += 1e-3
    with pytest.raises(ConversionError, match="head disagrees with its torch module"):
        verify_graph(_spec(shifted), path, rng)


@pytest.mark.parametrize("gain", [1.0, LARGE])
def test_a_wrong_graph_fails_at_any_scale(tmp_path: Path, gain: float) -> None:
    _, path = _exported(tmp_path, gain)
    other = _Head(gain, seed=1)  # the same shapes, other weights: a graph bound to the wrong tensors
    with pytest.raises(ConversionError, match=r"error \S+ of the output's scale > tolerance"):
        verify_graph(_spec(other), path, np.random.default_rng(5))


def test_a_slightly_wrong_large_graph_fails(tmp_path: Path) -> None:
    _, path = _exported(tmp_path, LARGE)
    one_percent = _Head(LARGE)
    with torch.no_grad():
        one_percent.weight.mul_(1.01)
    with pytest.raises(ConversionError):
        verify_graph(_spec(one_percent), path, np.random.default_rng(6))
