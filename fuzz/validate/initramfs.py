"""The boot's initramfs: one static ``/init`` (``init.c``) in a newc cpio.

``init`` is compiled with ``aarch64-linux-gnu-gcc -static -nostdlib``: raw
system calls, no C library, so nothing beyond gcc-aarch64-linux-gnu is
needed (Debian's cross toolchain ships no arm64 libc unless
libc6-dev-arm64-cross is installed).  The archive is made by ``cpio -o -H
newc`` from a temporary directory and cached by the content hash of
``init.c`` and the compiler version, so it is built once per machine.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from corpus.hosttools import run
from mutators.gitrepo import cache_root

INIT_SOURCE = Path(__file__).with_name("init.c")
CC = "aarch64-linux-gnu-gcc"
CFLAGS = ["-static", "-nostdlib", "-ffreestanding", "-fno-builtin", "-fno-stack-protector",
          "-O2", "-Wall", "-Wextra", "-Werror", "-Wl,--build-id=none"]
_TIMEOUT = 120.0


def _cache_dir() -> Path:
    env = os.environ.get("PROBEFUZZ_VALIDATE_DIR")
    return Path(env) if env else cache_root() / "validate"


def compile_init(dest: Path) -> None:
    """Compile ``init.c`` to the static aarch64 executable ``dest``."""
    run([CC, *CFLAGS, "-o", str(dest), str(INIT_SOURCE)], timeout=_TIMEOUT,
        subject=INIT_SOURCE.name)


def cpio_newc(root: Path, dest: Path) -> None:
    """Archive the tree at ``root`` (paths relative to it) as newc ``dest``."""
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    listing = "".join(f"{n}\n" for n in names).encode()
    proc = run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"], input=listing,
               timeout=_TIMEOUT, cwd=root, subject=str(root))
    dest.write_bytes(proc.stdout)


def build_initramfs() -> Path:
    """The cached initramfs (built the first time): ``/init``, ``/dev``,
    ``/sys``; init mounts devtmpfs and sysfs itself."""
    version = run([CC, "-dumpfullversion"], timeout=_TIMEOUT).stdout.strip()
    key = hashlib.sha256(INIT_SOURCE.read_bytes() + b"\0" + version).hexdigest()[:16]
    cache = _cache_dir()
    dest = cache / f"initramfs-{key}.cpio"
    if dest.is_file():
        return dest
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="probefuzz-initramfs-") as tmp:
        root = Path(tmp) / "root"
        for d in ("dev", "sys", "proc"):
            (root / d).mkdir(parents=True)
        compile_init(root / "init")
        part = Path(tmp) / "initramfs.cpio"
        cpio_newc(root, part)
        # rename: a concurrent build or a kill midway never leaves half an archive
        shutil.move(str(part), str(dest.with_suffix(".tmp")))
        os.replace(dest.with_suffix(".tmp"), dest)
    return dest
