"""Conversion errors (torch-free, so every command can report them without importing torch)."""


class ConversionError(Exception):
    """A checkpoint cannot be converted; the message names the file and the problem."""


class UnsafeCheckpointError(ConversionError):
    """A checkpoint's pickle refers to something other than tensors and plain configs (it could run code)."""
