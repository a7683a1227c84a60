"""Resolve the platforms a fuzzing verb runs on: arguments, ``--corpus DIR``, or the bundled corpus."""

from __future__ import annotations

from pathlib import Path

from corpus.bundled import bundled_names, bundled_path, load_bundled
from corpus.dt import load_platform_file
from fuzz.gen import CorpusBoard
from harness.board import BoardError


def load_boards(platforms: list[str], corpus: str | None = None) -> list[CorpusBoard]:
    """Boards from PLATFORM arguments (files, or names of bundled boards) and a
    corpus directory of platform ``.json``/``.dtb`` files; the bundled corpus
    when neither is given.  Bad input raises the loaders' one-line errors."""
    boards: list[CorpusBoard] = []
    for arg in platforms:
        if not Path(arg).exists() and arg in bundled_names():
            boards.append(CorpusBoard(arg, load_bundled(arg), str(bundled_path(arg))))
            continue
        p = load_platform_file(arg)
        boards.append(CorpusBoard(p.name, p, str(Path(arg).resolve()) if arg.endswith(".json") else None))
    if corpus is not None:
        d = Path(corpus)
        if not d.is_dir():
            raise BoardError(f"{corpus}: not a directory")
        files = sorted(f for f in d.iterdir() if f.suffix in (".json", ".dtb") and not f.name.startswith("."))
        if not files:
            raise BoardError(f"{corpus}: no platform .json or .dtb files")
        for f in files:
            p = load_platform_file(str(f))
            boards.append(CorpusBoard(p.name, p, str(f.resolve()) if f.suffix == ".json" else None))
    if not boards:
        boards = [CorpusBoard(n, load_bundled(n), str(bundled_path(n))) for n in bundled_names()]
    return boards
