"""corpus.hosttools: the single gateway to external tools."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from corpus import hosttools
from corpus.hosttools import TOOLS, ToolError
from tests.procs import alive


def _wait_dead(pid: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A $PATH on which no tool exists."""
    d = tmp_path / "empty-bin"
    d.mkdir()
    monkeypatch.setenv("PATH", str(d))


def test_tools_table_names_debian_packages() -> None:
    assert TOOLS["dtc"] == "device-tree-compiler"
    assert TOOLS["spatch"] == "coccinelle"
    assert TOOLS["aarch64-linux-gnu-gcc"] == "gcc-aarch64-linux-gnu"
    assert {"cpp", "git", "perl", "make"} <= TOOLS.keys()


@pytest.mark.usefixtures("empty_path")
@pytest.mark.parametrize("tool", ["spatch", "dtc", "aarch64-linux-gnu-gcc"])
def test_missing_tool_names_its_package(tool: str) -> None:
    with pytest.raises(ToolError) as ei:
        hosttools.which(tool)
    msg = str(ei.value)
    assert msg == f"{tool} not found: install Debian package '{TOOLS[tool]}' (make deps)"


@pytest.mark.usefixtures("empty_path")
def test_run_missing_tool_raises_before_starting() -> None:
    with pytest.raises(ToolError, match="install Debian package 'coccinelle'"):
        hosttools.run(["spatch", "--version"], timeout=5)


@pytest.mark.usefixtures("empty_path")
def test_unknown_missing_tool() -> None:
    with pytest.raises(ToolError, match=r"^no-such-tool-xyz not found on PATH$"):
        hosttools.which("no-such-tool-xyz")


def test_which_finds_sh() -> None:
    assert os.path.isabs(hosttools.which("sh"))


def test_run_captures_output_and_feeds_input() -> None:
    r = hosttools.run(["cat"], timeout=10, input=b"hello\n")
    assert r.returncode == 0
    assert r.stdout == b"hello\n"
    assert r.stderr == b""


def test_run_stdin_is_closed_without_input() -> None:
    # Would hang until the timeout if stdin were inherited from a terminal.
    r = hosttools.run(["cat"], timeout=10)
    assert r.stdout == b""


def test_env_is_added_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBEFUZZ_OUTER", "outer")
    r = hosttools.run(
        ["sh", "-c", 'echo "$PROBEFUZZ_INNER:$PROBEFUZZ_OUTER"'],
        timeout=10,
        env={"PROBEFUZZ_INNER": "inner"},
    )
    assert r.stdout == b"inner:outer\n"


def test_cwd(tmp_path: Path) -> None:
    r = hosttools.run(["pwd"], timeout=10, cwd=tmp_path)
    assert Path(r.stdout.decode().strip()).resolve() == tmp_path.resolve()


def test_bad_cwd_is_a_tool_error(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="cannot run pwd"):
        hosttools.run(["pwd"], timeout=10, cwd=tmp_path / "missing")


def test_nonzero_exit_message_is_one_line() -> None:
    script = "echo first >&2; echo >&2; echo second >&2; exit 3"
    with pytest.raises(ToolError) as ei:
        hosttools.run(["sh", "-c", script], timeout=10, subject="rk3568.dts")
    msg = str(ei.value)
    assert msg == "sh failed on rk3568.dts (exit 3): first | second"
    assert "\n" not in msg


def test_nonzero_exit_keeps_only_first_stderr_lines() -> None:
    script = "for i in 1 2 3 4 5 6 7 8; do echo line$i >&2; done; exit 1"
    with pytest.raises(ToolError) as ei:
        hosttools.run(["sh", "-c", script], timeout=10)
    msg = str(ei.value)
    assert "line5" in msg and "line6" not in msg and msg.endswith("| ...")


def test_killed_by_signal_is_reported() -> None:
    with pytest.raises(ToolError, match=r"killed by signal 9"):
        hosttools.run(["sh", "-c", "kill -9 $$"], timeout=10)


def test_check_false_returns_failure() -> None:
    r = hosttools.run(["sh", "-c", "echo out; exit 4"], timeout=10, check=False)
    assert r.returncode == 4
    assert r.stdout == b"out\n"


def test_timeout_kills_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    t0 = time.monotonic()
    with pytest.raises(ToolError) as ei:
        hosttools.run(
            ["sh", "-c", f"sleep 30 & echo $! > {pidfile}; sleep 30"],
            timeout=1,
            subject="drivers/iommu/iommu.c",
        )
    elapsed = time.monotonic() - t0
    assert str(ei.value) == "sh timed out after 1 s on drivers/iommu/iommu.c"
    # killed at the timeout, not after the 30 s the command would take (a bound
    # far from both, so a loaded runner does not fail it)
    assert elapsed < 20, elapsed
    # The background sleep (a grandchild) was killed with its group.
    bg = int(pidfile.read_text())
    assert _wait_dead(bg), f"background child {bg} survived the timeout"


def test_interrupt_kills_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while waiting: the child (in its own session) must not be left running."""
    pidfile = tmp_path / "bg.pid"

    def interrupted(self: subprocess.Popen[bytes], *a: object, **kw: object) -> None:
        deadline = time.monotonic() + 5
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        raise KeyboardInterrupt

    monkeypatch.setattr(subprocess.Popen, "communicate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        hosttools.run(["sh", "-c", f"sleep 30 & echo $! > {pidfile}; sleep 30"], timeout=60)
    assert _wait_dead(int(pidfile.read_text()))


@pytest.mark.parametrize(
    "argv",
    ["echo hi", ("echo", "hi"), [], ["echo", 1], [Path("/bin/echo")]],
    ids=["str", "tuple", "empty", "int-arg", "path-arg"],
)
def test_only_lists_of_str(argv: object) -> None:
    with pytest.raises(TypeError, match="list of str"):
        hosttools.run(argv, timeout=5)  # type: ignore[arg-type]


def test_timeout_is_required() -> None:
    with pytest.raises(TypeError):
        hosttools.run(["true"])  # type: ignore[call-arg]


def test_absolute_path_to_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="cannot run nothing-here"):
        hosttools.run([str(tmp_path / "nothing-here")], timeout=5)


@pytest.mark.parametrize("threaded", [False, True], ids=["one thread", "another thread alive"])
def test_ctrl_c_as_the_tool_starts_leaves_no_process(tmp_path: Path, threaded: bool) -> None:
    """A tool that sends SIGINT to its parent at once, as a Ctrl-C typed while it
    starts: the KeyboardInterrupt reaches the caller and the tool's group is
    gone, every time (before, about half of these left the tool running with
    nobody holding it).  With another thread alive the kernel may hand the
    signal to that thread, so holding it back in the caller's thread is not
    enough: the interrupt can land inside Popen() after the fork."""
    stop = threading.Event()
    if threaded:
        threading.Thread(target=stop.wait, daemon=True).start()
    for i in range(30):
        pidfile = tmp_path / f"tool{i}.pid"
        with pytest.raises(KeyboardInterrupt):
            hosttools.run(["sh", "-c", f"echo $$ > {pidfile}; kill -INT $PPID; sleep 60"], timeout=30)
        pid = int(pidfile.read_text())
        assert _wait_dead(pid), f"run {i}: the interrupted tool {pid} is still running"
    stop.set()
