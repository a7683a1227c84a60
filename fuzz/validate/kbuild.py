"""Build a bootable arm64 ``Image`` of a commit for QEMU's ``virt`` machine.

Shares the build cache of ``apply --build`` (:mod:`mutators.build`): the same
``src/`` clone, checked out at the commit under the same lock, and its own
out-of-tree directory ``out-virt/`` next to ``apply``'s defconfig ``out/``.
The configuration is ``allnoconfig`` plus ``virt.config`` (a few hundred
symbols: the virt platform, generic PCI host, SMMUv3, virtio-iommu, the
virtio-pci drivers, initramfs); it is redone only when that fragment
changes.  A checkout touches only the files that differ from the last build,
so a warm build recompiles the variant's objects and relinks; the compiler
runs through ``ccache`` when installed, so going back to an earlier variant
is cache hits.  The build runs under ``nice -n 19``: it is a background job
on a developer's machine.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from corpus.hosttools import ToolError, run, which
from mutators.build import (
    ARCH,
    CROSS_COMPILE,
    MAKE_TIMEOUT,
    build_root,
    check_host_tools,
    locked,
    sync_source,
)

#: the config fragment (merged into allnoconfig with KCONFIG_ALLCONFIG)
FRAGMENT = Path(__file__).with_name("virt.config")
OUT_DIR = "out-virt"
_STAMP = ".probefuzz-fragment"


@dataclass
class ImageBuild:
    """A built ``Image`` (copied to ``image`` by the caller's request), whether
    the configuration was made from scratch (``cold``) and the seconds spent."""

    image: str
    commit: str
    cold: bool
    seconds: dict[str, float]
    ccache: bool

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def fragment_symbols() -> dict[str, str]:
    """``SYMBOL -> value`` of ``virt.config`` (without ``CONFIG_``)."""
    out: dict[str, str] = {}
    for ln in FRAGMENT.read_text().splitlines():
        if ln.startswith("CONFIG_") and "=" in ln:
            k, _, v = ln.partition("=")
            out[k[len("CONFIG_"):]] = v
    return out


def _make(src: Path, out: Path, *targets: str, jobs: int, cc: str, env: dict[str, str] | None = None,
          subject: str) -> None:
    argv = ["nice", "-n", "19", "make", "-s", "-C", str(src), f"O={out}", f"ARCH={ARCH}",
            f"CROSS_COMPILE={CROSS_COMPILE}", f"CC={cc}", f"-j{jobs}", *targets]
    proc = run(argv, timeout=MAKE_TIMEOUT, env=env, check=False, subject=subject)
    if proc.returncode != 0:
        text = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        lines = [ln for ln in text.splitlines() if ln.strip()]
        errs = [ln for ln in lines if "error" in ln.lower()][:3] or lines[-3:]
        raise ToolError(f"kernel {subject} in {out} failed (exit {proc.returncode}): "
                        + " | ".join(errs))


def configure_virt(src: Path, out: Path, jobs: int, cc: str) -> bool:
    """``allnoconfig`` + :data:`FRAGMENT` unless already done with this
    fragment; True when it ran.  Checks every fragment symbol took (a symbol
    whose dependencies are unmet would silently drop out)."""
    digest = hashlib.sha256(FRAGMENT.read_bytes()).hexdigest()
    stamp = out / _STAMP
    if (out / ".config").is_file() and stamp.is_file() and stamp.read_text() == digest:
        return False
    out.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    _make(src, out, "allnoconfig", jobs=jobs, cc=cc,
          env={"KCONFIG_ALLCONFIG": str(FRAGMENT)}, subject="allnoconfig")
    have: dict[str, str] = {}
    for ln in (out / ".config").read_text().splitlines():
        if ln.startswith("CONFIG_") and "=" in ln:
            k, _, v = ln.partition("=")
            have[k[len("CONFIG_"):]] = v
    lost = [s for s, v in fragment_symbols().items() if v == "y" and have.get(s) != "y"]
    if lost:
        raise ToolError(f"{FRAGMENT.name}: CONFIG_{lost[0]} cannot be enabled in this tree "
                        f"(unmet Kconfig dependencies; {len(lost)} symbol(s) lost)")
    stamp.write_text(digest)
    return True


def build_image(repo_dir: str, ref: str, commit: str, dest: Path,
                jobs: int | None = None) -> ImageBuild:
    """Build ``Image`` for ``commit`` (fetched as ``ref`` from ``repo_dir``)
    and copy it to ``dest``; raise :class:`ToolError` when it cannot."""
    check_host_tools()
    which("nice")
    jobs = jobs or os.cpu_count() or 1
    have_ccache = shutil.which("ccache") is not None
    cc = f"ccache {CROSS_COMPILE}gcc" if have_ccache else f"{CROSS_COMPILE}gcc"
    root = build_root()
    src, out = root / "src", root / OUT_DIR
    t0 = time.monotonic()
    with locked(root):
        sync_source(src, repo_dir, ref, commit)
        t_sync = time.monotonic()
        cold = configure_virt(src, out, jobs, cc)
        t_cfg = time.monotonic()
        _make(src, out, "Image", jobs=jobs, cc=cc, subject="Image build")
        t_make = time.monotonic()
        image = out / "arch" / ARCH / "boot" / "Image"
        if not image.is_file():
            raise ToolError(f"kernel build in {out} produced no {image.name}")
        shutil.copyfile(image, dest)
    return ImageBuild(str(dest), commit, cold,
                      {"sync": round(t_sync - t0, 3), "config": round(t_cfg - t_sync, 3),
                       "make": round(t_make - t_cfg, 3), "total": round(t_make - t0, 3)},
                      have_ccache)
