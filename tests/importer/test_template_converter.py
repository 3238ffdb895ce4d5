"""The template converter refuses what the torch converter refuses, leaves nothing half-written, reports
its progress as documented, and its equivalence check catches a wrong binding."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from tests.support.tiny_models.checkpoints import TinyCheckpoints
from tests.support.tiny_models.templates import convert_with_templates
from wyoming_server.checkpoints.errors import ConversionError
from wyoming_server.checkpoints.hparams import config_dict
from wyoming_server.convert.checkpoints import torch_load
from wyoming_server.convert.graph_compare import compare_models
from wyoming_server.convert.pipeline import convert_model as torch_convert_model
from wyoming_server.convert.random_weights.gpt import write_tiny_gpt
from wyoming_server.importer.binding import bind_template
from wyoming_server.importer.template_sources import TemplateSources
from wyoming_server.importer.templates import NoTemplateError, Template, find_template, read_index, read_template
from wyoming_server.models import install

pytestmark = pytest.mark.slow


def _sources(c: TinyCheckpoints, templates: Path, sovits: Path | None = None) -> TemplateSources:
    return TemplateSources(c.gpt, sovits or c.sovits_v2pro, c.hubert, c.sv, None, [templates])


def _with_swapped_recipes(template: Template, first: int, second: int) -> Template:
    bindings = list(template.bindings)
    a, b = bindings[first], bindings[second]
    bindings[first] = dataclasses.replace(a, recipe=b.recipe)
    bindings[second] = dataclasses.replace(b, recipe=a.recipe)
    return dataclasses.replace(template, bindings=tuple(bindings))


def _same_shape_pair(template: Template, op: str) -> tuple[int, int]:
    seen: dict[tuple[tuple[int, ...], str], int] = {}
    for index, binding in enumerate(template.bindings):
        key = (binding.shape, binding.recipe.get("part", ""))
        if binding.recipe["op"] == op and key in seen:
            return seen[key], index
        seen.setdefault(key, index)
    raise AssertionError(f"no two {op} bindings of one shape")


@pytest.mark.parametrize(("graph", "op"), [("t2s_decoder", "tensor"), ("sv_embedder", "conv_bn")])
def test_a_wrong_binding_is_caught_by_the_equivalence_check(
    graph: str, op: str, tiny_checkpoints: TinyCheckpoints, tiny_templates: Path, tiny_model_v2pro: Path,
    tmp_path: Path,
) -> None:
    sources = _sources(tiny_checkpoints, tiny_templates)
    try:
        template = sources.templates[graph]
        reference = onnx.load(str(tiny_model_v2pro / f"{graph}.onnx"))  # the torch converter's
        bind_template(template, sources.tensors, tmp_path / "right.onnx")
        assert compare_models(reference, onnx.load(str(tmp_path / "right.onnx"))) == ""
        wrong = _with_swapped_recipes(template, *_same_shape_pair(template, op))
        bind_template(wrong, sources.tensors, tmp_path / "wrong.onnx")
        assert "differs" in compare_models(reference, onnx.load(str(tmp_path / "wrong.onnx")))
    finally:
        sources.close()


def test_sizes_without_a_template_are_refused_before_any_work(
    tiny_checkpoints: TinyCheckpoints, tiny_templates: Path, tmp_path: Path
) -> None:
    deeper = write_tiny_gpt(tmp_path / "deep.ckpt", n_layer=3)
    out = tmp_path / "models" / "deep"
    expected = r"no graph template of t2s_encoder .*n_layer.*3.*edge-tts-clone\[convert\]"
    with pytest.raises(NoTemplateError, match=expected):
        convert_with_templates(deeper, tiny_checkpoints.sovits_v2, tiny_checkpoints.hubert, out, tiny_templates)
    assert not (tmp_path / "models").exists()
    with pytest.raises(NoTemplateError, match="BERT graph is made only by the torch converter"):
        TemplateSources(tiny_checkpoints.gpt, tiny_checkpoints.sovits_v2, tiny_checkpoints.hubert, None,
                        tiny_checkpoints.bert, [tiny_templates])


def _rewritten_sovits(source: Path, target: Path, change: str) -> Path:
    data = torch_load(source.read_bytes(), source.name)
    weights = dict(data["weight"])
    if change == "extra":
        weights["extra.weight"] = torch.zeros(3)
    else:
        del weights["dec.conv_post.weight"]
    torch.save({**data, "weight": weights, "config": config_dict(data["config"])}, target)
    return target


@pytest.mark.parametrize(("change", "message"), [("extra", "unexpected key(s) 'extra.weight'"),
                                                  ("missing", "missing key 'dec.conv_post.weight'")])
def test_unexpected_and_missing_tensors_are_refused_as_torch_refuses_them(
    change: str, message: str, tiny_checkpoints: TinyCheckpoints, tiny_templates: Path, tmp_path: Path
) -> None:
    sovits = _rewritten_sovits(tiny_checkpoints.sovits_v2, tmp_path / "changed.pth", change)
    c = tiny_checkpoints
    with pytest.raises(ConversionError, match=message.replace("(", r"\(").replace(")", r"\)")) as free:
        convert_with_templates(c.gpt, sovits, c.hubert, tmp_path / "free", tiny_templates)
    with pytest.raises(ConversionError) as reference:
        torch_convert_model(c.gpt, sovits, c.hubert, tmp_path / "torch")
    assert message in str(reference.value) and str(free.value) == str(reference.value)


def test_a_truncated_checkpoint_leaves_nothing_behind(
    tiny_checkpoints: TinyCheckpoints, tiny_templates: Path, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.pth"
    cut.write_bytes(tiny_checkpoints.sovits_v2.read_bytes()[:-4096])
    models = tmp_path / "models"
    models.mkdir()
    with pytest.raises(ConversionError, match="truncated"):
        convert_with_templates(tiny_checkpoints.gpt, cut, tiny_checkpoints.hubert, models / "cut", tiny_templates)
    assert list(models.iterdir()) == []


def test_progress_goes_from_reading_to_written_with_one_fixed_total(
    tiny_checkpoints: TinyCheckpoints, tiny_templates: Path, tmp_path: Path
) -> None:
    calls: list[tuple[int, int, str]] = []
    c = tiny_checkpoints
    convert_with_templates(c.gpt, c.sovits_v2, c.hubert, tmp_path / "m", tiny_templates,
                           progress=lambda done, total, message: calls.append((done, total, message)))
    assert calls[0][:2] == (0, 1) and calls[0][2].startswith("reading")
    total = calls[1][1]
    assert all(t == total for _, t, _ in calls[1:]) and total > 10
    assert [d for d, _, _ in calls] == sorted(d for d, _, _ in calls)
    assert calls[-1][:2] == (total, total) and calls[-1][2].startswith("wrote")
    assert any("quantizing vits_decoder (static)" in m for _, _, m in calls)


def test_default_converter_uses_torch_only_where_no_template_fits(
    tiny_checkpoints: TinyCheckpoints, tiny_templates: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = tiny_checkpoints
    with_templates = install.default_converter([tiny_templates])(c.gpt, c.sovits_v2, c.hubert, tmp_path / "a")
    assert with_templates.extra["converter"] == "templates"
    fell_back = install.default_converter()(c.gpt, c.sovits_v2, c.hubert, tmp_path / "b")  # tiny: no shipped template
    assert fell_back.extra["converter"] == "torch export"
    monkeypatch.setattr(install, "torch_available", lambda: False)
    with pytest.raises(NoTemplateError):
        install.default_converter()(c.gpt, c.sovits_v2, c.hubert, tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_damaged_templates_and_indexes_are_reported(tiny_templates: Path, tmp_path: Path) -> None:
    name = next(iter(read_index(tiny_templates).values()))
    damaged = tmp_path / name
    damaged.write_bytes((tiny_templates / name).read_bytes()[:100])
    with pytest.raises(ConversionError, match="cannot be read"):
        read_template(damaged)
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(ConversionError, match="template index"):
        find_template("t2s_encoder", {}, [tmp_path])
    template = read_template(tiny_templates / name)
    assert template.bindings and all(np.prod(b.shape) > 0 for b in template.bindings)


def _with_constant(values: np.ndarray) -> onnx.ModelProto:
    constant = onnx.helper.make_node("Constant", [], ["table"], value=onnx.numpy_helper.from_array(values))
    add = onnx.helper.make_node("Add", ["x", "table"], ["y"])
    info = [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [4]) for n in ("x", "y")]
    return onnx.helper.make_model(onnx.helper.make_graph([constant, add], "g", info[:1], info[1:]))


def test_a_constant_table_may_differ_in_its_last_bit_but_not_more() -> None:
    """The exporter computes positional tables with the CPU's own sin and exp: a last bit is no difference."""
    table = np.sin(np.linspace(0.1, 3.0, 4)).astype(np.float32)
    reference = _with_constant(table)
    assert compare_models(reference, _with_constant(np.nextafter(table, np.float32(2)))) == ""
    assert "differs" in compare_models(reference, _with_constant(table + np.float32(1e-3)))
