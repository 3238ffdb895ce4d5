"""Our SoVITS/HuBERT/SV/BERT torch modules: strict loading, inferred sizes, the maths of the tricky parts."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from wyoming_server.convert.checkpoints import load_sovits_checkpoint
from wyoming_server.convert.errors import ConversionError
from wyoming_server.convert.random_weights.sovits import (
    SOVITS_TINY,
    TINY_SV_CHANNELS,
    utils_module,
    write_tiny_bert,
    write_tiny_hubert,
    write_tiny_sovits,
    write_tiny_sv,
)
from wyoming_server.convert.sovits_export import bert_extra_files, sovits_graph_specs
from wyoming_server.convert.torch_modules.bert import load_bert, read_bert_vocab
from wyoming_server.convert.torch_modules.eres2net import load_eres2net, sv_output_dim
from wyoming_server.convert.torch_modules.hubert import load_hubert
from wyoming_server.convert.torch_modules.sovits import build_sovits_modules
from wyoming_server.convert.torch_modules.sovits_attention import RelativeSelfAttention
from wyoming_server.convert.torch_modules.state_dicts import fuse_weight_norm


def _rewrite_sovits(path: Path, edit: str, key: str) -> None:
    """Load a tiny .pth, drop / add / reshape one tensor, save it back with the same header."""
    raw = path.read_bytes()
    with utils_module():
        data = torch.load(io.BytesIO(b"PK" + raw[2:]), weights_only=False)
    weights = data["weight"]
    if edit == "drop":
        del weights[key]
    elif edit == "add":
        weights[key] = torch.zeros(3)
    else:
        weights[key] = torch.zeros(
            *weights[key].shape[:-1], weights[key].shape[-1] + 1, dtype=weights[key].dtype
        )
    buffer = io.BytesIO()
    with utils_module():
        torch.save(data, buffer)
    path.write_bytes(raw[:2] + buffer.getvalue()[2:])


@pytest.mark.parametrize(
    ("edit", "key", "message"),
    [
        (
            "drop",
            "enc_p.encoder_text.attn_layers.0.emb_rel_v",
            "missing key 'enc_p.encoder_text.attn_layers.0.emb_rel_v'",
        ),
        (
            "drop",
            "flow.flows.2.enc.in_layers.1.weight_g",
            "no matching 'flow.flows.2.enc.in_layers.1.weight_g'",
        ),
        ("add", "dec.extra_layer.weight", "unexpected key(s) 'dec.extra_layer.weight'"),
        ("reshape", "ref_enc.fc.fc.bias", "key 'ref_enc.fc.fc.bias' has shape"),
    ],
)
def test_strict_loading_names_the_key(tmp_path: Path, edit: str, key: str, message: str) -> None:
    path = write_tiny_sovits(tmp_path / "s.pth", "v2")
    _rewrite_sovits(path, edit, key)
    with pytest.raises(ConversionError) as err:
        build_sovits_modules(load_sovits_checkpoint(path))
    assert message in str(err.value)


@pytest.mark.parametrize("version", ["v2", "v2Pro", "v2ProPlus"])
def test_sizes_are_inferred_from_the_tensors(tmp_path: Path, version: str) -> None:
    size = SOVITS_TINY[version]
    modules = build_sovits_modules(load_sovits_checkpoint(write_tiny_sovits(tmp_path / "s.pth", version)))
    dims = modules.dims
    assert dims.version == version
    assert (dims.gin, dims.text.inter, dims.text.hidden, dims.text.n_heads, dims.text.window) == (
        size.gin,
        size.inter,
        size.hidden,
        size.n_heads,
        4,
    )
    assert (dims.text.ssl_layers, dims.text.text_layers, dims.text.post_layers) == size.layers
    assert dims.generator.upsample_kernels == size.upsample_kernels
    assert dims.generator.hop == 640
    assert dims.flow.n_couplings == size.couplings
    assert dims.ref.sv_dim == size.sv_dim
    assert dims.to_manifest()["samples_per_token"] == 1280


def test_pretrained_layout_with_enc_q_and_a_plain_header_loads(tmp_path: Path) -> None:
    # A pretrained v2Pro file: plain zip header, dict config, posterior encoder still inside.
    path = write_tiny_sovits(tmp_path / "s.pth", "v2Pro", header=b"PK", fine_tuned=False)
    checkpoint = load_sovits_checkpoint(path)
    assert checkpoint.version == "v2Pro"
    assert not any(k.startswith("enc_q.") for k in checkpoint.weights)
    assert build_sovits_modules(checkpoint).dims.ref.sv_dim == TINY_SV_CHANNELS * 10


def _naive_relative_attention(layer: RelativeSelfAttention, x: torch.Tensor) -> torch.Tensor:
    """The reference formula, loop by loop: score(i,j) += q_i.Ek[j-i+w]; out_i += sum_j p_ij Ev[j-i+w]."""
    heads, d, w = layer.n_heads, layer.head_dim, layer.window
    t = x.shape[2]
    q = layer.conv_q(x)[0].view(heads, d, t) / math.sqrt(d)
    k = layer.conv_k(x)[0].view(heads, d, t)
    v = layer.conv_v(x)[0].view(heads, d, t)
    ek, ev = layer.emb_rel_k[0], layer.emb_rel_v[0]
    out = torch.zeros(heads, d, t)
    for h in range(heads):
        scores = torch.zeros(t, t)
        for i in range(t):
            for j in range(t):
                scores[i, j] = q[h, :, i] @ k[h, :, j]
                if abs(j - i) <= w:
                    scores[i, j] += q[h, :, i] @ ek[j - i + w]
        p = torch.softmax(scores, dim=-1)
        for i in range(t):
            acc = sum(p[i, j] * v[h, :, j] for j in range(t))
            rel = sum(p[i, j] * ev[j - i + w] for j in range(t) if abs(j - i) <= w)
            out[h, :, i] = acc + rel
    result: torch.Tensor = layer.conv_o(out.reshape(1, heads * d, t))
    return result


@pytest.mark.parametrize("length", [1, 3, 5, 12])
def test_relative_attention_matches_the_formula(length: int) -> None:
    torch.manual_seed(length)
    layer = RelativeSelfAttention(channels=8, n_heads=2, window=4)
    with torch.no_grad():
        layer.emb_rel_k.normal_()
        layer.emb_rel_v.normal_()
        x = torch.randn(1, 8, length)
        torch.testing.assert_close(layer(x), _naive_relative_attention(layer, x), atol=1e-5, rtol=1e-5)


def test_weight_norm_fusion_per_layout() -> None:
    torch.manual_seed(0)
    v = torch.randn(6, 4, 5)
    g0 = torch.rand(6, 1, 1) + 0.5
    g2 = torch.rand(1, 1, 5) + 0.5
    fused = fuse_weight_norm(
        {
            "conv.weight_g": g0,
            "conv.weight_v": v,
            "pos.parametrizations.weight.original0": g2,
            "pos.parametrizations.weight.original1": v,
            "plain.weight": v,
        }
    )
    assert set(fused) == {"conv.weight", "pos.weight", "plain.weight"}
    torch.testing.assert_close(fused["conv.weight"], g0 * v / v.norm(dim=(1, 2), keepdim=True))
    torch.testing.assert_close(fused["pos.weight"], g2 * v / v.norm(dim=(0, 1), keepdim=True))
    with pytest.raises(ConversionError, match=r"no matching 'x\.weight_v'"):
        fuse_weight_norm({"x.weight_g": g0})


def test_decoder_length_follows_tokens_and_speed(tmp_path: Path) -> None:
    modules = build_sovits_modules(load_sovits_checkpoint(write_tiny_sovits(tmp_path / "s.pth", "v2")))
    codes = torch.randint(0, 1024, (1, 1, 9))
    phones = torch.randint(0, 732, (1, 5))
    ge = torch.randn(1, modules.dims.gin, 1)
    with torch.inference_mode():
        for frames in (18, 23, 15):
            noise = torch.zeros(1, modules.dims.text.inter, frames)
            wave = modules.decoder(codes, phones, ge, noise, torch.tensor([0, frames]))
            assert wave.shape == (1, frames * 640)
            assert float(wave.abs().max()) <= 1.0


def test_decoder_keeps_frames_through_the_generator_only(tmp_path: Path) -> None:
    """keep = [a, b) synthesizes frames a..b-1 of the window; away from its edges, as the whole decode does."""
    modules = build_sovits_modules(load_sovits_checkpoint(write_tiny_sovits(tmp_path / "s.pth", "v2")))
    codes = torch.randint(0, 1024, (1, 1, 40))
    phones = torch.randint(0, 732, (1, 7))
    ge = torch.randn(1, modules.dims.gin, 1)
    noise = torch.randn(1, modules.dims.text.inter, 80) * 0.5
    with torch.inference_mode():
        whole = modules.decoder(codes, phones, ge, noise, torch.tensor([0, 80]))[0]
        part = modules.decoder(codes, phones, ge, noise, torch.tensor([20, 60]))[0]
    assert part.shape == (40 * 640,)
    margin = 10 * 640  # beyond the generator's reach of the zero-padded edges
    inner, reference = part[margin:-margin], whole[20 * 640 + margin : 60 * 640 - margin]
    torch.testing.assert_close(inner, reference, atol=1e-5, rtol=1e-4)
    assert float((part[:640] - whole[20 * 640 : 21 * 640]).abs().max()) > 1e-4  # the edge did change


def test_hubert_loads_hf_folder_strictly(tmp_path: Path) -> None:
    folder = write_tiny_hubert(tmp_path / "hubert")
    hubert = load_hubert(folder)
    with torch.inference_mode():
        features = hubert(torch.randn(1, 16000))
    assert features.shape == (1, (16000 - 400) // 320 + 1, 32)
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    del state["encoder.layers.0.final_layer_norm.bias"]
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(ConversionError, match=r"missing key 'encoder\.layers\.0\.final_layer_norm\.bias'"):
        load_hubert(folder)


def test_sv_network_infers_widths_and_gives_the_map_embedding(tmp_path: Path) -> None:
    sv = load_eres2net(write_tiny_sv(tmp_path / "sv.ckpt"))
    assert sv_output_dim(sv) == TINY_SV_CHANNELS * 10
    with torch.inference_mode():
        assert sv(torch.randn(1, 73, 80)).shape == (1, TINY_SV_CHANNELS * 10)


def test_bert_features_skip_cls_sep_and_the_last_two_layers(tmp_path: Path) -> None:
    folder = write_tiny_bert(tmp_path / "bert", hidden=16, layers=3)
    model = load_bert(folder)
    ids = torch.tensor([[2, 11, 12, 13, 3]])
    with torch.inference_mode():
        features = model(ids)
        x = model.embeddings(ids)
        expected = model.encoder.layer[0](x)[0, 1:-1]  # hidden_states[-3] of 3 layers = layer 1's output
    assert features.shape == (3, 16)
    torch.testing.assert_close(features, expected)
    assert read_bert_vocab(folder)[:4] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def test_bert_vocab_from_tokenizer_json(tmp_path: Path) -> None:
    folder = write_tiny_bert(tmp_path / "bert", hidden=16)
    tokens = read_bert_vocab(folder)
    (folder / "vocab.txt").unlink()
    vocab = {t: i for i, t in enumerate(tokens)}
    (folder / "tokenizer.json").write_text(
        json.dumps({"model": {"type": "WordPiece", "vocab": vocab}}), encoding="utf-8"
    )
    assert bert_extra_files(folder)["bert_vocab.txt"].decode("utf-8").splitlines() == tokens


def test_v2pro_needs_a_matching_sv_checkpoint(tmp_path: Path) -> None:
    checkpoint = load_sovits_checkpoint(write_tiny_sovits(tmp_path / "s.pth", "v2Pro"))
    hubert = write_tiny_hubert(tmp_path / "hubert")
    with pytest.raises(ConversionError, match="--sv"):
        sovits_graph_specs(checkpoint, hubert, None, tmp_path)
    with pytest.raises(ConversionError, match="gives 320-d embeddings"):
        sovits_graph_specs(checkpoint, hubert, write_tiny_sv(tmp_path / "small.ckpt", stage4_channels=32), tmp_path)
    with pytest.raises(ConversionError, match="gives 48-d features"):
        sovits_graph_specs(checkpoint, write_tiny_hubert(tmp_path / "wide", hidden=48), None, tmp_path)


def test_prompt_codes_are_the_nearest_codebook_rows(tmp_path: Path) -> None:
    modules = build_sovits_modules(load_sovits_checkpoint(write_tiny_sovits(tmp_path / "s.pth", "v2")))
    features = torch.randn(1, modules.dims.ssl_dim, 40)
    with torch.inference_mode():
        codes = modules.codebook.encode(features).numpy()
        projected = modules.codebook.ssl_proj(features)[0].T.numpy()
    distances = ((projected[:, None, :] - modules.codebook.embed.numpy()[None]) ** 2).sum(-1)
    assert codes.shape == (20,)
    np.testing.assert_array_equal(codes, distances.argmin(axis=1))


def test_sv_checkpoint_without_batchnorm_counters_loads(tmp_path: Path) -> None:
    path = write_tiny_sv(tmp_path / "sv.ckpt")
    state = torch.load(path, weights_only=True)
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, path)
    assert sv_output_dim(load_eres2net(path)) == TINY_SV_CHANNELS * 10
    state["layer2.0.convs.0.weight"] = state["layer2.0.convs.0.weight"][:, :, :2]
    torch.save(state, path)
    with pytest.raises(ConversionError, match=r"key 'layer2\.0\.convs\.0\.weight' has shape"):
        load_eres2net(path)
