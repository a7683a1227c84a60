"""Recipients from the tree's ``scripts/get_maintainer.pl`` (never from git history).

``--no-git --no-git-fallback`` keeps it to the MAINTAINERS file, which is what
a maintainer expects to see honoured; maintainers go to ``To:``, reviewers,
lists and everybody else to ``Cc:``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from corpus.hosttools import ToolError, run

TIMEOUT = 120.0


@dataclass
class Recipients:
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)

    def merge(self, other: Recipients) -> None:
        for a in other.to:
            if a not in self.to:
                self.to.append(a)
        for a in other.cc:
            if a not in self.cc and a not in self.to:
                self.cc.append(a)
        self.cc = [a for a in self.cc if a not in self.to]


def parse(output: str) -> Recipients:
    """Split get_maintainer output: ``Name <addr> (maintainer:...)`` lines to To:."""
    r = Recipients()
    for ln in output.splitlines():
        m = re.match(r"(.*?>|[^\s<>]+@[^\s<>]+)\s*(?:\((.*)\))?\s*$", ln.strip())
        who, role = (m.group(1), m.group(2) or "") if m else ("", "")
        if not who or "@" not in who:
            continue
        (r.to if role.startswith("maintainer") else r.cc).append(who)
    return r


def argv(tree: Path, patch: Path, fixes_signers: bool = True) -> list[str]:
    """``fixes_signers``: let get_maintainer Cc the signers of a ``Fixes:`` commit (its
    default); off for a root commit, which has none and is a whole tree to read."""
    return ["perl", str(tree / "scripts/get_maintainer.pl"), "--no-git", "--no-git-fallback",
            "--rolestats", *([] if fixes_signers else ["--no-fixes"]), str(patch)]


def recipients(tree: Path, patch: Path, fixes_signers: bool = True) -> Recipients:
    """Run get_maintainer.pl (in the tree, read-only) on one patch file."""
    script = tree / "scripts/get_maintainer.pl"
    if not script.is_file():
        raise ToolError(f"{tree}: no scripts/get_maintainer.pl in this tree")
    proc = run(argv(tree, patch, fixes_signers), timeout=TIMEOUT, cwd=tree, subject=patch.name)
    return parse(proc.stdout.decode("utf-8", "replace"))


def _fold(name: str, addrs: list[str]) -> list[str]:
    if not addrs:
        return []
    lines = [f"{name}: {addrs[0]}"]
    for a in addrs[1:]:
        lines[-1] += ","
        lines.append(f" {a}")
    return lines


def add_headers(text: str, r: Recipients) -> str:
    """Insert ``To:``/``Cc:`` headers after ``Subject:`` (and its folded lines)."""
    head, sep, body = text.partition("\n\n")
    lines = head.split("\n")
    lines = [ln for ln in lines if not re.match(r"(To|Cc): ", ln)]
    i = next((k for k, ln in enumerate(lines) if ln.startswith("Subject:")), len(lines) - 1)
    j = i + 1
    while j < len(lines) and lines[j].startswith((" ", "\t")):
        j += 1
    lines[j:j] = _fold("To", r.to) + _fold("Cc", r.cc)
    return "\n".join(lines) + sep + body
