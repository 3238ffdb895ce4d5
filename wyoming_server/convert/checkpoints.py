"""Read official GPT-SoVITS checkpoints safely and tell their version.

Checkpoints are pickles. We never unpickle arbitrary objects: `torch.load(weights_only=True)`
with one allowed stand-in for upstream's `utils.HParams` (the config object inside
fine-tuned SoVITS files). SoVITS files for v2Pro/v2ProPlus/v3/v4 have their first two
bytes (`PK`) overwritten with a version code; we put `PK` back before unzipping.
"""

from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import torch

from .errors import ConversionError

_LOGGER = logging.getLogger(__name__)

SUPPORTED_VERSIONS: Final = ("v2", "v2Pro", "v2ProPlus")

# First two bytes of a SoVITS file -> version (upstream process_ckpt.head2version).
HEADER_VERSIONS: Final = {
    b"00": "v1",
    b"01": "v2",
    b"02": "v3",
    b"03": "v3",
    b"04": "v4",
    b"05": "v2Pro",
    b"06": "v2ProPlus",
}
ZIP_MAGIC: Final = b"PK"
V1_PHONE_COUNT: Final = 322
V2_PHONE_COUNT: Final = 732


class HParams:
    """Stand-in for upstream's `utils.HParams`: a bag of attributes, nested."""

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict."""
        return {k: v.to_dict() if isinstance(v, HParams) else v for k, v in vars(self).items()}


@dataclass(frozen=True)
class GptCheckpoint:
    """A text-to-semantic checkpoint (`.ckpt`)."""

    path: Path
    weights: dict[str, torch.Tensor]
    """State dict in fp32 with the `model.` prefix removed."""
    config: dict[str, Any]

    @property
    def model_config(self) -> dict[str, Any]:
        """The `config["model"]` section (layers, widths, vocab sizes)."""
        section: dict[str, Any] = self.config.get("model", {})
        return section

    @property
    def phone_count(self) -> int:
        """Rows of the text embedding: 322 for v1, 732 for v2 and later."""
        return int(self.weights["ar_text_embedding.word_embeddings.weight"].shape[0])


@dataclass(frozen=True)
class SovitsCheckpoint:
    """A SoVITS generator checkpoint (`.pth`)."""

    path: Path
    weights: dict[str, torch.Tensor]
    """State dict in fp32 (training-only `enc_q.*` dropped)."""
    config: dict[str, Any]
    header: bytes
    version: str
    """"v2", "v2Pro" or "v2ProPlus" (others are rejected at load)."""

    @property
    def model_config(self) -> dict[str, Any]:
        """The `config["model"]` section (channels, kernels, gin)."""
        section: dict[str, Any] = self.config.get("model", {})
        return section


def _torch_load(data: bytes | Path, what: str) -> Any:
    source: Any = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        with torch.serialization.safe_globals([(HParams, "utils.HParams")]):
            return torch.load(source, map_location="cpu", weights_only=True)
    except (zipfile.BadZipFile, EOFError, RuntimeError) as err:
        if "central directory" in str(err) or "EOF" in str(err) or isinstance(err, zipfile.BadZipFile | EOFError):
            raise ConversionError(f"{what} is truncated or not a PyTorch checkpoint ({err})") from err
        raise ConversionError(f"{what} cannot be read: {err}") from err
    except Exception as err:  # pickle.UnpicklingError and friends carry the reason
        raise ConversionError(f"{what} cannot be read safely: {err}") from err


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise ConversionError(f"{what} not found: {path}")
    if path.stat().st_size < 64:
        raise ConversionError(f"{what} is empty or truncated: {path}")


def _as_dict(config: Any) -> dict[str, Any]:
    if isinstance(config, HParams):
        return config.to_dict()
    if isinstance(config, dict):
        return {k: _as_dict(v) if isinstance(v, HParams | dict) else v for k, v in config.items()}
    return {}


def _fp32_weights(raw: Any, what: str) -> dict[str, torch.Tensor]:
    if not isinstance(raw, dict) or not raw:
        raise ConversionError(f"{what} has no 'weight' state dict")
    weights: dict[str, torch.Tensor] = {}
    for key, value in raw.items():
        if not isinstance(value, torch.Tensor):
            raise ConversionError(f"{what}: entry {key!r} is not a tensor")
        weights[key] = value.float() if value.is_floating_point() else value
    return weights


def load_gpt_checkpoint(path: Path) -> GptCheckpoint:
    """Load a GPT `.ckpt`; rejects v1 (322 phones) and non-GPT files."""
    what = f"GPT checkpoint {path.name}"
    _require_file(path, what)
    data = _torch_load(path, what)
    if not isinstance(data, dict) or "weight" not in data:
        raise ConversionError(f"{what} is not a GPT-SoVITS GPT checkpoint (no 'weight' entry)")
    raw = _fp32_weights(data["weight"], what)
    if not any(k.startswith("model.") for k in raw):
        raise ConversionError(f"{what} is not a GPT checkpoint (no 'model.*' weights; is it a SoVITS .pth?)")
    weights = {k.removeprefix("model."): v for k, v in raw.items()}
    checkpoint = GptCheckpoint(path=path, weights=weights, config=_as_dict(data.get("config", {})))
    if "ar_text_embedding.word_embeddings.weight" not in weights:
        raise ConversionError(f"{what} is missing key 'model.ar_text_embedding.word_embeddings.weight'")
    if checkpoint.phone_count == V1_PHONE_COUNT:
        raise ConversionError(f"{what} is a v1 model (322 phones); only v2, v2Pro and v2ProPlus are supported")
    if checkpoint.phone_count != V2_PHONE_COUNT:
        raise ConversionError(
            f"{what} has {checkpoint.phone_count} phones; expected {V2_PHONE_COUNT} (v2 symbol table)"
        )
    return checkpoint


def detect_sovits_version(header: bytes, config: dict[str, Any], weights: dict[str, torch.Tensor]) -> str:
    """Version from the header bytes, then the config, then tensor shapes (reference §10.25)."""
    if header in HEADER_VERSIONS:
        return HEADER_VERSIONS[header]
    if any(k.startswith(("cfm.", "bridge.", "wns1.")) for k in weights):
        return "v3"
    text_embedding = weights.get("enc_p.text_embedding.weight")
    if text_embedding is not None and text_embedding.shape[0] == V1_PHONE_COUNT:
        return "v1"
    declared = str(config.get("model", {}).get("version") or config.get("version") or "")
    if "sv_emb.weight" in weights:
        if declared in ("v2Pro", "v2ProPlus"):
            return declared
        first_up = weights.get("dec.ups.0.weight_v")
        return "v2ProPlus" if first_up is not None and first_up.shape[-1] == 20 else "v2Pro"
    if declared in ("v1", "v3", "v4"):
        return declared
    return "v2"


def load_sovits_checkpoint(path: Path) -> SovitsCheckpoint:
    """Load a SoVITS `.pth` (plain or with a version header); rejects v1, v3 and v4."""
    what = f"SoVITS checkpoint {path.name}"
    _require_file(path, what)
    raw_bytes = path.read_bytes()
    header = raw_bytes[:2]
    if header != ZIP_MAGIC and header not in HEADER_VERSIONS:
        raise ConversionError(f"{what} is not a SoVITS checkpoint (unknown header {header!r})")
    if header in HEADER_VERSIONS and HEADER_VERSIONS[header] not in SUPPORTED_VERSIONS:
        raise ConversionError(
            f"{what} is a {HEADER_VERSIONS[header]} model; only v2, v2Pro and v2ProPlus are supported"
        )
    data = _torch_load(ZIP_MAGIC + raw_bytes[2:], what)
    if not isinstance(data, dict) or "weight" not in data:
        raise ConversionError(f"{what} is not a SoVITS checkpoint (no 'weight' entry)")
    weights = {k: v for k, v in _fp32_weights(data["weight"], what).items() if not k.startswith("enc_q.")}
    if any(k.startswith("model.") for k in weights):
        raise ConversionError(f"{what} holds GPT weights ('model.*'); pass it as --gpt, not --sovits")
    config = _as_dict(data.get("config", {}))
    version = detect_sovits_version(header, config, weights)
    if version not in SUPPORTED_VERSIONS:
        raise ConversionError(f"{what} is a {version} model; only v2, v2Pro and v2ProPlus are supported")
    if "lora_rank" in data:
        raise ConversionError(f"{what} is a LoRA fine-tune (v3/v4); only v2, v2Pro and v2ProPlus are supported")
    _LOGGER.debug("%s: header=%r version=%s tensors=%d", path.name, header, version, len(weights))
    return SovitsCheckpoint(path=path, weights=weights, config=config, header=header, version=version)


def check_pair(gpt: GptCheckpoint, sovits: SovitsCheckpoint) -> None:
    """Reject GPT/SoVITS pairs that cannot work together."""
    sovits_phones = sovits.weights.get("enc_p.text_embedding.weight")
    if sovits_phones is not None and sovits_phones.shape[0] != gpt.phone_count:
        raise ConversionError(
            f"mixed versions: {gpt.path.name} has {gpt.phone_count} phones but "
            f"{sovits.path.name} ({sovits.version}) has {sovits_phones.shape[0]}"
        )


def load_state_dict_file(path: Path, what: str) -> dict[str, torch.Tensor]:
    """Load a plain state dict (HuBERT `pytorch_model.bin`, speaker-verification `.ckpt`) in fp32."""
    _require_file(path, what)
    data = _torch_load(path, what)
    if isinstance(data, dict) and "state_dict" in data and isinstance(data["state_dict"], dict):
        data = data["state_dict"]
    return _fp32_weights(data, what)
