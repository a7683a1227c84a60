"""The atheris engine's fuzzing process (``python -m fuzz.engines.atheris_worker REQ``).

libFuzzer's coverage here is the model's *behaviour*, not its Python lines:
the model runs uninstrumented (at the in-process engines' speed) and each
run's features (:mod:`fuzz.features`: guard-site outcomes, the scheduling
points where threads competed, end-of-run statistics, finding titles,
kernel-log lines) are handed to libFuzzer as coverage counters, one counter
per feature (a stable hash into :data:`COUNTERS` reserved counters).  So
``cov:`` counts distinct behaviours, and libFuzzer keeps an input when the
model did something new.  The input is consumed structurally through
``atheris.FuzzedDataProvider`` (:func:`fuzz.gen.generate`).

It fuzzes one variant with libFuzzer's flags from the request.  Findings and
statistics go to stdout as ``PFZ <json>`` lines, which the parent
(:mod:`fuzz.engines.atheris_engine`) reads as they come; libFuzzer's own
output stays on stderr.  Each new finding also gets libFuzzer's artifact, the
raw input as ``crash-<sha1>``, beside its structured reproducer (or under
``-artifact_prefix``).  libFuzzer exits the process itself when its budget is
spent, so nothing runs after ``atheris.Fuzz()``.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import atheris

from fuzz.engines.session import Found, Session
from fuzz.features import SiteRecorder, feature_index
from fuzz.gen import CorpusBoard, GenContext, generate
from harness.board import load_board
from harness.variant import variant_from_json

#: libFuzzer counters reserved for model features (collisions merge features)
COUNTERS = 1 << 14
#: share of libFuzzer's new inputs that are fresh random bytes rather than a
#: mutation of a kept one (the native engine's mix): an input is a handful of
#: choices (fuzz.gen), and a race needs several of them right at once -- an
#: IOMMU driver asynchronous, a preemption aimed at one device's window --
#: which one-byte mutations of the few kept inputs reach far more rarely
#: than fresh draws from the whole space
FRESH = 0.5
FRESH_MAX_LEN = 64


def mutator(data: bytes, max_size: int, seed: int) -> bytes:
    """libFuzzer's custom mutator: a fresh random input (:data:`FRESH` of the
    time) or libFuzzer's own mutation of ``data``; ``seed`` comes from
    libFuzzer's random source, so ``-seed=S`` still fixes the sequence."""
    rng = random.Random(seed)
    if rng.random() < FRESH:
        return rng.randbytes(rng.randint(1, max(1, min(FRESH_MAX_LEN, max_size))))
    return bytes(atheris.Mutate(data, max_size))


def emit(event: str, **data: Any) -> None:
    sys.stdout.write("PFZ " + json.dumps({"event": event, **data}) + "\n")
    sys.stdout.flush()


def artifact_path(flags: list[str], reproducer: str | None, store: str | None, data: bytes) -> Path | None:
    """Where libFuzzer's ``crash-<sha1>`` artifact of ``data`` goes: under
    ``-artifact_prefix=`` if given, else beside the reproducer (or in the store)."""
    name = "crash-" + hashlib.sha1(data).hexdigest()
    for f in flags:
        if f.startswith("-artifact_prefix="):
            return Path(f.split("=", 1)[1] + name)
    if reproducer is not None:
        return Path(reproducer).parent / name
    return Path(store) / name if store else None


def main(argv: list[str]) -> None:
    req = json.loads(Path(argv[1]).read_text())
    flags = list(req.get("libfuzzer_args", []))
    variant = variant_from_json(req["variant"])
    boards = [CorpusBoard(b["name"], load_board(b["path"])) for b in req["boards"]]
    ctx = GenContext(boards, mutate=req.get("mutate", True), events=req.get("events", True))
    current = [b""]

    def on_found(f: Found) -> None:
        d = f.to_json()
        path = artifact_path(flags, f.reproducer, req.get("store"), current[0])
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(current[0])
            d["artifact"] = str(path)
        emit("found", **d)

    session = Session(variant, "atheris", Path(req["store"]) if req.get("store") else None,
                      minimise_findings=req.get("minimise", True), on_found=on_found)
    sites = SiteRecorder()
    sites.install()
    session.record = True
    session.extra_features = sites.take
    counters = [atheris._reserve_counter() for _ in range(COUNTERS)]
    index: dict[str, int] = {}
    last = [0.0]

    def test_one_input(data: bytes) -> None:
        current[0] = data
        sites.seen.clear()  # minimising the last finding ran the model too
        session.run(generate(atheris.FuzzedDataProvider(data), ctx))
        # atheris.Setup() swaps in the live _trace_branch: look it up now
        trace_branch = atheris._trace_branch
        for feat in session.last_features:
            i = index.get(feat)
            if i is None:
                i = index[feat] = counters[feature_index(feat, COUNTERS)]
            trace_branch(i)
        session.last_features = set()
        now = time.monotonic()
        if now - last[0] >= 0.2:
            last[0] = now
            st = session.stats
            emit("stats", executions=st.executions, elapsed=session.now(), errors=st.errors,
                 time_to_first_finding=st.time_to_first_finding, features=len(session.features))

    atheris.Setup([argv[0], *flags], test_one_input, custom_mutator=mutator)
    atheris.UpdateCounterArrays()  # hand the reserved counters to libFuzzer
    emit("start")
    session.start()
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
