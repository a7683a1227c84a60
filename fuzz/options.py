"""Typed, bounded command-line options shared by the verbs.

argparse ``type=`` callables that refuse what ``float``/``int`` would let
through (``nan``, ``inf``, negative timeouts, a million jobs), and the check of
an output directory argument.  Every refusal is one short line naming the
value: argparse prints it as ``argument --timeout: ...`` and exits 2.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["SECONDS", "SEED", "check_out_dir", "check_out_file", "clip", "float_in", "int_in"]

# How much of an offending value is echoed back in a message.
_ECHO = 40


def clip(text: object, limit: int = _ECHO) -> str:
    """``text`` as one line of at most ``limit`` characters (for echoing user input)."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def float_in(lo: float, hi: float, *, lo_open: bool = False) -> Callable[[str], float]:
    """A finite float in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {clip(text)!r}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {clip(text)!r}")
        if v < lo or v > hi or (lo_open and v == lo):
            low = f"above {lo:g}" if lo_open else f"at least {lo:g}"
            raise argparse.ArgumentTypeError(f"must be {low} and at most {hi:g}, got {clip(text)}")
        return v

    parse.__name__ = "number"
    return parse


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """An integer in ``[lo, hi]``."""

    def parse(text: str) -> int:
        if len(text) > 30:
            raise argparse.ArgumentTypeError(f"not an integer in {lo}..{hi}: {clip(text)!r}")
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {clip(text)!r}") from None
        if v < lo or v > hi:
            raise argparse.ArgumentTypeError(f"must be in {lo}..{hi}, got {v}")
        return v

    parse.__name__ = "integer"
    return parse


def _out_path(path: str | os.PathLike[str], option: str,
              check: Callable[[Path, str], None]) -> Path:
    """The prologue of the output-path checks: refuse an empty path or one with
    NUL, run ``check(path, text)``, and turn an ``OSError`` on the way (a name
    too long, a loop of symlinks) into the same one-line ValueError."""
    text = os.fspath(path)
    if not text or "\0" in text:
        raise ValueError(f"{option}: empty or invalid path")
    p = Path(text)
    try:
        check(p, text)
    except OSError as e:
        raise ValueError(f"{option} {clip(text)}: {e.strerror or e}") from None
    return p


def check_out_dir(path: str | os.PathLike[str], option: str) -> Path:
    """An output directory argument: an existing writable directory, or a path
    whose nearest existing parent is a writable directory.  Raises ValueError
    with one line (``--out /dev/null: exists and is not a directory``)."""

    def check(p: Path, text: str) -> None:
        if p.exists():
            if not p.is_dir():
                raise ValueError(f"{option} {clip(text)}: exists and is not a directory")
            if not os.access(p, os.W_OK | os.X_OK):
                raise ValueError(f"{option} {clip(text)}: directory is not writable")
            return
        parent = p.absolute().parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise ValueError(f"{option} {clip(text)}: cannot create it under {clip(parent)}")

    return _out_path(path, option, check)


def check_out_file(path: str | os.PathLike[str], option: str) -> Path:
    """An output file argument: not a directory, in a directory that exists or
    can be made (:func:`check_out_dir`).  Raises ValueError with one line."""

    def check(p: Path, text: str) -> None:
        if p.is_dir():
            raise ValueError(f"{option} {clip(text)}: is a directory")
        if p.exists() and not p.is_file():
            raise ValueError(f"{option} {clip(text)}: exists and is not a regular file")
        try:
            check_out_dir(p.absolute().parent, option)
        except ValueError:
            raise ValueError(f"{option} {clip(text)}: cannot write a file there") from None

    return _out_path(path, option, check)


#: A duration option: positive, finite, at most a week.
SECONDS = float_in(0.0, 7 * 86400.0, lo_open=True)
#: A seed option: a signed 64-bit integer.
SEED = int_in(-(2**63), 2**63 - 1)
