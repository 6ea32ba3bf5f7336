"""A lifeline between a long-running command and the child process it starts (`serve
-reconcile` runs `reconcile -watch`), so that the child stops when the parent dies however
it dies, SIGKILL included.

The parent keeps the write end of a pipe that only it holds; the child inherits the read
end. When the parent's process ends, the kernel closes the write end, the child's read
returns end-of-file, and the child interrupts itself as Ctrl-C would: it finishes its pass
and records it. A signal the parent would send on its way out is no help when the parent
is killed, and Linux's parent-death signal follows the parent's thread, not its process.
"""

from __future__ import annotations

import os
import signal
import threading

# The child finds the read end's descriptor number here.
ENV = "FGFORM_LIFELINE_FD"


class Lifeline:
    """The parent's side: `env` and `fds` go to subprocess.Popen, then `started()`."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()  # neither is inherited unless passed
        self.env = dict(os.environ, **{ENV: str(self._read)})
        self.fds = (self._read,)

    def started(self) -> None:
        """The child has its copy of the read end: the parent closes its own, so that the
        write end is the only thing keeping the child's read from ending."""
        os.close(self._read)

    def close(self) -> None:
        """Cut the line: the child stops (as when the parent dies)."""
        if self._write >= 0:
            os.close(self._write)
            self._write = -1


def hold() -> None:
    """The child's side: when started with a lifeline, interrupt this process (SIGINT)
    once the parent is gone. Does nothing without one."""
    raw = os.environ.pop(ENV, None)
    if raw is None:
        return
    try:
        fd = int(raw)
        os.fstat(fd)
    except (ValueError, OSError):
        return  # not ours to watch (a stray variable): nothing to hold
    os.set_inheritable(fd, False)  # not passed on to this process's own children

    def watch() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="fgform-lifeline", daemon=True).start()
