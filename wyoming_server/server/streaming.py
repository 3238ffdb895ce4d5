"""Streaming input (`synthesize-start` / `-chunk` / `-stop`): one open stream's voice, text bound and sentences.

Text arrives cut anywhere; the engine's sentence rules (`SentenceSplitter`) say when a sentence is
complete, so it can be spoken while the rest is still being written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine.gpt_sovits.text.sentences import SentenceSplitter
from .errors import ErrorCode, RequestError
from .requests import SpeechRequest, parse_chunk_text


@dataclass(slots=True)
class TextStream:
    """One streaming request (synthesize-start ... synthesize-stop)."""

    request: SpeechRequest | None
    """Voice and options for every sentence; None when synthesize-start was refused."""
    splitter: SentenceSplitter = field(default_factory=SentenceSplitter)
    chars: int = 0
    refused: bool = False
    """Read side: no more text is accepted (the error is queued behind the sentences before it)."""
    failed: bool = False
    """Reply side: after an error no sentence is spoken; synthesize-stop still gets synthesize-stopped."""

    def add_chunk(self, data: dict[str, Any], max_text_chars: int) -> list[str]:
        """The sentences one `synthesize-chunk` completes ([] once refused); RequestError for a bad
        chunk or when the stream's text passes `max_text_chars`."""
        text = parse_chunk_text(data)
        if self.refused:
            return []
        self.chars += len(text)
        if self.chars > max_text_chars:
            raise RequestError(
                ErrorCode.TEXT_TOO_LONG,
                f"the streamed text passed {max_text_chars} characters (see --max-text-chars)",
            )
        return self.splitter.add(text)

    def finish(self) -> list[str]:
        """`synthesize-stop`: the rest of the text as a last sentence (nothing if it has nothing to say)."""
        return self.splitter.finish()
