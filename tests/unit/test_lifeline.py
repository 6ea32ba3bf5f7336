"""fgform/cli/lifeline.py: a child started with a lifeline interrupts itself (as Ctrl-C
does) when the parent's end goes, on real processes; without one, hold() does nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from fgform.cli.lifeline import ENV, Lifeline

# The child: holds the line, then waits; a KeyboardInterrupt is what Ctrl-C would give it.
CHILD = """
import sys, time
from fgform.cli import lifeline
lifeline.hold()
print("ready", flush=True)
try:
    time.sleep(60)
    print("slept", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def _start(line: Lifeline | None) -> subprocess.Popen[str]:
    env = dict(line.env if line else os.environ)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True,
                            env=env, pass_fds=line.fds if line else ())
    if line:
        line.started()
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    return proc


def test_the_child_stops_when_the_line_is_cut() -> None:
    line = Lifeline()
    proc = _start(line)
    time.sleep(0.2)
    assert proc.poll() is None  # holding on while the parent's end is open
    began = time.monotonic()
    line.close()  # what the kernel does when the parent dies
    assert proc.wait(10) == 130
    assert proc.stdout is not None and proc.stdout.read() == "interrupted\n"
    assert time.monotonic() - began < 5


def test_without_a_line_hold_does_nothing() -> None:
    proc = _start(None)
    time.sleep(0.3)
    assert proc.poll() is None
    proc.kill()
    proc.wait(10)


def test_a_stray_variable_is_ignored() -> None:
    env = dict(os.environ, **{ENV: "not-a-number"}, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    time.sleep(0.3)
    assert proc.poll() is None
    proc.kill()
    proc.wait(10)
