"""``vitviz predict | export | models``, run in-process and once as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from matplotlib import cbook
from PIL import Image

from vitviz import cli
from vitviz.compute.images import open_image
from vitviz.compute.preprocess import prepare
from vitviz.compute.rollout import rollout
from vitviz.demo.dataset import generate
from vitviz.demo.shapes import CLASS_NAMES
from vitviz.export import animation
from vitviz.export.map_figures import map_image_figure
from vitviz.export.pictures import PictureOptions
from vitviz.export.saving import save_figure
from vitviz.export.titles import rollout_title
from vitviz.resources import DEMO_MODEL_PATH


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
        # A 224-pixel image shown at 640 pixels, with title and colour bar: 8.6 x 7.9 inches.
        assert png.size == (860, 790)


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
    title = rollout_title(
        spec.name, "CLS", start_layer=0, end_layer=model.config.depth - 1, fusion="mean",
        image="sample0.png",
    )  # fmt: skip
    options = PictureOptions(cmap="viridis", alpha=0.8)
    figure = map_image_figure(computed, prepared.grid, image, title=title, options=options)
    expected = save_figure(figure, tmp_path / "expected.png").read_bytes()
    assert (tmp_path / "sample0_rollout.png").read_bytes() == expected


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


def test_mp4_without_an_encoder_is_refused_once_up_front(
    model_source, images, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(animation.FFMpegWriter, "isAvailable", classmethod(lambda cls: False))
    monkeypatch.setattr(cli, "_load_model", lambda args: pytest.fail("loaded the model"))
    status = _run(
        "export",
        *images[:3],
        "--model",
        model_source,
        "--what",
        "rollout",
        "--format",
        "mp4",
        "--out",
        str(tmp_path),
    )
    assert status == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "needs the ffmpeg program" in err
    assert "--format gif" in err
    assert not list(tmp_path.iterdir())


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


def test_a_folder_stands_for_the_images_in_it(model_source, images, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("b.png", "a.PNG"):
        Image.open(images[0]).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden.png").write_bytes(b"")
    (folder / "nested").mkdir()
    assert _run("predict", str(folder), "--model", model_source, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert [Path(r["image"]).name for r in report["results"]] == ["a.PNG", "b.png"]
    assert report["failures"] == []


def test_a_folder_without_images_exits_2(model_source, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not an image")
    assert _run("predict", str(tmp_path), "--model", model_source) == 2
    assert f"the folder {tmp_path} holds no images" in capsys.readouterr().err


def test_a_near_miss_of_demo_is_answered_with_demo(images, capsys):
    assert _run("predict", images[0], "--model", "dmeo") == 2
    assert "did you mean demo" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["predict", "export"])
def test_every_image_failing_exits_2(model_source, images, tmp_path, capsys, command):
    missing = str(tmp_path / "missing.png")
    options = ["--what", "rollout", "--out", str(tmp_path / "out")] if command == "export" else []
    status = _run(command, images[3], missing, "--model", model_source, *options)
    err = capsys.readouterr().err
    assert status == 2, err
    assert "2 of 2 images failed" in err
    assert "broken.jpg" in err
    assert "missing.png" in err


@pytest.mark.skipif(not DEMO_MODEL_PATH.is_file(), reason="the demo model has not been built")
def test_the_demo_model_on_a_photo_says_what_it_knows(images, capsys):
    photo = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    assert _run("predict", images[0], str(photo), "--model", "demo", "--topk", "1") == 0
    captured = capsys.readouterr()
    assert "grace_hopper.jpg" in captured.out
    notes = [line for line in captured.err.splitlines() if "synthetic shapes" in line]
    assert len(notes) == 1
    assert "knows only 10 synthetic shapes" in notes[0]
    assert all(name in notes[0] for name in CLASS_NAMES)
    assert "grace_hopper.jpg" in notes[0]
    assert "sample0.png" not in notes[0]  # a generated sample is what the model knows


@pytest.mark.skipif(not DEMO_MODEL_PATH.is_file(), reason="the demo model has not been built")
def test_the_demo_model_on_its_own_samples_needs_no_note(images, capsys):
    assert _run("predict", *images[:3], "--model", "demo") == 0
    assert "synthetic shapes" not in capsys.readouterr().err


def test_the_readme_states_the_exit_statuses_the_cli_returns():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    text = " ".join(readme.split())
    assert (
        f"the exit status is {cli.EXIT_OK} when everything succeeded, {cli.EXIT_SOME_FAILED} "
        f"when some images failed, {cli.EXIT_ERROR} when nothing could be done" in text
    )


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
