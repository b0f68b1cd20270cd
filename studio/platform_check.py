"""Before the window opens on Linux: are the system libraries Qt's xcb platform plugin needs installed?

PySide6's wheel brings Qt, not the X11 client libraries its ``xcb`` plugin loads. Without them (a fresh Debian
machine lacks ``libxcb-cursor0`` among others) Qt prints "Could not load the Qt platform plugin 'xcb'" and
aborts, with no window. ``make run`` calls this module first: it installs what is missing with apt where it can
(as root, or through a sudo that asks for no password), and otherwise stops before launching with the one command
that installs them. ``bert-studio`` checks too, without installing.

No Qt import here: the check must run where Qt cannot start. ``python -m studio.platform_check --help`` lists
the options; ``--require SONAME=PACKAGE`` replaces the list (how the tests point the check at a missing library).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Sequence


@dataclass(frozen=True)
class Library:
    soname: str  # what the dynamic loader looks for
    package: str  # the Debian/Ubuntu package that ships it


def _libraries(pairs: str) -> tuple[Library, ...]:
    return tuple(Library(*pair.split("=")) for pair in pairs.split())


# What Qt 6's xcb plugin (libqxcb.so and libQt6XcbQpa.so.6) links or opens: read from `ldd` on PySide6 6.12, and
# libxcb-cursor, which Qt loads at run time since 6.5 (so `ldd` does not list it; the library a fresh machine lacked).
XCB_LIBRARIES = _libraries(
    "libxcb-cursor.so.0=libxcb-cursor0 libxcb-icccm.so.4=libxcb-icccm4 libxcb-image.so.0=libxcb-image0 "
    "libxcb-keysyms.so.1=libxcb-keysyms1 libxcb-randr.so.0=libxcb-randr0 libxcb-render-util.so.0=libxcb-render-util0 "
    "libxcb-render.so.0=libxcb-render0 libxcb-shape.so.0=libxcb-shape0 libxcb-shm.so.0=libxcb-shm0 "
    "libxcb-sync.so.1=libxcb-sync1 libxcb-util.so.1=libxcb-util1 libxcb-xfixes.so.0=libxcb-xfixes0 "
    "libxcb-xkb.so.1=libxcb-xkb1 libxcb.so.1=libxcb1 libxkbcommon-x11.so.0=libxkbcommon-x11-0 "
    "libxkbcommon.so.0=libxkbcommon0 libX11-xcb.so.1=libx11-xcb1 libX11.so.6=libx11-6 libEGL.so.1=libegl1 "
    "libGL.so.1=libgl1 libfontconfig.so.1=libfontconfig1 libdbus-1.so.3=libdbus-1-3")


def uses_xcb(environ=os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will start its xcb plugin: on Linux, unless another platform (offscreen, wayland...) is chosen."""
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    return platform.startswith("linux") and (not chosen or chosen.startswith("xcb"))


def loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing(libraries: Sequence[Library] = XCB_LIBRARIES, can_load: Callable[[str], bool] = loads) -> list[Library]:
    """The libraries the dynamic loader cannot find."""
    return [lib for lib in libraries if not can_load(lib.soname)]


def packages(libs: Sequence[Library]) -> list[str]:
    return sorted({lib.package for lib in libs})


def install_command(libs: Sequence[Library], sudo: bool) -> str:
    """The one shell command that installs ``libs`` (apt's lists are refreshed first: a fresh machine has none)."""
    prefix = "sudo " if sudo else ""
    return f"{prefix}apt-get update && {prefix}apt-get install -y {' '.join(packages(libs))}"


def can_install(euid: int | None = None, which: Callable[[str], str | None] = shutil.which,
                run: Callable = subprocess.run) -> str | None:
    """How this process may install packages: "root", "sudo" (asks no password), or None."""
    if which("apt-get") is None:
        return None
    euid = os.geteuid() if euid is None else euid
    if euid == 0:
        return "root"
    if which("sudo") is None:
        return None
    try:
        ok = run(["sudo", "-n", "true"], stdin=subprocess.DEVNULL, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return None
    return "sudo" if ok else None


def explain(libs: Sequence[Library], installed_tried: bool = False) -> str:
    names = ", ".join(f"{lib.soname} ({lib.package})" for lib in libs)
    head = ("The studio's window needs system libraries that are still missing after the install: " if installed_tried
            else "The studio's window needs system libraries that are not installed: ")
    return (f"{head}{names}.\nQt cannot open a window on X11 without them. Install them with this one command, "
            f"then start the studio again:\n\n    {install_command(libs, sudo=True)}\n")


def ensure(libraries: Sequence[Library] | None = None, install: bool = True, *, can_load=loads,
           how: Callable[[], str | None] = can_install, run: Callable = subprocess.run, out=None) -> int:
    """0 when every library loads (after installing the missing ones where allowed); else 1, with the command."""
    out = sys.stderr if out is None else out
    absent = missing(XCB_LIBRARIES if libraries is None else libraries, can_load)
    if not absent:
        return 0
    way = how() if install else None
    if way is None:
        out.write(explain(absent))
        return 1
    prefix = ["sudo", "-n"] if way == "sudo" else []
    out.write(f"Installing the libraries Qt's window needs: {' '.join(packages(absent))}\n")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages(absent)]):
        if run(prefix + args, env=env).returncode != 0:
            break
    absent = missing(absent, can_load)
    if absent:
        out.write(explain(absent, installed_tried=True))
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.platform_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-install", action="store_true", help="only check and say what to install")
    parser.add_argument("--require", action="append", metavar="SONAME=PACKAGE",
                        help="check this library instead of Qt's list (repeatable)")
    args = parser.parse_args(argv)
    libraries = _libraries(" ".join(args.require)) if args.require else XCB_LIBRARIES
    if not args.require and not uses_xcb():
        return 0
    return ensure(libraries, install=not args.no_install)


if __name__ == "__main__":
    raise SystemExit(main())
