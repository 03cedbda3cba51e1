"""Can Qt open a window here? Asked in a child process before the QApplication exists.

When Qt's platform plugin cannot load (X11 libraries missing, no display, an unknown
``QT_QPA_PLATFORM``) Qt aborts the process with a core dump and an often wrong hint. A child
process that only creates a ``QGuiApplication`` takes that abort instead (about 0.1 s);
:func:`check_platform` turns its output into a message that names the Debian/Ubuntu
packages to install and the ways to run without X11."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Mapping

from vitviz.errors import VitvizError

logger = logging.getLogger(__name__)

HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal"})  # need no display and no library
# The Debian/Ubuntu packages of every system library PySide6's xcb plugin loads (ldd of
# libqxcb.so and libQt6XcbQpa.so.6); README.md installs the same.
APT_INSTALL = (
    "sudo apt-get install libdbus-1-3 libegl1 libfontconfig1 libfreetype6 libgl1 libglib2.0-0 "
    "libx11-6 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 "
    "libxcb-randr0 libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-shm0 libxcb-sync1 "
    "libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxcb1 libxkbcommon-x11-0 libxkbcommon0"
)
_PROBE = "import sys; from PySide6.QtGui import QGuiApplication; QGuiApplication(sys.argv[:1])"
_MISSING_LIBRARY = re.compile(r"(lib[\w.+-]+)\.so\.(\d+)[\w.]*: cannot open shared object file")
_FAILED_PLATFORM = re.compile(r'Could not (?:load|find) the Qt platform plugin "([^"]+)"')
_AVAILABLE = re.compile(r"Available platform plugins are: ([^\n]*?)\.?\s*$", re.MULTILINE)
_NO_SERVER = "could not connect to display"


class PlatformUnavailableError(VitvizError):
    """Qt's platform plugin cannot start here; the message says what to install or set."""


def platform_names(env: Mapping[str, str]) -> list[str]:
    """The platforms ``QT_QPA_PLATFORM`` asks for, in order (empty: Qt's default); it may
    hold a ``;``-separated fallback list, each with ``:options`` (``xcb:nograb;offscreen``)."""
    value = env.get("QT_QPA_PLATFORM", "")
    return [part.split(":", 1)[0].strip() for part in value.split(";") if part.strip()]


def needs_probe(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether starting Qt here can abort: Linux with a platform that needs a display
    (Windows and macOS always have theirs; ``offscreen`` and ``minimal`` need nothing)."""
    names = platform_names(env)
    return platform.startswith("linux") and not (names and names[0] in HEADLESS_PLATFORMS)


def check_platform(env: Mapping[str, str] | None = None) -> None:
    """Raise :class:`PlatformUnavailableError` when Qt would abort on creating the
    QApplication in ``env`` (``os.environ`` by default)."""
    env = dict(os.environ if env is None else env)
    if not needs_probe(env):
        return
    probe_env = {**env, "QT_DEBUG_PLUGINS": "1"}  # so that Qt names a library it cannot load
    try:
        command = [sys.executable, "-c", _PROBE]
        probe = subprocess.run(command, env=probe_env, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        # Not knowing is no reason to refuse: Qt itself gets to try.
        logger.warning("could not check the Qt platform (%s); starting anyway", error)
        return
    if probe.returncode != 0:
        raise PlatformUnavailableError(platform_message(env, probe.stderr))


def debian_package(name: str, version: str) -> str:
    """The package of system library ``name.so.version`` among :data:`APT_INSTALL`'s ("?"
    for others), by Debian's rule: ``libX11.so.6`` is in ``libx11-6``, ``libxcb.so.1`` in
    ``libxcb1`` (a hyphen when the name ends in a digit)."""
    name = {"libglib-2.0": "libglib2.0"}.get(name, name).lower()  # glib's own exception
    package = f"{name}{'-' if name[-1].isdigit() else ''}{version}"
    return package if package in APT_INSTALL.split()[3:] else "?"


def platform_message(env: Mapping[str, str], qt_output: str) -> str:
    """What to tell a user whose Qt platform failed, in several lines (the cause, the fix,
    the alternatives), from the environment Qt saw and what the failed start printed."""
    names, display = platform_names(env), env.get("DISPLAY")
    failed = _FAILED_PLATFORM.search(qt_output)
    platform = failed.group(1) if failed else (names[0] if names else "xcb")
    lines = [f'vitviz cannot open a window: Qt\'s "{platform}" platform does not start.']
    missing = sorted(set(_MISSING_LIBRARY.findall(qt_output)))
    if "Could not find the Qt platform plugin" in qt_output:
        available = _AVAILABLE.search(qt_output)
        known = f" Qt has: {available.group(1)}." if available else ""
        lines.append(
            f"QT_QPA_PLATFORM={env.get('QT_QPA_PLATFORM', '')} names no Qt platform.{known}"
        )
    elif missing or (platform == "xcb" and _NO_SERVER not in qt_output):
        if missing:
            named = ", ".join(f"{n}.so.{v} (package {debian_package(n, v)})" for n, v in missing)
            lines.append(f"A system library is missing: {named}.")
        lines += [
            "On Debian/Ubuntu, install every library Qt's X11 (xcb) platform needs:",
            f"    {APT_INSTALL}",
        ]
    if platform == "xcb" and not display:
        lines.append(
            "There is no display: DISPLAY is not set (no desktop session, or ssh without -X). "
            "Run vitviz in a desktop session, or under a virtual display (xvfb-run vitviz)."
        )
    elif _NO_SERVER in qt_output:
        lines.append(
            f"The X display {display!r} (DISPLAY) cannot be reached: is the X server running, "
            "and may this user use it (xhost, XAUTHORITY)?"
        )
    lines += [
        "Without X11:",
        "    QT_QPA_PLATFORM=wayland vitviz     (in a Wayland session)",
        "    QT_QPA_PLATFORM=offscreen vitviz   (no window on screen: scripts and tests)",
        "The command line needs no display: vitviz predict|export|models --help.",
    ]
    # Only Qt's last word: its first one names libxcb-cursor0 whatever is missing.
    said = [line for line in qt_output.splitlines() if line.startswith("qt.qpa.")]
    return "\n".join([*lines, "Qt said: " + said[-1].split(": ", 1)[-1]] if said else lines)
