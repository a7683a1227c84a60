"""Prepare, once, the real kernel tree that probefuzz reads and patches.

The tree is Debian's ``linux-source-6.12`` tarball extracted into a cache
directory and turned into a git repository with a single commit, so that

* corpus builders read real device trees and C from a known version,
* mutators can apply Coccinelle patches and get clean ``git diff`` output,
* tests can assert the tree is the one the model describes
  (:func:`semantic_markers` checks facts in the C, not version numbers).

Preparing takes about a minute (extract ~90k files, ``git add``, commit); after
that :func:`prepare` returns in milliseconds.  The shared cached tree should stay
pristine: to modify sources, use a ``git worktree`` or a copy.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from corpus import hosttools
from corpus.hosttools import ToolError

__all__ = [
    "DEBIAN_PACKAGE",
    "GIT_EMAIL",
    "GIT_NAME",
    "MARKER",
    "MARKER_DESCRIPTIONS",
    "default_tree_path",
    "find_kernel_root",
    "find_tarball",
    "is_kernel_tree",
    "is_prepared",
    "kernel_version",
    "prepare",
    "read_marker",
    "semantic_markers",
]

#: The Debian package whose tarball we model.
DEBIAN_PACKAGE = "linux-source-6.12"
#: Marker written inside ``.git`` once the tree is completely prepared.
MARKER = "probefuzz-prepared"
GIT_NAME = "probefuzz"
GIT_EMAIL = "probefuzz@localhost"

_SRC_DIR = Path("/usr/src")
_TAR_TIMEOUT = 1800.0  # ~20 s here; generous for slow CI disks
_GIT_TIMEOUT = 1800.0  # git add of ~90k files: ~25 s here

# Run git without the user's/system config (hooks, gpg signing, templates, a
# global excludes file) so preparing is reproducible; the repo's own config
# (user.name/email, set below) still applies to later commits.
_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}

Log = Callable[[str], None]


def _no_log(_msg: str) -> None:
    pass


# --------------------------------------------------------------------------- locating


def default_tree_path() -> Path:
    """Where the prepared tree lives: ``$PROBEFUZZ_KERNEL_TREE``, else
    ``$XDG_CACHE_HOME/probefuzz/linux-source-6.12`` (``~/.cache`` by default)."""
    env = os.environ.get("PROBEFUZZ_KERNEL_TREE")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or ""
    # XDG says relative values are invalid and must be ignored.
    base = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"
    return base / "probefuzz" / DEBIAN_PACKAGE


def _tarball_version(path: Path) -> tuple[int, ...]:
    m = re.fullmatch(r"linux-source-(\d+(?:\.\d+)*)\.tar\.xz", path.name)
    return tuple(int(x) for x in m.group(1).split(".")) if m else ()


def find_tarball(src_dir: Path = _SRC_DIR) -> Path:
    """Return Debian's kernel source tarball, ``/usr/src/linux-source-6.12.tar.xz``.

    The model describes 6.12, so that exact version is preferred; failing that,
    the newest ``linux-source-6.*.tar.xz`` (its C is then checked by
    :func:`semantic_markers`).  Raises :class:`ToolError` naming the package.
    """
    exact = src_dir / f"{DEBIAN_PACKAGE}.tar.xz"
    if exact.is_file():
        return exact
    found = [p for p in src_dir.glob("linux-source-6.*.tar.xz") if _tarball_version(p)]
    if not found:
        raise ToolError(
            f"no kernel source tarball in {src_dir}: install Debian package "
            f"'{DEBIAN_PACKAGE}' (make deps)"
        )
    return max(found, key=_tarball_version)


def is_kernel_tree(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` looks like the top of a Linux source tree."""
    p = Path(path)
    return (
        (p / "Makefile").is_file()
        and (p / "scripts").is_dir()
        and (p / "arch").is_dir()
        and (p / "drivers" / "iommu").is_dir()
    )


def find_kernel_root(path: str | os.PathLike[str]) -> Path | None:
    """Walk up from a file or directory to the kernel tree containing it, if any."""
    p = Path(path).expanduser().absolute()
    start = p if p.is_dir() else p.parent
    for cand in (start, *start.parents):
        if is_kernel_tree(cand):
            return cand
    return None


def kernel_version(tree: str | os.PathLike[str]) -> str:
    """``VERSION.PATCHLEVEL.SUBLEVEL[EXTRAVERSION]`` from the tree's top Makefile."""
    text = (Path(tree) / "Makefile").read_text(errors="replace")
    fields: dict[str, str] = {}
    for key in ("VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION"):
        m = re.search(rf"^{key}\s*=[ \t]*(\S*)[ \t]*$", text, re.M)
        fields[key] = m.group(1) if m else ""
    if not fields["VERSION"]:
        raise ToolError(f"{tree}/Makefile has no VERSION line: not a kernel tree")
    ver = ".".join(f for f in (fields["VERSION"], fields["PATCHLEVEL"], fields["SUBLEVEL"]) if f)
    return ver + fields["EXTRAVERSION"]


# --------------------------------------------------------------------------- marker


def read_marker(tree: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The prepared-tree marker (tarball identity, version, commit), or None."""
    try:
        data = json.loads((Path(tree) / ".git" / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_prepared(tree: str | os.PathLike[str]) -> bool:
    """True if ``tree`` was completely prepared by :func:`prepare`."""
    return read_marker(tree) is not None and is_kernel_tree(tree)


def _tarball_identity(tarball: Path) -> dict[str, Any]:
    st = tarball.stat()
    return {"tarball": tarball.name, "size": st.st_size, "mtime": int(st.st_mtime)}


def _matches(marker: dict[str, Any], ident: dict[str, Any]) -> bool:
    return all(marker.get(k) == v for k, v in ident.items())


# --------------------------------------------------------------------------- prepare


@contextmanager
def _locked(dest: Path) -> Iterator[None]:
    """Serialise preparers of the same dest (e.g. pytest-xdist workers)."""
    lock = dest.parent / f".{dest.name}.lock"
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_stale(dest: Path) -> None:
    """Delete temp/old dirs an earlier prepare left behind when it was SIGKILLed.

    Called with the lock held, so nobody else is using them.
    """
    for pattern in (f".{dest.name}.tmp-*", f".{dest.name}.old-*"):
        for p in dest.parent.glob(pattern):
            shutil.rmtree(p, ignore_errors=True)


def _git(tree: Path, *args: str, timeout: float = 120.0) -> str:
    r = hosttools.run(["git", *args], cwd=tree, timeout=timeout, env=_GIT_ENV, subject=str(tree))
    return r.stdout.decode("utf-8", "replace").strip()


# Patterns that, at top level, ignore every top-level entry and so the whole tree.
_IGNORE_ALL = {"/*", "*", "/**", "**", "/*/", "*/"}


def drop_ignore_everything(gitignore_text: str) -> str:
    """Remove the block Debian appends to the top-level ``.gitignore``.

    Debian's tarball ends with::

        #
        # Debian packaging: ignore everything at the top level, since it isn't
        # included in our repository
        #
        /*
        !/debian/

    which makes git ignore any *new* file in the tree (so ``git status`` would not
    show files a mutator creates).  We drop every ignore-everything rule, the
    ``!/...`` re-includes directly after it, and the comment block directly above
    it when that comment is Debian's; upstream rules are kept.
    """
    lines = gitignore_text.splitlines(keepends=True)
    drop: set[int] = set()
    for i, line in enumerate(lines):
        if line.strip() not in _IGNORE_ALL:
            continue
        drop.add(i)
        j = i + 1
        while j < len(lines) and lines[j].strip().startswith("!/"):
            drop.add(j)
            j += 1
        k = i - 1
        while k >= 0 and lines[k].lstrip().startswith("#"):
            k -= 1
        comment = range(k + 1, i)
        if any(re.search(r"debian|everything", lines[n], re.I) for n in comment):
            drop.update(comment)
            if k >= 0 and not lines[k].strip():
                drop.add(k)  # the blank separator line before the block
    return "".join(ln for n, ln in enumerate(lines) if n not in drop)


def _check_not_ignored(tree: Path) -> None:
    """New files anywhere in the tree must show up in ``git status``."""
    probes = [
        "probefuzz-probe.c",
        "drivers/iommu/probefuzz-probe.c",
        "arch/arm64/boot/dts/rockchip/probefuzz-probe.dts",
    ]
    r = hosttools.run(
        ["git", "check-ignore", "--no-index", "-v", *probes],
        cwd=tree,
        timeout=60,
        env=_GIT_ENV,
        check=False,
    )
    if r.returncode == 0:  # 0 = something is ignored
        rule = r.stdout.decode("utf-8", "replace").splitlines()[0]
        raise ToolError(f"new files would be ignored in {tree} (rule {rule!r}); cannot prepare")


def _build(tmp: Path, tarball: Path, log: Log) -> dict[str, Any]:
    """Extract ``tarball`` into the empty dir ``tmp`` and commit it; return the marker."""
    ident = _tarball_identity(tarball)
    t0 = time.monotonic()
    log(f"extracting {tarball} ...")
    argv = ["tar", "-xf", str(tarball), "-C", str(tmp), "--strip-components=1", "--no-same-owner"]
    if tarball.name.endswith((".xz", ".txz")):
        # Debian's tarball is multi-block: xz -T0 decompresses on every core.
        hosttools.which("xz")  # clear "install xz-utils" error instead of tar's
        argv.insert(1, "--use-compress-program=xz -T0")
    hosttools.run(argv, timeout=_TAR_TIMEOUT, subject=str(tarball))
    if not is_kernel_tree(tmp):
        raise ToolError(f"{tarball} does not contain a kernel tree under one top directory")
    version = kernel_version(tmp)
    t1 = time.monotonic()

    gi = tmp / ".gitignore"
    if gi.is_file():
        old = gi.read_text(errors="surrogateescape")
        new = drop_ignore_everything(old)
        if new != old:
            gi.write_text(new, errors="surrogateescape")

    log(f"committing {version} to git (about half a minute) ...")
    _git(tmp, "init", "-q", "-b", "main")
    # Commits made later in this tree (mutators) need an identity; gc.auto=0
    # stops every later commit from starting a background repack of ~90k
    # loose objects; manyFiles = index v4 + untracked cache, for fast status.
    for key, value in (
        ("user.name", GIT_NAME),
        ("user.email", GIT_EMAIL),
        ("gc.auto", "0"),
        ("feature.manyFiles", "true"),
        ("core.autocrlf", "false"),
    ):
        _git(tmp, "config", key, value)
    _check_not_ignored(tmp)
    # -f: the kernel tracks files its own .gitignore rules match (.clang-format,
    # every .gitignore, ...); -A: everything.  Loose objects at zlib level 1
    # are the fastest way to write ~1.5 GB of blobs.
    _git(tmp, "-c", "core.looseCompression=1", "add", "-f", "-A", timeout=_GIT_TIMEOUT)
    # Fixed identity and dates: the same tarball always gives the same commit id.
    date = f"@{ident['mtime']} +0000"
    hosttools.run(
        [
            "git",
            "commit",
            "-q",
            "--no-verify",
            "--no-gpg-sign",
            "-m",
            f"Debian {DEBIAN_PACKAGE} {version}",
        ],
        cwd=tmp,
        timeout=_GIT_TIMEOUT,
        env={
            **_GIT_ENV,
            "GIT_AUTHOR_NAME": GIT_NAME,
            "GIT_AUTHOR_EMAIL": GIT_EMAIL,
            "GIT_COMMITTER_NAME": GIT_NAME,
            "GIT_COMMITTER_EMAIL": GIT_EMAIL,
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
        },
        subject=str(tarball),
    )
    leftover = _git(tmp, "status", "--porcelain", "--ignored", "--untracked-files=all")
    if leftover:
        first = leftover.splitlines()[0]
        raise ToolError(f"prepared tree is not clean after commit (first entry: {first!r})")
    commit = _git(tmp, "rev-parse", "HEAD")
    t2 = time.monotonic()
    log(f"extracted in {t1 - t0:.0f} s, committed in {t2 - t1:.0f} s")
    return {
        **ident,
        "package": DEBIAN_PACKAGE,
        "version": version,
        "commit": commit,
        "seconds": round(t2 - t0, 1),
    }


def prepare(
    dest: str | os.PathLike[str] | None = None,
    tarball: str | os.PathLike[str] | None = None,
    *,
    log: Log | None = None,
) -> Path:
    """Make ``dest`` (default :func:`default_tree_path`) a prepared kernel tree; return it.

    * Already prepared from this tarball (or the tarball is not around to compare
      with): return at once.
    * Otherwise extract ``tarball`` (default :func:`find_tarball`) into a temp dir
      beside ``dest``, drop Debian's ignore-everything ``.gitignore`` block,
      ``git init`` + add everything + one commit by ``probefuzz <probefuzz@localhost>``,
      write the marker ``.git/probefuzz-prepared``, then rename into place.  A
      failure or Ctrl-C leaves nothing half-made; a tree prepared from an older
      tarball is replaced only once the new one is complete.
    * ``dest`` existing but not a prepared tree (and not empty) is refused, never
      deleted.

    ``log`` receives progress lines (the cold path takes about a minute).
    """
    say = log or _no_log
    dest_p = Path(dest).expanduser() if dest is not None else default_tree_path()
    dest_p = dest_p.absolute()
    tar_p = Path(tarball).expanduser().absolute() if tarball is not None else None

    def up_to_date() -> bool:
        marker = read_marker(dest_p)
        if marker is None or not is_kernel_tree(dest_p):
            return False
        if tar_p is not None:
            return _matches(marker, _tarball_identity(tar_p))
        try:
            return _matches(marker, _tarball_identity(find_tarball()))
        except (ToolError, OSError):
            return True  # no tarball to compare with: the tree we have is what there is

    if tar_p is not None and not tar_p.is_file():
        raise ToolError(f"tarball {tar_p} not found")
    if up_to_date():  # fast path, no lock needed
        return dest_p

    dest_p.parent.mkdir(parents=True, exist_ok=True)
    with _locked(dest_p):
        if up_to_date():  # another process finished it while we waited
            return dest_p
        _remove_stale(dest_p)
        replacing = read_marker(dest_p) is not None
        if dest_p.exists() and not replacing and (not dest_p.is_dir() or any(dest_p.iterdir())):
            raise ToolError(
                f"{dest_p} exists and is not a prepared kernel tree; "
                "remove it or choose another destination"
            )
        src = tar_p or find_tarball()
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest_p.name}.tmp-", dir=dest_p.parent))
        try:
            tmp.chmod(0o755)  # mkdtemp makes it 0700; the tree is meant to be shared
            marker = _build(tmp, src, say)
            (tmp / ".git" / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
            if replacing:
                old = Path(tempfile.mkdtemp(prefix=f".{dest_p.name}.old-", dir=dest_p.parent))
                os.rename(dest_p, old / "tree")
                try:
                    os.rename(tmp, dest_p)
                except BaseException:
                    os.rename(old / "tree", dest_p)  # put the previous tree back
                    raise
                shutil.rmtree(old, ignore_errors=True)
            else:
                if dest_p.is_dir():
                    dest_p.rmdir()  # empty placeholder
                os.rename(tmp, dest_p)
        except BaseException:
            # Includes KeyboardInterrupt: never leave a half-made tree behind.
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    say(f"prepared {dest_p}")
    return dest_p


# --------------------------------------------------------------------------- semantics

#: What each key of :func:`semantic_markers` asserts about the C in the tree.
MARKER_DESCRIPTIONS: dict[str, str] = {
    "rk_dma_dev_set_after_register": "rk_iommu_probe assigns dma_dev after iommu_device_register",
    "rk_of_xlate_devm_on_dma_dev": "rk_iommu_of_xlate allocates with devm_kzalloc(dma_dev, ...)",
    "iommu_init_device_takes_ops": (
        "iommu_init_device(struct device *dev, const struct iommu_ops *ops)"
    ),
    "iommu_init_device_no_dma_configure": (
        "iommu_init_device does not call bus->dma_configure (pre-bcb81ac6ae3c)"
    ),
    "of_iommu_configure_replays_probe": "of_iommu_configure replays iommu_probe_device(dev)",
    "platform_dma_configure_no_driver_guard": (
        "platform_dma_configure does not test dev->driver (pre-bcb81ac6ae3c)"
    ),
}


def _strip_comments(c: str) -> str:
    """Drop C comments so a function named in a comment does not count as a call."""
    c = re.sub(r"/\*.*?\*/", " ", c, flags=re.S)
    return re.sub(r"//[^\n]*", " ", c)


def _function(c: str, name: str) -> tuple[str, str] | None:
    """(parameter list, body) of the C function *definition* ``name``, or None.

    Relies on kernel style: the definition starts at column 0 and its closing
    brace is the first ``}`` at column 0 after it.
    """
    m = re.search(rf"^[A-Za-z_][\w \t*]*\b{re.escape(name)}\s*\(([^;{{}}]*)\)\s*\{{", c, re.M)
    if m is None:
        return None
    end = c.find("\n}", m.end())
    return " ".join(m.group(1).split()), c[m.end() : end if end >= 0 else len(c)]


def _read_c(tree: Path, rel: str) -> str:
    try:
        return _strip_comments((tree / rel).read_text(errors="replace"))
    except OSError:
        return ""


def semantic_markers(tree: str | os.PathLike[str]) -> dict[str, bool]:
    """Check, by reading the C, the facts about the tree that the model relies on.

    Keys are described in :data:`MARKER_DESCRIPTIONS`; every value is True for
    Debian's 6.12 (the "before" state of the series the model reconstructs).
    A missing file or function makes the marker False, never an exception.
    """
    t = Path(tree)
    rk = _read_c(t, "drivers/iommu/rockchip-iommu.c")
    core = _read_c(t, "drivers/iommu/iommu.c")
    ofi = _read_c(t, "drivers/iommu/of_iommu.c")
    plat = _read_c(t, "drivers/base/platform.c")
    out = dict.fromkeys(MARKER_DESCRIPTIONS, False)

    if (fn := _function(rk, "rk_iommu_probe")) is not None:
        body = fn[1]
        reg = re.search(r"\biommu_device_register\s*\(", body)
        assign = re.search(r"(?<![\w.>])dma_dev\s*=(?!=)", body)
        out["rk_dma_dev_set_after_register"] = bool(reg and assign and reg.start() < assign.start())
    if (fn := _function(rk, "rk_iommu_of_xlate")) is not None:
        out["rk_of_xlate_devm_on_dma_dev"] = bool(
            re.search(r"\bdevm_kzalloc\s*\(\s*dma_dev\s*,", fn[1])
        )
    if (fn := _function(core, "iommu_init_device")) is not None:
        params, body = fn
        out["iommu_init_device_takes_ops"] = bool(
            re.fullmatch(r"struct device \*\s*dev\s*,\s*const struct iommu_ops \*\s*ops", params)
        )
        out["iommu_init_device_no_dma_configure"] = "dma_configure" not in body
    if (fn := _function(ofi, "of_iommu_configure")) is not None:
        out["of_iommu_configure_replays_probe"] = bool(
            re.search(r"\biommu_probe_device\s*\(\s*dev\s*\)", fn[1])
        )
    if (fn := _function(plat, "platform_dma_configure")) is not None:
        # 4/4 adds "|| !dev->driver" (NEXT) / "dev->driver &&" (other buses);
        # the unconditional to_platform_driver(dev->driver) is no guard.
        out["platform_dma_configure_no_driver_guard"] = not re.search(
            r"!\s*dev\s*->\s*driver\b|\bdev\s*->\s*driver\s*&&", fn[1]
        )
    return out
