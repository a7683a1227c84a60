"""Output-path checks of fuzz.options: one line for every bad path, the path back when good."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.options import check_out_dir, check_out_file


def test_good_paths_come_back(tmp_path: Path) -> None:
    assert check_out_dir(tmp_path, "--out") == tmp_path
    assert check_out_dir(tmp_path / "a" / "b", "--out") == tmp_path / "a" / "b"
    assert check_out_file(tmp_path / "a" / "log", "--console-log") == tmp_path / "a" / "log"
    (tmp_path / "old.log").write_text("x")
    assert check_out_file(tmp_path / "old.log", "--console-log") == tmp_path / "old.log"


@pytest.mark.parametrize(("check", "path", "why"), [
    (check_out_dir, "", "empty or invalid path"),
    (check_out_file, "a\0b", "empty or invalid path"),
    (check_out_dir, "/dev/null", "exists and is not a directory"),
    (check_out_file, "/dev/null", "exists and is not a regular file"),
    (check_out_file, "/", "is a directory"),
    (check_out_dir, "x" * 5000, "File name too long"),
    (check_out_file, "x" * 5000, "File name too long"),
])
def test_bad_paths_are_one_line(check: object, path: str, why: str) -> None:
    assert callable(check)
    with pytest.raises(ValueError, match=why) as e:
        check(path, "--opt")
    msg = str(e.value)
    assert msg.startswith("--opt") and "\n" not in msg and len(msg) <= 300


def test_under_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="cannot create it under"):
        check_out_dir(f / "sub", "--out")
    with pytest.raises(ValueError, match="cannot write a file there"):
        check_out_file(f / "sub" / "log", "--console-log")
