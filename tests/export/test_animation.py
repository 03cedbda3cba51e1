"""Layer animations: GIF frames, and MP4 only where ffmpeg is installed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageSequence

from vitviz.errors import VitvizError
from vitviz.export import animation
from vitviz.export.animation import mp4_available, save_layer_animation
from vitviz.export.figures import ColourScale


def _frames(count):
    # Flat frames in distinct colours, so GIF palette quantisation keeps them exact.
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    return [np.full((20, 30, 3), colours[i], dtype=np.uint8) for i in range(count)]


def test_gif_has_one_frame_per_layer_in_order(tmp_path):
    path = save_layer_animation(
        _frames(4), [f"layer {i}" for i in range(4)], tmp_path / "layers.gif", fps=4
    )
    gif = Image.open(path)
    assert gif.format == "GIF"
    assert gif.n_frames == 4
    assert gif.info["duration"] == 250
    centres = []
    for frame in ImageSequence.Iterator(gif):
        rgb = np.asarray(frame.convert("RGB"))
        # The picture's centre: 24 px margin, 30 px wide magnified to 660.
        centres.append(tuple(rgb[-24 - 200, 24 + 330]))
    assert centres == [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]


def test_gif_is_deterministic(tmp_path):
    def export(name):
        frames, titles = _frames(3), ["a", "b", "c"]
        scale = ColourScale("inferno", 0, 1)
        return save_layer_animation(frames, titles, tmp_path / name, scale=scale).read_bytes()

    assert export("a.gif") == export("b.gif")


def test_mp4_without_ffmpeg_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(animation.FFMpegWriter, "isAvailable", classmethod(lambda cls: False))
    assert not mp4_available()
    with pytest.raises(VitvizError, match="ffmpeg"):
        save_layer_animation(_frames(2), ["a", "b"], tmp_path / "layers.mp4")
    assert not (tmp_path / "layers.mp4").exists()


@pytest.mark.skipif(not mp4_available(), reason="no ffmpeg installed")
def test_mp4_is_written_where_ffmpeg_exists(tmp_path):
    path = save_layer_animation(_frames(3), ["a", "b", "c"], tmp_path / "layers.mp4")
    data = path.read_bytes()
    assert data[4:8] == b"ftyp"


def test_frames_and_titles_must_match(tmp_path):
    with pytest.raises(ValueError, match="title"):
        save_layer_animation(_frames(2), ["a"], tmp_path / "x.gif")
