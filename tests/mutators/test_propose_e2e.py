"""propose end to end on the real tree, in the fast suite (issue 18 part 3, issue 21).

A shared clone of the real 6.12 tree (its objects, our own refs: parallel
tests and the user's branches never meet) with a sparse checkout of what
checkpatch, get_maintainer and coccicheck read.  ``probefuzz apply --variant
NEXT`` makes the base that contains the series; ``propose`` of the seed
board's fix goes on top.  Then every gate is shown failing: a sign-off
checkpatch rejects, a ``git am`` the repository refuses, a base without the
series.  Everything goes through the CLI, as a user runs it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.upstream import PRESETS as UPSTREAM
from harness.variant import SITES, make_variant, variant_to_json
from tests.mutators.conftest import git

pytestmark = pytest.mark.kernel_tree

VID = "NEXT+rk_iommu_probe.dma_dev:=before_register"
SUBJECT = "iommu/rockchip: Set the global dma_dev before registering"
ME = "Test Dev <dev@example.org>"
REPORTER = "Marek Szyprowski <m.szyprowski@samsung.com>"
CLOSES = "https://lore.kernel.org/all/seed-report@samsung.com/"
SPARSE = ["/*", "!/*/", "/scripts/", "/drivers/iommu/", "/include/linux/kconfig.h",
          "/include/linux/compiler-version.h", "/arch/arm64/Makefile"]
# checkpatch's top_of_kernel_tree() wants these to exist
TOP_DIRS = ["Documentation", "fs", "init", "ipc", "kernel", "lib"]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = "import sys; from fuzz.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, timeout=300)


def shared_clone(src: Path, dst: Path, name: str = "Test Dev",
                 email: str = "dev@example.org") -> Path:
    """A clone sharing ``src``'s objects, sparse, with its own identity and refs."""
    git(dst.parent, "clone", "-q", "--shared", "--no-checkout", str(src), dst.name)
    git(dst, "sparse-checkout", "set", "--no-cone", *SPARSE)
    git(dst, "checkout", "-q", "main")
    for d in TOP_DIRS:
        (dst / d).mkdir(exist_ok=True)
    git(dst, "config", "user.name", name)
    git(dst, "config", "user.email", email)
    return dst


def state(tree: Path) -> tuple[str, str, str, str]:
    """What a failed run must leave as it was: status, HEAD, branches, worktrees."""
    return (git(tree, "status", "--porcelain", "--untracked-files=no"),
            git(tree, "rev-parse", "HEAD"), git(tree, "branch", "--list"),
            git(tree, "worktree", "list", "--porcelain"))


def headers(patch: Path) -> str:
    return patch.read_text().split("\n\n", 1)[0]


def log_of(patch: Path) -> str:
    return patch.read_text().split("\n\n", 1)[1].split("\n---\n", 1)[0]


def field(text: str, name: str) -> str:
    """A folded mail header's value, unfolded."""
    m = re.search(rf"^{name}: (.*(?:\n[ \t].*)*)", text, flags=re.M)
    return " ".join(m.group(1).split()) if m else ""


@dataclass
class Proposed:
    tree: Path
    base: str  # the branch with the series
    upstream: str
    run: subprocess.CompletedProcess[str]
    out: Path
    before: tuple[str, str, str, str]

    @property
    def patches(self) -> list[Path]:
        return sorted(self.out.glob("*.patch"))

    def line(self, prefix: str) -> str:
        return next(ln for ln in self.run.stdout.splitlines() if ln.startswith(prefix))


@pytest.fixture(scope="module")
def proposed(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proposed]:
    tmp = tmp_path_factory.mktemp("e2e")
    os.environ["PROBEFUZZ_WORKTREES"] = str(tmp / "wt")
    tree = shared_clone(kernel_tree, tmp / "linux")
    upstream = git(tree, "rev-parse", "HEAD").strip()
    r = cli("apply", "--variant", "NEXT", "--tree", str(tree))
    assert r.returncode == 0, r.stderr
    base = next(ln.split()[1] for ln in r.stdout.splitlines() if ln.startswith("branch:"))
    before = state(tree)
    out = tmp / "out"
    run = cli("propose", "--variant", VID, "--tree", str(tree), "--base-ref", base,
              "--out", str(out), "--signoff", "--reported-by", REPORTER, "--closes", CLOSES)
    yield Proposed(tree, base, upstream, run, out, before)


def test_only_the_fix_on_top_of_the_series(proposed: Proposed) -> None:
    r = proposed.run
    assert r.returncode == 0 and r.stderr == "", (r.stdout, r.stderr)
    assert [p.name for p in proposed.patches] == [
        "0001-iommu-rockchip-Set-the-global-dma_dev-before-registe.patch"]
    assert not (proposed.out / "0000-cover-letter.patch").exists()
    patch = proposed.patches[0]
    assert field(headers(patch), "Subject") == f"[PATCH] {SUBJECT}"
    assert field(headers(patch), "From") == ME  # the user's, and only the user's change
    # the patch touches the driver only: nothing of the series is re-sent
    assert re.findall(r"^diff --git a/(\S+)", patch.read_text(), flags=re.M) == [
        "drivers/iommu/rockchip-iommu.c"]
    # the user's checkout is untouched; the propose branch is new
    after = state(proposed.tree)
    assert after[:2] == proposed.before[:2]
    assert proposed.line("branch:").split()[1] in after[2]


def test_base_commit_and_prerequisite_patch_id(proposed: Proposed) -> None:
    text = proposed.patches[0].read_text()
    series = git(proposed.tree, "rev-list", f"{proposed.upstream}..{proposed.base}").split()
    assert len(series) == 1
    # b4's convention: git patch-id --stable of each prerequisite, computed here independently
    shown = subprocess.run(["git", "show", series[0]], cwd=proposed.tree, capture_output=True,
                           check=True).stdout
    pid = subprocess.run(["git", "patch-id", "--stable"], input=shown, cwd=proposed.tree,
                         capture_output=True, check=True).stdout.split()[0].decode()
    assert text.rstrip().endswith(f"base-commit: {proposed.upstream}\n"
                                  f"prerequisite-patch-id: {pid}")
    assert proposed.line("base-commit:") == f"base-commit: {proposed.upstream} + 1 prerequisite(s)"


def test_trailers_fixes_the_series_commit(proposed: Proposed) -> None:
    ib = UPSTREAM["NEXT"].introduced_by
    assert ib is not None and ib.sha == "bcb81ac6ae3c"
    tr = log_of(proposed.patches[0]).rstrip().split("\n\n")[-1].splitlines()
    assert tr == [f'Fixes: bcb81ac6ae3c ("{ib.subject}")', f"Reported-by: {REPORTER}",
                  f"Closes: {CLOSES}", f"Signed-off-by: {ME}"]


def test_recipients_from_maintainers(proposed: Proposed, kernel_tree: Path) -> None:
    text = (kernel_tree / "MAINTAINERS").read_text()
    section = text.split("\nIOMMU SUBSYSTEM\n", 1)[1].split("\n\n", 1)[0]
    maint = [ln[3:].strip() for ln in section.splitlines() if ln.startswith("M:")]
    lists = [ln[3:].split()[0] for ln in section.splitlines() if ln.startswith("L:")]
    rk = text.split("\nARM/Rockchip SoC support\n", 1)[1].split("\n\n", 1)[0]
    rk_maint = [ln[3:].strip() for ln in rk.splitlines() if ln.startswith("M:")]
    head = headers(proposed.patches[0])
    to, cc = field(head, "To"), field(head, "Cc")
    assert maint and rk_maint and lists
    assert all(m in to for m in maint + rk_maint), to
    assert all(li in cc for li in lists), cc
    assert "linux-rockchip@lists.infradead.org" in cc


def test_checkpatch_strict_clean(proposed: Proposed) -> None:
    assert proposed.line("checkpatch --strict:") == \
        "checkpatch --strict: 0 error(s), 0 warning(s), 0 check(s)"
    # independently: the only thing checkpatch says is that this tree lacks the upstream
    # commit the Fixes: tag names (the series was applied here under another id)
    r = subprocess.run(["perl", "scripts/checkpatch.pl", "--strict", "--show-types",
                        str(proposed.patches[0])], cwd=proposed.tree, capture_output=True,
                       text=True)
    issues = re.findall(r"^(ERROR|WARNING|CHECK):(\w+): (.*)$", r.stdout, flags=re.M)
    assert issues == [("WARNING", "UNKNOWN_COMMIT_ID",
                       "Unknown commit id 'bcb81ac6ae3c', maybe rebased or not pulled?")]
    assert "expected, not counted: UNKNOWN_COMMIT_ID" in proposed.run.stdout


def test_log_lines_fit(proposed: Proposed) -> None:
    for ln in log_of(proposed.patches[0]).splitlines():
        if not ln.startswith(("Fixes:", "Closes:", "Link:", "Reported-by:", "Signed-off-by:")):
            assert len(ln) <= 75, ln


def test_git_am_onto_the_base(proposed: Proposed, tmp_path: Path) -> None:
    assert proposed.line("git am onto the base:") == \
        "git am onto the base: applies cleanly, same tree"
    wt = tmp_path / "am"
    git(proposed.tree, "worktree", "add", "-q", "--detach", str(wt), proposed.base)
    try:
        git(wt, "am", "-q", str(proposed.patches[0]))
        branch = proposed.line("branch:").split()[1]
        assert git(wt, "rev-parse", "HEAD^{tree}") == \
            git(proposed.tree, "rev-parse", f"{branch}^{{tree}}")
    finally:
        git(proposed.tree, "worktree", "remove", "--force", str(wt))


def test_coccicheck_runs_the_series_cocci(proposed: Proposed) -> None:
    cocci = Path(proposed.line("semantic patch (coccicheck form):").split(": ", 1)[1])
    assert cocci.read_text().startswith("/// Set the global dma_dev before registering.")
    # the user's checkout (6.12) has rk_iommu_probe() as the series has it: report mode
    # finds the function to change
    r = subprocess.run(["make", "-s", "ARCH=arm64", "coccicheck", "MODE=report",
                        f"COCCI={cocci}", "M=drivers/iommu/"], cwd=proposed.tree,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^drivers/iommu/rockchip-iommu\.c:\d+:\d+-\d+: rk_iommu_probe\(\) sets "
                     r"the global dma_dev after registering$", r.stdout, flags=re.M), r.stdout


@pytest.mark.slow  # b4 takes seconds to start; the propose branch it enrols is made above
def test_b4_prep_takes_the_branch_and_our_cover_letter(proposed: Proposed) -> None:
    b4 = Path(sys.executable).with_name("b4")
    if not b4.exists():
        pytest.skip("b4 is not installed in this venv (pip install -e .[dev])")
    wt = Path(proposed.line("worktree:").split()[1])
    cmd = next(c for c in proposed.run.stdout.splitlines() if "b4 prep -e" in c)
    start = cmd.split("b4 prep -e ", 1)[1].split()[0]
    assert git(proposed.tree, "rev-parse", start).strip() == \
        git(proposed.tree, "rev-parse", proposed.base).strip()
    cover = cmd.split("EDITOR='cp ", 1)[1].split("'", 1)[0]
    env = dict(os.environ, EDITOR=f"cp {cover}")
    subprocess.run([str(b4), "prep", "-e", start], cwd=wt, check=True, capture_output=True,
                   env=env, timeout=120)
    subprocess.run([str(b4), "prep", "--edit-cover"], cwd=wt, check=True, capture_output=True,
                   env=env, timeout=120)
    info = subprocess.run([str(b4), "prep", "--show-info"], cwd=wt, check=True,
                          capture_output=True, text=True, env=env, timeout=120).stdout
    assert f"cover-subject: {SUBJECT}" in info
    assert f"base-commit: {git(proposed.tree, 'rev-parse', proposed.base).strip()}" in info
    rng = re.search(r"^series-range: (\S+)", info, flags=re.M)
    assert rng is not None
    # b4 tracks the fix alone (its cover letter commit aside), not the series under it
    assert git(wt, "log", "--format=%s", rng.group(1)).splitlines() == [SUBJECT]


# -- the gates, each shown failing ------------------------------------------------------

def rk_only(tmp: Path) -> Path:
    """A saved variant that differs from 6.12 only in rk_iommu_probe: one fix patch on
    the plain tree, so the gates are tested without making a base first."""
    vals = {n: (s.next if s.patch in ("1/4", "3/4") else s.v614) for n, s in SITES.items()}
    vals["arm_smmu_device_probe.drvdata"] = vals["arm_smmu_device_probe.smr_masks"] = \
        "after_register"
    vals["rk_iommu_probe.dma_dev"] = "before_register"
    f = tmp / "rk-only.json"
    f.write_text(json.dumps(variant_to_json(make_variant("rk-only", "rk order", vals))))
    return f


def test_checkpatch_error_fails_the_run(kernel_tree: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A sign-off checkpatch rejects (no valid address): errors counted, reported, exit 1."""
    monkeypatch.setenv("PROBEFUZZ_WORKTREES", str(tmp_path / "wt"))
    tree = shared_clone(kernel_tree, tmp_path / "linux", "Test Dev", "test.dev-no-address")
    out = tmp_path / "out"
    r = cli("propose", "--variant", str(rk_only(tmp_path)), "--tree", str(tree), "--out",
            str(out), "--signoff")
    assert r.returncode == 1, r.stderr
    [patch] = sorted(out.glob("*.patch"))
    assert f"  {patch}" in r.stdout.splitlines()
    # the count is checkpatch's own, on the very file propose wrote
    cp = subprocess.run(["perl", "scripts/checkpatch.pl", "--strict", "--show-types",
                         str(patch)], cwd=tree, capture_output=True, text=True).stdout
    errors = re.findall(r"^ERROR:(\w+):", cp, flags=re.M)
    assert "BAD_SIGN_OFF" in errors
    # the report: the issue, the count, the verdict; git am was fine (exit 1 is
    # checkpatch's doing alone)
    assert "        ERROR:BAD_SIGN_OFF: Unrecognized email address: 'Test Dev " \
        "<test.dev-no-address>'" in r.stdout.splitlines()
    assert f"checkpatch --strict: {len(errors)} error(s), 0 warning(s), 0 check(s)" \
        in r.stdout.splitlines()
    assert f"checkpatch found {len(errors)} error(s): fix them before sending." in r.stdout
    assert "git am onto the base: applies cleanly, same tree" in r.stdout


def test_git_am_failure_fails_the_run(kernel_tree: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository's applypatch-msg hook refuses the patch: git am fails, exit 1."""
    monkeypatch.setenv("PROBEFUZZ_WORKTREES", str(tmp_path / "wt"))
    tree = shared_clone(kernel_tree, tmp_path / "linux")
    seen = tmp_path / "hook-saw"
    hook = tree / ".git" / "hooks" / "applypatch-msg"
    hook.write_text(f"#!/bin/sh\ncat \"$1\" >> {seen}\nexit 1\n")
    hook.chmod(0o755)
    out = tmp_path / "out"
    r = cli("propose", "--variant", str(rk_only(tmp_path)), "--tree", str(tree), "--out",
            str(out), "--signoff")
    assert r.returncode == 1, r.stderr
    assert "git am onto the base: FAILED" in r.stdout
    assert "checkpatch --strict: 0 error(s), 0 warning(s), 0 check(s)" in r.stdout
    # git am really ran on the patch propose wrote
    [patch] = sorted(out.glob("*.patch"))
    assert seen.read_text().splitlines()[0] == \
        field(headers(patch), "Subject").removeprefix("[PATCH] ")
    # the scratch worktree and branch of the check are gone
    assert "am-check" not in git(tree, "branch", "--list")
    assert git(tree, "worktree", "list").count("am-check") == 0


def test_base_without_the_series_names_the_prerequisites(kernel_tree: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         ) -> None:
    """6.12 lacks patches 2/4 and 4/4: say which, exit 2, leave nothing behind."""
    monkeypatch.setenv("PROBEFUZZ_WORKTREES", str(tmp_path / "wt"))
    tree = shared_clone(kernel_tree, tmp_path / "linux")
    before = state(tree)
    out = tmp_path / "out"
    r = cli("propose", "--variant", VID, "--tree", str(tree), "--out", str(out), "--signoff")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert 'patch 2/4 ("iommu: Resolve ops in iommu_init_device()")' in r.stderr
    assert 'patch 4/4 ("iommu: Get DT/ACPI parsing into the proper probe path")' in r.stderr
    assert "--prerequisites-mbox" in r.stderr and "Traceback" not in r.stderr
    assert state(tree) == before
    assert not list(out.glob("*"))


def test_cleanup_knows_the_propose_branch_as_probefuzz_s(proposed: Proposed) -> None:
    """``probefuzz cleanup --all`` removes it (by its tip's message), not refuses it."""
    from mutators.cleanup import _ours
    from mutators.gitrepo import open_tree

    branch = proposed.line("branch:").split()[1]
    assert _ours(open_tree(proposed.tree), branch) is None
