"""Sizes of the text-to-semantic ("GPT") model, from its tensors and config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..errors import ConversionError
from ..official import Shaped

BERT_DIM: Final = 1024
"""Width of the per-phone BERT features (chinese-roberta-wwm-ext-large hidden size)."""
EOS_FREE_STEPS: Final = 11
"""Upstream drops the EOS column for the first 11 steps (idx < 11), so at least 11 tokens come out."""


@dataclass(frozen=True)
class T2SDims:
    """Dimensions of a T2S model, read from its weights."""

    n_layer: int
    d_model: int
    n_head: int
    ffn: int
    phone_vocab: int
    audio_vocab: int
    """Semantic codes plus EOS (1025 for every released model)."""

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.d_model // self.n_head

    @property
    def eos(self) -> int:
        """The EOS token id: upstream asserts EOS == vocab_size - 1."""
        return self.audio_vocab - 1

    @classmethod
    def from_checkpoint(cls, weights: Mapping[str, Shaped], config: Mapping[str, Any]) -> T2SDims:
        """Dims from tensor shapes; the head count (not visible in shapes) from `config["model"]["head"]`."""
        model_config = config.get("model", {}) if isinstance(config.get("model"), dict) else {}
        for key in ("ar_text_embedding.word_embeddings.weight", "ar_audio_embedding.word_embeddings.weight"):
            if key not in weights:
                raise ConversionError(f"GPT checkpoint is missing key {key!r}")
        phone_vocab, d_model = (int(n) for n in weights["ar_text_embedding.word_embeddings.weight"].shape)
        audio_vocab = int(weights["ar_audio_embedding.word_embeddings.weight"].shape[0])
        n_layer = 0
        while f"h.layers.{n_layer}.self_attn.in_proj_weight" in weights:
            n_layer += 1
        if n_layer == 0:
            raise ConversionError("GPT checkpoint has no transformer layers ('h.layers.0.*' missing)")
        ffn_key = "h.layers.0.linear1.weight"
        if ffn_key not in weights:
            raise ConversionError(f"GPT checkpoint is missing key {ffn_key!r}")
        ffn = int(weights[ffn_key].shape[0])
        n_head = model_config.get("head")
        if not isinstance(n_head, int) or n_head < 1 or d_model % n_head:
            raise ConversionError(
                f"GPT checkpoint config gives head={n_head!r}, which does not divide the width {d_model}"
            )
        declared_eos = model_config.get("EOS")
        if declared_eos is not None and declared_eos != audio_vocab - 1:
            raise ConversionError(f"GPT checkpoint config has EOS={declared_eos}, expected {audio_vocab - 1}")
        return cls(n_layer, d_model, n_head, ffn, phone_vocab, audio_vocab)


def sampling_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's `sampling_defaults`: top_k from the GPT's config (upstream's default 15)."""
    inference = config.get("inference", {}) if isinstance(config.get("inference"), dict) else {}
    return {"top_k": int(inference.get("top_k", 15))}


def t2s_manifest_dims(dims: T2SDims, config: Mapping[str, Any]) -> dict[str, Any]:
    """What the manifest records under `dims["t2s"]` (sizes, plus sampling defaults from the config)."""
    inference = config.get("inference", {}) if isinstance(config.get("inference"), dict) else {}
    data = config.get("data", {}) if isinstance(config.get("data"), dict) else {}
    return {
        "n_layer": dims.n_layer,
        "d_model": dims.d_model,
        "n_head": dims.n_head,
        "head_dim": dims.head_dim,
        "ffn": dims.ffn,
        "phone_vocab": dims.phone_vocab,
        "audio_vocab": dims.audio_vocab,
        "eos": dims.eos,
        "bert_dim": BERT_DIM,
        "eos_free_steps": EOS_FREE_STEPS,
        "top_k": int(inference.get("top_k", 15)),
        "max_sec": data.get("max_sec"),
        "kv_cache": "GroupQueryAttention, shared past/present buffer (B, H, capacity, head_dim) per layer "
        "(int8 in the INT8 step graph t2s_step, when present)",
    }
