"""The ``vitviz.vit`` package: light modules without timm, public names as before."""

from __future__ import annotations

import subprocess
import sys

import pytest

import vitviz.vit


def _imports_in_fresh_process(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_the_package_and_its_light_modules_do_not_import_timm():
    loaded = _imports_in_fresh_process(
        "import vitviz.vit.layout, vitviz.vit.spec, vitviz.vit.model, vitviz.state\n"
        "from vitviz.vit import load, save_checkpoint"
    )
    assert "vitviz.vit.layout" in loaded
    assert "timm" not in loaded
    assert "torchvision" not in loaded


def test_names_that_need_timm_import_it_on_first_use():
    loaded = _imports_in_fresh_process("from vitviz.vit import from_timm, is_cached")
    assert "timm" in loaded


def test_every_public_name_resolves():
    for name in vitviz.vit.__all__:
        assert getattr(vitviz.vit, name).__name__ == name


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        vitviz.vit.no_such_name  # noqa: B018
