"""``scripts/checkpatch.pl --strict`` on each patch, its verdict parsed.

Run from the tree's top (read-only) so that checkpatch can check ``Fixes:``
and commit references with git.  A missing ``Signed-off-by:`` is singled
out: the tool never signs off for a human, so without ``--signoff`` it is
the human's to add, not a defect of the patch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from corpus.hosttools import ToolError, run

TIMEOUT = 300.0
SIGNOFF_TYPES = {"MISSING_SIGN_OFF"}


@dataclass
class Issue:
    level: str  # ERROR, WARNING, CHECK
    type: str
    text: str


@dataclass
class Verdict:
    patch: str
    issues: list[Issue] = field(default_factory=list)
    total: str = ""
    #: issues the base explains (not counted): the ``Fixes:`` commit is upstream's,
    #: and a base that re-creates or re-applies the series has it under another id
    expected: list[Issue] = field(default_factory=list)

    def of(self, level: str, signoff_ok: bool = False) -> list[Issue]:
        return [i for i in self.issues if i.level == level
                and not (signoff_ok and i.type in SIGNOFF_TYPES)]

    @property
    def missing_signoff(self) -> bool:
        return any(i.type in SIGNOFF_TYPES for i in self.issues)

    def as_json(self) -> dict[str, object]:
        return {"patch": self.patch, "total": self.total,
                "issues": [i.__dict__ for i in self.issues],
                "expected": [i.__dict__ for i in self.expected]}


_ISSUE = re.compile(r"^(ERROR|WARNING|CHECK):(\w+): (.*)$")


def parse(patch: str, output: str) -> Verdict:
    v = Verdict(patch)
    for ln in output.splitlines():
        m = _ISSUE.match(ln)
        if m:
            v.issues.append(Issue(m.group(1), m.group(2), m.group(3)))
        elif ln.startswith("total:"):
            v.total = ln.strip()
    return v


def check(tree: Path, patch: Path, upstream_ids: set[str] | frozenset[str] = frozenset(),
          ) -> Verdict:
    """checkpatch.pl --strict on ``patch``; ``upstream_ids``: commit ids that are
    known upstream but not in ``tree`` (their UNKNOWN_COMMIT_ID is expected)."""
    script = tree / "scripts/checkpatch.pl"
    if not script.is_file():
        raise ToolError(f"{tree}: no scripts/checkpatch.pl in this tree")
    proc = run(["perl", str(script), "--strict", "--show-types", "--no-summary-file",
                "--color=never", str(patch)], timeout=TIMEOUT, cwd=tree, check=False,
               subject=patch.name)
    out = proc.stdout.decode("utf-8", "replace")
    v = parse(patch.name, out)
    for i in list(v.issues):
        if i.type == "UNKNOWN_COMMIT_ID" and any(f"'{c}'" in i.text for c in upstream_ids):
            v.issues.remove(i)
            v.expected.append(i)
    if not v.total:
        raise ToolError(f"checkpatch.pl gave no verdict on {patch.name}: "
                        + proc.stderr.decode("utf-8", "replace").strip()[:300])
    return v
