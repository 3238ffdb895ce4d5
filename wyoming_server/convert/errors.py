"""Conversion errors (torch-free so the CLI can report them without importing torch)."""


class ConversionError(Exception):
    """A checkpoint cannot be converted; the message names the file and the problem."""
