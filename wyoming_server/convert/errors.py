"""`ConversionError` for code that imports it from here; it lives in `checkpoints/errors.py` (no torch)."""

from ..checkpoints.errors import ConversionError, UnsafeCheckpointError

__all__ = ["ConversionError", "UnsafeCheckpointError"]
