"""Reading torch's file formats without torch: every tensor as torch wrote it, and nothing but tensors.

Files are written here with torch itself (both layouts, several dtypes, views), so each value read
can be compared with the tensor saved. Malicious pickles must be refused before they run.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from wyoming_server.checkpoints.errors import ConversionError, UnsafeCheckpointError
from wyoming_server.checkpoints.hparams import HParams, config_dict
from wyoming_server.checkpoints.torch_file import LazyTensor, read_torch_file


def _tensors() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(5, 4, generator=generator)
    return {
        "half": torch.randn(3, 7, generator=generator).half(),
        "float": torch.randn(2, 3, 4, generator=generator),
        "double": torch.randn(3, generator=generator).double(),
        "bfloat16": torch.randn(6, generator=generator).bfloat16(),
        "long": torch.arange(10, dtype=torch.int64).reshape(2, 5),
        "int8": torch.tensor([-3, 0, 7], dtype=torch.int8),
        "bool": torch.tensor([True, False, True]),
        "transposed": base.t(),
        "slice": base[1:4, 2],
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
        "parameter": torch.nn.Parameter(torch.randn(2, 2, generator=generator)),
    }


def _expected(value: torch.Tensor) -> np.ndarray[Any, Any]:
    value = value.detach()
    return (value.float() if value.dtype == torch.bfloat16 else value).numpy()


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "old-format"])
def test_every_tensor_reads_back_as_torch_saved_it(tmp_path: Path, zipped: bool) -> None:
    saved = _tensors()
    path = tmp_path / "state.pt"
    torch.save({"weight": OrderedDict(saved), "config": {"n": 1, "s": {1, 2}, "b": b"xy"}, "info": "e1"}, path,
               _use_new_zipfile_serialization=zipped)
    data, file = read_torch_file(path, "test file")
    with file:
        assert data["config"] == {"n": 1, "s": {1, 2}, "b": b"xy"} and data["info"] == "e1"
        for key, tensor in saved.items():
            lazy = data["weight"][key]
            assert isinstance(lazy, LazyTensor)
            assert lazy.shape == tuple(tensor.shape)
            read = lazy.numpy()
            expected = _expected(tensor)
            assert read.dtype == expected.dtype and read.shape == expected.shape, key
            assert np.array_equal(read, expected), key
        assert data["weight"]["half"].float32().dtype == np.float32


def test_hparams_config_becomes_a_plain_dict(tmp_path: Path) -> None:
    from wyoming_server.convert.random_weights.sovits import HParams as UpstreamHParams
    from wyoming_server.convert.random_weights.sovits import utils_module

    path = tmp_path / "ft.pth"
    with utils_module():
        torch.save({"weight": {"w": torch.ones(2)}, "config": UpstreamHParams(model={"gin": 512}, name="mum")}, path)
    data, file = read_torch_file(path, "fine-tune")
    file.close()
    assert isinstance(data["config"], HParams)
    assert config_dict(data["config"]) == {"model": {"gin": 512}, "name": "mum"}


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "old-format"])
def test_a_pickle_that_would_run_code_is_refused_and_does_not_run(tmp_path: Path, zipped: bool) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save({"weight": {"w": torch.ones(2)}, "config": _RunsCode(marker)}, path,
               _use_new_zipfile_serialization=zipped)
    with pytest.raises(UnsafeCheckpointError, match=r"refers to (posix|os)\.system.*refusing"):
        read_torch_file(path, "evil checkpoint")
    assert not marker.exists()


def test_a_plain_pickle_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"weight": [1, 2, 3]}) + b"\0" * 64)
    with pytest.raises(ConversionError, match="not a PyTorch checkpoint"):
        read_torch_file(path, "plain pickle")


def test_a_truncated_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "whole.pth"
    torch.save({"weight": {"w": torch.randn(1000)}}, path)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(path.read_bytes()[:-2000])
    with pytest.raises(ConversionError, match="truncated or not a PyTorch checkpoint"):
        read_torch_file(cut, "cut checkpoint")


def test_a_corrupt_storage_is_caught_when_read(tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    torch.save({"weight": {"w": torch.randn(1000)}}, path)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("data/0"))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + 100] ^= 0xFF  # one flipped byte inside the tensor's bytes
    path.write_bytes(bytes(raw))
    data, file = read_torch_file(path, "corrupt checkpoint")
    with file, pytest.raises(ConversionError, match="storage 0 cannot be read"):
        data["weight"]["w"].numpy()
