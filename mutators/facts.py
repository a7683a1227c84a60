"""A tree profile: the guard sites and driver facts read from a kernel tree.

Every guard site, core and driver, is read back from the tree's C with the
site shapes :mod:`mutators.readback` already uses for the agreement check.
Per modelled IOMMU driver, the profile also records the registration macro
and its initcall level, the Kconfig type and arm64 defconfig value of the
driver's symbol, ``probe_type``, ``driver_managed_dma``, the ``iommu_ops``
callbacks the driver fills in, and the lines of ``iommu_device_register()``
and ``iommu_device_sysfs_add()`` in its probe (the order sites say where each
state publication sits relative to them).

A shape the model cannot represent -- a site whose C matches none (or more
than one) of its alternatives, a registration the model has no level for --
is an :class:`Unmodelled` entry with file and line, never a silent default.

Profiles are cached as JSON under ``~/.cache/probefuzz/facts/`` keyed by the
tree's commit, the hashes of the files read and the site declarations, so a
warm run reads a few dozen files and one JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corpus import hosttools, initcalls
from corpus.initcalls import _match_table_files, file_entry, table
from harness import sites as sites_pkg
from harness.base.initcall import DEVICE
from harness.base.initcall import INITCALL_LEVELS as MODEL_LEVELS
from harness.base.initcall_table import CLIENT_INITCALLS
from harness.iommu.drivers import __path__ as _drivers_path
from harness.iommu.drivers import all_drivers
from harness.sites import SITES, collect
from harness.variant import PRESETS, Variant, _value_from_json, _value_json, make_variant, render_value
from mutators import kconfig, readback
from mutators.readback import ReadbackError, function_bodies, read_value, strip_comments

SCHEMA = 3

#: include/linux/init.h level of each registration form (built in)
INITCALL_LEVELS = {
    "core_initcall": 1, "postcore_initcall": 2, "arch_initcall": 3, "subsys_initcall": 4,
    "fs_initcall": 5, "rootfs_initcall": 5, "device_initcall": 6, "module_init": 6,
    "late_initcall": 7,
}
_REG = re.compile(r"^\s*((?:module|builtin)_\w*driver\w*|(?:core|postcore|arch|subsys|fs|rootfs|"
                  r"device|late)_initcall(?:_sync)?|module_init)\s*\(\s*(\w+)", re.M)
_OPS = re.compile(r"\bstruct\s+iommu_ops\s+(\w+)\s*=\s*\{", re.M)


@dataclass(frozen=True)
class Unmodelled:
    """A shape in the tree the model cannot represent."""

    file: str
    line: int
    what: str
    affects: str

    def __str__(self) -> str:
        return f"unmodelled: {self.file}:{self.line} {self.what} (may affect: {self.affects})"


@dataclass
class SiteFact:
    """One guard site as the tree has it."""

    name: str
    file: str
    line: int
    value: Any  # JSON form (harness.variant._value_json); None = absent
    shown: str
    applicable: bool = True


@dataclass
class DriverFact:
    """The facts of one modelled IOMMU driver that decide probe-path bugs."""

    file: str
    present: bool
    registration: str = ""
    initcall: str = ""
    level: int = 0
    kconfig: str = ""
    kconfig_type: str = ""
    defconfig: str = ""
    probe_type: str = ""
    driver_managed_dma: bool = False
    ops_callbacks: list[str] = field(default_factory=list)
    register_line: int = 0
    sysfs_add_line: int = 0
    publications: dict[str, str] = field(default_factory=dict)
    # the level as the model's boot names it (harness.base.initcall): "core",
    # "subsys_sync", "device" (module_*_driver(), builtin_*_driver(), module_init())
    model_level: str = ""
    # what the generic defconfig of each board architecture makes of the
    # driver's symbol (mutators.kconfig): "y", "m" or "n"; {} when the
    # configuration could not be evaluated (an unmodelled line says so)
    builds: dict[str, str] = field(default_factory=dict)


@dataclass
class TreeProfile:
    """Everything :func:`read_profile` learnt from one tree."""

    tree: str
    commit: str
    key: str
    sites: dict[str, SiteFact]
    drivers: dict[str, DriverFact]
    unmodelled: list[Unmodelled]
    # client drivers that register before device level: match ID -> (level,
    # file), read from every driver file of the tree (corpus.initcalls)
    client_initcalls: dict[str, tuple[str, str]] = field(default_factory=dict)
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("cached")
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TreeProfile:
        return cls(tree=d["tree"], commit=d["commit"], key=d["key"],
                   sites={k: SiteFact(**v) for k, v in d["sites"].items()},
                   drivers={k: DriverFact(**v) for k, v in d["drivers"].items()},
                   unmodelled=[Unmodelled(**u) for u in d["unmodelled"]],
                   client_initcalls={k: (v[0], v[1]) for k, v in d["client_initcalls"].items()})

    def differences(self, preset: Variant) -> list[tuple[str, str, str]]:
        """(site, preset value, tree value) for every readable site that differs."""
        out = []
        for name, f in self.sites.items():
            if not f.applicable or f.shown.startswith("unmodelled"):
                continue
            want = render_value(SITES[name], preset.value(name))
            if want != f.shown:
                out.append((name, want, f.shown))
        return out


class FactsError(ValueError):
    """The directory is not a kernel tree the profile can be read from."""


def driver_files() -> list[str]:
    """The C file of every modelled IOMMU driver (harness/iommu/drivers/*.py ``source=``)."""
    out = set()
    for path in sorted(Path(_drivers_path[0]).glob("*.py")):
        out.update(re.findall(r'source="(drivers/[^"]+\.c)"', path.read_text()))
    return sorted(out)


def _files_read(tree: Path) -> list[str]:
    files = {s.file for s in SITES.values()} | set(driver_files())
    files.update(f for _, f in kconfig.DEFCONFIGS.values())
    for f in list(files):
        if f.endswith(".c"):
            d = Path(f).parent
            files.update(str(d / n) for n in ("Makefile", "Kconfig") if (tree / d / n).is_file())
    files.update(f for f in ("drivers/iommu/Kconfig", "drivers/iommu/Makefile")
                 if (tree / f).is_file())
    return sorted(files)


def _commit(tree: Path) -> str:
    try:
        r = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True,
                           text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return r.stdout.strip() if r.returncode == 0 else ""


def _declarations_hash() -> str:
    """Changes when the code that reads a profile changes: the site
    declarations and shapes, the driver models, the readback, this module
    (stale caches are rebuilt).  Source bytes, not reprs: a site's shape holds
    lambdas, whose reprs differ between processes."""
    h = hashlib.sha256(str(SCHEMA).encode())
    sources = [Path(__file__), Path(readback.__file__ or ""), Path(initcalls.__file__ or ""),
               Path(kconfig.__file__ or ""),
               *sorted(Path(sites_pkg.__path__[0]).rglob("*.py")),
               *sorted(Path(_drivers_path[0]).glob("*.py"))]
    for src in sources:
        h.update(str(src.name).encode())
        h.update(src.read_bytes())
    for name, s in SITES.items():
        h.update(f"{name}|{s.file}|{s.function}".encode())
    return h.hexdigest()[:16]


def _changed_driver_files(tree: Path) -> list[str]:
    """Files below drivers/ that differ from HEAD (``git diff --name-only HEAD``),
    sorted; [] outside git.  Untracked files are not listed (``git add -N``
    them to have them read): listing them walks the whole tree."""
    try:
        r = hosttools.run(["git", "-C", str(tree), "diff", "--name-only", "--no-renames", "HEAD",
                           "--", "drivers"], timeout=120, check=False, subject=str(tree))
    except hosttools.ToolError:
        return []
    return sorted(r.stdout.decode(errors="replace").split()) if r.returncode == 0 else []


def profile_key(tree: Path, commit: str | None = None) -> str:
    """Cache key: tree commit, the driver files that differ from it (and their
    content), and the content of every file the site and driver facts read."""
    commit = _commit(tree) if commit is None else commit
    h = hashlib.sha256(commit.encode())
    h.update(_declarations_hash().encode())
    changed = _changed_driver_files(tree) + kconfig.changed_files(tree) if commit else []
    for f in changed:
        p = tree / f
        h.update(f.encode())
        h.update(hashlib.sha256(p.read_bytes()).digest() if p.is_file() else b"-")
    for f in _files_read(tree):
        p = tree / f
        h.update(f.encode())
        h.update(hashlib.sha256(p.read_bytes()).digest() if p.is_file() else b"-")
    return h.hexdigest()[:24]


def cache_dir() -> Path:
    base = os.environ.get("PROBEFUZZ_CACHE") or str(Path.home() / ".cache" / "probefuzz")
    return Path(base) / "facts"


def _line_of(text: str, pattern: str, start: int = 0) -> int:
    m = re.search(pattern, text[start:], flags=re.M)
    return text.count("\n", 0, start + m.start()) + 1 if m else 0


def _read_sites(tree: Path, unmodelled: list[Unmodelled]) -> dict[str, SiteFact]:
    texts: dict[str, str] = {}
    raw: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, s in SITES.items():
        if s.file not in texts:
            p = tree / s.file
            texts[s.file] = p.read_text(errors="replace") if p.is_file() else ""
        try:
            raw[name] = read_value(s, texts[s.file])
        except ReadbackError as e:
            errors[name] = str(e)
    base = make_variant("TREE", "", raw)
    out: dict[str, SiteFact] = {}
    for name, s in SITES.items():
        text = texts[s.file]
        line = _line_of(text, rf"^[A-Za-z_][^\n;]*\b{re.escape(s.function)}\(")
        if name in raw:
            v = raw[name]
            out[name] = SiteFact(name, s.file, line, _value_json(v), render_value(s, v))
        elif s.c is not None and not s.c.applicable(s, base):
            # e.g. a lock choice around a statement this tree does not have
            out[name] = SiteFact(name, s.file, line, None, "(no C here)", applicable=False)
        else:
            what = ("no file" if not text else
                    f"{s.function}() missing" if not line else errors[name].split(": ", 1)[-1])
            unmodelled.append(Unmodelled(s.file, line, f"{name}: {what}", _site_affects(name)))
            out[name] = SiteFact(name, s.file, line, None, f"unmodelled: {what}")
    return out


def _site_affects(name: str) -> str:
    """What a run with ``name`` unreadable may get wrong: the model keeps the
    preset's value there (tree_variant)."""
    s = SITES[name]
    if name in _DRIVER_SITES:
        specs = [d for d in all_drivers() if d.source == s.file]
        compat = ", ".join(c for d in specs for c in d.compatible[:2]) or s.file
        return (f"every --tree run on a board with a {compat} IOMMU: {s.function}() "
                f"({s.doc}) runs with the preset's value, not the tree's")
    return (f"--variant TREE runs (NEXT/V614 take their own core sites): {s.function}() "
            f"({s.doc}) runs with V614's value, not the tree's")


def _kconfig(tree: Path, file: str) -> tuple[str, str, str]:
    """(CONFIG symbol, bool/tristate, arm64 defconfig y/m/'') of a driver's object."""
    d, obj = Path(file).parent, Path(file).stem + ".o"
    names = {obj}
    mk = tree / d / "Makefile"
    text = mk.read_text() if mk.is_file() else ""
    for m in re.finditer(r"^(\w+)-(?:objs|y)\s*[:+]?=(.*)$", text, flags=re.M):
        if re.search(rf"(^|\s){re.escape(obj)}(\s|$)", m.group(2)):
            names.add(m.group(1) + ".o")
    sym = ""
    for m in re.finditer(r"^obj-\$\((CONFIG_\w+)\)\s*\+=(.*)$", text, flags=re.M):
        if any(re.search(rf"(^|\s){re.escape(n)}(\s|$)", m.group(2)) for n in names):
            sym = m.group(1)
    if not sym:
        return "", "", ""
    typ = ""
    for kc in (tree / d / "Kconfig", tree / "drivers/iommu/Kconfig"):
        if kc.is_file():
            km = re.search(rf"^config {sym[7:]}\s*\n\s*(bool|tristate)", kc.read_text(), flags=re.M)
            if km:
                typ = km.group(1)
                break
    dc = tree / "arch/arm64/configs/defconfig"
    dm = re.search(rf"^{sym}=(\w)", dc.read_text(), flags=re.M) if dc.is_file() else None
    return sym, typ, dm.group(1) if dm else ""


def _ops_callbacks(text: str) -> list[str]:
    cbs: set[str] = set()
    for m in _OPS.finditer(text):
        depth, i = 0, m.end() - 1
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                block = text[i:j]
                break
        else:
            continue
        cbs.update(re.findall(r"^\s*\.(\w+)\s*=", block, flags=re.M))
    return sorted(cbs)


def _read_driver(tree: Path, file: str, sites: dict[str, SiteFact],
                 unmodelled: list[Unmodelled]) -> DriverFact:
    p = tree / file
    if not p.is_file():
        unmodelled.append(Unmodelled(file, 0, "driver file missing",
                                     "boards with this driver's IOMMU"))
        return DriverFact(file, present=False)
    raw = p.read_text(errors="replace")
    c = strip_comments(raw)
    f = DriverFact(file, present=True)
    regs = [(m.group(1), m.start()) for m in _REG.finditer(c)]
    if regs:
        macro, pos = regs[-1]
        f.registration = macro
        base = re.sub(r"_sync$", "", macro)
        f.initcall = (base if base in INITCALL_LEVELS else
                      "device_initcall" if re.match(r"(module|builtin)_", macro) else "")
        f.level = INITCALL_LEVELS.get(f.initcall, 0)
        lm = re.fullmatch(r"(core|postcore|arch|subsys|fs|rootfs|device|late)_initcall(_sync)?",
                          macro)
        f.model_level = (lm.group(1) + (lm.group(2) or "") if lm else
                         DEVICE if re.match(r"(module|builtin)_", macro) else "")
        if not f.level or f.model_level not in MODEL_LEVELS:
            unmodelled.append(Unmodelled(file, raw.count("\n", 0, pos) + 1,
                                         f"registration {macro}() has no modelled initcall level",
                                         "probe order of this driver"))
    else:
        # amd/intel: started by the x86 IOMMU detection (arch code); tegra-smmu:
        # tegra_smmu_probe() is called by the memory controller's driver.  The
        # model has these as such, so this is a fact, not an unmodelled shape.
        f.registration = "none (probed by another driver or arch init)"
    f.kconfig, f.kconfig_type, f.defconfig = _kconfig(tree, file)
    m = re.search(r"\.probe_type\s*=\s*(\w+)", c)
    f.probe_type = m.group(1) if m else "PROBE_DEFAULT_STRATEGY"
    f.driver_managed_dma = bool(re.search(r"\.driver_managed_dma\s*=\s*true", c))
    f.ops_callbacks = _ops_callbacks(c)
    f.register_line = _line_of(raw, r"\biommu_device_register\s*\(")
    f.sysfs_add_line = _line_of(raw, r"\biommu_device_sysfs_add\s*\(")
    f.publications = {n: s.shown for n, s in sites.items()
                      if s.file == file and SITES[n].doc.startswith(("where", "when", "order"))
                      or (s.file == file and s.shown in ("after_register", "before_register"))}
    return f


def _head_entries(tree: Path, commit: str, use_cache: bool = True
                  ) -> dict[str, tuple[str, list[str]]]:
    """:func:`corpus.initcalls.file_entry` of every driver file with a match
    table at ``commit``, read from git's objects (a sparse or dirty checkout
    reads the same); cached by commit."""
    if use_cache and commit in _HEAD_MEMO:
        return _HEAD_MEMO[commit]
    _HEAD_MEMO[commit] = out = _read_head_entries(tree, commit, use_cache)
    return out


#: per process: a verb (or a test session) reading several worktrees of one
#: commit reads its objects once
_HEAD_MEMO: dict[str, dict[str, tuple[str, list[str]]]] = {}


def _read_head_entries(tree: Path, commit: str, use_cache: bool
                       ) -> dict[str, tuple[str, list[str]]]:
    cached = cache_dir() / f"initcalls-{commit}.json"
    if use_cache and cached.is_file():
        try:
            return {k: (v[0], list(v[1])) for k, v in json.loads(cached.read_text()).items()}
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            pass  # torn entry: read again
    changed = [f for f in _changed_driver_files(tree) if f.endswith(".c")]
    if any(not (tree / f).is_file() for f in changed):
        # files missing from the working tree (a sparse checkout): every
        # file from git's objects (slower: git grep decompresses each blob)
        texts = _blobs(tree, commit, _grep_match_tables(tree, commit))
    else:
        # a full checkout: unchanged files from disk, changed ones from HEAD
        texts = {n: (tree / n).read_text(errors="replace")
                 for n in _grep_match_tables(tree, None) if n not in set(changed)}
        texts.update(_blobs(tree, commit, changed))
    out: dict[str, tuple[str, list[str]]] = {}
    for n, text in texts.items():
        e = file_entry(text)
        if e is not None:
            out[n] = e
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(out, sort_keys=True))
    tmp.replace(cached)
    return out


def _grep_match_tables(tree: Path, commit: str | None) -> list[str]:
    """drivers/**/*.c with a match table, at ``commit`` (None: the working tree)."""
    r = hosttools.run(["git", "-C", str(tree), "grep", "-l", "-F", "-e", ".compatible", "-e",
                       "acpi_device_id", *([commit] if commit else []), "--", "drivers/*.c"],
                      timeout=300, check=False, subject=str(tree))
    names = r.stdout.decode(errors="replace").split()
    return [n.split(":", 1)[1] for n in names] if commit else names


def _blobs(tree: Path, commit: str, names: list[str]) -> dict[str, str]:
    """The text of each file at ``commit`` (``git cat-file --batch``); files
    that do not exist there are left out."""
    if not names:
        return {}
    blob = hosttools.run(["git", "-C", str(tree), "cat-file", "--batch"], timeout=300,
                         input="".join(f"{commit}:{n}\n" for n in names).encode(),
                         subject=str(tree)).stdout
    out: dict[str, str] = {}
    pos = 0
    for n in names:
        eol = blob.index(b"\n", pos)
        header = blob[pos:eol].split()
        if len(header) != 3:  # "<name> missing"
            pos = eol + 1
            continue
        size = int(header[2])
        out[n] = blob[eol + 1:eol + 1 + size].decode(errors="replace")
        pos = eol + 1 + size + 1
    return out


def _client_entries(tree: Path, commit: str, use_cache: bool = True
                    ) -> dict[str, tuple[str, list[str]]]:
    """Per driver file (level, IDs) of the tree as it is: HEAD's, with the
    files changed in the working tree read from disk.  A file missing from the
    working tree counts as HEAD's (a sparse checkout; commit a deletion to
    drop a driver).  Outside git every file is read."""
    if not commit:
        entries = {}
        for rel in _match_table_files(tree, ("drivers",)):
            e = file_entry((tree / rel).read_text(errors="replace"))
            if e is not None:
                entries[rel] = e
        return entries
    entries = dict(_head_entries(tree, commit, use_cache))
    for f in _changed_driver_files(tree):
        p = tree / f
        if not f.endswith(".c") or not p.is_file():
            continue
        e = file_entry(p.read_text(errors="replace"))
        if e is None:
            entries.pop(f, None)
        else:
            entries[f] = e
    return entries


def read_profile(tree: Path, *, use_cache: bool = True) -> TreeProfile:
    """The profile of ``tree``, from the cache when the tree's files are unchanged.
    FactsError (one line) when the tree or the cache cannot be read."""
    tree = tree.resolve()
    if not (tree / "drivers/iommu/iommu.c").is_file():
        raise FactsError(f"{tree}: not a kernel tree (no drivers/iommu/iommu.c)")
    try:
        return _read_profile(tree, use_cache)
    except hosttools.ToolError as e:
        raise FactsError(f"{tree}: {e}") from None
    except OSError as e:
        raise FactsError(f"{tree}: {e.filename or ''}: {e.strerror or e}") from None


def _read_profile(tree: Path, use_cache: bool) -> TreeProfile:
    commit = _commit(tree)
    key = profile_key(tree, commit)
    cached = cache_dir() / f"{key}.json"
    if use_cache and cached.is_file():
        try:
            prof = TreeProfile.from_json(json.loads(cached.read_text()))
            prof.tree, prof.cached = str(tree), True
            return prof
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a torn or old cache entry: read the tree again
    unmodelled: list[Unmodelled] = []
    sites = _read_sites(tree, unmodelled)
    drivers = {f: _read_driver(tree, f, sites, unmodelled) for f in driver_files()}
    clients = {i: (d.level, d.file) for i, d in table(_client_entries(tree, commit, use_cache)).items()}
    for lvl, file in sorted({v for v in clients.values() if v[0] not in MODEL_LEVELS}):
        unmodelled.append(Unmodelled(file, 0, f"registers at {lvl}_initcall, a level the boot "
                                     "does not run", "probe order of this file's drivers"))
    _read_builds(tree, commit, drivers, unmodelled, use_cache)
    prof = TreeProfile(str(tree), commit, key, sites, drivers, unmodelled, clients)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(prof.to_json(), indent=1, sort_keys=True))
    tmp.replace(cached)  # atomic: a killed run leaves no torn entry
    return prof


_DRIVER_SITES = {s.name for s in collect()}


def _read_builds(tree: Path, commit: str, drivers: dict[str, DriverFact],
                 unmodelled: list[Unmodelled], use_cache: bool) -> None:
    """Each driver's ``builds`` from the tree's generic defconfigs, evaluated
    by the kernel's own Kconfig (:mod:`mutators.kconfig`)."""
    try:
        configs = kconfig.evaluate(tree, commit, cache_dir(), use_cache)
    except kconfig.KconfigError as e:
        unmodelled.append(Unmodelled(
            kconfig.DEFCONFIGS["arm64"][1], 0, f"kernel configuration not evaluated: {e}",
            "whether each IOMMU driver is built in, a module or absent: every driver runs built in"))
        return
    for d in drivers.values():
        if d.present and d.kconfig:
            d.builds = {arch: cfg.get(d.kconfig, "n") for arch, cfg in configs.items()}


def tree_variant(profile: TreeProfile, overlay: str | None = None) -> Variant:
    """The model variant of the tree: every readable site as the tree has it.

    ``overlay`` (``NEXT``, ``V614``): the preset's *core* sites over the tree's
    driver sites -- the series applied to this tree's drivers.  Unreadable
    sites keep the preset's (or V614's) value; they are in ``unmodelled``.
    """
    base = PRESETS[overlay] if overlay else PRESETS["V614"]
    values = base.as_dict()
    for name, f in profile.sites.items():
        if not f.applicable or f.shown.startswith("unmodelled"):
            continue
        if overlay and name not in _DRIVER_SITES:
            continue
        values[name] = _value_from_json(SITES[name], f.value, f"{profile.tree}:{f.file}")
    # shell-, file- and git-ref-safe like every variant id (mutators/ids.py)
    name = f"{overlay}-on-tree" if overlay else "TREE"
    desc = (f"{overlay}'s core sites over the drivers of {profile.tree}" if overlay
            else f"the tree {profile.tree} as it is")
    return make_variant(name, desc, values, tree_initcalls(profile), tree_builds(profile))


def tree_builds(profile: TreeProfile) -> dict[str, str]:
    """``"ARCH:driver name"`` -> ``module``/``absent`` for every modelled IOMMU
    driver the tree's defconfig of ARCH does not build in (:class:`Variant`
    ``builds``); drivers it builds in, or whose configuration was not read,
    are not listed (they run built in, as without a tree)."""
    out = {}
    for spec in all_drivers():
        d = profile.drivers.get(spec.source)
        for arch, val in (d.builds if d is not None else {}).items():
            if val != "y":
                out[f"{arch}:{spec.name}"] = "module" if val == "m" else "absent"
    return out


def build_notes(profile: TreeProfile) -> list[str]:
    """One line per board architecture naming the drivers its defconfig does
    not build in, for verbs to print before they run the model (an absent
    driver is never silent: its boards' IOMMUs have no driver)."""
    by: dict[str, dict[str, list[str]]] = {}
    for key, kind in sorted(tree_builds(profile).items()):
        arch, name = key.split(":", 1)
        by.setdefault(arch, {}).setdefault(kind, []).append(name)
    out = []
    for arch, kinds in by.items():
        file = kconfig.DEFCONFIGS[arch][1]
        parts = []
        if kinds.get("module"):
            parts.append(f"modules (load after the initcalls): {', '.join(kinds['module'])}")
        if kinds.get("absent"):
            parts.append(f"not built, absent: {', '.join(kinds['absent'])}")
        out.append(f"note: {arch} boards, as {file} builds them: {'; '.join(parts)}")
    return out


def missing_files(tree: Path) -> list[str]:
    """The files a profile reads its sites and drivers from that ``tree`` does
    not have (a sparse checkout, a partial copy): a profile of it would be
    mostly "unmodelled" lines, so verbs that default to a tree's facts take
    the model's own where this is not empty."""
    files = {s.file for s in SITES.values()} | set(driver_files())
    return sorted(f for f in files if not (tree / f).is_file())


def tree_presets(profile: TreeProfile) -> dict[str, Variant]:
    """What the preset names stand for on ``profile``'s tree: ``TREE`` (the
    tree as it is) and each preset as an overlay on it (:func:`tree_variant`);
    :func:`mutators.space.resolve` builds ids and spaces from these."""
    return {"TREE": tree_variant(profile), **{p: tree_variant(profile, p) for p in PRESETS}}


def tree_initcalls(profile: TreeProfile) -> dict[str, str]:
    """The tree's registration levels where they differ from the model's own:
    an IOMMU driver's (its ``IommuDriverSpec.initcall``) by driver name, a
    client driver's (``harness.base.initcall_table``) by match ID -- ``device``
    for an ID the checked-in table has early and the tree does not."""
    out: dict[str, str] = {}
    for spec in all_drivers():
        d = profile.drivers.get(spec.source)
        if d is not None and d.present and d.model_level in MODEL_LEVELS \
                and d.model_level != spec.initcall:
            out[spec.name] = d.model_level
    tree = profile.client_initcalls
    for i, (lvl, _) in tree.items():
        if CLIENT_INITCALLS.get(i, (DEVICE,))[0] != lvl:
            out[i] = lvl
    out.update({i: DEVICE for i in CLIENT_INITCALLS if i not in tree})
    return out


def warnings_for(profile: TreeProfile) -> list[str]:
    """One line per unmodelled shape, for verbs to print before they run the model."""
    return [f"warning: {u}" for u in profile.unmodelled]


__all__ = ["DriverFact", "FactsError", "SiteFact", "TreeProfile", "Unmodelled", "cache_dir",
           "build_notes", "driver_files", "missing_files", "read_profile", "tree_builds",
           "tree_initcalls", "tree_presets",
           "tree_variant", "warnings_for", "function_bodies"]
