"""Read official GPT-SoVITS checkpoints with torch: the reference the torch-free reader is tested against.

Checkpoints are pickles. We never unpickle arbitrary objects: `torch.load(weights_only=True)`
with one allowed stand-in for upstream's `utils.HParams` (the config object inside
fine-tuned SoVITS files). What the files hold and how their version is told is shared with the
torch-free reader (`checkpoints/official.py`); only the unpickling differs.
"""

from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..checkpoints import official
from ..checkpoints.errors import ConversionError
from ..checkpoints.hparams import HParams, config_dict
from ..checkpoints.official import detect_sovits_version

__all__ = [
    "GptCheckpoint",
    "HParams",
    "SovitsCheckpoint",
    "check_pair",
    "detect_sovits_version",
    "load_gpt_checkpoint",
    "load_sovits_checkpoint",
    "load_state_dict_file",
]

_LOGGER = logging.getLogger(__name__)


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
        return int(self.weights[official.GPT_TEXT_EMBEDDING].shape[0])


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


def torch_load(data: bytes | Path, what: str) -> Any:
    """`torch.load(weights_only=True)` with `utils.HParams` allowed; ConversionError says why it fails."""
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


def _is_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor)


def _fp32(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}


def load_gpt_checkpoint(path: Path) -> GptCheckpoint:
    """Load a GPT `.ckpt`; rejects v1 (322 phones) and non-GPT files."""
    what = f"GPT checkpoint {path.name}"
    official.require_file(path, what)
    data = torch_load(path, what)
    raw = _fp32(official.state_dict_entry(data, what, _is_tensor, "GPT"))
    weights = official.gpt_weights(raw, what)
    return GptCheckpoint(path=path, weights=weights, config=config_dict(data.get("config", {})))


def load_sovits_checkpoint(path: Path) -> SovitsCheckpoint:
    """Load a SoVITS `.pth` (plain or with a version header); rejects v1, v3 and v4."""
    what = f"SoVITS checkpoint {path.name}"
    header = official.sovits_header(path, what)
    data = torch_load(official.ZIP_MAGIC + path.read_bytes()[2:], what)
    raw = _fp32(official.state_dict_entry(data, what, _is_tensor, "SoVITS"))
    weights, config, version = official.sovits_weights(data, raw, header, what)
    _LOGGER.debug("%s: header=%r version=%s tensors=%d", path.name, header, version, len(weights))
    return SovitsCheckpoint(path=path, weights=weights, config=config, header=header, version=version)


def check_pair(gpt: GptCheckpoint, sovits: SovitsCheckpoint) -> None:
    """Reject GPT/SoVITS pairs that cannot work together."""
    official.check_pair(gpt.path.name, gpt.phone_count, sovits.path.name, sovits.version, sovits.weights)


def load_state_dict_file(path: Path, what: str) -> dict[str, torch.Tensor]:
    """Load a plain state dict (HuBERT `pytorch_model.bin`, speaker-verification `.ckpt`) in fp32."""
    official.require_file(path, what)
    return _fp32(official.plain_state_dict(torch_load(path, what), what, _is_tensor))
