"""prepare(): timm's eval transform exactly, whole-image and native-aspect modes, and the
geometry that maps each patch back onto the original image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from timm.data import create_transform

from vitviz.compute.preprocess import PreprocessMode, native_grid, prepare
from vitviz.errors import AnalysisError
from vitviz.vit.layout import TokenLayout
from vitviz.vit.spec import PretrainedSpec

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def make_spec(
    input_size=(3, 224, 224),
    *,
    crop_pct=0.875,
    crop_mode="center",
    interpolation="bicubic",
    patch=16,
    num_reg=0,
) -> PretrainedSpec:
    grid = (input_size[1] // patch, input_size[2] // patch)
    return PretrainedSpec(
        name="test",
        arch="vit_test",
        input_size=input_size,
        crop_pct=crop_pct,
        crop_mode=crop_mode,
        interpolation=interpolation,
        mean=MEAN,
        std=STD,
        labels=None,
        layout=TokenLayout(num_class=1, num_dist=0, num_reg=num_reg, grid=grid),
        patch_size=(patch, patch),
    )


def noise(height: int, width: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def position_image(height: int, width: int) -> Image.Image:
    """Red grows left → right, green top → bottom: each pixel says where it is."""
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    rgb = np.stack([x, y, np.full_like(x, 64)], axis=-1)  # [H, W, 3]
    return Image.fromarray(np.rint(rgb).astype(np.uint8))


@pytest.mark.parametrize("image_hw", [(300, 500), (480, 211), (100, 90), (257, 256)])
@pytest.mark.parametrize("input_size", [(3, 224, 224), (3, 160, 256)])
@pytest.mark.parametrize(
    ("crop_mode", "crop_pct", "interpolation"),
    [
        ("center", 0.875, "bicubic"),
        ("center", 1.0, "bilinear"),
        ("squash", 0.9, "bicubic"),
        ("border", 1.0, "bilinear"),
        (None, 0.95, "bicubic"),
    ],
)
def test_crop_mode_equals_timm_eval_transform(
    image_hw, input_size, crop_mode, crop_pct, interpolation
):
    spec = make_spec(
        input_size, crop_pct=crop_pct, crop_mode=crop_mode, interpolation=interpolation
    )
    image = noise(*image_hw)
    expected = create_transform(
        input_size=input_size,
        is_training=False,
        interpolation=interpolation,
        mean=MEAN,
        std=STD,
        crop_pct=crop_pct,
        crop_mode=crop_mode,
    )(image)
    prepared = prepare(image, spec, PreprocessMode.CROP)
    assert prepared.tensor.shape == (1, 3, input_size[1], input_size[2])
    assert prepared.tensor.dtype == torch.float32
    assert torch.equal(prepared.tensor[0], expected)


def test_tensor_is_the_normalised_model_view_image():
    prepared = prepare(noise(200, 300), make_spec(), PreprocessMode.CROP)
    seen = torch.from_numpy(np.array(prepared.image)).permute(2, 0, 1).float() / 255
    mean, std = torch.tensor(MEAN).view(3, 1, 1), torch.tensor(STD).view(3, 1, 1)
    torch.testing.assert_close(prepared.tensor[0] * std + mean, seen)


def test_crop_mode_geometry_is_the_centre_crop():
    # 300 x 400 → shortest edge 256 (224 / 0.875): 256 x 341, crop columns 58..282.
    prepared = prepare(noise(300, 400), make_spec(), PreprocessMode.CROP)
    grid = prepared.grid
    assert grid.layout.grid == (14, 14)
    scale = 341 / 400
    left, top, right, bottom = grid.crop_box
    assert left == pytest.approx(58 / scale)
    assert right == pytest.approx(282 / scale)
    assert top == pytest.approx(16 * 300 / 256)
    assert bottom == pytest.approx((16 + 224) * 300 / 256)
    assert grid.patch_at(5, 150) is None  # cut off on the left


def test_whole_mode_squashes_the_whole_image():
    prepared = prepare(noise(300, 400), make_spec(), PreprocessMode.WHOLE)
    assert prepared.tensor.shape == (1, 3, 224, 224)
    assert prepared.image.size == (224, 224)
    assert prepared.grid.crop_box == pytest.approx((0, 0, 400, 300))
    assert prepared.grid.scale == pytest.approx((224 / 400, 224 / 300))


def test_native_mode_follows_the_aspect_ratio_with_a_token_cap():
    spec = make_spec()  # 14 x 14 = 196 patches at its training size
    prepared = prepare(noise(300, 480), spec, PreprocessMode.NATIVE)
    rows, cols = prepared.grid.layout.grid
    assert rows * cols <= 196
    assert cols / rows == pytest.approx(480 / 300, rel=0.1)
    assert prepared.tensor.shape == (1, 3, rows * 16, cols * 16)
    assert prepared.grid.crop_box == pytest.approx((0, 0, 480, 300))
    assert prepared.grid.layout.num_class == 1


def test_native_mode_token_cap_is_configurable():
    prepared = prepare(noise(300, 480), make_spec(), "native", max_tokens=40)
    rows, cols = prepared.grid.layout.grid
    assert rows * cols <= 40
    assert rows < cols


def test_native_grid_is_exact_for_a_matching_aspect():
    assert native_grid((320, 512), (16, 16), 160) == (10, 16)
    assert native_grid((512, 320), (16, 16), 160) == (16, 10)
    assert native_grid((224, 224), (16, 16), 196) == (14, 14)


def test_native_grid_is_the_largest_within_the_cap():
    for height, width, cap in [(300, 480, 196), (1000, 333, 256), (37, 900, 100)]:
        rows, cols = native_grid((height, width), (16, 16), cap)
        assert rows * cols <= cap
        # The next larger grid with this aspect would break the cap.
        bigger = native_grid((height, width), (16, 16), cap + max(rows, cols) + 1)
        assert bigger != (rows, cols)


def test_native_grid_of_an_extreme_aspect_keeps_one_row():
    rows, cols = native_grid((10, 5000), (16, 16), 196)
    assert rows == 1
    assert cols == 196


def test_native_grid_refuses_no_tokens():
    with pytest.raises(AnalysisError, match="max_tokens"):
        native_grid((100, 100), (16, 16), 0)


@pytest.mark.parametrize(
    ("mode", "spec", "image_hw", "kwargs"),
    [
        (PreprocessMode.NATIVE, make_spec(), (200, 320), {"max_tokens": 160}),
        (PreprocessMode.CROP, make_spec((3, 160, 256), crop_pct=1.0), (250, 500), {}),
        (PreprocessMode.WHOLE, make_spec((3, 160, 256)), (300, 300), {}),
    ],
)
def test_non_square_grid_patches_see_their_own_region_of_the_original(mode, spec, image_hw, kwargs):
    """Each patch of a 10 x 16 grid carries the colours of its box on the original image."""
    original = position_image(*image_hw)
    prepared = prepare(original, spec, mode, **kwargs)
    grid = prepared.grid
    assert grid.layout.grid == (10, 16)
    seen = np.asarray(prepared.image, dtype=np.float64)
    orig = np.asarray(original, dtype=np.float64)
    for row in range(10):
        for col in range(16):
            patch = seen[row * 16 : (row + 1) * 16, col * 16 : (col + 1) * 16].mean(axis=(0, 1))
            left, top, right, bottom = grid.patch_box(row, col)
            region = orig[round(top) : round(bottom), round(left) : round(right)]
            np.testing.assert_allclose(patch, region.mean(axis=(0, 1)), atol=2.0)


def test_marker_lands_in_the_patch_that_covers_it():
    # A white square near the top-right of a wide image must show up in the top-right
    # patches of the model input, and the grid must put it back there.
    pixels = np.zeros((200, 320, 3), dtype=np.uint8)
    pixels[22:38, 282:298] = 255  # input pixels 225.6-238.4 x 17.6-30.4 at scale 0.8
    prepared = prepare(Image.fromarray(pixels), make_spec(), "native", max_tokens=160)
    seen = np.asarray(prepared.image).astype(float).sum(-1)  # [H, W]
    rows, cols = prepared.grid.layout.grid
    brightness = seen.reshape(rows, 16, cols, 16).mean(axis=(1, 3))  # [rows, cols]
    row, col = np.unravel_index(np.argmax(brightness), brightness.shape)
    assert (row, col) == prepared.grid.patch_at(290, 30) == (1, 14)
    left, top, right, bottom = prepared.grid.patch_box(row, col)
    assert left <= 290 < right
    assert top <= 30 < bottom


def test_register_layout_is_kept_over_the_new_grid():
    prepared = prepare(noise(100, 200), make_spec(num_reg=4), "native")
    assert prepared.grid.layout.num_reg == 4
    assert prepared.grid.layout.num_tokens == 1 + 4 + prepared.grid.layout.num_patches


def test_non_rgb_input_is_converted():
    grey = Image.new("L", (64, 64), 90)
    prepared = prepare(grey, make_spec(), PreprocessMode.WHOLE)
    np.testing.assert_array_equal(np.asarray(prepared.image), 90)


@pytest.mark.parametrize("name", ["nearest", "bilinear", "bicubic", "box", "hamming", "lanczos"])
def test_every_timm_filter_name_resamples_as_timm_does(name):
    # Our name -> PIL filter table stands in for timm's (not imported on the start path).
    spec = make_spec((3, 32, 48), crop_pct=1.0, crop_mode="squash", interpolation=name, patch=16)
    image = noise(45, 70)
    expected = create_transform(
        input_size=(3, 32, 48),
        is_training=False,
        interpolation=name,
        mean=MEAN,
        std=STD,
        crop_pct=1.0,
        crop_mode="squash",
    )(image)
    assert torch.equal(prepare(image, spec, PreprocessMode.CROP).tensor[0], expected)


def test_interpolation_names_are_case_sensitive_as_in_timm():
    with pytest.raises(AnalysisError, match="interpolation"):
        prepare(noise(64, 64), make_spec(interpolation="Bicubic"))


def test_unknown_interpolation_is_reported():
    with pytest.raises(AnalysisError, match="interpolation"):
        prepare(noise(64, 64), make_spec(interpolation="sinc"))


def test_native_input_runs_through_the_network_with_the_same_layout():
    from timm.models.vision_transformer import VisionTransformer as TimmViT

    from vitviz.vit import from_timm

    timm_model = TimmViT(
        img_size=64, patch_size=16, embed_dim=32, depth=2, num_heads=2, reg_tokens=2, num_classes=5
    ).eval()
    network = from_timm(timm_model).eval()
    spec = make_spec(num_reg=2)
    prepared = prepare(position_image(200, 320), spec, "native", max_tokens=160)
    with torch.no_grad():
        output = network(prepared.tensor)
    assert output.layout == prepared.grid.layout
    tokens = 1 + 2 + 10 * 16
    assert output.attentions[0].shape == (1, 2, tokens, tokens)
