"""Run a variant's semantic patches over files of a tree (any directory).

This layer knows nothing about git: :mod:`mutators.apply` calls it inside a
fresh worktree, the agreement tests call it on scratch copies of a few files.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from corpus.hosttools import ToolError, run, which
from harness.variant import SITES, Variant
from mutators.fixups import fixup, has_placeholders
from mutators.readback import ReadbackError, function_bodies, read_value
from mutators.rules import FileRules, Plan, RuleError, plan
from mutators.shapes import MARKER

#: seconds one spatch run (one file, all its rules) may take
SPATCH_TIMEOUT = 120.0


@dataclass
class SiteOutcome:
    """What happened at one site: ``applied``, ``already`` or a skip reason."""

    site: str
    file: str
    status: str


@dataclass
class EngineResult:
    outcomes: list[SiteOutcome]
    changed_files: list[str]
    seconds: float


def spatch_argv(sp_file: Path, target: Path, timeout: float) -> list[str]:
    """The spatch command line for one file.

    ``--very-quiet`` drops the progress chatter, ``--no-show-diff`` the diff
    (the file is rewritten ``--in-place``), ``--timeout`` makes spatch give up
    on its own, ``--no-includes`` keeps it from parsing headers it does not need.
    """
    return ["spatch", "--very-quiet", "--no-show-diff", "--in-place", "--no-includes",
            "--timeout", str(max(1, int(timeout))), "--sp-file", str(sp_file), str(target)]


def _markers(stdout: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for ln in stdout.splitlines():
        parts = ln.strip().split("\t")
        if len(parts) == 3 and parts[0] == MARKER:
            found.setdefault(parts[1], set()).add(parts[2])
    return found


def already(text: str, fr: FileRules) -> bool:
    """Whether every site of ``fr`` already reads back, from the C in ``text``,
    as the value the variant wants (then spatch has nothing to do: most driver
    files keep their v6.14 order in a variant, and spatch costs ~1 s a file).

    Conservative: a site whose function is missing or whose C does not read
    back cleanly leaves the decision to spatch (which reports the mismatch).
    """
    for name in fr.sites:
        site = SITES[name]
        if not function_bodies(text, site.function):
            return False
        try:
            if read_value(site, text) != fr.ctx.variant.value(name):
                return False
        except ReadbackError:
            return False
    return True


def run_file_rules(root: Path, fr: FileRules, timeout: float = SPATCH_TIMEOUT) -> list[SiteOutcome]:
    """Run one file's semantic patch in place, fix the result up, check every site."""
    target = root / fr.file
    if not target.is_file():
        raise RuleError(f"{fr.file}: no such file in the tree (sites {', '.join(fr.sites)})")
    original = target.read_text(encoding="utf-8", errors="surrogateescape")
    if already(original, fr):
        return [SiteOutcome(site, fr.file, "already") for site in fr.sites]
    with tempfile.NamedTemporaryFile("w", suffix=".cocci", prefix="probefuzz-",
                                     delete=False) as tf:
        tf.write(fr.smpl)
        sp = Path(tf.name)
    try:
        proc = run(spatch_argv(sp, target, timeout), timeout=timeout, cwd=root,
                   check=False, subject=fr.file)
    finally:
        sp.unlink(missing_ok=True)
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0 or "EXN:" in stderr or "timeout" in stderr.lower():
        target.write_text(original, encoding="utf-8", errors="surrogateescape")
        lines = [ln for ln in stderr.splitlines()
                 if ln.strip() and "should" not in ln and "metavariable" not in ln]
        why = " | ".join(lines[:4]) or f"exit {proc.returncode}"
        raise ToolError(f"spatch failed on {fr.file} (rules for {', '.join(fr.sites)}): {why}")
    marks = _markers(proc.stdout.decode("utf-8", "replace"))
    outcomes = []
    for site in fr.sites:
        got = marks.get(site, set())
        if not got:
            target.write_text(original, encoding="utf-8", errors="surrogateescape")
            raise RuleError(f"rule for site {site} matched nothing in {fr.file} "
                            "(the code there does not have the expected shape)")
        outcomes.append(SiteOutcome(site, fr.file, "applied" if "applied" in got else "already"))
    patched = target.read_text(encoding="utf-8", errors="surrogateescape")
    if patched != original:
        fixed = fixup(original, patched, fr.ctx)
        if has_placeholders(fixed):
            raise RuleError(f"{fr.file}: unresolved probefuzz placeholder after fixups")
        target.write_text(fixed, encoding="utf-8", errors="surrogateescape")
    return outcomes


def apply_plan(root: Path, p: Plan, timeout: float = SPATCH_TIMEOUT) -> EngineResult:
    """Run every file's rules under ``root``; raises on the first failure."""
    which("spatch")
    t0 = time.monotonic()
    outcomes: list[SiteOutcome] = []
    changed: list[str] = []
    for fr in p.files:
        before = (root / fr.file).read_bytes() if (root / fr.file).is_file() else b""
        outcomes += run_file_rules(root, fr, timeout)
        if (root / fr.file).read_bytes() != before:
            changed.append(fr.file)
    for site, why in p.skipped.items():
        outcomes.append(SiteOutcome(site, "", f"skipped: {why}"))
    return EngineResult(outcomes, changed, time.monotonic() - t0)


def apply_variant(root: Path, variant: Variant, timeout: float = SPATCH_TIMEOUT,
                  locations: dict[str, str] | None = None) -> EngineResult:
    """Plan and apply ``variant`` to the tree at ``root`` (files rewritten in place)."""
    return apply_plan(root, plan(variant, locations), timeout)
