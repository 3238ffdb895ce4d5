"""What `edge-tts-clone models download` fetches: the official pretrained files per model version.

All files live in the Hugging Face repository `lj1995/GPT-SoVITS` under the paths below (the same
relative paths GPT-SoVITS uses under `GPT_SoVITS/pretrained_models/`). Sizes and hashes are the
ones our reference notes could confirm; where only the first eight hex digits of the sha256 are
known we check those, and where nothing is known we check only that the download completed
(Content-Length). Each entry says which check applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEFAULT_BASE_URL: Final = "https://huggingface.co/lj1995/GPT-SoVITS/resolve/main/"


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """One file of the catalogue."""

    path: str
    """Path inside the repository (and under the download folder)."""
    size: int | None = None
    """Bytes, when known."""
    sha256: str | None = None
    """Full hex digest, when known."""
    sha256_prefix: str | None = None
    """Leading hex digits of the digest, when only those are known."""

    @property
    def check(self) -> str:
        """Which verification applies, in words (for `models download --list`)."""
        if self.sha256:
            return "size + sha256"
        if self.sha256_prefix and self.size:
            return f"size + sha256 prefix {self.sha256_prefix}"
        if self.size:
            return "size"
        return "complete transfer only"


@dataclass(frozen=True, slots=True)
class ModelRelease:
    """A downloadable model version: its GPT and SoVITS weights and the helper networks it needs."""

    id: str
    """Model id under <data>/models (also the command's argument)."""
    version: str
    gpt: RemoteFile
    sovits: RemoteFile
    sv: RemoteFile | None = None
    """Speaker-verification net (v2Pro/v2ProPlus only)."""

    def files(self, with_bert: bool) -> list[RemoteFile]:
        """Everything to fetch, in download order."""
        files = [self.gpt, self.sovits, *HUBERT_FILES]
        if self.sv is not None:
            files.append(self.sv)
        if with_bert:
            files.extend(BERT_FILES)
        return files


HUBERT_DIR: Final = "chinese-hubert-base"
BERT_DIR: Final = "chinese-roberta-wwm-ext-large"

HUBERT_FILES: Final = (
    RemoteFile(f"{HUBERT_DIR}/config.json"),
    RemoteFile(f"{HUBERT_DIR}/preprocessor_config.json"),
    RemoteFile(f"{HUBERT_DIR}/pytorch_model.bin", size=188_811_417),
)
BERT_FILES: Final = (
    RemoteFile(f"{BERT_DIR}/config.json"),
    RemoteFile(f"{BERT_DIR}/tokenizer.json"),
    RemoteFile(f"{BERT_DIR}/pytorch_model.bin", size=651_225_145),
)
_S1V3: Final = RemoteFile("s1v3.ckpt")
SV_FILE: Final = RemoteFile("sv/pretrained_eres2netv2w24s4ep4.ckpt")
"""The speaker-verification net v2Pro and v2ProPlus need."""

CATALOGUE: Final[dict[str, ModelRelease]] = {
    "v2": ModelRelease(
        id="v2",
        version="v2",
        gpt=RemoteFile(
            "gsv-v2final-pretrained/s1bert25hz-5kh-longer-epoch=12-step=369668.ckpt",
            size=155_315_150,
            sha256_prefix="732f94e6",
        ),
        sovits=RemoteFile("gsv-v2final-pretrained/s2G2333k.pth", size=106_035_259, sha256_prefix="924fdcca"),
    ),
    "v2pro": ModelRelease(
        id="v2pro", version="v2Pro", gpt=_S1V3, sovits=RemoteFile("v2Pro/s2Gv2Pro.pth"), sv=SV_FILE
    ),
    "v2proplus": ModelRelease(
        id="v2proplus", version="v2ProPlus", gpt=_S1V3, sovits=RemoteFile("v2Pro/s2Gv2ProPlus.pth"), sv=SV_FILE
    ),
}
