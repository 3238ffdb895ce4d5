"""The torch-free reader sees exactly what the torch converter's loaders see, on every official format.

Files: our writers' tiny checkpoints (fp16 GPT, fine-tuned SoVITS v2/v2Pro/v2ProPlus with their
headers and HParams configs, HuBERT with a weight-normed conv, the SV network) and, when present,
the upstream-written fixtures. Weight norm fused in numpy must equal torch's fusion.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.tiny_models.checkpoints import TinyCheckpoints, upstream_fixtures_dir
from wyoming_server.checkpoints import official
from wyoming_server.checkpoints.errors import ConversionError
from wyoming_server.checkpoints.fusion import fused_view
from wyoming_server.convert.checkpoints import load_gpt_checkpoint, load_sovits_checkpoint, load_state_dict_file
from wyoming_server.convert.torch_modules.state_dicts import fuse_weight_norm


def _same(lazy: Mapping[str, Any], torch_weights: Mapping[str, Any]) -> None:
    assert set(lazy) == set(torch_weights)
    for key, tensor in torch_weights.items():
        expected = tensor.float().numpy() if tensor.is_floating_point() else tensor.numpy()
        got = lazy[key].float32() if tensor.is_floating_point() else lazy[key].numpy()
        assert got.shape == expected.shape and np.array_equal(got, expected), key


def _sovits_files(tiny: TinyCheckpoints) -> list[Path]:
    files = [tiny.sovits_v2, tiny.sovits_v2pro, tiny.sovits_v2proplus]
    upstream = upstream_fixtures_dir()
    return files + ([upstream / "tiny-v2" / "sovits.pth", upstream / "tiny-v2Pro" / "sovits.pth"] if upstream else [])


def test_gpt_files_read_alike(tiny_checkpoints: TinyCheckpoints) -> None:
    upstream = upstream_fixtures_dir()
    for path in [tiny_checkpoints.gpt, *([upstream / "tiny-v2" / "gpt.ckpt"] if upstream else [])]:
        reference = load_gpt_checkpoint(path)
        read = official.read_gpt(path)
        try:
            _same(read.weights, reference.weights)
            assert read.config == reference.config
        finally:
            read.close()


def test_sovits_files_read_alike_with_their_versions(tiny_checkpoints: TinyCheckpoints) -> None:
    versions: set[str] = set()
    for path in _sovits_files(tiny_checkpoints):
        reference = load_sovits_checkpoint(path)
        read = official.read_sovits(path)
        try:
            assert (read.version, read.header, read.config) == (reference.version, reference.header, reference.config)
            _same(read.weights, reference.weights)
            fused = fused_view(read.weights)
            for key, tensor in fuse_weight_norm(reference.weights).items():
                assert np.array_equal(fused[key].float32(), tensor.float().numpy()), key
            versions.add(read.version)
        finally:
            read.close()
    assert {"v2", "v2Pro", "v2ProPlus"} <= versions


def test_helper_networks_read_alike(tiny_checkpoints: TinyCheckpoints) -> None:
    upstream = upstream_fixtures_dir()
    hubert_files = [tiny_checkpoints.hubert / "pytorch_model.bin"]
    hubert_files += [upstream / "tiny-v2" / "chinese-hubert-base" / "pytorch_model.bin"] if upstream else []
    for path in [*hubert_files, tiny_checkpoints.sv]:
        read = official.read_state_dict(path, path.name)
        try:
            _same(read.weights, load_state_dict_file(path, path.name))
        finally:
            read.close()


def test_unsupported_and_mixed_files_are_refused_alike(tiny_checkpoints: TinyCheckpoints, tmp_path: Path) -> None:
    v3 = tmp_path / "v3.pth"
    v3.write_bytes(b"03" + tiny_checkpoints.sovits_v2.read_bytes()[2:])
    for read, load in ((official.read_sovits, load_sovits_checkpoint), (official.read_gpt, load_gpt_checkpoint)):
        with pytest.raises(ConversionError) as torch_error:
            load(v3 if read is official.read_sovits else tiny_checkpoints.sovits_v2)
        with pytest.raises(ConversionError) as free_error:
            read(v3 if read is official.read_sovits else tiny_checkpoints.sovits_v2)
        assert str(free_error.value) == str(torch_error.value)
