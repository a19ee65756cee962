"""Weight analysis and transplants on two tiny random models whose differences we chose."""

import json

import pytest
import torch
from safetensors.torch import load_file

from toolgym.analysis import classify, heatmap, parse_layers, read_csv, transplant, weight_changes, write_csv
from toolgym.errors import ConfigError

pytest.importorskip("transformers")


def _all_weights(folder):
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(str(f)))
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=4,
                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=False)
    base = Qwen2ForCausalLM(config)
    base.save_pretrained(root / "base", max_shard_size="20KB")  # several shards and an index
    trained = Qwen2ForCausalLM(config)
    trained.load_state_dict(base.state_dict())
    with torch.no_grad():
        trained.model.layers[0].mlp.up_proj.weight.mul_(1.5)  # relative change exactly 0.5
        trained.model.layers[2].self_attn.q_proj.weight.mul_(0.9)  # 0.1 on the weight...
        trained.model.layers[2].self_attn.q_proj.bias.zero_()  # ... and 1.0 on the bias
    trained.save_pretrained(root / "trained")
    return root / "base", root / "trained", base, trained


def test_classify_names():
    assert classify("model.layers.7.mlp.down_proj.weight") == (7, "mlp.down")
    assert classify("model.layers.0.self_attn.k_proj.bias") == (0, "attn.k")
    assert classify("model.layers.3.post_attention_layernorm.weight") == (3, "norm.post_attention")
    assert classify("model.embed_tokens.weight") == (None, "embeddings")
    assert classify("lm_head.weight") == (None, "lm_head")
    assert classify("transformer.h.1.mlp.c_fc.weight") == (1, "mlp.up")


def test_finds_exactly_the_changed_modules(pair):
    base_dir, trained_dir, base, trained = pair
    assert len(list(base_dir.glob("*.safetensors"))) > 1 and (base_dir / "model.safetensors.index.json").exists()
    changes = weight_changes(base_dir, trained_dir)
    moved = {(c.layer, c.module): c for c in changes if c.relative > 0}
    assert set(moved) == {(0, "mlp.up"), (2, "attn.q")}
    assert moved[(0, "mlp.up")].relative == pytest.approx(0.5, rel=1e-6)  # float32 weights
    w = base.model.layers[2].self_attn.q_proj
    expected = ((0.01 * w.weight.pow(2).sum() + w.bias.pow(2).sum()) / (w.weight.pow(2).sum() + w.bias.pow(2).sum())).sqrt()
    assert moved[(2, "attn.q")].relative == pytest.approx(float(expected), rel=1e-6)
    assert moved[(2, "attn.q")].tensors == 2
    layers = {c.layer for c in changes if c.layer is not None}
    assert layers == {0, 1, 2, 3}
    assert {c.module for c in changes if c.layer is None} == {"embeddings", "norm.final", "lm_head"}


def test_csv_and_heatmap(pair, tmp_path):
    changes = weight_changes(pair[0], pair[1])
    csv_path = write_csv(changes, tmp_path / "w.csv")
    assert [(c.layer, c.module, round(c.relative, 6)) for c in read_csv(csv_path)] == \
        [(c.layer, c.module, round(c.relative, 6)) for c in changes]
    png = heatmap(changes, tmp_path / "w.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_transplant_moves_exactly_the_chosen_modules(pair, tmp_path):
    base_dir, trained_dir, base, trained = pair
    report = transplant(base_dir, trained_dir, tmp_path / "mlp01", modules=["mlp"], layers=parse_layers("0-1"))
    assert len(report.moved) == 6 and all(".mlp." in n and (".layers.0." in n or ".layers.1." in n)
                                          for n in report.moved)
    out = _all_weights(tmp_path / "mlp01")
    b, t = base.state_dict(), trained.state_dict()
    for name, value in out.items():
        expect = t[name] if name in report.moved else b[name]
        assert torch.equal(value, expect), name
    # layer 0's MLP came over; layer 2's attention (changed in the trained model) did not
    assert torch.equal(out["model.layers.0.mlp.up_proj.weight"], t["model.layers.0.mlp.up_proj.weight"])
    assert torch.equal(out["model.layers.2.self_attn.q_proj.weight"], b["model.layers.2.self_attn.q_proj.weight"])
    assert len(list((tmp_path / "mlp01").glob("*.safetensors"))) == len(list(base_dir.glob("*.safetensors")))
    note = json.loads((tmp_path / "mlp01" / "toolgym_transplant.json").read_text())
    assert note["layers"] == [0, 1] and note["modules"] == ["mlp.down", "mlp.gate", "mlp.up"]
    from transformers import AutoModelForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(str(tmp_path / "mlp01"))
    assert torch.equal(loaded.model.layers[0].mlp.up_proj.weight, t["model.layers.0.mlp.up_proj.weight"])


def test_reverse_transplant(pair, tmp_path):
    base_dir, trained_dir, base, trained = pair
    transplant(base_dir, trained_dir, tmp_path / "rev", modules=["attn.q"], layers=[2], reverse=True)
    out = _all_weights(tmp_path / "rev")
    assert torch.equal(out["model.layers.2.self_attn.q_proj.weight"], base.state_dict()["model.layers.2.self_attn.q_proj.weight"])
    assert torch.equal(out["model.layers.0.mlp.up_proj.weight"], trained.state_dict()["model.layers.0.mlp.up_proj.weight"])
    # the transplant undid the attention change: only the MLP change is left
    moved = {(c.layer, c.module) for c in weight_changes(base_dir, tmp_path / "rev") if c.relative > 0}
    assert moved == {(0, "mlp.up")}


def test_clear_errors(pair, tmp_path):
    with pytest.raises(ConfigError, match="unknown module"):
        transplant(pair[0], pair[1], tmp_path / "x", modules=["ffn"])
    with pytest.raises(ConfigError, match="layer range"):
        parse_layers("0-a")
    with pytest.raises(ConfigError, match="safetensors"):
        weight_changes(tmp_path, pair[1])
