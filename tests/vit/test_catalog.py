"""The model picker's catalogue: supported pretrained tags, local-cache check, suggestions."""

from __future__ import annotations

import socket

import huggingface_hub.constants
import pytest
import timm

from vitviz.vit.hub import hub_location, hub_reachable, is_cached
from vitviz.vit.loading import is_local_path
from vitviz.vit.timm import close_matches, is_supported_arch, supported_pretrained_tags

TAG = "vit_tiny_patch16_224.augreg_in21k_ft_in1k"


def test_supported_tags_are_pretrained_plain_vits():
    tags = supported_pretrained_tags()
    assert TAG in tags
    assert "deit_tiny_distilled_patch16_224.fb_in1k" in tags
    assert "vit_small_patch14_reg4_dinov2.lvd142m" in tags
    assert "vit_base_patch16_siglip_224.webli" in tags
    assert set(tags) <= set(timm.list_pretrained())
    assert len(tags) == len(set(tags))


def test_supported_tags_exclude_other_families_and_hybrids():
    others = ("resnet", "vit_base_r50", "vitamin", "eva02", "swin")
    assert not any(t.startswith(others) for t in supported_pretrained_tags())
    assert not is_supported_arch("vit_base_r50_s16_384")
    assert not is_supported_arch("resnet50")
    assert is_supported_arch("vit_base_patch16_224")
    assert is_supported_arch("deit_base_distilled_patch16_224.fb_in1k")


def test_every_supported_architecture_of_timm_vit_family_is_listed():
    archs = {t.split(".")[0] for t in supported_pretrained_tags()}
    assert "vit_base_patch16_224" in archs
    assert "deit3_small_patch16_224" in archs
    assert "vit_base_patch16_clip_224" in archs


def _fake_hub_cache(root, repo_id: str, filename: str) -> None:
    """The layout huggingface_hub writes: refs/main names a snapshot holding the file."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / filename).write_bytes(b"weights")


def test_is_cached_finds_weights_in_the_hub_cache(tmp_path):
    assert not is_cached(TAG, cache_dir=tmp_path)
    _fake_hub_cache(tmp_path, f"timm/{TAG}", "model.safetensors")
    assert is_cached(TAG, cache_dir=tmp_path)


def test_is_cached_accepts_the_pickle_weights_file(tmp_path):
    _fake_hub_cache(tmp_path, f"timm/{TAG}", "pytorch_model.bin")
    assert is_cached(TAG, cache_dir=tmp_path)


def test_bare_architecture_means_its_default_weights(tmp_path):
    default_tag = timm.models.get_pretrained_cfg("vit_tiny_patch16_224").hf_hub_id
    _fake_hub_cache(tmp_path, default_tag, "model.safetensors")
    assert is_cached("vit_tiny_patch16_224", cache_dir=tmp_path)


def test_is_cached_is_false_for_unknown_names(tmp_path):
    assert not is_cached("not_a_model.at_all", cache_dir=tmp_path)
    assert not is_cached("vit_tiny_patch16_224.no_such_weights", cache_dir=tmp_path)


def test_close_matches_prefers_supported_models():
    assert close_matches("vit_bsae_patch16_224")[0] == "vit_base_patch16_224"
    assert close_matches("vit_tiny_patch16_224.augreg_in21k_ft_in1kk")[0] == TAG
    assert close_matches("zzzzzzzzzzzz") == []


def test_hub_location_of_tags_ids_and_others():
    files = ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")
    assert hub_location(TAG) == (f"timm/{TAG}", None, files)
    assert hub_location("hf-hub:org/model@v2") == ("org/model", "v2", files)
    assert hub_location("demo") is None
    assert hub_location("/tmp/some/file.safetensors") is None
    assert hub_location("not_a_model_at_all") is None


def test_tags_ending_in_pt_are_tags_not_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not is_local_path("beit3_base_patch16_224.pt")
    assert not is_cached("beit3_large_patch16_224.pt", cache_dir=tmp_path)
    assert is_local_path("mine.pt")  # unknown to timm: a file (missing, said so when loaded)
    assert is_local_path("./beit3_base_patch16_224.pt")
    (tmp_path / "beit3_base_patch16_224.pt").write_bytes(b"x")
    assert is_local_path("beit3_base_patch16_224.pt")  # an existing file wins


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nobody listens once the socket is closed


def test_hub_reachable_decides_in_one_request(monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert not hub_reachable()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    assert not hub_reachable()


@pytest.fixture
def answering_hub(monkeypatch):
    """A local server that answers every request, standing in for the hub."""
    import http.server
    import threading

    class Quiet(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(
        huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{server.server_port}"
    )
    yield
    server.shutdown()


@pytest.mark.usefixtures("answering_hub")
def test_any_answer_means_reachable():
    assert hub_reachable()
