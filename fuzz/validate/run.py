"""One validation: variant -> kernel Image -> QEMU boot -> console vs model.

1. apply the variant to the tree (:func:`mutators.apply.apply_variant`, a
   worktree on a ``probefuzz/validate-*`` branch that is removed again once
   the build cache has fetched the commit); a variant the tree already is
   builds the tree's commit itself;
2. build ``Image`` (:mod:`fuzz.validate.kbuild`) and the initramfs;
3. dump QEMU's DTB for the machine, boot, parse the console;
4. run the model on that DTB with the same PCI functions, compare.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git

from corpus.hosttools import which
from fuzz.validate import qemu
from fuzz.validate.compare import Comparison, compare
from fuzz.validate.console import ConsoleReport, parse_console
from fuzz.validate.initramfs import build_initramfs
from fuzz.validate.kbuild import ImageBuild, build_image
from fuzz.validate.model import (
    SMMU_V3_SOURCE,
    ModelRun,
    boot_config,
    model_platform,
    run_model,
    tree_facts,
)
from harness.variant import Variant
from mutators import gitrepo

#: what a validation runs, with the Debian package of each (hosttools.TOOLS)
TOOLS = (qemu.QEMU, "cpio", "aarch64-linux-gnu-gcc", "make", "flex", "bison", "bc", "perl",
         "git", "spatch")


@dataclass
class ValidateRequest:
    variant: Variant
    variant_id: str
    machine: qemu.Machine
    tree: Path | None = None
    base_ref: str = "HEAD"
    #: a prebuilt Image: no apply, no build (the variant is what it was built from)
    image: Path | None = None
    console_log: Path | None = None
    timeout: float = qemu.BOOT_TIMEOUT
    jobs: int | None = None


@dataclass
class ValidateResult:
    request: ValidateRequest
    comparison: Comparison
    real: ConsoleReport
    model: ModelRun
    build: ImageBuild | None
    boot: qemu.Boot
    seconds: dict[str, float] = field(default_factory=dict)
    commit: str = ""
    facts: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "variant": self.request.variant_id,
            "machine": self.request.machine.as_json(),
            "commit": self.commit,
            "tree_facts": dict(self.facts),
            "agree": self.comparison.agree,
            "comparison": self.comparison.as_json(),
            "real": self.real.as_json() | {"timed_out": self.boot.timed_out,
                                           "qemu_exit": self.boot.returncode},
            "model": {"findings": [f.to_json() for f in self.model.findings],
                      "groups": {str(k): v for k, v in self.model.groups.items()},
                      "panicked": self.model.panicked},
            "build": self.build.as_json() if self.build is not None else None,
            "seconds": dict(self.seconds),
        }


def check_tools(need_build: bool) -> None:
    """Raise ToolError naming the first missing tool and its Debian package."""
    for t in TOOLS if need_build else (qemu.QEMU, "cpio", "aarch64-linux-gnu-gcc"):
        which(t)


def _apply_and_build(req: ValidateRequest, dest: Path) -> tuple[ImageBuild, str]:
    from mutators.apply import NothingToApply, apply_variant

    assert req.tree is not None
    repo = gitrepo.open_tree(req.tree)
    vid = f"validate-{req.variant_id}"
    try:
        res = apply_variant(req.tree, req.variant, base_ref=req.base_ref, variant_id=vid,
                            force=True)
    except NothingToApply:
        commit = repo.git.rev_parse("--verify", f"{req.base_ref}^{{commit}}")
        return build_image(str(repo.common_dir), req.base_ref, commit, dest, req.jobs), commit
    try:
        return build_image(str(repo.common_dir), f"refs/heads/{res.branch}", res.commit, dest,
                           req.jobs), res.commit
    finally:
        # the build cache has its own copy of the commit: the branch goes
        gitrepo.remove_worktree(repo, Path(res.worktree), res.branch)


def _tree_source(req: ValidateRequest, commit: str, path: str) -> str | None:
    """``path`` at ``commit`` (or ``base_ref`` for a prebuilt Image) in the tree."""
    if req.tree is None or not req.tree.is_dir():
        return None
    try:
        repo = gitrepo.open_tree(req.tree)
        return str(repo.git.show(f"{commit or req.base_ref}:{path}"))
    except (gitrepo.RepoError, git.GitCommandError):
        return None


def validate(req: ValidateRequest) -> ValidateResult:
    """Run one validation (module doc); raises ToolError/RepoError on failures
    to run, never for a disagreement."""
    check_tools(req.image is None)
    seconds: dict[str, float] = {}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="probefuzz-validate-") as tmp:
        work = Path(tmp)
        build: ImageBuild | None = None
        commit = ""
        if req.image is None:
            image = work / "Image"
            build, commit = _apply_and_build(req, image)
            seconds.update({f"build_{k}": v for k, v in build.seconds.items()})
        else:
            image = req.image
        t = time.monotonic()
        initrd = build_initramfs()
        seconds["initramfs"] = round(time.monotonic() - t, 3)
        t = time.monotonic()
        dtb = work / "virt.dtb"
        qemu.dump_dtb(req.machine, dtb, image, initrd)
        seconds["dumpdtb"] = round(time.monotonic() - t, 3)
        console = work / "console.log"
        b = qemu.boot(req.machine, image, initrd, console, req.timeout)
        seconds["boot"] = b.seconds
        if req.console_log is not None:
            req.console_log.write_text(b.console)
        real = parse_console(b.console)
        t = time.monotonic()
        platform = model_platform(dtb, req.machine)
        cfg = boot_config(platform, req.machine, image.read_bytes())
        facts = tree_facts(_tree_source(req, commit, SMMU_V3_SOURCE))
        m = run_model(platform, req.variant, cfg, facts)
        seconds["model"] = round(time.monotonic() - t, 3)
    c = compare(real, m, [f.name for f in req.machine.all_functions()])
    seconds["total"] = round(time.monotonic() - t0, 3)
    return ValidateResult(req, c, real, m, build, b, seconds, commit, facts)
