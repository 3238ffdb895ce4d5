"""Our torch modules run eagerly: the torch figures the engine benchmark compares onnxruntime with."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from .sovits import SovitsDecoderModule
from .t2s import T2SModel, prefix_lm_blocked


def set_threads(threads: int) -> None:
    """torch's intra-op threads (the benchmark gives torch what it gives onnxruntime)."""
    torch.set_num_threads(threads)


def decode_wave(
    module: SovitsDecoderModule, tokens: NDArray[np.int64], phones: NDArray[np.int64], ge: NDArray[np.float32],
    noise: NDArray[np.float32],
) -> NDArray[np.float32]:
    """One whole decode through the torch decoder module: semantic tokens + phones + ge + noise -> wave."""
    frames = noise.shape[2]
    with torch.inference_mode():
        wave = module(
            torch.from_numpy(tokens.reshape(1, 1, -1)),
            torch.from_numpy(phones.reshape(1, -1)),
            torch.from_numpy(ge),
            torch.from_numpy(noise),
            torch.tensor([0, frames]),
        )
    return np.asarray(wave[0].numpy(), dtype=np.float32)


class EagerT2S:
    """Our torch T2S modules, fp32 eager, with a preallocated KV cache written in place."""

    def __init__(self, model: T2SModel, capacity: int) -> None:
        self.model = model
        dims = model.dims
        shape = (1, dims.n_head, capacity, dims.head_dim)
        self.keys = [torch.zeros(shape) for _ in range(dims.n_layer)]
        self.values = [torch.zeros(shape) for _ in range(dims.n_layer)]
        self.length = 0
        """Rows filled (text + audio)."""
        self.n_text = 0

    def _run(self, h: torch.Tensor, blocked: torch.Tensor | None) -> torch.Tensor:
        start, end = self.length, self.length + h.shape[1]
        mask = None if blocked is None else ~blocked
        for i, layer in enumerate(self.model.layers):
            q, k, v = (layer.split_heads(t) for t in layer.project_qkv(h))
            self.keys[i][:, :, start:end] = k
            self.values[i][:, :, start:end] = v
            attended = torch.nn.functional.scaled_dot_product_attention(
                q, self.keys[i][:, :, :end], self.values[i][:, :, :end], attn_mask=mask
            )
            h = layer.finish(h, attended.transpose(1, 2).reshape(h.shape))
        self.length = end
        logits: torch.Tensor = self.model.ar_predict_layer(h[0, -1])
        return logits

    @torch.inference_mode()
    def prefill(self, phones: NDArray[np.int64], bert: NDArray[np.float32], prompt: NDArray[np.int64]) -> torch.Tensor:
        """Text + prompt rows into the cache; logits (V,) of the last row."""
        x = self.model.embed_text(torch.from_numpy(phones), torch.from_numpy(bert))
        tokens = torch.from_numpy(prompt)
        y = self.model.embed_audio(tokens, torch.arange(tokens.shape[0])).unsqueeze(0)
        self.length, self.n_text = 0, int(x.shape[1])
        return self._run(torch.cat((x, y), dim=1), prefix_lm_blocked(x.shape[1], tokens.shape[0]))

    @torch.inference_mode()
    def step(self, token: int) -> torch.Tensor:
        """One generated token at the next audio position; logits (V,)."""
        position = self.length - self.n_text  # audio positions count on from the prompt's
        h = self.model.embed_audio(torch.tensor([[token]]), torch.tensor([[position]]))
        return self._run(h, None)


@contextmanager
def count_macs(module: torch.nn.Module) -> Iterator[dict[str, float]]:
    """Multiply-adds of the convolutions and linear layers run inside the block, by part:
    `int8` (the generator's residual blocks, quantized), `upsampling` (its ConvTransposes), `other`."""
    totals = {"int8": 0.0, "upsampling": 0.0, "other": 0.0}
    handles = []

    def hook(name: str) -> Callable[..., None]:
        def record(layer: torch.nn.Module, args: Any, output: torch.Tensor) -> None:
            weight = layer.weight
            if not isinstance(weight, torch.Tensor):
                return
            shape = [int(n) for n in weight.shape]
            if isinstance(layer, torch.nn.Linear):
                macs = float(output.numel()) * shape[1]
            elif isinstance(layer, torch.nn.ConvTranspose1d):  # weight (in, out, k): every input meets out x k
                macs = float(args[0].numel()) * shape[1] * shape[2]
            else:  # Conv1d weight (out, in/groups, k): every output needs in/groups x k
                macs = float(output.numel()) * shape[1] * shape[2]
            if name.startswith("dec.resblocks."):
                totals["int8"] += macs
            else:
                totals["upsampling" if name.startswith("dec.ups.") else "other"] += macs

        return record

    for name, layer in module.named_modules():
        if isinstance(layer, torch.nn.Conv1d | torch.nn.ConvTranspose1d | torch.nn.Linear):
            handles.append(layer.register_forward_hook(hook(name)))
    try:
        yield totals
    finally:
        for handle in handles:
            handle.remove()
