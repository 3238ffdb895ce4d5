"""Read files written by `torch.save` without torch, refusing anything but tensors and plain configs.

Two layouts exist: the zip archive torch writes since 1.6 (`<name>/data.pkl` plus one record per
storage, `<name>/data/<key>`) and the older single stream (a magic number, three small pickles, the
object's pickle, the list of storage keys, then each storage as an int64 element count and its raw
bytes). Either way the object is a pickle, and unpickling an arbitrary pickle can run any code. Our
unpickler therefore resolves a fixed list of names only: torch's tensor and parameter rebuild
functions, its storage and dtype names, `OrderedDict`, a few harmless builtins, and upstream
GPT-SoVITS's `utils.HParams` config class (as a plain stand-in). Anything else raises
`UnsafeCheckpointError` naming what the file asked for. That is what `torch.load(weights_only=True)`
with `utils.HParams` allowed accepts, which the torch converter uses.

Tensors come back as `LazyTensor`s: shape and dtype at once, values read from the file only when
`numpy()` is called, so a conversion holds one tensor at a time rather than a whole checkpoint.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
from numpy.typing import NDArray

from .errors import ConversionError, UnsafeCheckpointError
from .hparams import HParams

LEGACY_MAGIC: Final = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL: Final = 1001
ZIP_MAGIC: Final = b"PK"
_BFLOAT16: Final = np.dtype("V2")
"""numpy has no bfloat16: such storages are read as 2-byte blobs and widened to float32."""

_STORAGE_DTYPES: Final[dict[str, np.dtype[Any]]] = {
    "DoubleStorage": np.dtype("float64"),
    "FloatStorage": np.dtype("float32"),
    "HalfStorage": np.dtype("float16"),
    "BFloat16Storage": _BFLOAT16,
    "LongStorage": np.dtype("int64"),
    "IntStorage": np.dtype("int32"),
    "ShortStorage": np.dtype("int16"),
    "CharStorage": np.dtype("int8"),
    "ByteStorage": np.dtype("uint8"),
    "BoolStorage": np.dtype("bool"),
    "UntypedStorage": np.dtype("uint8"),
}
_TORCH_DTYPES: Final[dict[str, np.dtype[Any]]] = {
    "float64": np.dtype("float64"),
    "float32": np.dtype("float32"),
    "float16": np.dtype("float16"),
    "bfloat16": _BFLOAT16,
    "int64": np.dtype("int64"),
    "int32": np.dtype("int32"),
    "int16": np.dtype("int16"),
    "int8": np.dtype("int8"),
    "uint8": np.dtype("uint8"),
    "bool": np.dtype("bool"),
}


@dataclass(frozen=True)
class _StorageType:
    """What a pickled `torch.<X>Storage` or `torch.<dtype>` name stands for here: an element type."""

    dtype: np.dtype[Any]


@dataclass(frozen=True)
class StorageRef:
    """One storage of the file: where its bytes are and how many elements of which type it holds."""

    key: str
    dtype: np.dtype[Any]
    numel: int
    element_offset: int = 0
    """Start inside the root storage (old-format views)."""


class LazyTensor:
    """A tensor of a checkpoint: its shape and dtype, and its values on demand."""

    def __init__(
        self, file: TorchFile, storage: StorageRef, offset: int, shape: tuple[int, ...], stride: tuple[int, ...],
        dtype: np.dtype[Any],
    ) -> None:
        self.file = file
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.stride = stride
        self.dtype = dtype
        """Element type as stored (bfloat16 shows as the 2-byte blob type `V2`)."""

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def is_floating(self) -> bool:
        """True for float64/32/16 and bfloat16 tensors."""
        return self.dtype == _BFLOAT16 or np.issubdtype(self.dtype, np.floating)

    def numpy(self) -> NDArray[Any]:
        """The values as a new contiguous array (bfloat16 widened to float32)."""
        return self.file.read_tensor(self)

    def float32(self) -> NDArray[np.float32]:
        """The values as float32 (what the torch converter's `.float()` gives for floating tensors)."""
        values: NDArray[np.float32] = self.numpy().astype(np.float32, copy=False)
        return values

    def __repr__(self) -> str:
        return f"LazyTensor(shape={self.shape}, dtype={self.dtype})"


class _PatchedStart(io.RawIOBase):
    """A read-only file whose first bytes read as `start`: v2Pro/v2ProPlus overwrite the zip's `PK`."""

    def __init__(self, path: Path, start: bytes) -> None:
        self._file = path.open("rb")
        self._start = start

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: Any) -> int:
        position = self._file.tell()
        count = self._file.readinto(buffer)
        if count and position < len(self._start):
            patch = self._start[position : position + count]
            memoryview(buffer)[: len(patch)] = patch
        return count or 0

    def close(self) -> None:
        self._file.close()
        super().close()


class TorchFile:
    """An open checkpoint file; `load()` returns its object with `LazyTensor` leaves.

    `start`: bytes that replace the file's first bytes while reading (b"PK" undoes the version header
    of v2Pro/v2ProPlus SoVITS files). Close it (or use `with`) when its tensors are no longer needed.
    """

    def __init__(self, path: Path, what: str, start: bytes = b"") -> None:
        self.path = path
        self.what = what
        self._raw: IO[bytes] = _PatchedStart(path, start) if start else path.open("rb")  # type: ignore[assignment]
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        self._little_endian = True
        self._legacy_offsets: dict[str, int] = {}
        self._storages: dict[str, StorageRef] = {}

    def __enter__(self) -> TorchFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the file (its tensors can no longer be read)."""
        if self._zip is not None:
            self._zip.close()
        self._raw.close()

    def load(self) -> Any:
        """Unpickle the file's object; ConversionError (or UnsafeCheckpointError) says why it cannot."""
        try:
            if zipfile.is_zipfile(self._raw):
                return self._load_zip()
            return self._load_legacy()
        except ConversionError:
            raise
        except (zipfile.BadZipFile, EOFError, struct.error, pickle.UnpicklingError, ValueError, OSError) as err:
            raise ConversionError(f"{self.what} is truncated or not a PyTorch checkpoint ({err})") from err

    def _load_zip(self) -> Any:
        self._raw.seek(0)
        self._zip = zipfile.ZipFile(self._raw)
        pickles = [n for n in self._zip.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise ConversionError(f"{self.what} is a zip file but not a PyTorch checkpoint (no <name>/data.pkl)")
        self._prefix = pickles[0].removesuffix("data.pkl")
        if f"{self._prefix}byteorder" in self._zip.namelist():
            self._little_endian = self._zip.read(f"{self._prefix}byteorder") != b"big"
        data = self._zip.read(pickles[0])
        return _SafeUnpickler(io.BytesIO(data), self, self._zip_storage).load()

    def _zip_storage(self, saved: tuple[Any, ...]) -> StorageRef:
        if len(saved) != 5 or saved[0] != "storage" or not isinstance(saved[1], _StorageType):
            raise ConversionError(f"{self.what}: unexpected storage reference {saved[:2]!r}")
        _, storage_type, key, _location, numel = saved
        return self._storage(str(key), storage_type.dtype, int(numel))

    def _storage(self, key: str, dtype: np.dtype[Any], numel: int, element_offset: int = 0) -> StorageRef:
        known = self._storages.get(key)
        if known is None:
            known = self._storages[key] = StorageRef(key, dtype, numel)
        return StorageRef(key, known.dtype, known.numel, element_offset) if element_offset else known

    def _load_legacy(self) -> Any:
        self._raw.seek(0)
        stream = self._raw
        header = _SafeUnpickler(stream, self, self._no_storage)
        if header.load() != LEGACY_MAGIC:
            raise ConversionError(f"{self.what} is not a PyTorch checkpoint (neither a zip nor the old format)")
        if _SafeUnpickler(stream, self, self._no_storage).load() != LEGACY_PROTOCOL:
            raise ConversionError(f"{self.what}: unsupported old-format protocol version")
        info = _SafeUnpickler(stream, self, self._no_storage).load()
        self._little_endian = bool(info.get("little_endian", True)) if isinstance(info, dict) else True
        result = _SafeUnpickler(stream, self, self._legacy_storage).load()
        keys = _SafeUnpickler(stream, self, self._no_storage).load()
        if not isinstance(keys, list):
            raise ConversionError(f"{self.what}: the storage list is missing")
        for key in keys:  # each: int64 element count, then the raw bytes
            storage = self._storages.get(str(key))
            if storage is None:
                raise ConversionError(f"{self.what}: storage {key!r} is listed but never used")
            count_bytes = stream.read(8)
            if len(count_bytes) != 8:
                raise ConversionError(f"{self.what} is truncated (storage {key} is missing)")
            count = struct.unpack("<q" if self._little_endian else ">q", count_bytes)[0]
            if count != storage.numel:
                raise ConversionError(f"{self.what}: storage {key} has {count} elements, expected {storage.numel}")
            self._legacy_offsets[str(key)] = stream.tell()
            stream.seek(count * storage.dtype.itemsize, io.SEEK_CUR)
        return result

    def _legacy_storage(self, saved: tuple[Any, ...]) -> StorageRef:
        if len(saved) != 6 or saved[0] != "storage" or not isinstance(saved[1], _StorageType):
            raise ConversionError(f"{self.what}: unexpected storage reference {saved[:2]!r}")
        _, storage_type, key, _location, numel, view = saved
        root = self._storage(str(key), storage_type.dtype, int(numel))
        if view is None:
            return root
        _view_key, offset, size = view
        return StorageRef(root.key, root.dtype, int(size), int(offset))

    def _no_storage(self, saved: tuple[Any, ...]) -> StorageRef:
        raise ConversionError(f"{self.what}: a tensor where the file format has none")

    def _storage_bytes(self, storage: StorageRef) -> bytes:
        size = storage.numel * storage.dtype.itemsize
        try:
            if self._zip is not None:
                data = self._zip.read(f"{self._prefix}data/{storage.key}")
            else:
                self._raw.seek(self._legacy_offsets[storage.key])
                data = self._raw.read(size)
        except (zipfile.BadZipFile, KeyError, OSError, EOFError) as err:
            raise ConversionError(f"{self.what}: storage {storage.key} cannot be read ({err})") from err
        if len(data) < size:
            raise ConversionError(f"{self.what} is truncated (storage {storage.key} has {len(data)} of {size} bytes)")
        return data

    def read_tensor(self, tensor: LazyTensor) -> NDArray[Any]:
        """The values of `tensor` (a contiguous copy); ConversionError when the file does not hold them."""
        storage = tensor.storage
        data = self._storage_bytes(storage)
        stored = storage.dtype
        if stored != _BFLOAT16:
            stored = stored.newbyteorder("<" if self._little_endian else ">")
        flat = np.frombuffer(data, dtype=stored, count=storage.numel)
        start = storage.element_offset + tensor.offset
        last = start + sum((n - 1) * s for n, s in zip(tensor.shape, tensor.stride, strict=True))
        if start < 0 or any(s < 0 for s in tensor.stride) or (tensor.size and last >= len(flat)) or start > len(flat):
            raise ConversionError(f"{self.what}: a tensor reaches past its storage {storage.key}")
        view = np.lib.stride_tricks.as_strided(
            flat[start:], shape=tensor.shape, strides=[s * flat.itemsize for s in tensor.stride], writeable=False
        )
        if storage.dtype == _BFLOAT16:
            widened = (view.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
            return np.ascontiguousarray(widened)
        return np.array(view, dtype=view.dtype.newbyteorder("="), order="C")


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple | list) or not all(isinstance(v, int) for v in value):
        raise ConversionError(f"{what}: a tensor's size or stride is not a list of integers")
    return tuple(int(v) for v in value)


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """`copyreg._reconstructor`, for the one class it may build here (protocol 0/1 pickles of HParams)."""
    if cls is not HParams or base is not object or state is not None:
        raise UnsafeCheckpointError(f"copyreg._reconstructor of {cls!r} is not allowed in a checkpoint")
    return HParams.__new__(HParams)


def _latin1(text: Any, encoding: str = "latin1") -> bytes:
    """`_codecs.encode`, as protocol-2 pickles use it for bytes: only str -> latin-1 bytes."""
    if not isinstance(text, str) or encoding != "latin1":
        raise UnsafeCheckpointError("_codecs.encode is only allowed to turn text into latin-1 bytes")
    return text.encode("latin1")


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only the names a checkpoint of tensors and configs needs; refuses every other."""

    def __init__(self, stream: IO[bytes], file: TorchFile, storage: Callable[[tuple[Any, ...]], StorageRef]) -> None:
        super().__init__(stream)
        self._file = file
        self._storage = storage
        what = file.what

        def rebuild(
            storage: Any, offset: int, size: Any, stride: Any, _grad: Any = False, _hooks: Any = None,
            _metadata: Any = None, dtype: np.dtype[Any] | None = None,
        ) -> LazyTensor:
            if not isinstance(storage, StorageRef) or not isinstance(offset, int):
                raise ConversionError(f"{what}: a tensor is not built from one of the file's storages")
            shape, strides = _int_tuple(size, what), _int_tuple(stride, what)
            if len(shape) != len(strides):
                raise ConversionError(f"{what}: a tensor's size and stride differ in length")
            return LazyTensor(file, storage, offset, shape, strides, dtype if dtype is not None else storage.dtype)

        def rebuild_v3(storage: Any, offset: int, size: Any, stride: Any, grad: Any, hooks: Any, dtype: Any,
                       metadata: Any = None) -> LazyTensor:
            if not isinstance(dtype, _StorageType):
                raise ConversionError(f"{what}: a tensor has no known element type")
            if isinstance(storage, StorageRef) and storage.dtype != dtype.dtype:  # an untyped (byte) storage
                itemsize = dtype.dtype.itemsize
                storage = StorageRef(storage.key, dtype.dtype, storage.numel // itemsize,
                                     storage.element_offset // itemsize)
            return rebuild(storage, offset, size, stride, grad, hooks, metadata, dtype.dtype)

        def parameter(data: Any, _grad: Any = False, _hooks: Any = None, _state: Any = None) -> Any:
            if not isinstance(data, LazyTensor):
                raise ConversionError(f"{what}: a parameter does not hold a tensor")
            return data

        self._callables: dict[tuple[str, str], Any] = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2"): rebuild,
            ("torch._utils", "_rebuild_tensor_v3"): rebuild_v3,
            ("torch._utils", "_rebuild_parameter"): parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): parameter,
            ("torch", "Size"): tuple,
            ("utils", "HParams"): HParams,
            ("copyreg", "_reconstructor"): _reconstructor,
            ("builtins", "object"): object,
            ("builtins", "set"): set,
            ("builtins", "frozenset"): frozenset,
            ("_codecs", "encode"): _latin1,
        }

    def find_class(self, module: str, name: str) -> Any:
        module = "builtins" if module == "__builtin__" else module  # protocol-2 pickles use Python 2's name
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "torch" and name in _TORCH_DTYPES:
            return _StorageType(_TORCH_DTYPES[name])
        allowed = self._callables.get((module, name))
        if allowed is None:
            raise UnsafeCheckpointError(
                f"{self._file.what} refers to {module}.{name}, which is neither a tensor nor a plain config: "
                "refusing to unpickle it (a pickle can run code that way)"
            )
        return allowed

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid:
            raise ConversionError(f"{self._file.what}: unexpected persistent reference {pid!r}")
        if pid[0] != "storage":
            raise UnsafeCheckpointError(f"{self._file.what}: a {pid[0]!r} reference is not allowed in a checkpoint")
        return self._storage(pid)


def read_torch_file(path: Path, what: str, start: bytes = b"") -> tuple[Any, TorchFile]:
    """`(object, open file)` of a `torch.save` file; close the file once its tensors are read."""
    if not path.is_file():
        raise ConversionError(f"{what} not found: {path}")
    file = TorchFile(path, what, start)
    try:
        return file.load(), file
    except BaseException:
        file.close()
        raise
