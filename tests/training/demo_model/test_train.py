"""Pieces of the training script: targets, batches, schedule, and a tiny end-to-end run."""

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from training.demo_model import train as demo_train
from training.demo_model.quality import QualityReport
from vitviz.vit import load


def test_token_targets_share_each_patch_between_its_object_and_background():
    masks = np.zeros((1, 2, 32, 32), dtype=bool)
    masks[0, 0, :16, :16] = True  # object 0 fills patch 0
    masks[0, 1, 16:, 16:24] = True  # object 1 fills half of patch 3
    targets = demo_train.token_targets(np.array([[4, 7]]), masks)
    assert targets.shape == (1, 4, 11)
    assert torch.allclose(targets.sum(-1), torch.ones(1, 4))
    assert targets[0, 0, 4] == 1.0
    assert targets[0, 1, demo_train.BACKGROUND] == 1.0
    assert targets[0, 3, 7] == pytest.approx(0.5)
    assert targets[0, 3, demo_train.BACKGROUND] == pytest.approx(0.5)


def test_figure_targets_give_each_cell_of_each_patch_its_object_cover():
    masks = np.zeros((1, 2, 32, 48), dtype=bool)
    masks[0, 0, :16, :16] = True  # object 0 fills patch 0
    masks[0, 1, 16:18, 40:41] = True  # object 1: half of one 2 x 2 cell, patch (1, 2)
    masks[0, 1, 0:2, 0:2] = True  # overlaps object 0: counted once
    figure = demo_train.figure_targets(masks)
    cells = demo_train.FIGURE_CELLS
    assert figure.shape == (1, 6, cells * cells)
    assert (figure[0, 0] == 1.0).all()
    assert figure[0, 1:5].sum() == 0.0
    expected = torch.zeros(cells * cells)
    expected[4] = 0.5  # cell row 0, column 4 (pixels 40-41 of the patch at 32-47)
    assert torch.equal(figure[0, 5], expected)


def test_figure_targets_agree_with_token_targets_on_generated_images():
    stream = demo_train.BatchStream(2, 1, 6, 64, 0.5, 0.0)
    _, _, tokens, figure = stream.batch(0)
    assert torch.allclose(figure.mean(-1), 1.0 - tokens[..., demo_train.BACKGROUND], atol=1e-6)
    assert figure.sum() > 0


def test_batches_are_reproducible_and_two_object_targets_are_split():
    stream = demo_train.BatchStream(5, 2, 8, 32, 0.25, 0.0)
    images, targets, tokens, figure = stream.batch(1)
    again = stream.batch(1)
    assert images.shape == (8, 3, 32, 32)
    assert tokens.shape == (8, 4, 11)
    assert figure.shape == (8, 4, demo_train.FIGURE_CELLS**2)
    assert torch.equal(figure, again[3])
    assert torch.equal(images, again[0])
    assert torch.equal(targets, again[1])
    assert not torch.equal(images, stream.batch(0)[0])
    assert (targets[:6].max(-1).values == 1.0).all()
    assert (targets[6:].sort(-1, descending=True).values[:, :2] == 0.5).all()


def test_learning_rate_warms_up_then_decays_to_zero():
    rates = [demo_train._lr_factor(s, 100, 10) for s in range(100)]
    assert rates[9] == pytest.approx(1.0)
    assert rates[0] < rates[5] < rates[9]
    assert rates[50] < rates[20]
    assert rates[-1] < 1e-3


TINY = demo_train.TrainConfig(
    depth=1,
    embed_dim=48,
    low_res=32,
    low_res_zoom=1.0,
    low_res_steps=2,
    high_res_steps=1,
    batch_size=4,
    high_res_batch_size=2,
    warmup_steps=1,
)


def test_training_is_reproducible_from_the_seed():
    first = demo_train.train(TINY).model.state_dict()
    second = demo_train.train(TINY).model.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_a_tiny_training_run_saves_a_checkpoint_that_loads(tmp_path):
    config = TINY
    run = demo_train.train(config)
    model = run.model
    assert list(run.curves) == ["32 px crops", "224 px scenes"]
    assert [step for step, _ in run.curves["32 px crops"]] == [1, 2]
    assert all(0.0 <= acc <= 1.0 for curve in run.curves.values() for _, acc in curve)
    path = demo_train.save(model, config, tmp_path / "tiny.safetensors")
    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
    assert json.loads(metadata["vitviz.arch"]) == demo_train.ARCH
    assert json.loads(metadata["vitviz.model_kwargs"])["depth"] == 1
    assert json.loads(metadata["vitviz.labels"])[0] == "circle"
    loaded, spec = load(path, device="cpu")
    assert spec.input_size == (3, 224, 224)
    assert spec.labels[-1] == "arrow"
    x = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        ours = loaded(x).logits
        theirs = model(x)
    assert torch.allclose(ours, theirs, atol=1e-2)  # weights were stored in fp16


def test_training_model_computes_attention_explicitly_with_the_fused_kernels_result():
    model = demo_train.create_model(TINY, 32).eval()
    assert not any(block.attn.fused_attn for block in model.blocks)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        explicit = model(x)
        for block in model.blocks:
            block.attn.fused_attn = True
        fused = model(x)
    assert torch.allclose(explicit, fused, atol=1e-5)


def test_training_steps_lower_every_loss_on_a_repeated_batch():
    torch.manual_seed(0)
    config = demo_train.TrainConfig(depth=2, embed_dim=48, precision="fp32")
    model = demo_train.create_model(config, 32).train()
    heads = demo_train.AuxiliaryHeads(config.embed_dim)
    optimizer = demo_train.build_optimizer(model, heads, config, 3e-3)
    batch = demo_train.BatchStream(3, 1, 8, 32, 0.25, 0.0).batch(0)
    _, first = demo_train.training_step(model, heads, optimizer, batch, config)
    for _ in range(30):
        _, last = demo_train.training_step(model, heads, optimizer, batch, config)
    for name in ("cls", "tok", "fig"):
        assert last[name] < 0.8 * first[name], name


def test_the_model_card_records_the_learning_curve_and_unmet_bars(tmp_path):
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"0" * 1000)
    report = QualityReport(100, 0.9, 0.9, 0.5, 0.7, (0.8, 0.9, 1.0))
    curves = {"112 px crops": [(500, 0.25), (1000, 0.5)], "224 px scenes": [(40, 0.75)]}
    card = demo_train.model_card(TINY, report, demo_train.Timing(20.0, 39.0), path, curves)
    assert "- 112 px crops: 25 % at 500, 50 % at 1000" in card
    assert "- 224 px scenes: 75 % at 40" in card
    assert "**Not all bars are met**" in card
    assert "80.0 % / 90.0 % / 100.0 %" in card
    assert "20.0 min wall clock" in card


def test_muon_takes_the_blocks_weight_matrices_and_adamw_the_rest():
    config = demo_train.TrainConfig(depth=2, embed_dim=48, precision="fp32")
    model = demo_train.create_model(config, 32).train()
    heads = demo_train.AuxiliaryHeads(config.embed_dim)
    optimizer = demo_train.build_optimizer(model, heads, config, 1e-3)
    batch = demo_train.BatchStream(3, 1, 4, 32, 0.25, 0.0).batch(0)
    demo_train.training_step(model, heads, optimizer, batch, config)
    named = [*model.named_parameters(), *heads.named_parameters(prefix="heads")]
    on_muon = {n for n, p in named if optimizer.state[p]["use_muon"]}
    assert on_muon == {
        f"blocks.{i}.{name}.weight"
        for i in range(2)
        for name in ("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2")
    }
    peaks = sorted(group["lr"] for group in optimizer.param_groups)
    assert peaks == pytest.approx([1e-3, 1e-3, 1e-3 * config.muon_lr_scale])
