"""Where things live in the data folder: one name for each subfolder the server keeps there."""

from __future__ import annotations

from typing import Final

VOICES_SUBDIR: Final = "voices"
"""Voice packs (`<id>/voice.json` ...) and dropped-in Piper voices."""
MODELS_SUBDIR: Final = "models"
"""Converted model folders (`<id>/manifest.json` + graphs)."""
DOWNLOADS_SUBDIR: Final = "downloads"
"""Official checkpoints fetched by `models download`, kept for later fine-tune conversions."""
CACHE_SUBDIR: Final = "cache"
"""The synthesized-audio cache."""
JOBS_SUBDIR: Final = "jobs"
"""Background model installs and imports: `<job id>.json` records and `<job id>/` uploaded checkpoints."""
