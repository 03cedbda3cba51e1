"""Loading figures: an uncached tag with the hub unreachable, and one's own bare checkpoint.

1. **Offline.** ``vitviz predict --model vit_base_patch16_224.augreg2_in21k_ft_in1k IMG``
   in a fresh process, the hub pointed at a closed local port and an empty cache: wall
   time and lines of output (target: under 5 s, one line; the hub client's retries took
   51 s and 44 lines).
2. **Bare state dict.** A random-init ViT-B/16 saved as a plain ``.safetensors`` state
   dict, loaded with no architecture given (inferred from the weights), in a fresh
   process: first load (the architecture configs built), second load, and the peak
   resident memory the load added next to the file's size.

Run: ``python benchmarks/bench_loading.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE_LOAD = """
import resource, sys, time
from vitviz.vit import load
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
model, spec = load(sys.argv[1], device="cpu")
first = time.perf_counter() - start
start = time.perf_counter()
load(sys.argv[1], device="cpu")
second = time.perf_counter() - start
added = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(spec.arch, first, second, added)
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def offline(folder: Path) -> None:
    from PIL import Image

    image = folder / "a.png"
    Image.new("RGB", (64, 64)).save(image)
    env = dict(
        os.environ,
        HF_ENDPOINT=f"http://127.0.0.1:{closed_port()}",
        HF_HUB_CACHE=str(folder / "hub"),
        HF_HUB_OFFLINE="0",
    )
    tag = "vit_base_patch16_224.augreg2_in21k_ft_in1k"
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "vitviz", "predict", "--model", tag, str(image)],
        capture_output=True,
        text=True,
        env=env,
    )
    seconds = time.perf_counter() - start
    lines = (result.stdout + result.stderr).splitlines()
    print(
        f"Uncached tag, hub unreachable (target < 5 s, 1 line): {seconds:.2f} s, "
        f"{len(lines)} line(s), exit status {result.returncode}"
    )


def bare_checkpoint(folder: Path) -> None:
    import timm
    from safetensors.torch import save_file

    path = folder / "mine.safetensors"
    save_file(timm.create_model("vit_base_patch16_224").state_dict(), str(path))
    result = subprocess.run(
        [sys.executable, "-c", BARE_LOAD, str(path)], capture_output=True, text=True, check=True
    )
    arch, first, second, added = result.stdout.split()
    print(
        f"Bare ViT-B/16 state dict, no architecture given: inferred {arch}; first load "
        f"{float(first):.2f} s, second {float(second):.2f} s; peak resident memory added "
        f"{float(added):.0f} MB for a {path.stat().st_size / 2**20:.0f} MB file (the "
        "memory-mapped tensors are assigned, not copied)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        offline(Path(folder))
        bare_checkpoint(Path(folder))


if __name__ == "__main__":
    main()
