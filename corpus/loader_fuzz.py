"""An atheris (libFuzzer) target over the platform loaders.

The property: whatever the bytes, loading ends in a valid
:class:`~harness.board.Board` or in one of the two input errors
(:class:`~corpus.errors.DtError` for DTBs, ``BoardError`` for JSON) with a
one-line message -- never another exception, never an interpreter crash
(libfdt is C: a crash kills the fuzzer process, which libFuzzer reports).

Run it (seeds: the test fixtures and a bundled board)::

    .venv/bin/python -m corpus.loader_fuzz -runs=100000
    .venv/bin/python -m corpus.loader_fuzz -max_total_time=600

Extra arguments go to libFuzzer; without a corpus directory it uses (and
seeds) ~/.cache/probefuzz/loader-fuzz.  tests/corpus/test_dt_robust.py runs
it for a bounded number of iterations; bench/bench_corpus.py --fuzz-seconds
runs it longer.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["corpus", "harness.board"]):
    from corpus.dt import dtb_to_platform
    from corpus.errors import DtError
    from corpus.fdt import FDT_MAGIC
    from harness.board import Board, BoardError

SEEDS = [
    *sorted((Path(__file__).resolve().parents[1] / "tests" / "corpus" / "fixtures").glob("*.dtb")),
    Path(__file__).resolve().parent / "boards" / "mt2701-evb.json",
]


def test_one_input(data: bytes) -> None:
    """One libFuzzer iteration: DTB if the FDT magic is there, else JSON."""
    if data[:4] == FDT_MAGIC.to_bytes(4, "big"):
        try:
            p = dtb_to_platform(data, "fuzz", {}, label="fuzz.dtb")
        except DtError as e:
            _one_line(str(e))
            return
        Board.from_json(p.to_json(), "fuzz")  # what converts must validate
        return
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return
    try:
        Board.from_json(obj, "fuzz.json")
    except BoardError as e:
        _one_line(str(e))


def _one_line(msg: str) -> None:
    if "\n" in msg or not msg:
        raise AssertionError(f"error message is not one line: {msg!r}")


def default_corpus_dir() -> Path:
    """``$XDG_CACHE_HOME/probefuzz/loader-fuzz`` (``~/.cache`` by default)."""
    cache = os.environ.get("XDG_CACHE_HOME") or ""
    base = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"
    return base / "probefuzz" / "loader-fuzz"


def main(argv: list[str] | None = None) -> None:
    """Run libFuzzer with ``argv`` (seeding a temporary corpus if none is given)."""
    args = list(sys.argv if argv is None else argv)
    if not any(not a.startswith("-") for a in args[1:]):
        # A persistent corpus: each run starts from what earlier runs found.
        corpus_dir = default_corpus_dir()
        corpus_dir.mkdir(parents=True, exist_ok=True)
        for s in SEEDS:
            if s.is_file() and not (corpus_dir / s.name).exists():
                shutil.copy(s, corpus_dir / s.name)
        args.append(str(corpus_dir))
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
