"""BERT features per phone for the T2S model (reference §2.1): RoBERTa for Chinese, zeros otherwise.

For each `zh` segment of the text frontend's output, the normalized text goes through the `bert`
graph one character per token ([CLS] chars [SEP]; after Chinese normalization every character is
its own token, as upstream asserts) and row i is repeated word2ph[i] times. Every other segment
(and every model converted without `--bert`) gets zeros of the same width.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from ..errors import ModelLoadError
from ..onnx import require_inputs
from .model import GptSoVitsModel
from .text import Phones, PhoneSegment

_LOGGER = logging.getLogger(__name__)

GRAPH: Final = "bert"
BERT_FEATURE_DIM: Final = 1024
"""Width of chinese-roberta-wwm-ext-large features (what the T2S `bert_proj` expects)."""
DEFAULT_VOCAB_FILE: Final = "bert_vocab.txt"
MAX_CHARS_PER_CALL: Final = 510
"""BERT's 512 positions minus [CLS] and [SEP]; upstream splits longer texts too."""
CHINESE: Final = "zh"


def read_vocab(text: str) -> dict[str, int]:
    """Token -> id from a vocab.txt body (line number = id)."""
    return {token: index for index, token in enumerate(text.splitlines()) if token}


class BertFeaturizer:
    """Per-phone BERT features of a model folder (zeros when it has no `bert` graph)."""

    def __init__(self, model: GptSoVitsModel, vocab: Mapping[str, int] | None = None) -> None:
        self._session: ort.InferenceSession | None = None
        self._vocab: dict[str, int] = {}
        bert_dims = model.manifest.dims.get("bert") or {}
        self.dim = int(bert_dims.get("hidden", BERT_FEATURE_DIM))
        self.max_chars = int(bert_dims.get("max_chars", MAX_CHARS_PER_CALL))
        if not model.has_graph(GRAPH):
            return
        self._session = model.session(GRAPH)
        require_inputs(self._session, GRAPH, ("input_ids",))
        if vocab is None:
            if model.model_dir is None:
                raise ModelLoadError(
                    f"model {model.model_id}: a BERT vocabulary is needed with injected sessions"
                )
            path = model.model_dir / str(bert_dims.get("vocab_file", DEFAULT_VOCAB_FILE))
            try:
                vocab = read_vocab(path.read_text(encoding="utf-8"))
            except OSError as err:
                raise ModelLoadError(
                    f"model {model.model_id}: BERT vocabulary {path.name} unreadable: {err}"
                ) from err
        missing = [t for t in ("[CLS]", "[SEP]", "[UNK]") if t not in vocab]
        if missing:
            raise ModelLoadError(f"model {model.model_id}: BERT vocabulary lacks {', '.join(missing)}")
        self._vocab = dict(vocab)
        width = self._session.get_outputs()[0].shape[-1]
        self.dim = int(width) if isinstance(width, int) else self.dim

    @property
    def enabled(self) -> bool:
        """True when the model has a `bert` graph (otherwise every feature is zero)."""
        return self._session is not None

    def features(self, phones: Phones) -> NDArray[np.float32]:
        """(dim, T) float32 for the T phones of `phones`, segment by segment."""
        parts: list[NDArray[np.float32]] = []
        session = self._session
        for segment in phones.segments:
            count = len(segment.phones)
            if session is not None and segment.language == CHINESE and count:
                parts.append(self._chinese(session, segment, count))
            else:
                parts.append(np.zeros((self.dim, count), dtype=np.float32))
        total = int(np.asarray(phones.ids).shape[0])
        result = np.concatenate(parts, axis=1) if parts else np.zeros((self.dim, 0), dtype=np.float32)
        if result.shape[1] != total:
            raise ValueError(f"segments hold {result.shape[1]} phones but the text has {total}")
        return result

    def _chinese(
        self, session: ort.InferenceSession, segment: PhoneSegment, count: int
    ) -> NDArray[np.float32]:
        text, word2ph = segment.norm_text, list(segment.word2ph or ())
        if len(word2ph) != len(text) or sum(word2ph) != count:
            raise ValueError(
                f"zh segment {text!r}: {len(word2ph)} word2ph entries / {sum(word2ph)} phones for "
                f"{len(text)} characters / {count} phones"
            )
        rows = [
            self._char_features(session, text[i : i + self.max_chars])
            for i in range(0, len(text), self.max_chars)
        ]
        per_char = np.concatenate(rows, axis=0)  # (chars, dim)
        return np.repeat(per_char, word2ph, axis=0).T.astype(np.float32)

    def _char_features(self, session: ort.InferenceSession, text: str) -> NDArray[np.float32]:
        unk = self._vocab["[UNK]"]
        ids = [self._vocab["[CLS]"], *(self._vocab.get(ch, self._vocab.get(ch.lower(), unk)) for ch in text)]
        ids.append(self._vocab["[SEP]"])
        (features,) = session.run(["features"], {"input_ids": np.array([ids], dtype=np.int64)})
        _LOGGER.debug("bert: %d characters", len(text))
        return np.asarray(features, dtype=np.float32)
