"""Turn a variant into a patch series ready for maintainers (never sends mail).

Applies the variant to the tree on a new branch probefuzz/propose/<id> (in a
worktree, the checkout untouched), one commit per logical change (IOMMU
driver order changes and core guard changes apart; changes of one series
patch together), each with a kernel-style message: the finding it avoids
with a trimmed call trace, the change and why it is safe, the evidence
(model boots of the seed board(s), the explore ranking), the tool and the
Coccinelle rules that produced it, and the trailers asked for.  Then
git format-patch --base into --out (a cover letter when several patches),
To:/Cc: from scripts/get_maintainer.pl, checkpatch.pl --strict on each
patch (exit 1 on any error) and git am onto the base as a check.
Signed-off-by: only with --signoff, from the tree's git identity.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from corpus.bundled import bundled_names, load_bundled
from corpus.dt import load_platform_file
from corpus.kernel_tree import is_kernel_tree
from fuzz.cli import UsageError
from fuzz.options import SECONDS, check_out_dir, check_out_file
from fuzz.variant_arg import tree_profile
from harness.variant import Variant
from mutators.engine import SPATCH_TIMEOUT
from mutators.facts import missing_files, tree_presets
from mutators.gitrepo import RepoError, branch_name, cache_root
from mutators.propose.evidence import SEED_BOARD, EvidenceError, best_in_ranking, ranking_base_of
from mutators.propose.fixes import FixesError
from mutators.propose.message import Trailers
from mutators.propose.pipeline import ProposeError, ProposeRequest, propose, reference_for
from mutators.rules import RuleError
from mutators.space import resolve

if TYPE_CHECKING:  # pragma: no cover
    from harness.board import Board
    from mutators.propose.pipeline import ProposeResult


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", required=True,
                   help="variant id (NEXT+site<op>..., a variant JSON file), or 'best' with "
                   "--evidence: the ranking's rank-1 variant")
    p.add_argument("--tree", required=True, help="the kernel git tree")
    p.add_argument("--base-ref", default="HEAD", help="commit the series applies to (default HEAD)")
    p.add_argument("--fixes", metavar="REV",
                   help="the commit the fix patches fix (Fixes: tag; default: the commit the "
                   "reference preset records, e.g. NEXT's bcb81ac6ae3c, else the tree's history)")
    p.add_argument("--upstream", metavar="REV",
                   help="the commit maintainers have (base-commit:); the commits between it "
                   "and --base-ref are declared as prerequisite-patch-id (default: the newest "
                   "ancestor of the base another branch, tag or remote has)")
    p.add_argument("--prerequisites-mbox", metavar="FILE",
                   help="when the base lacks part of the series, re-create it into FILE, "
                   "marked for testing, not for posting (default: name what is missing, "
                   "exit 2)")
    p.add_argument("--reported-by", metavar='"Name <addr>"', help="Reported-by: trailer")
    p.add_argument("--closes", metavar="URL", help="Closes: trailer (the report)")
    p.add_argument("--link", metavar="URL", help="Link: trailer")
    p.add_argument("--signoff", action="store_true",
                   help="add your Signed-off-by: from the tree's git user.name/user.email")
    p.add_argument("--evidence", metavar="ranking.json",
                   help="the ranking written by `probefuzz explore`")
    p.add_argument("--evidence-tree", metavar="DIR", default=None,
                   help="kernel tree whose guard sites, driver facts and registration levels the "
                   "evidence boots run on (`probefuzz facts`); 'model' for the model's own "
                   "(default: --tree, when it is a whole kernel tree; else the model's own)")
    p.add_argument("--board", action="append", default=None,
                   help="board(s) to boot as evidence: bundled name or platform file "
                   "(default: rk3568-odroid-m1, the seed)")
    p.add_argument("--out", default=None, help="directory for the patches (default: "
                   "~/.cache/probefuzz/outgoing/<variant>, never inside your checkout)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing propose branch and the patches in --out")
    p.add_argument("--timeout", type=SECONDS, default=SPATCH_TIMEOUT,
                   help=f"seconds per spatch run (default {SPATCH_TIMEOUT:g})")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")


def _boards(names: list[str] | None, tree: str) -> list[tuple[str, Board]]:
    out: list[tuple[str, Board]] = []
    for name in names or [SEED_BOARD]:
        if name in bundled_names():
            out.append((name, load_bundled(name)))
        else:
            out.append((Path(name).stem, load_platform_file(name, tree=Path(tree))))
    return out


def evidence_facts(tree: str, given: str | None) -> tuple[dict[str, Variant] | None, str, str]:
    """The presets the evidence boots run on, the commit they were read at,
    and a note when the default tree could not be read whole: ``--evidence-tree
    DIR`` (a bad one is a one-line error), else ``--tree`` when every file a
    profile reads is there (a sparse checkout or a partial copy is not read:
    its profile would be a list of unmodelled shapes), else the model's own."""
    if given == "model":
        return None, "", ""
    t = Path(given if given is not None else tree)
    if given is None:
        try:
            whole = is_kernel_tree(t) and not missing_files(t)
        except OSError:
            whole = False
        if not whole:
            return None, "", (f"evidence: the model's own facts (the reference tree's): {tree} "
                              "lacks files a tree profile reads; --evidence-tree DIR reads another")
    prof = tree_profile(t, option="--evidence-tree" if given is not None else "--tree")
    return tree_presets(prof), prof.commit or prof.key, ""


def run(args: argparse.Namespace) -> int:
    if args.closes and not args.reported_by:
        raise UsageError("--closes goes with --reported-by (Reported-by: is followed by Closes:)")
    for opt in ("closes", "link"):
        val = getattr(args, opt)
        if val and not val.startswith(("http://", "https://")):
            raise UsageError(f"--{opt} {val}: expected a URL")
    if args.reported_by and ("<" not in args.reported_by or ">" not in args.reported_by):
        raise UsageError(f'--reported-by {args.reported_by}: expected "Name <addr>"')
    try:
        if args.out is not None:
            check_out_dir(args.out, "--out")
        if args.prerequisites_mbox is not None:
            check_out_file(args.prerequisites_mbox, "--prerequisites-mbox")
    except ValueError as e:
        raise UsageError(str(e)) from None
    try:
        vid = args.variant
        if vid == "best":
            if not args.evidence:
                raise UsageError("--variant best needs --evidence ranking.json")
            vid = best_in_ranking(args.evidence)
        mutant = resolve(vid)
        presets, facts, facts_note = evidence_facts(args.tree, args.evidence_tree)
        ranking_base = ranking_base_of(args.evidence) if args.evidence else None
        req = ProposeRequest(
            tree=args.tree, variant=mutant.variant, variant_id=mutant.id,
            reference=reference_for(mutant.id, ranking_base),
            base_ref=args.base_ref, fixes=args.fixes,
            trailers=Trailers(args.reported_by, args.closes, args.link),
            signoff=args.signoff, ranking=args.evidence,
            boards=_boards(args.board, args.tree),
            out=args.out or str(cache_root() / "outgoing" / branch_name(mutant.id).split("/", 1)[1]),
            force=args.force, timeout=args.timeout, upstream=args.upstream,
            prerequisites_mbox=args.prerequisites_mbox,
            evidence_presets=presets, evidence_facts=facts)
        res = propose(req)
        if facts_note and req.boards:
            res.notes.append(facts_note)
    except (RepoError, RuleError, ProposeError, EvidenceError, FixesError, ValueError) as e:
        raise UsageError(str(e)) from None
    if args.json:
        json.dump(res.as_json(), sys.stdout, indent=1)
        print()
    else:
        _report(res)
    return 1 if res.errors or not res.am_applies else 0


def _report(res: ProposeResult) -> None:
    print(f"branch:   {res.branch}")
    print(f"worktree: {res.worktree}")
    print(f"base:     {res.base}")
    if res.cover_letter:
        print(f"  {res.cover_letter}")
    for path, subj, cp in zip(res.patches, res.subjects, res.checkpatch, strict=True):
        print(f"  {path}")
        print(f"      {subj}")
        print(f"      checkpatch --strict: {cp['total']}")
        for issue in cp["issues"]:  # type: ignore[attr-defined]
            print(f"        {issue['level']}:{issue['type']}: {issue['text']}")
        for issue in cp["expected"]:  # type: ignore[attr-defined]
            print(f"        expected, not counted: {issue['type']}: {issue['text']} "
                  "(the Fixes: commit is upstream's; this tree has the series under "
                  "other ids)")
    print(f"base-commit: {res.upstream}" + (f" + {len(res.prerequisites)} prerequisite(s)"
                                             if res.prerequisites else ""))
    for pre in res.prerequisites:
        print(f"  prerequisite-patch-id for {pre}")
    if res.prerequisites_mbox:
        print(f"for testing, not for posting: {res.prerequisites_mbox}")
    if res.cocci:
        print(f"semantic patch (coccicheck form): {res.cocci}")
    print(f"To: {', '.join(res.recipients['to'])}")
    print(f"Cc: {', '.join(res.recipients['cc'])}")
    if res.fixes:
        print(res.fixes)
    print("git am onto the base: " + ("applies cleanly, same tree" if res.am_applies
                                      else "FAILED"))
    for note in res.notes:
        print(f"note: {note}")
    if res.signoff_missing:
        print("Signed-off-by: missing -- yours to add (git commit --amend -s on the branch, or "
              "rerun with --signoff); the tool never signs off for you.")
    print(f"checkpatch --strict: {res.errors} error(s), {res.warnings} warning(s), "
          f"{res.checks} check(s)")
    if res.errors:
        print(f"checkpatch found {res.errors} error(s): fix them before sending.")
    print("Nothing was sent. To send, review the patches, then:")
    for c in res.send_commands:
        print(f"  {c}")
    print(f"({res.seconds['total']:.1f} s)")
