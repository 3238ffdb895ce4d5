"""edge-tts-clone: local GPT-SoVITS voice cloning behind a Wyoming TTS server."""

__version__ = "0.1.0"
