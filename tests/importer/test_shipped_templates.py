"""The shipped templates cover the released sizes and have not drifted from the torch modules.

Coverage: the keys of every graph of v2, v2Pro and v2ProPlus at the released sizes are found (the
sizes our writers use for them are what files of those sizes give: checked on tiny files).
Drift: `edge-tts-clone templates --versions v2Pro` (every kind of graph) regenerates the templates in
a child process, and each must be the shipped one: the same graph, the same architecture constants,
the same bindings. Only the figures of the random run (`max_abs_error`) and the tool versions may differ.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tiny_models.checkpoints import TinyCheckpoints
from wyoming_server.checkpoints.dims.t2s import T2SDims
from wyoming_server.convert.graph_compare import compare_models
from wyoming_server.convert.random_weights.frozen_nets import HUBERT_REAL, released_sv_dims, tiny_hubert_dims
from wyoming_server.convert.random_weights.gpt import AUDIO_VOCAB, PHONE_VOCAB, T2S_REAL
from wyoming_server.convert.random_weights.sovits import SOVITS_REAL, SOVITS_TINY, sovits_dims_for
from wyoming_server.importer.template_sources import CheckpointSet, graph_keys
from wyoming_server.importer.templates import SHIPPED_DIR, find_template, read_index, read_template

REPO = Path(__file__).resolve().parents[2]
VERSIONS = ("v2", "v2Pro", "v2ProPlus")


@pytest.mark.parametrize("version", VERSIONS)
def test_every_graph_of_the_released_sizes_has_a_shipped_template(version: str) -> None:
    t2s = T2SDims(T2S_REAL["n_layer"], T2S_REAL["d_model"], T2S_REAL["n_head"], T2S_REAL["ffn"], PHONE_VOCAB,
                  AUDIO_VOCAB)
    sv = released_sv_dims() if version != "v2" else None
    keys = graph_keys(t2s, sovits_dims_for(version, SOVITS_REAL[version]), HUBERT_REAL, sv)
    assert len(keys) == (6 if sv else 5)
    for graph, key in keys.items():
        template = find_template(graph, key, [SHIPPED_DIR])
        assert template.graph == graph and template.bindings


def test_the_writers_sizes_are_what_files_of_those_sizes_give(tiny_checkpoints: TinyCheckpoints) -> None:
    c = tiny_checkpoints
    for version, sovits in (("v2", c.sovits_v2), ("v2Pro", c.sovits_v2pro), ("v2ProPlus", c.sovits_v2proplus)):
        checkpoints = CheckpointSet(c.gpt, sovits, c.hubert, c.sv)
        try:
            assert checkpoints.sovits_dims == sovits_dims_for(version, SOVITS_TINY[version])
            assert checkpoints.hubert_dims == tiny_hubert_dims()
            assert checkpoints.t2s_dims == T2SDims(2, 64, 2, 256, PHONE_VOCAB, AUDIO_VOCAB)
        finally:
            checkpoints.close()


@pytest.mark.slow
def test_regenerated_templates_are_the_shipped_ones(tmp_path: Path) -> None:
    fresh = tmp_path / "templates"
    done = subprocess.run(
        [sys.executable, "-m", "wyoming_server", "templates", "--versions", "v2Pro", "--no-check", "--out", str(fresh)],
        cwd=REPO, capture_output=True, text=True, timeout=1800, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    shipped = read_index(SHIPPED_DIR)
    regenerated = read_index(fresh)
    assert len(regenerated) == 6 and set(regenerated) <= set(shipped)
    for key, name in regenerated.items():
        new, old = read_template(fresh / name), read_template(SHIPPED_DIR / shipped[key])
        assert new.bindings == old.bindings, new.graph
        assert compare_models(old.model, new.model) == "", new.graph
        assert len(new.model.graph.initializer) == len(old.model.graph.initializer), new.graph
