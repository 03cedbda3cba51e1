import threading

import pytest
from huggingface_hub.errors import RemoteEntryNotFoundError

from vitviz.errors import ModelLoadError
from vitviz.qt.download import DownloadCancelledError, prefetch_weights
from vitviz.vit import hub as vit_hub


class MissingFileError(RemoteEntryNotFoundError):
    """The hub's "no such file in this repository", without an HTTP response to carry."""

    def __init__(self, message):
        Exception.__init__(self, message)


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
            raise MissingFileError(f"{filename} is not in {repo_id}")
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
        monkeypatch.setattr(vit_hub, "hub_reachable", lambda: True)
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


def test_other_hub_errors_say_what_the_loader_would(fake_hub):
    hub = fake_hub(fail=OSError("gated repository"))
    with pytest.raises(ModelLoadError, match="gated repository"):
        prefetch_weights("hf-hub:org/model", lambda d, t: None, threading.Event())
    assert len(hub.calls) == 1  # no second file tried after a failure that is not "missing"


def test_an_unreachable_hub_is_reported_at_once(monkeypatch):
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(vit_hub, "hub_reachable", lambda: False)
    with pytest.raises(ModelLoadError, match="unreachable"):
        prefetch_weights("vit_tiny_patch16_224.augreg_in21k", lambda d, t: None, threading.Event())
    assert calls == []


def test_nothing_to_fetch_for_files_and_demo(fake_hub):
    hub = fake_hub()
    assert not prefetch_weights("demo", lambda d, t: None, threading.Event())
    assert hub.calls == []
