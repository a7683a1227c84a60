"""The one way probefuzz runs external programs (cpp, dtc, spatch, git, tar, make, ...).

Every call goes through :func:`run`, which

* takes an argument list only, never a string for a shell to parse,
* runs the tool so that it cannot outlive us, even after SIGKILL
  (:mod:`corpus.reaper`: PDEATHSIG, and the supervisor kills its group),
* always has a timeout, and on timeout kills the tool's whole process group
  (``spatch`` and ``make`` fork helpers that would otherwise outlive us),
* turns every failure -- tool missing, non-zero exit, timeout -- into a
  :class:`ToolError` whose message is one line a user can act on, e.g.
  ``spatch not found: install Debian package 'coccinelle' (make deps)``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from corpus.reaper import die_with_parent, track

__all__ = ["TOOLS", "ToolError", "run", "which"]

#: External tool -> the Debian package that provides it (``make deps`` installs these).
TOOLS: dict[str, str] = {
    "cpp": "cpp",
    "dtc": "device-tree-compiler",
    "spatch": "coccinelle",
    "git": "git",
    "perl": "perl",
    "aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu",
    "make": "make",
    "tar": "tar",
    "xz": "xz-utils",
    # what kbuild needs on the host (apply --build)
    "flex": "flex",
    "bison": "bison",
    "bc": "bc",
    # validate: boot an arm64 Image under QEMU with a cpio initramfs
    "qemu-system-aarch64": "qemu-system-arm",
    "cpio": "cpio",
    "ccache": "ccache",
}

# How much of a failing tool's stderr goes into the one-line error message.
_STDERR_LINES = 5
_STDERR_CHARS = 600


class ToolError(Exception):
    """An external tool is missing, failed or timed out; ``str(e)`` is one line."""


def which(tool: str) -> str:
    """Return the absolute path of ``tool`` on ``$PATH``.

    Raises :class:`ToolError` naming the Debian package to install when it is missing.
    """
    path = shutil.which(tool)
    if path is None:
        pkg = TOOLS.get(tool)
        if pkg is not None:
            raise ToolError(f"{tool} not found: install Debian package '{pkg}' (make deps)")
        raise ToolError(f"{tool} not found on PATH")
    return path


def _stderr_excerpt(stderr: bytes | None) -> str:
    """First few non-empty stderr lines joined into one line."""
    if not stderr:
        return ""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    text = " | ".join(lines[:_STDERR_LINES])
    if len(lines) > _STDERR_LINES:
        text += " | ..."
    if len(text) > _STDERR_CHARS:
        text = text[: _STDERR_CHARS - 3] + "..."
    return text


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group and reap the child.

    The child is a session (and group) leader because we start it with
    ``start_new_session=True``, so its pgid is its pid; grandchildren it forked
    (``sh -c 'a & b'``, make's jobs, spatch's workers) are in the same group.
    """
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone
    proc.wait()
    # Close our ends of the pipes instead of draining them: a grandchild that
    # escaped the group (setsid) could keep them open forever.
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


#: signals whose Python handlers may raise (KeyboardInterrupt, the CLI's SIGTERM
#: exit) and so must not land between starting a tool and holding it
_HELD_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def run(
    argv: list[str],
    *,
    timeout: float,
    cwd: str | os.PathLike[str] | None = None,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    subject: str | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` and return the completed process with captured stdout/stderr (bytes).

    Args:
        argv: program and arguments, as a list. A bare program name is looked up
            on ``$PATH`` (a missing tool raises :class:`ToolError` naming its package).
        timeout: seconds; required because kernel-sized inputs can make tools hang.
            On expiry the whole process group is killed and :class:`ToolError` raised.
        cwd: working directory for the tool.
        input: bytes fed to stdin (stdin is ``/dev/null`` when ``None``).
        env: variables set *on top of* the current environment (``None``: inherit).
        check: raise :class:`ToolError` on a non-zero exit status.
        subject: what the tool works on (a file, a tree), used only in error messages:
            ``"dtc failed on rk3568.dts (exit 1): ..."``.
    """
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        # A string here would mean someone is building shell command lines.
        raise TypeError(f"hosttools.run needs a non-empty list of str, got {argv!r}")
    tool = Path(argv[0]).name
    if os.sep not in argv[0]:
        argv = [which(argv[0]), *argv[1:]]
    where = f" on {subject}" if subject else ""
    full_env = None if env is None else {**os.environ, **env}
    # A Ctrl-C (or SIGTERM) that lands inside Popen() or before the group is
    # tracked must still kill the tool: it starts in its own session, so the
    # terminal's SIGINT does not reach it, and nobody else holds it.  The
    # signals are held back in this thread meanwhile (the child restores the
    # mask before it execs), and because another thread of the process may
    # take them (under pytest-xdist, in a Dask client), the Popen object is
    # made first, so an interrupt raised inside its __init__ after the fork
    # still finds the pid to kill.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)

    def child_setup() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        die_with_parent()  # the kernel kills it if we are SIGKILLed

    proc: subprocess.Popen[bytes] = subprocess.Popen.__new__(subprocess.Popen)
    try:
        try:
            subprocess.Popen.__init__(
                proc,
                argv,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=full_env,
                start_new_session=True,  # own process group, so a timeout can kill it all
                preexec_fn=child_setup,
            )
        except OSError as e:  # missing binary given by path, bad cwd, not executable
            raise ToolError(f"cannot run {tool}{where}: {e.strerror or e}") from e
        track(proc.pid, True)  # the supervisor kills the group (grandchildren too) if we die
        signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a held-back Ctrl-C lands here
        stdout, stderr = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise ToolError(f"{tool} timed out after {timeout:g} s{where}") from None
    except ToolError:
        raise
    except BaseException:
        # Ctrl-C: kill the tool here rather than leave it running (if it was
        # forked at all: Popen() may have failed before).
        if getattr(proc, "pid", None):
            _kill_group(proc)
        raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        if getattr(proc, "pid", None):
            track(proc.pid, False)
    result = subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
    if check and proc.returncode != 0:
        code = proc.returncode
        status = f"killed by signal {-code}" if code < 0 else f"exit {code}"
        excerpt = _stderr_excerpt(stderr)
        raise ToolError(f"{tool} failed{where} ({status})" + (f": {excerpt}" if excerpt else ""))
    return result
