"""Batch export: figures for many images, failures isolated, maps equal to the computed ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vitviz.compute.class_maps import class_maps
from vitviz.compute.images import open_image
from vitviz.compute.preprocess import PreprocessMode, prepare
from vitviz.compute.rollout import rollout
from vitviz.errors import AnalysisError, VitvizError
from vitviz.export.batch import BatchExporter
from vitviz.export.map_figures import map_image_figure
from vitviz.export.pictures import PictureOptions
from vitviz.export.predict import predict_images
from vitviz.export.reading import unique_stems
from vitviz.export.request import ExportRequest
from vitviz.export.saving import save_figure
from vitviz.export.styles import MapStyle
from vitviz.export.titles import class_title, rollout_title


def _export(loaded, out, paths, *, batch_size=2, **request):
    model, spec = loaded
    exporter = BatchExporter(model, spec, ExportRequest(**request), out)
    return exporter.run(paths, batch_size=batch_size, progress=False)


def _map_of(png_path) -> np.ndarray:
    """The map of a saved map figure, read back from its picture: the figure's pixels."""
    return np.asarray(Image.open(png_path).convert("RGB"))


@pytest.mark.parametrize("style", ["overlay", "vit-paper"])
def test_exported_rollout_equals_the_computed_rollout_after_rendering(
    loaded, tmp_path, images, style
):
    options = PictureOptions(MapStyle(style))
    # One image per forward pass, as computed below: batched matrix products may differ
    # in the last float bit, which the blurred mask style can carry into a pixel value.
    report = _export(loaded, tmp_path, images, kinds=("rollout",), picture=options, batch_size=1)
    assert not report.failures
    assert report.done == len(images)
    model, spec = loaded
    for path in images:
        image = open_image(path)
        prepared = prepare(image, spec, PreprocessMode.CROP)
        with torch.inference_mode():
            output = model(prepared.tensor)
        computed = rollout(output.attentions, output.layout)[0]  # [rows, cols]
        depth = model.config.depth
        title = rollout_title(
            spec.name, "CLS", start_layer=0, end_layer=depth - 1, fusion="mean",
            image=Path(path).name,
        )  # fmt: skip
        figure = map_image_figure(computed, prepared.grid, image, title=title, options=options)
        expected = save_figure(figure, tmp_path / "expected.png").read_bytes()
        assert (tmp_path / f"{Path(path).stem}_rollout.png").read_bytes() == expected


def test_a_broken_image_is_reported_and_the_others_complete(loaded, tmp_path, images, broken_image):
    paths = [images[0], broken_image, images[1]]
    report = _export(loaded, tmp_path, paths, kinds=("rollout",), batch_size=2)
    assert report.failures
    assert report.done == 2
    assert [image for image, _ in report.failures] == [broken_image]
    assert "not an image" in report.failures[0][1]
    assert sorted(p.name for p in report.written) == ["shape0_rollout.png", "shape1_rollout.png"]
    assert all(p.is_file() for p in report.written)


def test_a_file_that_cannot_be_written_fails_only_its_image(loaded, tmp_path, images):
    (tmp_path / "shape1_rollout.png").mkdir()  # a folder where the file should go
    report = _export(loaded, tmp_path, images, kinds=("rollout",))
    assert report.done == 2
    assert [image for image, _ in report.failures] == [images[1]]
    assert "could not write" in report.failures[0][1]
    assert sorted(p.name for p in report.written) == ["shape0_rollout.png", "shape2_rollout.png"]


@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_vector_formats(loaded, tmp_path, images, fmt):
    report = _export(loaded, tmp_path, images[:1], kinds=("rollout", "head"), fmt=fmt)
    assert not report.failures
    assert len(report.written) == 2
    for path in report.written:
        data = path.read_bytes()
        assert data.startswith(b"%PDF") if fmt == "pdf" else b"<svg" in data[:2000]


def test_gif_steps_through_every_layer(loaded, tmp_path, images):
    model, _ = loaded
    report = _export(loaded, tmp_path, images[:1], kinds=("rollout", "head"), fmt="gif", head=1)
    assert not report.failures
    names = sorted(p.name for p in report.written)
    assert names == ["shape0_head1.gif", "shape0_rollout.gif"]
    still = _export(loaded, tmp_path / "png", images[:1], kinds=("rollout",))
    size = Image.open(still.written[0]).size
    for path in report.written:
        gif = Image.open(path)
        assert gif.format == "GIF"
        assert gif.n_frames == model.config.depth
        assert gif.size == size  # the frames are the still figure's layout


def test_animations_take_one_colour_scale_or_one_per_frame(loaded, tmp_path, images):
    fixed = _export(loaded, tmp_path / "a", images[:1], kinds=("rollout",), fmt="gif")
    per_frame = _export(
        loaded, tmp_path / "b", images[:1], kinds=("rollout",), fmt="gif", frame_scale=True
    )
    first, second = (Image.open(report.written[0]) for report in (fixed, per_frame))
    assert first.n_frames == second.n_frames
    first.seek(0)
    second.seek(0)
    # The first layer's rollout spans little of the whole animation's range: on the fixed
    # scale its frame is darker than on its own.
    fixed_frame = np.asarray(first.convert("L"), dtype=float)
    own_frame = np.asarray(second.convert("L"), dtype=float)
    assert fixed_frame.shape == own_frame.shape
    assert fixed_frame.mean() < own_frame.mean()


def test_head_grid_and_stats_figures(loaded, tmp_path, images):
    model, _ = loaded
    depth, heads = model.config.depth, model.config.num_heads
    report = _export(
        loaded, tmp_path, images[:1], kinds=("head", "grid", "stats"), layer=1, head=0, query="2,3"
    )
    assert not report.failures
    names = [p.name for p in report.written]
    assert names == ["shape0_layer1_head0.png", "shape0_grid.png", "shape0_distance.png"]
    for path in report.written:
        assert Image.open(path).format == "PNG"
    # The grid has a row per layer and a column per head plus the fused one.
    grid = np.asarray(Image.open(report.written[1]).convert("L"))
    assert grid.shape[0] > depth * 48
    assert grid.shape[1] > (heads + 1) * 48


@pytest.mark.parametrize("colour_by", ["entropy", "prefix"])
def test_distance_plot_coloured_by_a_statistic(loaded, tmp_path, images, colour_by):
    report = _export(loaded, tmp_path, images[:1], kinds=("stats",), colour_by=colour_by)
    assert not report.failures
    plain = _export(loaded, tmp_path / "plain", images[:1], kinds=("stats",))
    assert report.written[0].read_bytes() != plain.written[0].read_bytes()


def test_the_last_layer_is_the_default_and_negative_layers_count_from_the_end(
    loaded, tmp_path, images
):
    model, _ = loaded
    last = model.config.depth - 1
    default = _export(loaded, tmp_path / "a", images[:1], kinds=("head",))
    negative = _export(loaded, tmp_path / "b", images[:1], kinds=("head",), layer=-1)
    assert default.written[0].name == f"shape0_layer{last}_head-mean.png"
    assert default.written[0].read_bytes() == negative.written[0].read_bytes()


def test_exports_are_deterministic(loaded, tmp_path, images):
    first = _export(loaded, tmp_path / "a", images[:2], kinds=("rollout", "grid"))
    second = _export(loaded, tmp_path / "b", images[:2], kinds=("rollout", "grid"))
    for a, b in zip(first.written, second.written, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_native_aspect_inputs_of_different_sizes_are_batched_apart(loaded, tmp_path, images):
    report = _export(
        loaded, tmp_path, images, kinds=("rollout",), preprocess=PreprocessMode.NATIVE, batch_size=3
    )
    assert not report.failures
    assert report.done == 3
    wide = Image.open(tmp_path / "shape2_rollout.png")
    square = Image.open(tmp_path / "shape0_rollout.png")
    assert wide.size[0] / wide.size[1] > square.size[0] / square.size[1]


@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        ({"kinds": ("grid",), "fmt": "gif"}, "cannot be animated"),
        ({"kinds": ("stats",), "fmt": "mp4"}, "cannot be animated"),
        ({"kinds": ("nonsense",)}, "unknown export"),
        ({"kinds": ("rollout",), "fmt": "jpg"}, "unknown format"),
        ({"kinds": ("stats",), "colour_by": "mood"}, "cannot colour by"),
        ({"kinds": ("deck",), "fmt": "png"}, "multi-page PDF"),
        ({"picture": PictureOptions(cmap="rainbowish")}, "unknown colormap 'rainbowish'"),
    ],
)
def test_impossible_requests_are_refused_up_front(loaded, tmp_path, request_kwargs, message):
    model, spec = loaded
    with pytest.raises(VitvizError, match=message):
        BatchExporter(model, spec, ExportRequest(**request_kwargs), tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        ({"head": 99}, "head 99 does not exist"),
        ({"layer": 99}, "--layer 99 does not exist"),
        ({"query": "99,99"}, "outside the 14x14"),
        ({"query": "reg0"}, "unknown query token"),
    ],
)
def test_what_the_model_lacks_is_refused_up_front(loaded, tmp_path, request_kwargs, message):
    model, spec = loaded
    with pytest.raises(AnalysisError, match=message):
        BatchExporter(model, spec, ExportRequest(kinds=("head",), **request_kwargs), tmp_path)


def test_class_maps_default_to_each_images_top_class_and_equal_the_computed_ones(
    loaded, tmp_path, images
):
    model, spec = loaded
    report = _export(loaded, tmp_path, images[:2], kinds=("class",), method="grad_rollout")
    assert not report.failures
    for path, written in zip(images[:2], report.written, strict=True):
        prepared = prepare(open_image(path), spec)
        with torch.inference_mode():
            top = int(model(prepared.tensor).logits.argmax())
        label = spec.labels[top]
        assert written.name == f"{Path(path).stem}_class{top}-{label}_grad_rollout.png"
        computed = class_maps(model, prepared.tensor, [top], method="grad_rollout")[0, 0]
        with torch.inference_mode():
            probability = float(torch.softmax(model(prepared.tensor).logits[0], -1)[top])
        title = class_title(
            spec.name, label, index=top, method="grad_rollout", probability=probability,
            image=Path(path).name,
        )  # fmt: skip
        figure = map_image_figure(
            computed, prepared.grid, open_image(path), title=title, label="grad rollout"
        )
        expected = _map_of(save_figure(figure, tmp_path / "expected.png")).astype(int)
        # Batched and single backward passes may differ in the last bit; colours may
        # move by one table entry at most in a handful of pixels.
        exported = _map_of(written).astype(int)
        assert exported.shape == expected.shape
        assert np.abs(exported - expected).max() <= 3
        assert (exported != expected).any(-1).mean() < 0.01


def test_class_maps_of_named_classes(loaded, tmp_path, images):
    _, spec = loaded
    names = [spec.labels[3], "1"]
    report = _export(loaded, tmp_path, images[:1], kinds=("class",), classes=tuple(names))
    assert not report.failures
    assert [p.name for p in report.written] == [
        f"shape0_class3-{spec.labels[3]}_relevance.png",
        f"shape0_class1-{spec.labels[1]}_relevance.png",
    ]


def test_unknown_classes_are_refused_up_front(loaded, tmp_path):
    model, spec = loaded
    for name in ("unicorn", "99"):
        with pytest.raises(AnalysisError, match="class"):
            BatchExporter(model, spec, ExportRequest(kinds=("class",), classes=(name,)), tmp_path)


def test_predict_images_batches_and_skips_broken_images(loaded, images, broken_image):
    model, spec = loaded
    results, report = predict_images(
        [images[0], broken_image, images[1]], model, spec, topk=3, batch_size=2, progress=False
    )
    assert [r["image"] for r in results] == [images[0], images[1]]
    assert [image for image, _ in report.failures] == [broken_image]
    for result in results:
        guesses = result["predictions"]
        assert [g["rank"] for g in guesses] == [1, 2, 3]
        probabilities = [g["probability"] for g in guesses]
        assert probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1 + 1e-6
        assert all(g["label"] == spec.labels[g["index"]] for g in guesses)
    # Batched predictions equal one-by-one predictions.
    single, _ = predict_images(images[:1], model, spec, topk=3, batch_size=1, progress=False)
    np.testing.assert_allclose(
        [g["probability"] for g in single[0]["predictions"]],
        [g["probability"] for g in results[0]["predictions"]],
        rtol=1e-5,
    )


def test_the_deck_is_one_pdf_per_image(loaded, tmp_path, images):
    report = _export(loaded, tmp_path, images[:2], kinds=("deck",), fmt="pdf")
    assert not report.failures
    assert [p.name for p in report.written] == ["shape0_deck.pdf", "shape1_deck.pdf"]
    assert all(p.read_bytes().startswith(b"%PDF") for p in report.written)


def test_unique_stems():
    assert unique_stems(["a/x.png", "b/x.jpg", "c/y.png", "x.gif"]) == ["x", "x-2", "y", "x-3"]


@pytest.fixture(scope="module")
def headless(tmp_path_factory):
    """A model with no class token and no classifier head, with two register tokens."""
    import timm

    from vitviz.vit import load, save_checkpoint

    kwargs = {
        "depth": 2,
        "num_classes": 0,
        "class_token": False,
        "reg_tokens": 2,
        "global_pool": "avg",
        "no_embed_class": True,
    }
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, **kwargs)
    path = tmp_path_factory.mktemp("headless") / "headless.safetensors"
    save_checkpoint(model, path, arch="vit_tiny_patch16_224", model_kwargs=kwargs)
    return load(path, device="cpu")


def test_models_without_class_token_or_head(headless, tmp_path, images):
    model, spec = headless
    report = _export(headless, tmp_path, images[:1], kinds=("rollout", "head", "grid", "stats"))
    assert not report.failures
    assert len(report.written) == 4
    registers = _export(headless, tmp_path / "reg", images[:1], kinds=("head",), query="reg1")
    assert not registers.failures
    with pytest.raises(AnalysisError, match="unknown query token"):
        BatchExporter(model, spec, ExportRequest(kinds=("head",), query="cls"), tmp_path)
    with pytest.raises(AnalysisError, match="no classifier head"):
        BatchExporter(model, spec, ExportRequest(kinds=("class",)), tmp_path)
    results, _ = predict_images(images[:1], model, spec, progress=False)
    assert results[0]["predictions"] == []
    assert "no classifier head" in results[0]["note"]
