"""probefuzz validate: bad input and missing tools are one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.cli import main


@pytest.mark.parametrize("argv, message", [
    (["--variant", "NEXT", "--device", "e1000"], "unknown device 'e1000'"),
    (["--variant", "NOPE"], "unknown variant 'NOPE'"),
    (["--variant", "NEXT", "--image", "/nonexistent/Image"], "--image /nonexistent/Image: no such Image"),
    (["--variant", "NEXT", "--image", "x" * 5000], "no such Image"),
    (["--variant", "NEXT", "--timeout", "0"], "argument --timeout: must be above 0"),
    (["--variant", "NEXT", "--timeout", "nan"], "argument --timeout: must be a finite number"),
    (["--variant", "NEXT", "--tree", "/nonexistent/tree"], "--tree /nonexistent/tree: no kernel tree"),
    (["--variant", "NEXT", "--console-log", "/"], "--console-log /: is a directory"),
    (["--variant", "NEXT", "--base-ref=--all"], "--base-ref '--all': not a commit name"),
    (["--variant", "x" * 5000], "unknown variant"),
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["validate", *argv])
    except SystemExit as e:  # argparse's refusal of an option value
        code = e.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert len(err) <= 301


def test_missing_qemu_names_its_debian_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "Image"
    image.write_bytes(b"\0" * 64)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["validate", "--variant", "NEXT", "--image", str(image)]) == 2
    assert ("qemu-system-aarch64 not found: install Debian package 'qemu-system-arm'"
            in capsys.readouterr().err)
