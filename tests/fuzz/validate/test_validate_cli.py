"""probefuzz validate: bad input and missing tools are one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.cli import main


@pytest.mark.parametrize("argv, message", [
    (["--variant", "NEXT", "--device", "e1000"], "unknown device 'e1000'"),
    (["--variant", "NOPE"], "unknown variant 'NOPE'"),
    (["--variant", "NEXT", "--image", "/nonexistent/Image"], "/nonexistent/Image: no such Image"),
    (["--variant", "NEXT", "--timeout", "0"], "--timeout must be positive"),
    (["--variant", "NEXT", "--tree", "/nonexistent/tree"], "/nonexistent/tree: no kernel tree"),
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_qemu_names_its_debian_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "Image"
    image.write_bytes(b"\0" * 64)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["validate", "--variant", "NEXT", "--image", str(image)]) == 2
    assert ("qemu-system-aarch64 not found: install Debian package 'qemu-system-arm'"
            in capsys.readouterr().err)
