"""`TensorReader`: one checkpoint's tensors by key, remembering which a model used (strict loading)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

from ..errors import ConversionError
from ..official import Shaped

T = TypeVar("T", bound=Shaped)


class TensorReader(Generic[T]):
    """Hands out one checkpoint's tensors and remembers which were used.

    Loading is strict: every tensor a model needs must be present with its shape, and every tensor of
    the checkpoint must be used by some part or be on an explicit list of known-unused entries.
    """

    def __init__(self, weights: Mapping[str, T], what: str) -> None:
        self.weights = dict(weights)
        self.what = what
        self._used: set[str] = set()

    def has(self, key: str) -> bool:
        """True when the checkpoint holds `key`."""
        return key in self.weights

    def tensor(self, key: str) -> T:
        """One tensor by its full key (marked used); ConversionError names a missing key."""
        if key not in self.weights:
            raise ConversionError(f"{self.what} is missing key {key!r}")
        self._used.add(key)
        return self.weights[key]

    def shape(self, key: str) -> tuple[int, ...]:
        """Shape of `key` without marking it used (sizes are inferred from shapes)."""
        if key not in self.weights:
            raise ConversionError(f"{self.what} is missing key {key!r}")
        return tuple(int(n) for n in self.weights[key].shape)

    def count(self, prefix: str, suffix: str) -> int:
        """How many consecutive `prefix{i}suffix` keys exist, from i = 0."""
        n = 0
        while f"{prefix}{n}{suffix}" in self.weights:
            n += 1
        return n

    def mark_unused(self, keys: Iterable[str]) -> None:
        """Declare checkpoint entries that inference does not need (training state, heads)."""
        self._used.update(k for k in keys if k in self.weights)

    def check_all_used(self) -> None:
        """Fail when the checkpoint holds a tensor nothing took: a layout we do not understand."""
        unused = sorted(set(self.weights) - self._used)
        if unused:
            shown = ", ".join(repr(k) for k in unused[:5])
            more = f" and {len(unused) - 5} more" if len(unused) > 5 else ""
            raise ConversionError(f"{self.what} has unexpected key(s) {shown}{more}")
