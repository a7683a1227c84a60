"""kill -9 of apply, propose and explore at several moments: no process of
theirs alive afterwards, no temporary file left, the checkout byte-identical."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from mutators.apply import cleanup
from tests.mutators.conftest import git, snapshot

pytestmark = pytest.mark.kernel_tree

ROOT = Path(__file__).resolve().parents[2]


def _marked(marker: str) -> list[int]:
    """Pids of live processes whose environment carries ``marker``."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            env = (d / "environ").read_bytes()
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in env and state != "Z":
            pids.append(int(d.name))
    return pids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"


def _kill_at(args: list[str], delay: float, tmp: Path, path_prefix: Path | None = None,
             ready: Path | None = None) -> None:
    """Start ``python -m fuzz.cli ARGS``, SIGKILL it ``delay`` s later (or once
    ``ready`` exists), then wait for its processes and temporary files to go."""
    marker = f"PROBEFUZZ_KILLTEST={uuid.uuid4().hex}"
    tmpdir = tmp / f"tmp-{uuid.uuid4().hex[:6]}"
    tmpdir.mkdir()
    env = dict(os.environ, TMPDIR=str(tmpdir), PYTHONPATH=str(ROOT),
               PROBEFUZZ_KILLTEST=marker.split("=", 1)[1])
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}:{env['PATH']}"
    err = tmp / f"stderr-{uuid.uuid4().hex[:6]}"
    with err.open("wb") as ef:
        proc = subprocess.Popen([sys.executable, "-m", "fuzz.cli", *args], env=env, cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=ef)
    deadline = time.monotonic() + 120  # the shared 2-core box can be slow to get there
    if ready is not None:
        while not ready.exists():
            # a command that ended first (an error) says why
            assert proc.poll() is None, f"exit {proc.returncode} before the kill point: {err.read_text()}"
            assert time.monotonic() < deadline, "the command never reached the kill point"
            time.sleep(0.05)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 15
    while (_marked(marker) or any(tmpdir.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = {p: _cmdline(p) for p in _marked(marker)}
    assert left == {}, f"{args[0]}: processes left after kill -9 at {delay} s"
    assert list(tmpdir.iterdir()) == [], f"{args[0]}: temporary files left after kill -9"


def _hanging_spatch(tmp: Path) -> tuple[Path, Path]:
    """A spatch that signals it started, forks a helper and hangs (mid-spatch kill)."""
    bin_ = tmp / "bin"
    bin_.mkdir(exist_ok=True)
    ready = tmp / "spatch-started"
    (bin_ / "spatch").write_text(f"#!/bin/sh\ntouch {ready}\nsleep 60 &\nsleep 60\n")
    (bin_ / "spatch").chmod(0o755)
    return bin_, ready


def _apply_or_propose(verb: str, repo: Path, tmp_path: Path, delays: tuple[float, ...]) -> None:
    before = snapshot(repo)
    args = [verb, "--variant", "NEXT+rk_iommu_probe.dma_dev=before_register", "--tree", str(repo)]
    if verb == "propose":
        # the mini tree lacks NEXT's prerequisites: re-create them so propose gets to spatch
        args += ["--out", str(tmp_path / "out"), "--force",
                 "--prerequisites-mbox", str(tmp_path / "prerequisites.mbox")]
    for delay in delays:
        _kill_at(args, delay, tmp_path)
        assert snapshot(repo) == before
    bin_, ready = _hanging_spatch(tmp_path)
    _kill_at(args, 0.2, tmp_path, path_prefix=bin_, ready=ready)  # spatch (and its child) running
    assert snapshot(repo) == before
    cleanup(repo, all_branches=True)
    assert "probefuzz/" not in git(repo, "branch", "--list")
    assert snapshot(repo) == before


def _explore(tmp_path: Path, delays: tuple[float, ...]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    src = ROOT / "corpus" / "examples" / "sprd-example.json"
    (corpus / src.name).write_bytes(src.read_bytes())
    args = ["explore", "--corpus", str(corpus), "--out", str(tmp_path / "out"), "--jobs", "2",
            "--no-progress", "--runs-per-board", "200"]
    for delay in delays:
        _kill_at(args, delay, tmp_path)


@pytest.mark.parametrize("verb", ["apply", "propose"])
def test_kill_mid_spatch(verb: str, mini_repo: Path, tmp_path: Path) -> None:
    """Fast: one kill while spatch (and a helper it forked) runs."""
    _apply_or_propose(verb, mini_repo, tmp_path, ())


def test_kill_explore_with_workers_running(tmp_path: Path) -> None:
    _explore(tmp_path, (2.0,))


@pytest.mark.slow
@pytest.mark.parametrize("verb", ["apply", "propose"])
def test_kill_apply_and_propose_at_several_moments(verb: str, mini_repo: Path, tmp_path: Path) -> None:
    _apply_or_propose(verb, mini_repo, tmp_path, (0.2, 0.8, 2.0, 4.0))


@pytest.mark.slow
def test_kill_explore_at_several_moments(tmp_path: Path) -> None:
    _explore(tmp_path, (0.3, 1.0, 3.0, 6.0))
