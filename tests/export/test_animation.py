"""Layer animations: GIF frames on one colour scale (or each its own), MP4 where ffmpeg is."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageSequence

from vitviz.compute.preprocess import PatchGrid
from vitviz.errors import VitvizError
from vitviz.export import animation
from vitviz.export.animation import mp4_available, save_layer_animation
from vitviz.export.pictures import PictureOptions
from vitviz.vit.layout import TokenLayout

GRID = PatchGrid(
    TokenLayout(num_class=1, num_dist=0, num_reg=0, grid=(2, 3)), (16, 16), (32, 48), (32, 48)
)
IMAGE = np.full((32, 48, 3), 128, np.uint8)


def _maps(count):
    # Flat maps 0, 1, 2, ... : one colour per frame on the fixed scale.
    return np.stack([np.full((2, 3), float(i)) for i in range(count)])


def _centres(path):
    return [
        np.asarray(frame.convert("RGB"))[400, 300]
        for frame in ImageSequence.Iterator(Image.open(path))
    ]


def test_gif_has_one_frame_per_layer_in_order_on_one_colour_scale(tmp_path):
    options = PictureOptions(cmap="gray", alpha=1.0)
    path = save_layer_animation(
        _maps(3), GRID, IMAGE, ["a", "b", "c"], tmp_path / "layers.gif", options=options, fps=4
    )
    gif = Image.open(path)
    assert (gif.format, gif.n_frames, gif.info["duration"]) == ("GIF", 3, 250)
    brightness = [int(c.sum()) for c in _centres(path)]
    assert brightness[0] < brightness[1] < brightness[2]  # black, grey, white


def test_a_colour_scale_per_frame_stretches_each_frame(tmp_path):
    maps = _maps(3)
    maps[:, 0, 0] += 0.5  # each frame spans its own range
    options = PictureOptions(cmap="gray", alpha=1.0)
    path = save_layer_animation(
        maps, GRID, IMAGE, ["a", "b", "c"], tmp_path / "x.gif", options=options, fixed_scale=False
    )
    centres = [int(c.sum()) for c in _centres(path)]
    assert centres[0] == centres[1] == centres[2]


def test_gif_is_deterministic(tmp_path):
    def export(name):
        return save_layer_animation(_maps(3), GRID, IMAGE, ["a", "b", "c"], tmp_path / name)

    assert export("a.gif").read_bytes() == export("b.gif").read_bytes()


def test_mp4_without_ffmpeg_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(animation.FFMpegWriter, "isAvailable", classmethod(lambda cls: False))
    assert not mp4_available()
    with pytest.raises(VitvizError, match="ffmpeg"):
        save_layer_animation(_maps(2), GRID, IMAGE, ["a", "b"], tmp_path / "layers.mp4")
    assert not (tmp_path / "layers.mp4").exists()


@pytest.mark.skipif(not mp4_available(), reason="no ffmpeg installed")
def test_mp4_is_written_where_ffmpeg_exists(tmp_path):
    path = save_layer_animation(_maps(3), GRID, IMAGE, ["a", "b", "c"], tmp_path / "layers.mp4")
    assert path.read_bytes()[4:8] == b"ftyp"


def test_frames_and_titles_must_match(tmp_path):
    with pytest.raises(ValueError, match="title"):
        save_layer_animation(_maps(2), GRID, IMAGE, ["a"], tmp_path / "x.gif")
