"""A Qt platform that cannot start gives a message and exit status 2, never a core dump.

The failing platforms are real: a platform name Qt does not have, and X11 (xcb) with a
display that does not exist (on a machine without Qt's xcb libraries the libraries fail
first, elsewhere the display does; both must end in the same clear exit).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vitviz.qt import platform_check
from vitviz.qt.platform_check import (
    APT_INSTALL,
    PlatformUnavailableError,
    check_platform,
    debian_package,
    needs_probe,
    platform_message,
)

REPOSITORY = Path(__file__).resolve().parents[2]
NO_DISPLAY = ":987"  # no X server listens there


def start_vitviz(tmp_path, **env) -> subprocess.CompletedProcess:
    """``python -m vitviz`` as a user starts it, with ``env`` on top of a clean display env."""
    base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), base.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "vitviz", "--settings", str(tmp_path / "vitviz.ini")],
        env={**base, "XDG_CONFIG_HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_unknown_platform_exits_2_with_the_alternatives(tmp_path):
    started = start_vitviz(tmp_path, QT_QPA_PLATFORM="nosuchplatform")
    assert started.returncode == 2, started.stderr
    assert 'Qt\'s "nosuchplatform" platform does not start' in started.stderr
    assert "QT_QPA_PLATFORM=nosuchplatform names no Qt platform" in started.stderr
    assert "offscreen" in started.stderr.split("Qt has:")[1]  # Qt's own list of platforms
    assert "QT_QPA_PLATFORM=offscreen vitviz" in started.stderr
    assert "QT_QPA_PLATFORM=wayland vitviz" in started.stderr
    assert "Traceback" not in started.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xcb is Linux's platform")
def test_x11_that_cannot_start_exits_2_with_packages_or_the_display(tmp_path):
    started = start_vitviz(tmp_path, QT_QPA_PLATFORM="xcb", DISPLAY=NO_DISPLAY)
    assert started.returncode == 2, started.stderr
    message = started.stderr
    assert 'Qt\'s "xcb" platform does not start' in message
    if "A system library is missing" in message:
        assert APT_INSTALL in message
    else:
        assert f"The X display '{NO_DISPLAY}' (DISPLAY) cannot be reached" in message
    assert "QT_QPA_PLATFORM=offscreen vitviz" in message
    assert "QT_QPA_PLATFORM=wayland vitviz" in message
    assert "Traceback" not in message


def test_a_fallback_platform_that_starts_passes_the_probe():
    check_platform({"QT_QPA_PLATFORM": "nosuchplatform;offscreen", "PATH": os.defpath})


def test_a_platform_that_fails_raises_without_taking_the_process_down():
    with pytest.raises(PlatformUnavailableError, match="nosuchplatform"):
        check_platform({"QT_QPA_PLATFORM": "nosuchplatform", "PATH": os.defpath})


def test_headless_platforms_are_not_probed(monkeypatch):
    def no_probe(*args, **kwargs):
        raise AssertionError("probed a headless platform")

    monkeypatch.setattr(platform_check.subprocess, "run", no_probe)
    check_platform({"QT_QPA_PLATFORM": "offscreen"})
    check_platform({"QT_QPA_PLATFORM": "minimal:enable_fonts"})
    assert not needs_probe({"QT_QPA_PLATFORM": "offscreen"}, platform="linux")
    assert not needs_probe({}, platform="darwin")
    assert not needs_probe({}, platform="win32")
    assert needs_probe({}, platform="linux")
    assert needs_probe({"QT_QPA_PLATFORM": "wayland;offscreen"}, platform="linux")


# What PySide6 6.11's xcb plugin prints (QT_DEBUG_PLUGINS=1, trimmed) when a library is
# missing, and when the libraries are there but the display is not.
MISSING_LIBRARY_OUTPUT = """\
qt.core.library: "/venv/PySide6/Qt/plugins/platforms/libqxcb.so" cannot load: Cannot load \
library /venv/PySide6/Qt/plugins/platforms/libqxcb.so: libxcb-keysyms.so.1: cannot open \
shared object file: No such file or directory
qt.qpa.plugin: From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb \
platform plugin.
qt.qpa.plugin: Could not load the Qt platform plugin "xcb" in "" even though it was found.
"""
NO_SERVER_OUTPUT = """\
qt.qpa.xcb: could not connect to display :987
qt.qpa.plugin: From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb \
platform plugin.
qt.qpa.plugin: Could not load the Qt platform plugin "xcb" in "" even though it was found.
"""


def test_the_missing_library_and_its_package_are_named():
    message = platform_message({"DISPLAY": ":0"}, MISSING_LIBRARY_OUTPUT)
    assert "libxcb-keysyms.so.1 (package libxcb-keysyms1)" in message
    assert APT_INSTALL in message
    for package in ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxkbcommon-x11-0"):
        assert package in APT_INSTALL.split()
    assert "xcb-cursor0 or libxcb-cursor0 is needed" not in message  # Qt's misleading hint
    assert "DISPLAY is not set" not in message


# The shared libraries PySide6 6.11's xcb plugin loads from the system (ldd of libqxcb.so
# and libQt6XcbQpa.so.6).
XCB_LIBRARIES = [
    "libxcb-cursor.so.0",
    "libxcb-icccm.so.4",
    "libxcb-image.so.0",
    "libxcb-keysyms.so.1",
    "libxcb-randr.so.0",
    "libxcb-render-util.so.0",
    "libxcb-render.so.0",
    "libxcb-shape.so.0",
    "libxcb-shm.so.0",
    "libxcb-sync.so.1",
    "libxcb-util.so.1",
    "libxcb-xfixes.so.0",
    "libxcb-xkb.so.1",
    "libxcb.so.1",
    "libX11-xcb.so.1",
    "libX11.so.6",
    "libxkbcommon-x11.so.0",
    "libxkbcommon.so.0",
    "libGL.so.1",
    "libEGL.so.1",
    "libfontconfig.so.1",
    "libfreetype.so.6",
    "libglib-2.0.so.0",
    "libdbus-1.so.3",
]


def test_every_xcb_library_is_named_by_its_package_and_the_install_line_has_them_all():
    packages = [debian_package(*library.split(".so.")) for library in XCB_LIBRARIES]
    assert sorted(packages) == APT_INSTALL.split()[3:]
    assert packages[15] == "libx11-6"
    assert packages[22] == "libglib2.0-0"
    assert debian_package("libQt6XcbQpa", "6") == "?"  # PySide6's own, not a system package


def test_no_display_at_all_is_said_as_such():
    message = platform_message({}, MISSING_LIBRARY_OUTPUT)
    assert "There is no display: DISPLAY is not set" in message
    assert "xvfb-run vitviz" in message


def test_an_unreachable_display_is_not_blamed_on_packages():
    message = platform_message({"DISPLAY": ":987"}, NO_SERVER_OUTPUT)
    assert "The X display ':987' (DISPLAY) cannot be reached" in message
    assert "apt-get" not in message
    assert "xcb-cursor0 or libxcb-cursor0 is needed" not in message
    assert "QT_QPA_PLATFORM=offscreen vitviz" in message


def test_the_readme_installs_the_packages_the_message_names():
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    command = readme.split("sudo apt-get install ", 1)[1].split("\n```", 1)[0]
    assert sorted(command.replace("\\", " ").split()) == APT_INSTALL.split()[3:]
