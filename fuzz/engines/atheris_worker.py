"""The atheris engine's fuzzing process (``python -m fuzz.engines.atheris_worker REQ``).

It instruments the model (``atheris.instrument_imports`` over ``harness``)
before importing it, so libFuzzer's coverage is the model's code coverage,
then fuzzes one variant with libFuzzer's flags from the request.  Findings
and statistics go to stdout as ``PFZ <json>`` lines, which the parent
(:mod:`fuzz.engines.atheris_engine`) reads as they come; libFuzzer's own
output stays on stderr.  libFuzzer exits the process itself when its budget
is spent, so nothing runs after ``atheris.Fuzz()``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def emit(event: str, **data: Any) -> None:
    sys.stdout.write("PFZ " + json.dumps({"event": event, **data}) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> None:
    req = json.loads(Path(argv[1]).read_text())
    import atheris  # late: an optional dependency, needed only in this worker process

    # late on purpose: the harness must be first imported inside this block to
    # be instrumented for atheris' coverage feedback
    with atheris.instrument_imports(include=["harness"]):
        import harness.run  # noqa: F401 - instrumented here, used through the session
        from fuzz.engines.session import Found, Session
        from fuzz.gen import CorpusBoard, GenContext, generate
        from harness.board import load_board
        from harness.variant import variant_from_json

    variant = variant_from_json(req["variant"])
    boards = [CorpusBoard(b["name"], load_board(b["path"])) for b in req["boards"]]
    ctx = GenContext(boards, mutate=req.get("mutate", True), events=req.get("events", True))

    def on_found(f: Found) -> None:
        emit("found", **f.to_json())

    session = Session(variant, "atheris", Path(req["store"]) if req.get("store") else None,
                      minimise_findings=req.get("minimise", True), on_found=on_found)
    last = [0.0]

    def test_one_input(data: bytes) -> None:
        session.run(generate(atheris.FuzzedDataProvider(data), ctx))
        now = time.monotonic()
        if now - last[0] >= 0.2:
            last[0] = now
            st = session.stats
            emit("stats", executions=st.executions, elapsed=session.now(), errors=st.errors,
                 time_to_first_finding=st.time_to_first_finding, features=len(session.features))

    atheris.Setup([argv[0], *req.get("libfuzzer_args", [])], test_one_input)
    emit("start")
    session.start()
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
