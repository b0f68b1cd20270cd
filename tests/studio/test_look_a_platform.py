"""Issue 23, part 0: `make run` checks the libraries Qt's xcb platform needs before it launches the window."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio import launcher, platform_check
from studio.platform_check import Library, ensure

ROOT = Path(__file__).resolve().parents[2]
NOPE = Library("libstudio-nope.so.9", "libstudio-nope9")  # a library no machine has
PRESENT = Library("libc.so.6", "libc6")


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, args, **kwargs):
        self.calls.append(list(args))
        return subprocess.CompletedProcess(args, 0)


def test_every_library_present_passes():
    out = io.StringIO()
    assert ensure([PRESENT], how=lambda: None, out=out) == 0
    assert out.getvalue() == ""


def test_without_root_or_sudo_it_stops_with_the_one_command():
    out, run = io.StringIO(), Recorder()
    assert ensure([PRESENT, NOPE], how=lambda: None, run=run, out=out) == 1
    assert run.calls == []  # nothing installed
    text = out.getvalue()
    assert "libstudio-nope.so.9" in text and "libc.so.6" not in text
    assert "sudo apt-get update && sudo apt-get install -y libstudio-nope9" in text


def test_no_sudo_without_a_password_means_no_install():
    def run(args, **kwargs):  # `sudo -n true` asks for a password: refused
        return subprocess.CompletedProcess(args, 1)

    which = {"apt-get": "/usr/bin/apt-get", "sudo": "/usr/bin/sudo"}.get
    assert platform_check.can_install(euid=1000, which=which, run=run) is None
    assert platform_check.can_install(euid=0, which=which, run=run) == "root"
    assert platform_check.can_install(euid=0, which=lambda name: None, run=run) is None  # no apt


def test_with_sudo_it_installs_then_checks_again():
    present = {"libc.so.6"}
    run = Recorder()

    def installing(args, **kwargs):
        run(args, **kwargs)
        if "install" in args:
            present.add(NOPE.soname)
        return subprocess.CompletedProcess(args, 0)

    out = io.StringIO()
    assert ensure([PRESENT, NOPE], can_load=present.__contains__, how=lambda: "sudo", run=installing, out=out) == 0
    assert run.calls == [["sudo", "-n", "apt-get", "update", "-qq"],
                         ["sudo", "-n", "apt-get", "install", "-y", "-qq", "libstudio-nope9"]]


def test_the_studio_command_does_not_open_a_window_without_them(monkeypatch, capsys):
    monkeypatch.setattr(platform_check, "XCB_LIBRARIES", (NOPE,))
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    started = []
    monkeypatch.setattr("studio.app.run_studio", lambda argv: started.append(argv) or 0)
    assert launcher.main([]) == 1
    assert started == []
    assert "apt-get install -y libstudio-nope9" in capsys.readouterr().err


def test_offscreen_and_other_platforms_are_not_checked():
    assert not platform_check.uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not platform_check.uses_xcb({}, "darwin")
    assert platform_check.uses_xcb({}, "linux") and platform_check.uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0, reason="the root path of `make run`")
def test_make_run_installs_as_root_and_stops_before_the_window(tmp_path):
    """`make run` pointed at a missing library: apt-get (a fake one here) is called, the window never starts."""
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "apt.log"
    (fake / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    (fake / "apt-get").chmod(0o755)
    venv = Path(sys.executable).parent.parent
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    env.pop("QT_QPA_PLATFORM", None)
    done = subprocess.run(["make", "-s", "-o", f"{venv}/.installed", "run", f"VENV={venv}",
                           f"PLATFORM_CHECK_ARGS=--require {NOPE.soname}={NOPE.package}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq libstudio-nope9"]
    assert "still missing after the install" in done.stderr
    assert "Qt platform plugin" not in done.stdout + done.stderr  # main.py never ran
