"""The initramfs: a static aarch64 /init without libc, in a newc cpio."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.hosttools import run
from fuzz.validate import initramfs


def test_initramfs_holds_a_static_aarch64_init(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBEFUZZ_VALIDATE_DIR", str(tmp_path / "cache"))
    cpio = initramfs.build_initramfs()
    assert cpio.parent == tmp_path / "cache"
    listing = run(["cpio", "-it", "--quiet"], input=cpio.read_bytes(), timeout=30).stdout.split()
    assert sorted(listing) == [b"dev", b"init", b"proc", b"sys"]
    out = tmp_path / "x"
    out.mkdir()
    run(["cpio", "-id", "--quiet"], input=cpio.read_bytes(), timeout=30, cwd=out)
    elf = (out / "init").read_bytes()
    assert elf[:4] == b"\x7fELF" and elf[4] == 2  # ELFCLASS64
    assert int.from_bytes(elf[18:20], "little") == 183  # EM_AARCH64
    assert int.from_bytes(elf[16:18], "little") == 2  # ET_EXEC: static, no interpreter
    assert b"/lib/ld-linux" not in elf
    # cached: the second call does not rebuild
    mtime = cpio.stat().st_mtime_ns
    assert initramfs.build_initramfs() == cpio and cpio.stat().st_mtime_ns == mtime
