import threading

import pytest

from vitviz.qt import download
from vitviz.qt.download import (
    WEIGHT_FILES,
    DownloadCancelledError,
    hub_weights,
    prefetch_weights,
)


def test_hub_weights_of_tags_ids_and_others():
    repo, revision, files = hub_weights("vit_base_patch16_224.augreg2_in21k_ft_in1k")
    assert repo == "timm/vit_base_patch16_224.augreg2_in21k_ft_in1k"
    assert revision is None
    assert files == WEIGHT_FILES
    assert hub_weights("hf-hub:org/model@v2") == ("org/model", "v2", WEIGHT_FILES)
    assert hub_weights("demo") is None
    assert hub_weights("/tmp/some/file.safetensors") is None
    assert hub_weights("not_a_model_at_all") is None


class FakeHub:
    """hf_hub_download stand-in: drives the tqdm class it is given like the hub client."""

    def __init__(self, missing=(), fail=None, chunks=4, size=4_000_000):
        self.missing, self.fail, self.chunks, self.size = set(missing), fail, chunks, size
        self.calls = []

    def __call__(self, repo_id, filename, *, revision=None, tqdm_class=None):
        self.calls.append((repo_id, filename, revision))
        if self.fail is not None:
            raise self.fail
        if filename in self.missing:
            raise FileNotFoundError(filename)
        bar = tqdm_class(total=self.size, unit="B", desc=filename)
        for _ in range(self.chunks):
            bar.update(self.size // self.chunks)
        bar.close()
        return f"/cache/{filename}"


@pytest.fixture
def fake_hub(monkeypatch):
    def install(**kwargs):
        hub = FakeHub(**kwargs)
        import huggingface_hub

        monkeypatch.setattr(huggingface_hub, "hf_hub_download", hub)
        return hub

    return install


def test_progress_is_reported_in_bytes(fake_hub):
    hub = fake_hub(missing={"model.safetensors"})
    seen = []
    assert prefetch_weights("hf-hub:org/model", lambda d, t: seen.append((d, t)), threading.Event())
    assert [c[1] for c in hub.calls] == ["model.safetensors", "pytorch_model.bin"]
    assert seen == [(1_000_000 * i, 4_000_000) for i in range(1, 5)]


def test_cancel_stops_the_download(fake_hub):
    fake_hub()
    cancelled = threading.Event()

    def progress(done, total):
        if done >= 2_000_000:
            cancelled.set()

    with pytest.raises(DownloadCancelledError):
        prefetch_weights("hf-hub:org/model", progress, cancelled)


def test_offline_is_left_to_the_loader(fake_hub):
    fake_hub(fail=OSError("offline"))
    assert not prefetch_weights("hf-hub:org/model", lambda d, t: None, threading.Event())


def test_nothing_to_fetch_for_files_and_demo(fake_hub):
    hub = fake_hub()
    assert not prefetch_weights("demo", lambda d, t: None, threading.Event())
    assert hub.calls == []
    assert download.hub_weights("demo") is None
