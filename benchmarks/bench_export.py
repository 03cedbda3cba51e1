"""Throughput of ``vitviz export --what rollout`` against a plain timm forward pass.

Both sides get the same image files (generated demo images written as PNG) and the same
weights (the timm model that ``vitviz.vit.load`` converts, read from the same file), run
batched on the CPU, in one process, alternately, best of ``--repeats``:

- **timm**: open each PNG, timm's eval transform for the checkpoint, batched forward of
  the timm model (fused attention, nothing captured).
- **vitviz export**: what ``vitviz export IMAGE... --what rollout --format png`` runs once
  the model is loaded: open, preprocess, batched forward with attention captured, batched
  rollout, then per image a plain matplotlib figure (the image, the map placed with
  ``imshow(extent=...)``, colour bar, title) saved with ``savefig``, one after another.

The ratio (export images/s over timm images/s) is the figure to watch: its target is
>= 0.85 for ViT-B/16 (analysis and export at most 15 % on top of inference). Also printed: the
CPU time of each side (all threads; on a busy machine it moves less than wall time, but
threads that wait for a core spin and count), and the forward passes alone (timm's fused
attention against ours, which materialises every layer's attention), to show where the
rest of the time goes.

For small models (the demo) drawing and saving the figure weighs more than the forward
pass, so the demo's ratio is far below ViT-B's. Timings on a shared machine vary by tens
of percent between runs: repeat, and compare the CPU times.

Run: ``python benchmarks/bench_export.py [--images 64] [--batch-size 8] [--repeats 2]
[--models demo vit_base_patch16_224]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import timm
import torch
from PIL import Image

from vitviz.demo.dataset import generate
from vitviz.export.batch import BatchExporter
from vitviz.export.request import ExportRequest
from vitviz.resources import DEMO_MODEL_PATH
from vitviz.vit import load, save_checkpoint
from vitviz.vit.checkpoints import read_checkpoint


def write_images(folder: Path, count: int) -> list[str]:
    paths = []
    for index in range(count):
        path = folder / f"image{index:03d}.png"
        Image.fromarray(generate(2024, index).image).save(path)
        paths.append(str(path))
    return paths


def checkpoint_for(name: str, folder: Path) -> Path:
    """A checkpoint file both sides load: the demo model, or random weights of a timm arch."""
    if name == "demo":
        return DEMO_MODEL_PATH
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False)
    return save_checkpoint(model, folder / f"{name}.safetensors", arch=name)


def timm_model_from(path: Path) -> torch.nn.Module:
    """The plain timm model of a self-describing checkpoint, with its weights."""
    checkpoint = read_checkpoint(path)
    info = checkpoint.info
    model = timm.create_model(
        info.arch, pretrained=False, pretrained_cfg_overlay=info.pretrained_cfg, **info.model_kwargs
    )
    model.load_state_dict(checkpoint.state_dict)
    return model.eval()


def timm_pipeline(model, paths: list[str], batch_size: int) -> None:
    transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        batch = torch.stack([transform(Image.open(p).convert("RGB")) for p in chunk])
        with torch.inference_mode():
            model(batch)


def forward_only(model, batch: torch.Tensor, batch_size: int, **kwargs) -> None:
    with torch.inference_mode():
        for start in range(0, len(batch), batch_size):
            model(batch[start : start + batch_size], **kwargs)


def best_time(function, repeats: int) -> float:
    return min(timed(function)[0] for _ in range(repeats))


def timed(function) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of one call; CPU time counts every thread of the process."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_model(name: str, paths: list[str], folder: Path, args) -> None:
    path = checkpoint_for(name, folder)
    ours, spec = load(path, device="cpu")
    reference = timm_model_from(path)
    out = folder / f"out-{name}"
    request = ExportRequest(kinds=("rollout",), fmt="png")
    exporter = BatchExporter(ours, spec, request, out, model_name=name)

    def export() -> None:
        report = exporter.run(paths, batch_size=args.batch_size, progress=False)
        if report.failures:
            raise SystemExit(f"export failed: {report.failures}")

    def plain_timm() -> None:
        timm_pipeline(reference, paths, args.batch_size)

    # Warm-up: allocator, kernels, fonts.
    timm_pipeline(reference, paths[: args.batch_size], args.batch_size)
    exporter.run(paths[: args.batch_size], batch_size=args.batch_size, progress=False)
    timings = {"timm": [], "export": []}
    for _ in range(args.repeats):
        timings["timm"].append(timed(plain_timm))
        timings["export"].append(timed(export))
    (timm_s, timm_cpu), (export_s, export_cpu) = min(timings["timm"]), min(timings["export"])

    size = spec.input_size[1:]
    batch = torch.randn(args.batch_size * 2, 3, *size)  # [B, 3, H, W]
    timm_forward = best_time(lambda: forward_only(reference, batch, args.batch_size), 2)
    our_forward = best_time(lambda: forward_only(ours, batch, args.batch_size), 2)

    count = len(paths)
    print(
        f"\n{name}: {count} images {size[0]}x{size[1]}, batch {args.batch_size}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"  timm (open + transform + forward)   {count / timm_s:8.2f} images/s")
    print(f"  vitviz export --what rollout (png)  {count / export_s:8.2f} images/s")
    ratio = timm_s / export_s
    print(f"  ratio export / timm                 {ratio:8.3f}   (target >= 0.85, ViT-B/16)")
    timm_ms, export_ms = 1000 * timm_s / count, 1000 * export_s / count
    print(f"  per image: timm {timm_ms:.1f} ms, export {export_ms:.1f} ms")
    timm_cpu_ms, export_cpu_ms = 1000 * timm_cpu / count, 1000 * export_cpu / count
    print(
        f"  CPU per image (all threads): timm {timm_cpu_ms:.1f} ms, export {export_cpu_ms:.1f} ms"
        f" (ratio {timm_cpu / export_cpu:.3f})"
    )
    per = len(batch)
    print(
        f"  forward only: timm {1000 * timm_forward / per:.1f} ms/image, "
        f"vitviz (attention captured) {1000 * our_forward / per:.1f} ms/image"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", nargs="+", default=["demo", "vit_base_patch16_224"])
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_images(folder, args.images)
        for name in args.models:
            if name == "demo" and not DEMO_MODEL_PATH.is_file():
                print("\ndemo: the bundled model is not there yet; skipped")
                continue
            bench_model(name, paths, folder, args)


if __name__ == "__main__":
    main()
