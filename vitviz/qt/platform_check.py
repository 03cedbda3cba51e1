"""Can Qt open a window here? Asked in a child process before the QApplication exists.

When Qt's platform plugin cannot load (X11 libraries missing, no display, an unknown
``QT_QPA_PLATFORM``) Qt aborts the whole process with a core dump and a hint that is often
wrong (it names ``libxcb-cursor0`` whichever library is missing). A child process that
only creates a ``QGuiApplication`` takes that abort instead (about 0.1 s), and its
output says what failed; :func:`check_platform` turns it into a message that names the
Debian/Ubuntu packages to install and the ways to run without X11.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Mapping

from vitviz.errors import VitvizError

logger = logging.getLogger(__name__)

# Platforms that need no display server and no extra system library.
HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal"})

# The shared libraries PySide6's xcb plugin (libqxcb.so and libQt6XcbQpa.so.6, read with
# ldd) loads from the system, and the Debian/Ubuntu package of each.
XCB_LIBRARY_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
}
APT_INSTALL = "sudo apt-get install " + " ".join(sorted(set(XCB_LIBRARY_PACKAGES.values())))

_PROBE = (
    "import sys\n"
    "from PySide6.QtGui import QGuiApplication\n"
    "print(QGuiApplication(sys.argv[:1]).platformName())\n"
)
_PROBE_TIMEOUT_S = 20.0
_MISSING_LIBRARY = re.compile(r"(lib[\w.+-]+\.so[\w.]*): cannot open shared object file")
_FAILED_PLATFORM = re.compile(r'Could not (?:load|find) the Qt platform plugin "([^"]+)"')
_AVAILABLE = re.compile(r"Available platform plugins are: ([^\n]*?)\.?\s*$", re.MULTILINE)


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
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _PROBE],
            env={**env, "QT_DEBUG_PLUGINS": "1"},  # so that a failed dlopen is named
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        # Not knowing is no reason to refuse: Qt itself gets to try.
        logger.warning("could not check the Qt platform (%s); starting anyway", error)
        return
    if probe.returncode != 0:
        raise PlatformUnavailableError(platform_message(env, probe.stderr))


def platform_message(env: Mapping[str, str], qt_output: str) -> str:
    """What to tell a user whose Qt platform failed, in several lines (the cause, the fix,
    the alternatives), from the environment Qt saw and what the failed start printed."""
    names = platform_names(env)
    failed = _FAILED_PLATFORM.search(qt_output)
    platform = failed.group(1) if failed else (names[0] if names else "xcb")
    lines = [f'vitviz cannot open a window: Qt\'s "{platform}" platform does not start.']
    missing = sorted(set(_MISSING_LIBRARY.findall(qt_output)))
    available = _AVAILABLE.search(qt_output)
    if "Could not find the Qt platform plugin" in qt_output:
        known = f" Qt has: {available.group(1)}." if available else ""
        lines.append(
            f"QT_QPA_PLATFORM={env.get('QT_QPA_PLATFORM', '')} names no Qt platform.{known}"
        )
    elif missing or (platform == "xcb" and "could not connect to display" not in qt_output):
        if missing:
            named = ", ".join(
                f"{lib} (package {XCB_LIBRARY_PACKAGES.get(lib, '?')})" for lib in missing
            )
            lines.append(f"A system library is missing: {named}.")
        lines += [
            "On Debian/Ubuntu, install every library Qt's X11 (xcb) platform needs:",
            f"    {APT_INSTALL}",
        ]
    if platform == "xcb" and not env.get("DISPLAY"):
        lines.append(
            "There is no display: DISPLAY is not set (no desktop session, or ssh without -X). "
            "Run vitviz in a desktop session, or under a virtual display (xvfb-run vitviz)."
        )
    elif "could not connect to display" in qt_output:
        lines.append(
            f"The X display {env.get('DISPLAY')!r} (DISPLAY) cannot be reached: is the X "
            "server running, and may this user use it (xhost, XAUTHORITY)?"
        )
    lines += [
        "Without X11:",
        "    QT_QPA_PLATFORM=wayland vitviz     (in a Wayland session)",
        "    QT_QPA_PLATFORM=offscreen vitviz   (no window on screen: scripts and tests)",
        "The command line needs no display: vitviz predict|export|models --help.",
    ]
    # Only Qt's last word: its first one names libxcb-cursor0 whatever is missing.
    said = [line for line in qt_output.splitlines() if line.startswith("qt.qpa.")]
    if said:
        lines.append("Qt said: " + said[-1].split(": ", 1)[-1])
    return "\n".join(lines)
