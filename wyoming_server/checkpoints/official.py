"""What the official GPT-SoVITS files hold, and the checks both converters apply to them.

A GPT `.ckpt` is `{"weight": state dict with a "model." prefix, "config": dict, "info": str}`; a SoVITS
`.pth` is `{"weight": state dict, "config": dict or utils.HParams, "info": ...}` whose first two bytes
are, for v2Pro/v2ProPlus/v3/v4, a version code instead of the zip's `PK` (upstream `process_ckpt`).
HuBERT's `pytorch_model.bin` and the speaker-verification `.ckpt` are plain state dicts. The version
comes from the header bytes, then the config, then tensor shapes. The functions here work on any
tensor type with a `.shape` (torch tensors in the torch converter, `LazyTensor`s here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Generic, Protocol, TypeVar

from .errors import ConversionError
from .hparams import config_dict
from .torch_file import LazyTensor, TorchFile, read_torch_file

SUPPORTED_VERSIONS: Final = ("v2", "v2Pro", "v2ProPlus")
PRO_VERSIONS: Final = ("v2Pro", "v2ProPlus")
HEADER_VERSIONS: Final = {
    b"00": "v1",
    b"01": "v2",
    b"02": "v3",
    b"03": "v3",
    b"04": "v4",
    b"05": "v2Pro",
    b"06": "v2ProPlus",
}
"""First two bytes of a SoVITS file -> version (upstream process_ckpt.head2version)."""
ZIP_MAGIC: Final = b"PK"
V1_PHONE_COUNT: Final = 322
V2_PHONE_COUNT: Final = 732
GPT_TEXT_EMBEDDING: Final = "ar_text_embedding.word_embeddings.weight"
MIN_FILE_BYTES: Final = 64


class Shaped(Protocol):
    """Anything with a shape: a torch tensor, a numpy array, a `LazyTensor`."""

    @property
    def shape(self) -> Any: ...


T = TypeVar("T", bound=Shaped)


def require_file(path: Path, what: str) -> None:
    """ConversionError when `path` is missing or too short to be a checkpoint."""
    if not path.is_file():
        raise ConversionError(f"{what} not found: {path}")
    if path.stat().st_size < MIN_FILE_BYTES:
        raise ConversionError(f"{what} is empty or truncated: {path}")


def sovits_header(path: Path, what: str) -> bytes:
    """The first two bytes of a SoVITS file, checked: `PK` or a version code of a supported version."""
    require_file(path, what)
    with path.open("rb") as f:
        header = f.read(2)
    if header != ZIP_MAGIC and header not in HEADER_VERSIONS:
        raise ConversionError(f"{what} is not a SoVITS checkpoint (unknown header {header!r})")
    if header in HEADER_VERSIONS and HEADER_VERSIONS[header] not in SUPPORTED_VERSIONS:
        raise ConversionError(
            f"{what} is a {HEADER_VERSIONS[header]} model; only v2, v2Pro and v2ProPlus are supported"
        )
    return header


def state_dict_entry(data: Any, what: str, is_tensor: Callable[[Any], bool], kind: str) -> dict[str, Any]:
    """`data["weight"]`: a non-empty dict of tensors; ConversionError otherwise."""
    if not isinstance(data, dict) or "weight" not in data:
        raise ConversionError(f"{what} is not a GPT-SoVITS {kind} checkpoint (no 'weight' entry)")
    return plain_state_dict(data["weight"], what, is_tensor)


def plain_state_dict(raw: Any, what: str, is_tensor: Callable[[Any], bool]) -> dict[str, Any]:
    """A non-empty {key: tensor} dict (a `{"state_dict": ...}` wrapper is opened)."""
    if isinstance(raw, dict) and "state_dict" in raw and isinstance(raw["state_dict"], dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict) or not raw:
        raise ConversionError(f"{what} has no 'weight' state dict")
    for key, value in raw.items():
        if not is_tensor(value):
            raise ConversionError(f"{what}: entry {key!r} is not a tensor")
    return {str(k): v for k, v in raw.items()}


def gpt_weights(raw: Mapping[str, T], what: str) -> dict[str, T]:
    """A GPT state dict without its `model.` prefix, checked to be a v2 (732-phone) text-to-semantic model."""
    if not any(k.startswith("model.") for k in raw):
        raise ConversionError(f"{what} is not a GPT checkpoint (no 'model.*' weights; is it a SoVITS .pth?)")
    weights = {k.removeprefix("model."): v for k, v in raw.items()}
    if GPT_TEXT_EMBEDDING not in weights:
        raise ConversionError(f"{what} is missing key 'model.{GPT_TEXT_EMBEDDING}'")
    phones = int(weights[GPT_TEXT_EMBEDDING].shape[0])
    if phones == V1_PHONE_COUNT:
        raise ConversionError(f"{what} is a v1 model (322 phones); only v2, v2Pro and v2ProPlus are supported")
    if phones != V2_PHONE_COUNT:
        raise ConversionError(f"{what} has {phones} phones; expected {V2_PHONE_COUNT} (v2 symbol table)")
    return weights


def detect_sovits_version(header: bytes, config: dict[str, Any], weights: Mapping[str, Shaped]) -> str:
    """Version from the header bytes, then the config, then tensor shapes."""
    if header in HEADER_VERSIONS:
        return HEADER_VERSIONS[header]
    if any(k.startswith(("cfm.", "bridge.", "wns1.")) for k in weights):
        return "v3"
    text_embedding = weights.get("enc_p.text_embedding.weight")
    if text_embedding is not None and text_embedding.shape[0] == V1_PHONE_COUNT:
        return "v1"
    declared = str(config.get("model", {}).get("version") or config.get("version") or "")
    if "sv_emb.weight" in weights:
        if declared in PRO_VERSIONS:
            return declared
        first_up = weights.get("dec.ups.0.weight_v")
        return "v2ProPlus" if first_up is not None and first_up.shape[-1] == 20 else "v2Pro"
    if declared in ("v1", "v3", "v4"):
        return declared
    return "v2"


def sovits_weights(
    data: Any, raw: Mapping[str, T], header: bytes, what: str
) -> tuple[dict[str, T], dict[str, Any], str]:
    """(state dict without the training-only `enc_q.*`, config dict, version), checked to be supported."""
    weights = {k: v for k, v in raw.items() if not k.startswith("enc_q.")}
    if any(k.startswith("model.") for k in weights):
        raise ConversionError(f"{what} holds GPT weights ('model.*'); pass it as --gpt, not --sovits")
    config = config_dict(data.get("config", {}))
    version = detect_sovits_version(header, config, weights)
    if version not in SUPPORTED_VERSIONS:
        raise ConversionError(f"{what} is a {version} model; only v2, v2Pro and v2ProPlus are supported")
    if "lora_rank" in data:
        raise ConversionError(f"{what} is a LoRA fine-tune (v3/v4); only v2, v2Pro and v2ProPlus are supported")
    return weights, config, version


def check_pair(gpt_name: str, gpt_phones: int, sovits_name: str, version: str, sovits: Mapping[str, Shaped]) -> None:
    """Reject GPT/SoVITS pairs that cannot work together (different phone tables)."""
    sovits_phones = sovits.get("enc_p.text_embedding.weight")
    if sovits_phones is not None and sovits_phones.shape[0] != gpt_phones:
        raise ConversionError(
            f"mixed versions: {gpt_name} has {gpt_phones} phones but "
            f"{sovits_name} ({version}) has {sovits_phones.shape[0]}"
        )


def hubert_weights(raw: Mapping[str, T]) -> dict[str, T]:
    """HuBERT's state dict without a `hubert.` prefix (files saved from HubertForCTC and the like)."""
    if raw and all(k.startswith("hubert.") for k in raw if not k.startswith(("lm_head.", "final_proj."))):
        return {k.removeprefix("hubert."): v for k, v in raw.items() if k.startswith("hubert.")}
    return dict(raw)


def _is_lazy(value: Any) -> bool:
    return isinstance(value, LazyTensor)


@dataclass
class CheckpointFile(Generic[T]):
    """A checkpoint read without torch: its tensors (read on demand), config and version; close when done."""

    path: Path
    weights: dict[str, T]
    config: dict[str, Any]
    file: TorchFile
    version: str = ""
    header: bytes = ZIP_MAGIC

    @property
    def model_config(self) -> dict[str, Any]:
        """The `config["model"]` section."""
        section: dict[str, Any] = self.config.get("model", {}) if isinstance(self.config.get("model"), dict) else {}
        return section

    def close(self) -> None:
        """Release the file."""
        self.file.close()


def read_gpt(path: Path) -> CheckpointFile[LazyTensor]:
    """A GPT `.ckpt`, lazily; rejects v1 (322 phones) and non-GPT files."""
    what = f"GPT checkpoint {path.name}"
    require_file(path, what)
    data, file = read_torch_file(path, what)
    try:
        weights = gpt_weights(state_dict_entry(data, what, _is_lazy, "GPT"), what)
        return CheckpointFile(path, weights, config_dict(data.get("config", {})), file)
    except BaseException:
        file.close()
        raise


def read_sovits(path: Path) -> CheckpointFile[LazyTensor]:
    """A SoVITS `.pth` (plain or with a version header), lazily; rejects v1, v3 and v4."""
    what = f"SoVITS checkpoint {path.name}"
    header = sovits_header(path, what)
    data, file = read_torch_file(path, what, start=ZIP_MAGIC)
    try:
        raw = state_dict_entry(data, what, _is_lazy, "SoVITS")
        weights, config, version = sovits_weights(data, raw, header, what)
        return CheckpointFile(path, weights, config, file, version=version, header=header)
    except BaseException:
        file.close()
        raise


def read_state_dict(path: Path, what: str) -> CheckpointFile[LazyTensor]:
    """A plain state dict file (HuBERT `pytorch_model.bin`, the speaker-verification `.ckpt`), lazily."""
    require_file(path, what)
    data, file = read_torch_file(path, what)
    try:
        return CheckpointFile(path, plain_state_dict(data, what, _is_lazy), {}, file)
    except BaseException:
        file.close()
        raise
