"""The atheris engine: libFuzzer over the model's behaviour, in its own process.

``atheris.Fuzz()`` takes over its process (libFuzzer calls ``exit`` when the
budget is spent), so each job runs :mod:`fuzz.engines.atheris_worker` as a
child process and reads its ``PFZ`` event lines (findings as they are found,
statistics) and libFuzzer's status lines (``#N pulse cov: ... exec/s: ...``,
``Done N runs``), which it passes on to stderr unless ``quiet``.  libFuzzer's
coverage is the model's behaviour features (see the worker).  The corpus
starts with one input per board, the plain boot (as the native engine does),
in a temporary directory unless ``corpus_dir`` is given.  With ``--runs N
--seed S`` and no corpus directory a run is reproducible: the child's
``PYTHONHASHSEED`` is fixed and libFuzzer gets ``-seed=S -runs=N``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.reaper import die_with_parent, track
from fuzz.engines.session import PROGRESS_EVERY, EngineStats
from fuzz.gen import CorpusBoard
from harness.variant import Variant, variant_to_json

#: random inputs in a new corpus besides the plain boots
SEED_INPUTS = 32
_STATUS = re.compile(r"^#(\d+)\s+\w+\s+.*?cov: (\d+)")
#: seconds the readers may take to drain an exited child's pipes
DRAIN_TIMEOUT = 120.0
_DONE = re.compile(r"^Done (\d+) runs in (\d+) second")


@dataclass
class AtherisJob:
    """One atheris campaign on one variant."""

    variant: Variant
    boards: list[CorpusBoard]
    store: Path | None
    runs: int | None = None
    seconds: float | None = None
    seed: int = 0
    corpus_dir: Path | None = None
    libfuzzer_args: list[str] = field(default_factory=list)
    mutate: bool = True
    events: bool = True
    minimise: bool = True
    quiet: bool = False  # do not pass libFuzzer's status lines on to stderr


@dataclass
class _Child:
    proc: subprocess.Popen[str]
    tmp: tempfile.TemporaryDirectory[str]
    found: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    cov: list[tuple[float, int]] = field(default_factory=list)
    done_runs: int | None = None
    stderr_tail: list[str] = field(default_factory=list)


def _libfuzzer_flags(job: AtherisJob, seed: int, seeds_dir: Path) -> list[str]:
    # inputs up to 128 bytes from the start (the generator reads a few dozen)
    flags = [f"-seed={seed}", "-print_final_stats=0", "-close_fd_mask=0", "-max_len=128", "-len_control=0",
             # a new finding is minimised inside the target call, which takes
             # longer than libFuzzer's 10 s slow-unit limit: without this it
             # writes slow-unit-<sha1> files into the user's working directory
             "-report_slow_units=86400"]
    if job.runs is not None:
        flags.append(f"-runs={job.runs}")
    if job.seconds is not None:
        flags.append(f"-max_total_time={max(1, int(round(job.seconds)))}")
    flags += job.libfuzzer_args
    # The first corpus directory is where libFuzzer writes new inputs.  An
    # empty one is seeded as the native engine starts: the plain boot of each
    # board (byte i picks board i), then random inputs (from the seed), from
    # which libFuzzer's mutations start.
    corpus = job.corpus_dir if job.corpus_dir is not None else seeds_dir
    corpus.mkdir(parents=True, exist_ok=True)
    if not any(corpus.iterdir()):
        for i in range(min(len(job.boards), 256)):
            (corpus / f"plain-{i:03d}").write_bytes(bytes([i]))
        rng = random.Random(seed)
        n = SEED_INPUTS
        if job.runs is not None:  # libFuzzer's -runs counts the corpus's runs (and one empty input)
            n = max(0, min(n, job.runs - 1 - len(job.boards)))
        for i in range(n):
            (corpus / f"random-{i:03d}").write_bytes(rng.randbytes(rng.randint(1, 64)))
    flags.append(str(corpus))
    return flags


def _spawn(job: AtherisJob, seed: int) -> _Child:
    tmp = tempfile.TemporaryDirectory(prefix="probefuzz-atheris-")
    boards = []
    for i, b in enumerate(job.boards):
        path = b.ref
        if path is None:
            path = str(Path(tmp.name) / f"board{i}.json")
            b.platform.save(Path(path))
        boards.append({"name": b.name, "path": path})
    req = {"variant": variant_to_json(job.variant), "boards": boards,
           "store": str(job.store) if job.store is not None else None,
           "libfuzzer_args": _libfuzzer_flags(job, seed, Path(tmp.name) / "corpus"), "mutate": job.mutate,
           "events": job.events, "minimise": job.minimise}
    req_path = Path(tmp.name) / "request.json"
    req_path.write_text(json.dumps(req))
    env = dict(os.environ, PYTHONHASHSEED="0")
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.Popen([sys.executable, "-m", "fuzz.engines.atheris_worker", str(req_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True, preexec_fn=die_with_parent)
    track(proc.pid, True)
    return _Child(proc, tmp)


def _read_stderr(c: _Child, t0: float, quiet: bool) -> None:
    assert c.proc.stderr is not None
    for line in c.proc.stderr:
        m = _STATUS.match(line)
        if m:
            c.cov.append((time.monotonic() - t0, int(m.group(2))))
            if not quiet:
                sys.stderr.write(line)
                sys.stderr.flush()
        d = _DONE.match(line)
        if d:
            c.done_runs = int(d.group(1))
        c.stderr_tail = (c.stderr_tail + [line.rstrip()])[-20:]


def run(job: AtherisJob, jobs: int = 1,
        on_found: Callable[[dict[str, Any]], None] | None = None,
        progress: Callable[[EngineStats, int], None] | None = None,
        ) -> tuple[list[dict[str, Any]], EngineStats]:
    """Run ``jobs`` atheris processes (seeds ``seed``, ``seed+1``, ...) to completion.

    ``progress(stats, findings)`` is called about every
    :data:`~fuzz.engines.session.PROGRESS_EVERY` seconds with the summed
    statistics of the children."""
    t0 = time.monotonic()
    children = [_spawn(job, job.seed + i) for i in range(max(1, jobs))]
    readers = [threading.Thread(target=_read_stderr, args=(c, t0, job.quiet), daemon=True) for c in children]
    for r in readers:
        r.start()
    lock = threading.Lock()
    seen: set[str] = set()

    def read_stdout(c: _Child) -> None:
        assert c.proc.stdout is not None
        for line in c.proc.stdout:
            if not line.startswith("PFZ "):
                continue
            ev = json.loads(line[4:])
            kind = ev.pop("event")
            if kind == "stats":
                c.stats = ev
            elif kind == "found":
                c.found.append(ev)
                with lock:
                    new = ev["title"] not in seen
                    seen.add(ev["title"])
                if new and on_found is not None:
                    on_found(ev)

    outs = [threading.Thread(target=read_stdout, args=(c,), daemon=True) for c in children]
    for o in outs:
        o.start()
    deadline = t0 + wait_limit(job)
    try:
        for c in children:
            while True:
                try:
                    c.proc.wait(timeout=max(0.1, min(PROGRESS_EVERY, deadline - time.monotonic())))
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= deadline:
                        budget = f"{job.seconds:g} s" if job.seconds else f"{job.runs} runs"
                        raise RuntimeError(f"atheris worker hung: no end after {wait_limit(job):g} s "
                                           f"(budget {budget})") from None
                    if progress is not None:
                        progress(_progress_stats(children, t0), len(seen))
    except BaseException:
        for c in children:
            if c.proc.poll() is None:
                with contextlib.suppress(OSError):
                    os.killpg(c.proc.pid, 9)
                c.proc.wait()
        raise
    finally:
        for c in children:
            track(c.proc.pid, False)
    # The children have exited, so their pipes reach EOF once the readers
    # drain them; the last lines ("Done N runs", the last pulse) decide the
    # figures, and on a loaded machine draining can take seconds: a short
    # join fell back to the last periodic statistics (timing-dependent
    # counts for a fixed -seed/-runs).  Bounded only against a grandchild
    # (a user's -fork/-jobs) keeping a pipe open.
    for t in outs + readers:
        t.join(timeout=DRAIN_TIMEOUT)
    for c in children:
        c.tmp.cleanup()
    return _merge(children, time.monotonic() - t0)


def wait_limit(job: AtherisJob) -> float:
    """How long the children may take before they count as hung: the time
    budget plus two minutes (minimisation), or one second per run plus five
    minutes for a run budget (a model run takes milliseconds)."""
    if job.seconds is not None:
        return job.seconds + 120.0
    return float(job.runs or 2000) + 300.0


def _progress_stats(children: list[_Child], t0: float) -> EngineStats:
    st = EngineStats("atheris")
    st.elapsed = max((float(c.stats.get("elapsed", 0.0)) for c in children), default=0.0) \
        or time.monotonic() - t0
    st.executions = sum(int(c.stats.get("executions", 0)) for c in children)
    st.coverage = sum(c.cov[-1][1] for c in children if c.cov)
    return st


def _merge(children: list[_Child], wall: float) -> tuple[list[dict[str, Any]], EngineStats]:
    st = EngineStats("atheris")
    st.elapsed = wall
    by_title: dict[str, dict[str, Any]] = {}
    firsts = []
    for c in children:
        if c.proc.returncode not in (0, None) and c.done_runs is None and not c.stats:
            tail = "; ".join(c.stderr_tail[-3:])
            raise RuntimeError(f"atheris worker failed (exit {c.proc.returncode}): {tail}")
        runs = c.done_runs if c.done_runs is not None else int(c.stats.get("executions", 0))
        st.executions += runs
        st.errors += int(c.stats.get("errors", 0))
        for f in c.found:
            old = by_title.get(f["title"])
            if old is None or f["first_seconds"] < old["first_seconds"]:
                by_title[f["title"]] = f
            firsts.append(f["first_seconds"])
        if c.cov:
            st.coverage += c.cov[-1][1]
        st.coverage_timeline += c.cov
    st.coverage_timeline.sort()
    st.time_to_first_finding = min(firsts) if firsts else None
    fuzz_time = max((float(c.stats.get("elapsed", 0.0)) for c in children), default=0.0)
    st.extra = {"coverage_kind": "libFuzzer cov: model behaviour features (guard-site outcomes, "
                                 "contended scheduling points, statistics, findings, log lines)",
                "fuzzing_seconds": round(fuzz_time, 3),
                "startup_seconds": round(max(0.0, wall - fuzz_time), 3),
                "processes": len(children)}
    return sorted(by_title.values(), key=lambda f: f["first_seconds"]), st
