"""``vitviz predict | export | models``, run in-process and once as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vitviz import cli
from vitviz.compute.images import open_image
from vitviz.compute.preprocess import prepare
from vitviz.compute.rollout import rollout
from vitviz.demo.dataset import generate
from vitviz.demo.shapes import CLASS_NAMES
from vitviz.export import animation
from vitviz.export.figures import magnification
from vitviz.export.pictures import PictureOptions, display_image, map_picture


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("images")
    paths = []
    for index in range(3):
        path = folder / f"sample{index}.png"
        Image.fromarray(generate(5, index).image).save(path)
        paths.append(str(path))
    broken = folder / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff truncated")
    return [*paths, str(broken)]


def _run(*argv: str) -> int:
    return cli.main([*argv, "--no-progress"] if argv[0] != "models" else list(argv))


def test_export_rollout_png(model_source, images, tmp_path, capsys):
    status = _run(
        "export",
        *images[:2],
        "--model",
        model_source,
        "--what",
        "rollout",
        "--format",
        "png",
        "--out",
        str(tmp_path),
    )
    assert status == 0
    written = capsys.readouterr().out.split()
    assert [Path(p).name for p in written] == ["sample0_rollout.png", "sample1_rollout.png"]
    for path in written:
        png = Image.open(path)
        assert png.format == "PNG"
        # A 224-pixel image shown 3x, with margins, title and colour bar.
        assert png.size == (24 + 672 + 24 + 28 + 110 + 24, 24 + 672 + 24 + 2 * 32)


def test_exported_rollout_equals_the_computed_one(model_source, images, tmp_path):
    assert (
        _run(
            "export",
            images[0],
            "--model",
            model_source,
            "--what",
            "rollout",
            "--cmap",
            "viridis",
            "--alpha",
            "0.8",
            "--out",
            str(tmp_path),
        )
        == 0
    )
    from vitviz.vit import load

    model, spec = load(model_source, device="cpu")
    image = open_image(images[0])
    prepared = prepare(image, spec)
    with torch.inference_mode():
        output = model(prepared.tensor)
    computed = rollout(output.attentions, output.layout)[0]  # [rows, cols]
    base = display_image(image)
    options = PictureOptions(cmap="viridis", alpha=0.8)
    expected, _ = map_picture(computed, prepared.grid, base, options)
    rgb = np.asarray(Image.open(tmp_path / "sample0_rollout.png").convert("RGB"))
    zoom = magnification(*base.shape[:2])
    top = rgb.shape[0] - 24 - base.shape[0] * zoom
    shown = rgb[top : top + base.shape[0] * zoom, 24 : 24 + base.shape[1] * zoom]
    np.testing.assert_array_equal(shown[::zoom, ::zoom], expected)


def test_a_broken_image_is_skipped_and_the_exit_status_says_so(
    model_source, images, tmp_path, capsys
):
    status = _run(
        "export",
        *images,
        "--model",
        model_source,
        "--what",
        "rollout",
        "--out",
        str(tmp_path),
        "--batch-size",
        "2",
    )
    captured = capsys.readouterr()
    assert status == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sample0_rollout.png",
        "sample1_rollout.png",
        "sample2_rollout.png",
    ]
    assert "broken.jpg" in captured.err
    assert "1 of 4 images failed" in captured.err


@pytest.mark.parametrize(
    ("what", "fmt", "names"),
    [
        (["head", "--layer", "0", "--head", "1"], "svg", ["sample0_layer0_head1.svg"]),
        (["grid"], "pdf", ["sample0_grid.pdf"]),
        (["stats"], "png", ["sample0_distance.png"]),
        (["stats", "--colour-by", "entropy"], "svg", ["sample0_distance.svg"]),
        (
            ["rollout", "--preprocess", "whole", "--upsampling", "bilinear"],
            "png",
            ["sample0_rollout.png"],
        ),
        (
            ["class", "--class", "1", "--method", "grad_rollout"],
            "png",
            [f"sample0_class1-{CLASS_NAMES[1]}_grad_rollout.png"],
        ),
        (["rollout", "--style", "vit-paper"], "gif", ["sample0_rollout.gif"]),
        (["head", "--query", "3,4"], "gif", ["sample0_head-mean.gif"]),
    ],
)
def test_export_kinds_and_formats(model_source, images, tmp_path, what, fmt, names):
    status = _run(
        "export",
        images[0],
        "--model",
        model_source,
        "--what",
        *what,
        "--format",
        fmt,
        "--out",
        str(tmp_path),
    )
    assert status == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    data = (tmp_path / names[0]).read_bytes()
    signatures = {"svg": b"<svg", "pdf": b"%PDF", "png": b"\x89PNG", "gif": b"GIF89a"}
    assert signatures[fmt] in data[:2000]


def test_export_all(model_source, images, tmp_path):
    status = _run(
        "export", images[0], "--model", model_source, "--what", "all", "--out", str(tmp_path)
    )
    assert status == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 5
    assert {"sample0_rollout.png", "sample0_grid.png", "sample0_distance.png"} <= set(names)
    assert any(name.startswith("sample0_layer") for name in names)
    assert any(name.startswith("sample0_class") for name in names)


def test_export_all_as_gif_animates_rollout_and_head(model_source, images, tmp_path):
    status = _run(
        "export",
        images[0],
        "--model",
        model_source,
        "--what",
        "all",
        "--format",
        "gif",
        "--out",
        str(tmp_path),
    )
    assert status == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sample0_head-mean.gif",
        "sample0_rollout.gif",
    ]


def test_mp4_without_an_encoder_says_so(model_source, images, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(animation.FFMpegWriter, "isAvailable", classmethod(lambda cls: False))
    status = _run(
        "export",
        images[0],
        "--model",
        model_source,
        "--what",
        "rollout",
        "--format",
        "mp4",
        "--out",
        str(tmp_path),
    )
    assert status == 1
    assert "ffmpeg" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.mp4"))


@pytest.mark.skipif(not animation.mp4_available(), reason="no ffmpeg installed")
def test_mp4_where_an_encoder_exists(model_source, images, tmp_path):
    status = _run(
        "export",
        images[0],
        "--model",
        model_source,
        "--what",
        "rollout",
        "--format",
        "mp4",
        "--out",
        str(tmp_path),
    )
    assert status == 0
    assert (tmp_path / "sample0_rollout.mp4").read_bytes()[4:8] == b"ftyp"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--what", "grid", "--format", "gif"], "cannot be animated"),
        (["--what", "head", "--head", "7"], "head 7 does not exist"),
        (["--what", "rollout", "--query", "40,0"], "outside the 14x14"),
        (["--what", "rollout", "--model", "no_such_model_xyz"], "no_such_model_xyz"),
    ],
)
def test_impossible_requests_exit_2_with_a_message(
    model_source, images, tmp_path, capsys, argv, message
):
    argv = ["--model", model_source, *argv] if "--model" not in argv else argv
    status = _run("export", images[0], *argv, "--out", str(tmp_path))
    assert status == 2
    assert message in capsys.readouterr().err


def test_an_output_folder_that_cannot_be_made_exits_2(model_source, images, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    status = _run(
        "export",
        images[0],
        "--model",
        model_source,
        "--what",
        "rollout",
        "--out",
        str(blocker / "figures"),
    )
    assert status == 2
    assert "cannot create the output folder" in capsys.readouterr().err


def test_bad_arguments_exit_2(capsys):
    assert cli.main(["export", "x.png", "--what", "everything", "--out", "o"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert cli.main(["frobnicate"]) == 2


def test_predict_json(model_source, images, capsys):
    status = _run("predict", *images, "--model", model_source, "--topk", "3", "--json")
    assert status == 1
    report = json.loads(capsys.readouterr().out)
    assert [Path(r["image"]).name for r in report["results"]] == [
        "sample0.png",
        "sample1.png",
        "sample2.png",
    ]
    assert [Path(f["image"]).name for f in report["failures"]] == ["broken.jpg"]
    for result in report["results"]:
        assert len(result["predictions"]) == 3
        assert all(p["label"] in CLASS_NAMES for p in result["predictions"])


def test_predict_text(model_source, images, capsys):
    assert _run("predict", images[0], "--model", model_source, "--topk", "2") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("sample0.png")
    assert lines[1].lstrip().startswith("1. ")
    assert lines[2].lstrip().startswith("2. ")


def test_models_lists_supported_tags_with_cache_state(capsys, monkeypatch):
    import vitviz.vit as vit

    monkeypatch.setattr(vit, "is_cached", lambda tag: tag.endswith(".augreg_in21k"))
    assert cli.main(["models", "--filter", "vit_small_patch16_224", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows
    assert all("vit_small_patch16_224" in row["tag"] for row in rows)
    assert {row["cached"] for row in rows} == {True, False}
    assert cli.main(["models", "--filter", "dinov2"]) == 0
    out = capsys.readouterr()
    assert all("dinov2" in line for line in out.out.splitlines())
    assert "supported tags" in out.err


def test_export_as_a_subprocess(model_source, images, tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "vitviz.cli",
            "export",
            images[0],
            images[3],
            "--model",
            model_source,
            "--what",
            "rollout",
            "--out",
            str(tmp_path),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    assert (tmp_path / "sample0_rollout.png").is_file()
    assert Image.open(tmp_path / "sample0_rollout.png").format == "PNG"
    assert "broken.jpg" in completed.stderr


def test_importing_the_cli_loads_neither_torch_nor_matplotlib():
    code = "import sys, vitviz.cli; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert completed.stdout.split() == ["False", "False"]


def test_uncached_tag_with_the_hub_unreachable_fails_at_once_in_one_line(
    tmp_path, monkeypatch, capsys
):
    import socket
    import time

    import huggingface_hub.constants

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the socket is: connections are refused
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    image = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(image)
    started = time.perf_counter()
    status = cli.main(
        ["predict", "--model", "vit_base_patch16_224.augreg2_in21k_ft_in1k", str(image)]
    )
    seconds = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert status == 2
    assert err.count("\n") == 1
    assert "Hugging Face Hub is unreachable" in err
    assert out == ""
    assert seconds < 5  # the hub client's retries took 51 s
