"""corpus.kernel_tree and the `probefuzz kernel-tree` verb.

Preparing the real tree takes about a minute, so the real tree is only used
through the session fixture ``kernel_tree`` (tests marked ``kernel_tree``);
extraction, the .gitignore fix-up and atomicity are tested on a small
synthetic tarball shaped like Debian's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from corpus import hosttools
from corpus import kernel_tree as kt
from corpus.hosttools import ToolError
from fuzz.cli import UsageError
from fuzz.commands import kernel_tree as verb

# ---------------------------------------------------------------- synthetic tarball

# The tail of Debian's top-level .gitignore, verbatim, after a few upstream rules.
DEBIAN_GITIGNORE = """\
# SPDX-License-Identifier: GPL-2.0-only
#
# Normal rules (sorted alphabetically)
#
.*
*.o
*.patch
/vmlinux

# quilt's files
patches
series

# ctags files
tags

# Rust analyzer configuration
/rust-project.json

#
# Debian packaging: ignore everything at the top level, since it isn't
# included in our repository
#
/*
!/debian/
"""

RK_BEFORE = """\
static struct device *dma_dev;

static int rk_iommu_of_xlate(struct device *dev,
\t\t\t     const struct of_phandle_args *args)
{
\tdata = devm_kzalloc(dma_dev, sizeof(*data), GFP_KERNEL);
\treturn 0;
}

static int rk_iommu_probe(struct platform_device *pdev)
{
\t/* dma_dev = &pdev->dev; in a comment does not count */
\terr = iommu_device_register(&iommu->iommu, &rk_iommu_ops, dev);
\tif (err)
\t\tgoto err_remove_sysfs;
\tif (!dma_dev)
\t\tdma_dev = &pdev->dev;
\treturn 0;
}
"""

# A fix variant: publish dma_dev before registering.
RK_FIXED = RK_BEFORE.replace(
    "\terr = iommu_device_register(&iommu->iommu, &rk_iommu_ops, dev);\n",
    "",
).replace(
    "\t\tdma_dev = &pdev->dev;\n",
    "\t\tdma_dev = &pdev->dev;\n"
    "\terr = iommu_device_register(&iommu->iommu, &rk_iommu_ops, dev);\n",
)

IOMMU_BEFORE = """\
static int iommu_init_device(struct device *dev, const struct iommu_ops *ops)
{
\tif (!dev_iommu_get(dev))
\t\treturn -ENOMEM;
\treturn 0;
}
"""

IOMMU_NEXT = """\
static int iommu_init_device(struct device *dev)
{
\tif (!dev->driver && dev->bus->dma_configure) {
\t\tdev->bus->dma_configure(dev);
\t}
\treturn 0;
}
"""

OF_IOMMU_BEFORE = """\
int of_iommu_configure(struct device *dev, struct device_node *master_np,
\t\t       const u32 *id)
{
\tif (!err && dev->bus)
\t\terr = iommu_probe_device(dev);
\treturn err;
}
"""

PLATFORM_BEFORE = """\
static int platform_dma_configure(struct device *dev)
{
\tstruct platform_driver *drv = to_platform_driver(dev->driver);
\tif (ret || drv->driver_managed_dma)
\t\treturn ret;
\treturn 0;
}
"""

PLATFORM_NEXT = PLATFORM_BEFORE.replace(
    "if (ret || drv->driver_managed_dma)", "if (ret || !dev->driver || drv->driver_managed_dma)"
)


def synthetic_files(sublevel: int = 99) -> dict[str, str]:
    """A tiny tree that passes is_kernel_tree and looks like Debian's 6.12 tarball."""
    return {
        "Makefile": f"VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = {sublevel}\nEXTRAVERSION =\n",
        ".gitignore": DEBIAN_GITIGNORE,
        ".clang-format": "# tracked although '.*' ignores it\n",
        "COPYING": "GPL-2.0\n",
        "scripts/checkpatch.pl": "#!/usr/bin/perl\n",
        "scripts/.gitignore": "/genksyms\n",
        "arch/arm64/boot/dts/rockchip/rk3568-odroid-m1.dts": "/dts-v1/;\n/ { };\n",
        "drivers/iommu/rockchip-iommu.c": RK_BEFORE,
        "drivers/iommu/iommu.c": IOMMU_BEFORE,
        "drivers/iommu/of_iommu.c": OF_IOMMU_BEFORE,
        "drivers/base/platform.c": PLATFORM_BEFORE,
        "tools/perf/tags": "matches the 'tags' rule but is a source file\n",
        "Documentation/fix.patch": "matches '*.patch'\n",
    }


MTIME = 1_700_000_000


def make_tarball(
    path: Path,
    files: dict[str, str],
    *,
    top: str = "linux-source-6.12",
    mtime: int = MTIME,
) -> Path:
    """Write ``files`` under ``top/`` into a .tar.xz at ``path`` (fixed mtimes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:xz") as tar:
        dirs = {top}
        for rel in files:
            parts = rel.split("/")[:-1]
            dirs.update(f"{top}/" + "/".join(parts[: i + 1]) for i in range(len(parts)))
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            tar.addfile(info)
        for rel, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            tar.addfile(info, io.BytesIO(data))
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def tarball(tmp_path: Path) -> Path:
    return make_tarball(tmp_path / "src" / "linux-source-6.12.tar.xz", synthetic_files())


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "probefuzz" / "linux-source-6.12"


def git(tree: Path, *args: str) -> str:
    return hosttools.run(["git", *args], cwd=tree, timeout=60).stdout.decode().strip()


def files_on_disk(tree: Path) -> set[str]:
    out: set[str] = set()
    for root, dirs, names in os.walk(tree):
        dirs[:] = [d for d in dirs if not (root == str(tree) and d == ".git")]
        out.update(os.path.relpath(os.path.join(root, n), tree) for n in names)
    return out


def leftovers(dest: Path) -> list[str]:
    """Entries beside dest other than dest itself and the lock file."""
    if not dest.parent.exists():
        return []
    return sorted(
        p.name for p in dest.parent.iterdir() if p.name not in {dest.name, f".{dest.name}.lock"}
    )


# ---------------------------------------------------------------- .gitignore handling


def test_drop_ignore_everything_on_debian_text() -> None:
    out = kt.drop_ignore_everything(DEBIAN_GITIGNORE)
    lines = out.splitlines()
    assert "/*" not in lines and "!/debian/" not in lines
    assert "Debian" not in out
    # upstream rules survive, and the file ends as upstream's does
    assert {".*", "*.o", "tags", "patches", "/vmlinux"} <= set(lines)
    assert out.endswith("/rust-project.json\n")


def test_drop_ignore_everything_keeps_upstream_file_unchanged() -> None:
    upstream = DEBIAN_GITIGNORE.split("\n#\n# Debian packaging")[0] + "\n"
    assert kt.drop_ignore_everything(upstream) == upstream


def test_drop_ignore_everything_without_debian_comment() -> None:
    text = "*.o\n# keep this comment\n/*\n!/debian/\n!/keep/\nlater\n"
    assert kt.drop_ignore_everything(text) == "*.o\n# keep this comment\nlater\n"


# ---------------------------------------------------------------- prepare (synthetic)


def test_prepare_synthetic_tree(tarball: Path, dest: Path) -> None:
    tree = kt.prepare(dest, tarball)
    assert tree == dest.absolute()
    assert kt.is_prepared(tree) and kt.is_kernel_tree(tree)
    assert oct(tree.stat().st_mode & 0o777) == "0o755"

    # clean, one commit, every file tracked (including ones .gitignore matches)
    assert git(tree, "status", "--porcelain", "--ignored", "--untracked-files=all") == ""
    assert git(tree, "rev-list", "--count", "HEAD") == "1"
    assert set(git(tree, "ls-files").splitlines()) == files_on_disk(tree)
    assert {"tools/perf/tags", ".clang-format", "Documentation/fix.patch"} <= files_on_disk(tree)

    # fixed identity, message, and an identity configured for later commits
    assert git(tree, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s") == (
        "probefuzz <probefuzz@localhost>|probefuzz <probefuzz@localhost>|"
        "Debian linux-source-6.12 6.12.99"
    )
    assert git(tree, "config", "user.name") == "probefuzz"
    assert git(tree, "config", "user.email") == "probefuzz@localhost"

    # Debian's block is gone from the committed .gitignore: new files show up
    gi = (tree / ".gitignore").read_text()
    assert "/*\n" not in gi and ".*\n" in gi
    new = tree / "drivers" / "iommu" / "probefuzz-new.c"
    new.write_text("int x;\n")
    try:
        assert git(tree, "status", "--porcelain") == "?? drivers/iommu/probefuzz-new.c"
    finally:
        new.unlink()

    marker = kt.read_marker(tree)
    assert marker is not None
    assert marker["tarball"] == "linux-source-6.12.tar.xz"
    assert marker["size"] == tarball.stat().st_size
    assert marker["mtime"] == MTIME
    assert marker["version"] == "6.12.99"
    assert marker["commit"] == git(tree, "rev-parse", "HEAD")
    assert leftovers(dest) == []


def test_prepare_again_is_fast_and_deterministic(tarball: Path, dest: Path, tmp_path: Path) -> None:
    first = kt.prepare(dest, tarball)
    commit = git(first, "rev-parse", "HEAD")
    t0 = time.monotonic()
    assert kt.prepare(dest, tarball) == first
    assert time.monotonic() - t0 < 0.5
    assert git(first, "rev-parse", "HEAD") == commit
    # Same tarball elsewhere -> the same commit id (fixed identity and dates).
    other = kt.prepare(tmp_path / "other" / "tree", tarball)
    assert git(other, "rev-parse", "HEAD") == commit


def _fail_on(monkeypatch: pytest.MonkeyPatch, word: str, exc: BaseException) -> Callable[..., Any]:
    real = hosttools.run

    def run(argv: list[str], **kw: Any) -> Any:
        if word in argv:
            raise exc
        return real(argv, **kw)

    monkeypatch.setattr(kt.hosttools, "run", run)
    return run


@pytest.mark.parametrize(
    ("word", "exc"),
    [
        ("commit", ToolError("git failed (exit 128): simulated")),
        ("add", KeyboardInterrupt()),
        ("-xf", ToolError("tar timed out after 1800 s")),
    ],
    ids=["git-commit-fails", "ctrl-c-during-add", "tar-times-out"],
)
def test_failure_midway_leaves_nothing(
    tarball: Path,
    dest: Path,
    monkeypatch: pytest.MonkeyPatch,
    word: str,
    exc: BaseException,
) -> None:
    _fail_on(monkeypatch, word, exc)
    with pytest.raises(type(exc)):
        kt.prepare(dest, tarball)
    assert not dest.exists()
    assert leftovers(dest) == []
    # and a later run succeeds
    monkeypatch.undo()
    assert kt.is_prepared(kt.prepare(dest, tarball))


def test_corrupt_tarball_leaves_nothing(tarball: Path, dest: Path) -> None:
    data = tarball.read_bytes()
    tarball.write_bytes(data[: len(data) // 2])
    with pytest.raises(ToolError, match=r"^tar failed on .*linux-source-6.12.tar.xz"):
        kt.prepare(dest, tarball)
    assert not dest.exists()
    assert leftovers(dest) == []


def test_tarball_without_kernel_tree(tmp_path: Path, dest: Path) -> None:
    bad = make_tarball(tmp_path / "linux-source-6.12.tar.xz", {"README": "hi\n"})
    with pytest.raises(ToolError, match="does not contain a kernel tree"):
        kt.prepare(dest, bad)
    assert not dest.exists() and leftovers(dest) == []


def test_stale_temp_dirs_are_removed(tarball: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True)
    stale = dest.parent / f".{dest.name}.tmp-dead"
    (stale / "drivers").mkdir(parents=True)
    kt.prepare(dest, tarball)
    assert not stale.exists()


def test_refuses_to_overwrite_foreign_directory(tarball: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    (dest / "mine.txt").write_text("user data")
    with pytest.raises(ToolError, match="exists and is not a prepared kernel tree"):
        kt.prepare(dest, tarball)
    assert (dest / "mine.txt").read_text() == "user data"
    assert leftovers(dest) == []


def test_empty_destination_directory_is_used(tarball: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    assert kt.is_prepared(kt.prepare(dest, tarball))


def test_newer_tarball_replaces_tree(tmp_path: Path, dest: Path) -> None:
    a = make_tarball(tmp_path / "a" / "linux-source-6.12.tar.xz", synthetic_files(99))
    b = make_tarball(
        tmp_path / "b" / "linux-source-6.12.tar.xz", synthetic_files(100), mtime=MTIME + 86400
    )
    kt.prepare(dest, a)
    assert kt.kernel_version(dest) == "6.12.99"
    kt.prepare(dest, b)
    assert kt.kernel_version(dest) == "6.12.100"
    assert git(dest, "log", "-1", "--format=%s") == "Debian linux-source-6.12 6.12.100"
    assert leftovers(dest) == []


def test_concurrent_prepare_builds_once(tarball: Path, dest: Path) -> None:
    results: list[Path] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(kt.prepare(dest, tarball))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [dest.absolute()] * 3
    assert git(dest, "rev-list", "--count", "HEAD") == "1"
    assert leftovers(dest) == []


def test_missing_tarball_argument(dest: Path, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="not found"):
        kt.prepare(dest, tmp_path / "nope.tar.xz")


# ---------------------------------------------------------------- locating


def test_find_tarball_missing_names_package(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="install Debian package 'linux-source-6.12'"):
        kt.find_tarball(tmp_path)


def test_find_tarball_prefers_6_12_then_newest(tmp_path: Path) -> None:
    for v in ("6.1", "6.9", "6.11"):
        (tmp_path / f"linux-source-{v}.tar.xz").write_bytes(b"")
    (tmp_path / "linux-source-6.99-extra.tar.xz").write_bytes(b"")  # not a version
    assert kt.find_tarball(tmp_path).name == "linux-source-6.11.tar.xz"
    (tmp_path / "linux-source-6.13.tar.xz").write_bytes(b"")
    (tmp_path / "linux-source-6.12.tar.xz").write_bytes(b"")
    assert kt.find_tarball(tmp_path).name == "linux-source-6.12.tar.xz"


def test_default_tree_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PROBEFUZZ_KERNEL_TREE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert kt.default_tree_path() == tmp_path / "home/.cache/probefuzz/linux-source-6.12"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    assert kt.default_tree_path() == tmp_path / "home/.cache/probefuzz/linux-source-6.12"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert kt.default_tree_path() == tmp_path / "xdg/probefuzz/linux-source-6.12"
    monkeypatch.setenv("PROBEFUZZ_KERNEL_TREE", str(tmp_path / "explicit"))
    assert kt.default_tree_path() == tmp_path / "explicit"


def test_is_kernel_tree_and_find_root(tarball: Path, dest: Path, tmp_path: Path) -> None:
    tree = kt.prepare(dest, tarball)
    assert kt.is_kernel_tree(tree)
    assert not kt.is_kernel_tree(tree / "drivers")
    assert kt.find_kernel_root(tree / "drivers/iommu/rockchip-iommu.c") == tree
    assert kt.find_kernel_root(tree / "arch/arm64/boot/dts/rockchip") == tree
    assert kt.find_kernel_root(tree) == tree
    assert kt.find_kernel_root(tmp_path / "src") is None


# ---------------------------------------------------------------- semantic markers


def _write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_semantic_markers_on_6_12_shape(tmp_path: Path) -> None:
    markers = kt.semantic_markers(_write_tree(tmp_path, synthetic_files()))
    assert markers == dict.fromkeys(kt.MARKER_DESCRIPTIONS, True)


def test_semantic_markers_detect_other_code(tmp_path: Path) -> None:
    files = synthetic_files()
    files["drivers/iommu/rockchip-iommu.c"] = RK_FIXED
    files["drivers/iommu/iommu.c"] = IOMMU_NEXT
    files["drivers/base/platform.c"] = PLATFORM_NEXT
    markers = kt.semantic_markers(_write_tree(tmp_path, files))
    assert markers == {
        "rk_dma_dev_set_after_register": False,
        "rk_of_xlate_devm_on_dma_dev": True,
        "iommu_init_device_takes_ops": False,
        "iommu_init_device_no_dma_configure": False,
        "of_iommu_configure_replays_probe": True,
        "platform_dma_configure_no_driver_guard": False,
    }


def test_semantic_markers_missing_files_are_false(tmp_path: Path) -> None:
    assert not any(kt.semantic_markers(tmp_path).values())


# ---------------------------------------------------------------- CLI verb
# The verb module is driven directly (not through fuzz.cli.main, which imports
# every verb) so these tests do not depend on the other verbs importing; the
# dispatcher turns UsageError/ToolError into one line on stderr and exit 2.


def run_verb(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="probefuzz kernel-tree")
    verb.add_arguments(parser)
    return verb.run(parser.parse_args(list(argv)))


def test_cli_kernel_tree_json(
    tarball: Path, dest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = run_verb("--dest", str(dest), "--tarball", str(tarball), "--json", "--check")
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["path"] == str(dest.absolute())
    assert out["version"] == "6.12.99"
    assert out["commit"] == git(dest, "rev-parse", "HEAD")
    assert all(out["markers"].values())


def test_cli_kernel_tree_plain_first_line_is_path(
    tarball: Path, dest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_verb("--dest", str(dest), "--tarball", str(tarball)) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == str(dest.absolute())
    assert lines[1].split() == ["version", "6.12.99"]
    assert "extracting" in captured.err  # progress goes to stderr, not stdout


def test_cli_kernel_tree_check_fails_on_other_code(
    tmp_path: Path, dest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = synthetic_files()
    files["drivers/iommu/iommu.c"] = IOMMU_NEXT
    tb = make_tarball(tmp_path / "x" / "linux-source-6.12.tar.xz", files)
    assert run_verb("--dest", str(dest), "--tarball", str(tb), "--check") == 1
    assert "FAIL" in capsys.readouterr().out


def test_cli_missing_tarball_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nope.tar.xz"):
        run_verb("--tarball", str(tmp_path / "nope.tar.xz"))


def test_cli_foreign_dest_is_tool_error(tarball: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    (dest / "x").write_text("")
    with pytest.raises(ToolError, match="not a prepared kernel tree"):
        run_verb("--dest", str(dest), "--tarball", str(tarball))


# ---------------------------------------------------------------- the real tree


@pytest.mark.kernel_tree
def test_real_tree_is_clean_single_commit_repo(kernel_tree: Path) -> None:
    assert kt.is_prepared(kernel_tree)
    assert git(kernel_tree, "status", "--porcelain") == ""
    assert git(kernel_tree, "rev-list", "--count", "HEAD") == "1"
    marker = kt.read_marker(kernel_tree)
    assert marker is not None
    assert git(kernel_tree, "rev-parse", "HEAD") == marker["commit"]
    assert git(kernel_tree, "log", "-1", "--format=%an <%ae> %s").startswith(
        "probefuzz <probefuzz@localhost> Debian linux-source-6.12 6.12."
    )
    for rel in (
        "drivers/iommu/rockchip-iommu.c",
        "arch/arm64/boot/dts/rockchip/rk3568-odroid-m1.dts",
        ".gitignore",
    ):
        git(kernel_tree, "ls-files", "--error-unmatch", rel)  # raises if untracked


@pytest.mark.kernel_tree
def test_real_tree_new_files_are_not_ignored(kernel_tree: Path) -> None:
    r = hosttools.run(
        ["git", "check-ignore", "--no-index", "drivers/iommu/probefuzz-new.c", "new-top.c"],
        cwd=kernel_tree,
        timeout=60,
        check=False,
    )
    assert r.returncode == 1, r.stdout  # 1 = nothing ignored


@pytest.mark.kernel_tree
def test_real_tree_semantic_markers(kernel_tree: Path) -> None:
    markers = kt.semantic_markers(kernel_tree)
    failed = [kt.MARKER_DESCRIPTIONS[k] for k, ok in markers.items() if not ok]
    assert not failed, f"the tree is not the code the model describes: {failed}"
    assert kt.kernel_version(kernel_tree).startswith("6.12.")


@pytest.mark.kernel_tree
def test_real_tree_prepare_again_is_fast(kernel_tree: Path) -> None:
    t0 = time.monotonic()
    assert kt.prepare(kernel_tree) == kernel_tree
    assert time.monotonic() - t0 < 2.0
