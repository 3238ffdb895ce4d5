"""A progress bar for conversion steps on stderr: redrawn in place on a terminal, a line per step otherwise."""

from __future__ import annotations

import sys
import time
from typing import Final, TextIO

BAR_WIDTH: Final = 30
REDRAW_S: Final = 0.2


class StepBar:
    """`progress(done, total, message)` for the converters (`importer.pipeline.Progress`), drawn as a bar."""

    def __init__(self, label: str = "converting", stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self._interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_message = ""
        self._last_draw = 0.0

    def __call__(self, done: int, total: int, message: str) -> None:
        """Show that `done` of `total` steps are finished and `message` runs now."""
        fraction = min(1.0, done / total) if total > 0 else 0.0
        bar = "#" * int(fraction * BAR_WIDTH)
        text = f"{self.label} [{bar:<{BAR_WIDTH}}] {fraction:4.0%} {message}"
        final = done >= total > 1
        if self._interactive:
            now = time.monotonic()
            if final or message != self._last_message or now - self._last_draw >= REDRAW_S:
                self.stream.write("\r\033[K" + text + ("\n" if final else ""))
                self.stream.flush()
                self._last_draw = now
        elif message != self._last_message:
            self.stream.write(text + "\n")
            self.stream.flush()
        self._last_message = message
