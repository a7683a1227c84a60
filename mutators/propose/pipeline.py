"""``propose``: variant -> commits on a branch -> ``git format-patch`` series, checked.

Steps (the user's checkout is never written; on failure the worktree and
branch are removed, as ``apply`` does):

1. check the inputs (tree, base, ``--fixes``, identity for ``--signoff``, ranking);
2. new sparse worktree on ``probefuzz/propose/<id>`` at the base; read every
   site's value back out of the base C; run the variant's rules once to learn
   which sites change, then put the files back;
3. split the changed sites into logical patches (:mod:`.series`), boot the
   evidence boards under the variant, its reference and v6.14, and after each
   patch (bisection);
4. per patch: run its sites' rules, write its message (:mod:`.message`), commit;
   the series must add up to exactly what one run of all rules gives;
5. ``git format-patch --base`` (+ cover letter), get_maintainer's To:/Cc:,
   checkpatch --strict per patch, and ``git am`` of the series onto the base in
   a scratch worktree, which must give the same tree.

Only the user's own change is proposed.  The base must already contain the
change under test (the series: from linux-next, a branch ``git am``/``b4
shazam`` made, or ``probefuzz apply``'s branch).  The commits between the
upstream commit (``--upstream``, else the newest ancestor of the base that
another branch, tag or remote has) and the base are the series; they become
``prerequisite-patch-id:`` lines under ``base-commit:``, as b4 writes them.
Sites where the base still lacks the series are *prerequisites*: propose names
them and stops (exit 2), or with ``--prerequisites-mbox`` re-creates them as
probefuzz's own, "for testing, not for posting" patches in a separate mbox.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import git

from corpus.hosttools import run, which
from harness import upstream
from harness.board import Board
from harness.variant import PRESETS, SITES, Variant, make_variant, tree_facts
from mutators import gitrepo
from mutators.apply import site_locations, spatch_version
from mutators.engine import SPATCH_TIMEOUT, apply_plan
from mutators.propose import checkpatch, evidence, maintainers, message, prefixes, series
from mutators.propose.fixes import FixesTag, find_culprit
from mutators.propose.fixes import resolve as resolve_fixes
from mutators.readback import ReadbackError, read_value
from mutators.rules import RuleError, coccicheck_form, plan
from mutators.space import parse_id, preset, resolve

GIT_AM_TIMEOUT = 120.0
#: the subject prefix of re-created prerequisites: they are never the user's to post
NOT_FOR_POSTING = "PATCH for testing, not for posting"
#: the cover letter in the form ``b4 prep --edit-cover`` takes (subject, blank, body)
B4_COVER = "b4-cover-letter.txt"


class ProposeError(Exception):
    """Bad input or a series that cannot be made; one line, exit 2."""


@dataclass
class ProposeRequest:
    tree: str
    variant: Variant
    variant_id: str
    reference: Variant
    base_ref: str = "HEAD"
    fixes: str | None = None
    trailers: message.Trailers = field(default_factory=message.Trailers)
    signoff: bool = False
    ranking: str | None = None
    boards: list[tuple[str, Board]] = field(default_factory=list)
    out: str = "outgoing"
    force: bool = False
    timeout: float = SPATCH_TIMEOUT
    #: the commit maintainers have (base-commit:); None: found from the refs
    upstream: str | None = None
    #: write re-created prerequisites here instead of refusing a base without them
    prerequisites_mbox: str | None = None
    #: the evidence boots run on this tree profile's presets
    #: (:func:`mutators.facts.tree_presets`; None: the model's own)
    evidence_presets: dict[str, Variant] | None = None
    #: the commit of the tree those presets were read from (said in the messages)
    evidence_facts: str = ""


@dataclass
class ProposeResult:
    variant: str
    reference: str
    branch: str
    worktree: str
    base: str
    out: str
    patches: list[str]
    cover_letter: str | None
    units: list[dict[str, Any]]
    subjects: list[str]
    recipients: dict[str, list[str]]
    checkpatch: list[dict[str, object]]
    errors: int
    warnings: int
    checks: int
    signoff: str | None
    signoff_missing: bool
    am_applies: bool
    fixes: str | None
    evidence: dict[str, Any]
    send_commands: list[str]
    seconds: dict[str, float]
    notes: list[str] = field(default_factory=list)
    upstream: str = ""
    prerequisites: list[str] = field(default_factory=list)  # "<sha> <subject>", oldest first
    prerequisites_mbox: str | None = None
    cocci: str | None = None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def tool_version() -> str:
    try:
        return version("probefuzz")
    except Exception:  # not installed: read the project file next to the package
        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        m = re.search(r'^version = "([^"]+)"', pyproject.read_text(), flags=re.M) \
            if pyproject.is_file() else None
        return m.group(1) if m else "unknown"


def identity(repo: git.Repo) -> str | None:
    """The tree's ``user.name <user.email>``, or None when either is unset."""
    try:
        name = repo.git.config("user.name").strip()
        mail = repo.git.config("user.email").strip()
    except git.GitCommandError:
        return None
    return f"{name} <{mail}>" if name and mail else None


def reference_for(variant_id: str, ranking_base: str | None = None) -> Variant:
    """The variant the finding was seen under: the ranking's base, else the id's preset."""
    for cand in (ranking_base, parse_id(variant_id)[0]):
        if cand and cand in PRESETS:
            return PRESETS[cand]
    return PRESETS["NEXT"]


def _tree_values(root: Path, locations: dict[str, str]) -> dict[str, Any]:
    """Every site's value in the base C (sites that cannot be read are left out)."""
    out: dict[str, Any] = {}
    for name, site in SITES.items():
        if site.c is None:
            continue
        f = root / locations.get(name, site.file)
        if not f.is_file():
            continue
        try:
            out[name] = read_value(site, f.read_text(encoding="utf-8", errors="replace"))
        except ReadbackError:
            continue
    return out


def stage_variants(units: list[series.Unit], tree_values: dict[str, Any],
                   target: Variant) -> list[Variant]:
    """The code after patches 1..k, as variants (unread sites take the target's value)."""
    out = []
    pending = {s for u in units for s in u.sites}
    for k, u in enumerate(units, 1):
        pending -= set(u.sites)
        vals = target.as_dict()
        for s in pending:
            if s in tree_values:
                vals[s] = tree_values[s]
        out.append(make_variant(f"{target.name}@{k}/{len(units)}", "", vals, *tree_facts(target)))
    return out


def evidence_variants(req: ProposeRequest) -> tuple[Variant, Variant, Variant]:
    """The variant, its reference and v6.14 as the evidence boots run them:
    the request's own, or with ``evidence_presets`` the same id resolved on
    the tree's presets (its driver sites and registration levels, the
    mutations on top); a variant file keeps its values and gets the tree's
    registration levels."""
    presets = req.evidence_presets
    if presets is None:
        return req.variant, req.reference, PRESETS["V614"]
    if parse_id(req.variant_id)[0] in presets:
        target = resolve(req.variant_id, presets).variant
    else:
        t = req.variant
        target = make_variant(t.name, t.description, t.as_dict(), *tree_facts(presets["TREE"]))
    ref = req.reference.name
    reference = preset(ref, presets).variant if ref in presets else req.reference
    return target, reference, preset("V614", presets).variant


def evidence_notes(ev: evidence.Evidence | None) -> list[str]:
    """What the user should know before sending: no finding avoided, bisection breaks."""
    if ev is None:
        return []
    notes = []
    if ev.problem is None:
        notes.append(f"the variant avoids no finding of {ev.reference} on the evidence boards: "
                     "the messages state no problem; is this the variant you meant?")
    for r in ev.runs_of(ev.variant):
        if not r.clean:
            notes.append(f"with the whole series {r.board} still shows: {'; '.join(r.titles)}")
    for k, runs in enumerate(ev.stages, 1):
        for r in runs:
            if not r.clean and k < len(ev.stages):
                notes.append(f"after patch {k}/{len(ev.stages)} {r.board} shows: "
                             f"{'; '.join(r.titles)} (the series does not bisect cleanly)")
    return notes


class PrerequisitesMissing(ProposeError):
    """The base lacks part of the change under test; names what, exit 2."""


def find_upstream(repo: git.Repo, base: str, base_ref: str, given: str | None,
                  ) -> tuple[str, list[str]]:
    """(base-commit, the commits between it and ``base``, oldest first).

    With ``given`` that commit (an ancestor of the base).  Otherwise the newest
    first-parent ancestor of ``base`` that some other ref has (a branch other
    than the one naming the base and probefuzz's own, a tag, a remote): the
    commits above it are the series the base was made with.  When no other
    ref has any ancestor, the base itself is the upstream (nothing to declare).
    """
    if given is not None:
        try:
            up = repo.git.rev_parse("--verify", f"{given}^{{commit}}")
            repo.git.merge_base("--is-ancestor", up, base)
        except git.GitCommandError:
            raise ProposeError(f"--upstream {given}: not a commit in the history of the base "
                               f"{base[:12]}") from None
        return up, repo.git.rev_list("--reverse", f"{up}..{base}").split()
    own = {f"refs/heads/{base_ref}", base_ref}
    try:
        own.add(repo.git.rev_parse("--symbolic-full-name", base_ref).strip())
    except git.GitCommandError:
        pass
    others = []
    for ln in repo.git.for_each_ref("--format=%(refname) %(objectname)").splitlines():
        ref, _, sha = ln.partition(" ")
        if ref not in own and not ref.startswith(f"refs/heads/{gitrepo.BRANCH_PREFIX}"):
            others.append(sha)
    above = repo.git.rev_list("--first-parent", "--reverse", base, "--not", *others,
                              "--").split() if others else []
    if not above or not repo.git.log("-1", "--format=%P", above[0]).strip():
        return base, []  # reaches the root: no upstream to tell apart
    return repo.git.rev_parse(f"{above[0]}^"), above


def missing_prerequisites(units: list[series.Unit], reference: Variant) -> list[str]:
    """What the base lacks of ``reference``, by series patch (one phrase each)."""
    pre = upstream.preset(reference.name)
    out = []
    for u in units:
        if u.kind != series.PORT:
            continue
        sp = pre.patch(u.key) if pre is not None else None
        what = sp.label() if sp is not None else (f"patch {u.key}" if "/" in u.key else u.key)
        out.append(f"{what} ({', '.join(SITES[s].function + '()' for s in u.sites)})")
    return out


# 'patch 4/4 ("subject") (fn(), ...)' -> 'patch 4/4 ("subject")'; 'patch FILE (fn(), ...)' -> 'patch FILE'
_FUNCTIONS_SUFFIX = re.compile(r'^(patch \S+(?: \("[^"]*"\))?) \(.*\)$')


def _missing(base: str, reference: Variant, missing: list[str]) -> PrerequisitesMissing:
    # The CLI clips a rejection to one line of 300 characters: the remedy
    # first, then the missing patches (without the functions each touches),
    # so a clip cuts the end of the list, never the remedy.
    patches = "; ".join(_FUNCTIONS_SUFFIX.sub(r"\1", m) for m in missing)
    return PrerequisitesMissing(
        f"the base {base[:12]} lacks {upstream.prose_name(reference.name)}'s series (--base-ref it: "
        f"probefuzz apply --variant {reference.name} makes one; or --prerequisites-mbox FILE): "
        f"{patches}")


def _git_env(repo: git.Repo) -> dict[str, str]:
    if identity(repo):
        return {}
    return {"GIT_AUTHOR_NAME": message.TOOL, "GIT_AUTHOR_EMAIL": f"{message.TOOL}@localhost",
            "GIT_COMMITTER_NAME": message.TOOL,
            "GIT_COMMITTER_EMAIL": f"{message.TOOL}@localhost"}


def branch_for(variant_id: str) -> str:
    return gitrepo.branch_name(variant_id).replace(gitrepo.BRANCH_PREFIX,
                                                   gitrepo.BRANCH_PREFIX + "propose/", 1)


def _prepare_out(out: Path, force: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    old = sorted(out.glob("*.patch"))
    if old and not force:
        raise ProposeError(f"{out} already holds {len(old)} .patch files (use --force to "
                           "replace them)")
    for p in old + sorted(out.glob("*.cocci")) + sorted(out.glob("cocci/*.cocci")):
        p.unlink()
    (out / B4_COVER).unlink(missing_ok=True)


def _send_commands(out: Path, files: list[Path], wt: Path, start: str) -> list[str]:
    """git send-email, or b4: enrol the branch above ``start`` and take our cover letter."""
    rel = " ".join(str(f) for f in files)
    cover = (out / B4_COVER).resolve()
    return [f"git send-email --dry-run {rel}",
            f"git send-email {rel}",
            f"cd {wt} && b4 prep -e {start[:12]} && EDITOR='cp {cover}' b4 prep --edit-cover "
            "&& b4 prep --auto-to-cc && b4 send --dry-run"]


def propose(req: ProposeRequest) -> ProposeResult:
    """Make the series; raises ProposeError/RepoError/RuleError/ToolError on bad input."""
    t0 = time.monotonic()
    which("spatch")  # a missing tool is refused before anything is made (--out included)
    repo = gitrepo.open_tree(req.tree)
    tree = Path(repo.working_tree_dir or req.tree)
    gitrepo.prune_stale(repo)
    try:
        base = repo.git.rev_parse("--verify", f"{req.base_ref}^{{commit}}")
    except git.GitCommandError:
        raise ProposeError(f"{req.base_ref}: no such commit in {tree}") from None
    signoff = None
    if req.signoff:
        signoff = identity(repo)
        if signoff is None:
            raise ProposeError(f"--signoff: no git identity in {tree} (set user.name and "
                               "user.email there; the tool never invents a sign-off)")
    fixes_given: FixesTag | None = resolve_fixes(repo, req.fixes, base) if req.fixes else None
    up, prereq_commits = find_upstream(repo, base, req.base_ref, req.upstream)
    rk = evidence.load_ranking(req.ranking, req.variant_id, req.variant.fingerprint()) \
        if req.ranking else None
    out = Path(req.out)
    out_created = not out.exists()
    _prepare_out(out, req.force)
    branch = branch_for(req.variant_id)
    if branch in [h.name for h in repo.heads]:
        if not req.force:
            raise ProposeError(f"branch {branch} already exists (use --force to replace it)")
        gitrepo.drop_branch(repo, branch)

    target = req.variant
    locations = site_locations(repo, base, target)
    full = plan(target, locations)
    files = [fr.file for fr in full.files]
    wt, wrepo = gitrepo.create_sparse_worktree(repo, branch, base, files)
    mbox = Path(req.prerequisites_mbox) if req.prerequisites_mbox else None
    try:
        res = _make_series(req, repo, tree, wt, wrepo, base, full, files, locations,
                           signoff, fixes_given, rk, out, t0, up, prereq_commits)
        gitrepo.finish_worktree(wrepo)
        return res
    except BaseException:
        gitrepo.remove_worktree(repo, wt, branch)
        for f in [*out.glob("*.patch"), *out.glob("*.cocci"), *out.glob("cocci/*.cocci"),
                  out / B4_COVER]:
            f.unlink(missing_ok=True)  # ours: _prepare_out refused or cleared older ones
        if mbox is not None:
            mbox.unlink(missing_ok=True)
        if out_created:  # leave no empty --out behind
            for d in (out / "cocci", out):
                with contextlib.suppress(OSError):
                    d.rmdir()
        raise


def _fixes_for(repo: git.Repo, wrepo: git.Repo, base: str, given: FixesTag | None,
               reference: Variant, files: list[str]) -> FixesTag | None:
    """``--fixes``; else the commit the reference's preset records; else the tree's history."""
    if given is not None:
        return given
    pre = upstream.preset(reference.name)
    if pre is not None and pre.introduced_by is not None and pre.introduced_by.sha:
        ib = pre.introduced_by
        return FixesTag(ib.sha or "", ib.subject,
                        f"the {reference.name} preset ({pre.prose}, {ib.label()})")
    return _culprit(repo, wrepo, base, files)


def _in_tree(repo: git.Repo, sha: str) -> bool:
    try:
        repo.git.rev_parse("--verify", "--quiet", f"{sha}^{{commit}}")
        return True
    except git.GitCommandError:
        return False


def _commit(wrepo: git.Repo, files: list[str], msg: str, env: dict[str, str]) -> None:
    wrepo.git.add("-u", "--", *files)
    with wrepo.git.custom_environment(**env):
        wrepo.git.commit("-q", "--no-verify", "--cleanup=verbatim", "-m", msg)


def _make_series(req: ProposeRequest, repo: git.Repo, tree: Path, wt: Path, wrepo: git.Repo,
                 base: str, full: Any, files: list[str], locations: dict[str, str],
                 signoff: str | None, fixes_given: FixesTag | None,
                 rk: evidence.Ranking | None, out: Path, t0: float, up: str,
                 prereq_commits: list[str]) -> ProposeResult:
    target, reference = req.variant, req.reference
    tree_values = _tree_values(wt, locations)
    # what the base lacks shows in the read-back values already: refuse before any spatch
    readable = [n for n in tree_values if target.value(n) != tree_values[n]]
    early = missing_prerequisites(series.split(readable, tree_values, target, reference),
                                  reference)
    if early and req.prerequisites_mbox is None:
        raise _missing(base, reference, early)
    whole = apply_plan(wt, full, req.timeout)
    changed = [o.site for o in whole.outcomes if o.status == "applied"]
    if not changed:
        raise ProposeError(f"variant {req.variant_id} is already what {base[:12]} has: "
                           "nothing to propose")
    expected = {f: (wt / f).read_bytes() for f in files}
    wrepo.git.checkout("--", *files)
    t_plan = time.monotonic()

    units = series.split(changed, tree_values, target, reference)
    missing = missing_prerequisites(units, reference)
    if missing and req.prerequisites_mbox is None:
        raise _missing(base, reference, missing)
    if not any(u.kind == series.FIX for u in units):
        raise ProposeError(f"variant {req.variant_id} changes only what "
                           f"{upstream.prose_name(reference.name)} changes: no fix of yours "
                           "to propose")
    ev_target, ev_reference, ev_v614 = evidence_variants(req)
    ev = evidence.gather(req.boards, ev_target, ev_reference, rk, ev_v614,
                         req.evidence_facts) if req.boards else None
    if ev is not None:  # bisection of the user's series: after each fix patch
        for u, sv in zip(units, stage_variants(units, tree_values, ev_target), strict=True):
            if u.kind == series.FIX:
                ev.stages.append([evidence.boot(b, p, sv, sv.name)[0] for b, p in req.boards])
    t_ev = time.monotonic()

    env = _git_env(wrepo)
    tool_env = _tool_env()
    versions = (tool_version(), spatch_version())
    base_desc = message.base_description(
        repo.git.log("-1", "--format=%s", up), up != base, reference)
    fix_units = [u for u in units if u.kind == series.FIX]
    texts: list[message.PatchText] = []
    fix_smpl: list[str] = []
    fixes_used: FixesTag | None = None
    prereq_tip = base
    for k, u in enumerate(units, 1):
        p = plan(target, locations, only=set(u.sites))
        r = apply_plan(wt, p, req.timeout)
        not_applied = [o.site for o in r.outcomes if o.site in u.sites and o.status != "applied"]
        if not_applied or not r.changed_files:
            raise RuleError(f"patch {k} ({', '.join(u.sites)}): rules did not apply on their own "
                            f"({', '.join(not_applied) or 'no change'})")
        u.files = r.changed_files
        smpl = "".join(fr.smpl for fr in p.files)
        if u.kind == series.PORT:
            # re-created from the model's declarations: probefuzz's, never the user's
            pt = _patch_text(req, u, tree_values, ev, versions, base_desc, None,
                             message.Trailers(), k, len(units) - len(fix_units),
                             prefixes.unit_prefix(repo, base, _numstat(wrepo, u.files)))
            _commit(wrepo, u.files, message.prerequisite_message(pt), tool_env)
            prereq_tip = wrepo.head.commit.hexsha
            continue
        fx = _fixes_for(repo, wrepo, base, fixes_given, reference, u.files)
        fixes_used = fixes_used or fx
        pt = _patch_text(req, u, tree_values, ev, versions, base_desc, fx,
                         message.Trailers(req.trailers.reported_by, req.trailers.closes,
                                          req.trailers.link, signoff),
                         len(texts) + 1, len(fix_units),
                         prefixes.unit_prefix(repo, base, _numstat(wrepo, u.files)))
        _commit(wrepo, u.files, message.commit_message(pt), env)
        texts.append(pt)
        fix_smpl.append(smpl)
    got = {f: (wt / f).read_bytes() for f in files}
    if got != expected:
        bad = [f for f in files if got[f] != expected[f]]
        raise RuleError(f"the patches do not add up to the variant in {', '.join(bad)}")
    t_commit = time.monotonic()

    subjects = [message.subject(t) for t in texts]
    cocci_text = coccicheck_form("".join(fix_smpl), message.cocci_description(texts),
                                 message.cocci_report(texts[0]),
                                 message.cocci_comments(texts[0]))
    cocci_path = out / f"{branch_for(req.variant_id).rsplit('/', 1)[-1]}.cocci"
    cocci_path.write_text(cocci_text)
    mbox = None
    if prereq_tip != base:
        mbox = Path(req.prerequisites_mbox or out / "prerequisites.mbox")
        mbox.parent.mkdir(parents=True, exist_ok=True)
        mbox.write_text(wrepo.git.execute(
            ["git", "format-patch", "--stdout", f"--subject-prefix={NOT_FOR_POSTING}",
             "--no-signature", f"{base}..{prereq_tip}"]) + "\n")
    root_fix = fixes_used is not None and _in_tree(repo, fixes_used.sha) and \
        not repo.git.log("-1", "--format=%P", fixes_used.sha).strip()
    cover, patch_files, union = _format_series(wrepo, tree, up, prereq_tip, out, texts,
                                               subjects, cocci_text, fixes_signers=not root_fix)
    t_fmt = time.monotonic()

    unknown_ok = {fixes_used.sha[:12]} if fixes_used is not None and \
        not _in_tree(repo, fixes_used.sha) else set()
    verdicts = [checkpatch.check(tree, pf, unknown_ok) for pf in patch_files]
    t_cp = time.monotonic()
    am_ok = _am_check(repo, base, files, ([mbox] if mbox else []) + patch_files,
                      wrepo.head.commit.tree.hexsha, env)
    t_am = time.monotonic()

    no_signoff = signoff is None
    errors = sum(len(v.of("ERROR", signoff_ok=no_signoff)) for v in verdicts)
    return ProposeResult(
        variant=req.variant_id, reference=reference.name, branch=wrepo.active_branch.name,
        worktree=str(wt), base=base, out=str(out),
        patches=[str(p) for p in patch_files], cover_letter=str(cover) if cover else None,
        units=[u.as_json() for u in units], subjects=subjects,
        recipients={"to": union.to, "cc": union.cc},
        checkpatch=[v.as_json() for v in verdicts], errors=errors,
        warnings=sum(len(v.of("WARNING")) for v in verdicts),
        checks=sum(len(v.of("CHECK")) for v in verdicts),
        signoff=signoff, signoff_missing=no_signoff, am_applies=am_ok,
        fixes=fixes_used.line() if fixes_used else None,
        evidence=ev.as_json() if ev is not None else {},
        send_commands=_send_commands(out, ([cover] if cover else []) + patch_files, wt,
                                     prereq_tip),
        seconds={"plan": round(t_plan - t0, 3), "evidence": round(t_ev - t_plan, 3),
                 "commits": round(t_commit - t_ev, 3), "format": round(t_fmt - t_commit, 3),
                 "checkpatch": round(t_cp - t_fmt, 3), "am": round(t_am - t_cp, 3),
                 "total": round(time.monotonic() - t0, 3)},
        notes=evidence_notes(ev) + _prerequisite_notes(missing, mbox, up, prereq_commits),
        upstream=up,
        prerequisites=[f"{c[:12]} {repo.git.log('-1', '--format=%s', c)}"
                       for c in prereq_commits],
        prerequisites_mbox=str(mbox) if mbox else None, cocci=str(cocci_path))


def _patch_text(req: ProposeRequest, u: series.Unit, tree_values: dict[str, Any],
                ev: evidence.Evidence | None, versions: tuple[str, str], base_desc: str,
                fx: FixesTag | None, trailers: message.Trailers, index: int, total: int,
                prefix: str) -> message.PatchText:
    return message.PatchText(
        unit=u, prefix=prefix, tree_values=tree_values, target=req.variant,
        reference=req.reference, evidence=ev, tool_version=versions[0],
        spatch_version=versions[1], base=base_desc, fixes=fx, trailers=trailers,
        index=index, total=total)


def _prerequisite_notes(missing: list[str], mbox: Path | None, up: str,
                        commits: list[str]) -> list[str]:
    notes = []
    if mbox is not None:
        notes.append(f"{mbox} re-creates what the base lacks ({'; '.join(missing)}) for "
                     "testing only: probefuzz wrote those patches from its model, they are "
                     "nobody's to post; apply it before the fix (git am)")
    if commits:
        notes.append(f"base-commit: {up[:12]}; the {len(commits)} commit(s) above it are "
                     "declared as prerequisite-patch-id (use --upstream REV if that is not "
                     "the commit maintainers have)")
    return notes


def _tool_env() -> dict[str, str]:
    return {"GIT_AUTHOR_NAME": message.TOOL, "GIT_AUTHOR_EMAIL": f"{message.TOOL}@localhost",
            "GIT_COMMITTER_NAME": message.TOOL,
            "GIT_COMMITTER_EMAIL": f"{message.TOOL}@localhost"}


def _numstat(wrepo: git.Repo, files: list[str]) -> dict[str, int]:
    """Changed lines per file in the worktree (what a patch's prefix is weighted by)."""
    out: dict[str, int] = {}
    for ln in wrepo.git.diff("--numstat", "--", *files).splitlines():
        parts = ln.split("\t")
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            out[parts[2]] = int(parts[0]) + int(parts[1])
    return out


def _culprit(repo: git.Repo, wrepo: git.Repo, base: str, files: list[str]) -> FixesTag | None:
    """The culprit of the uncommitted change in ``files``, from the tree's history."""
    for f in files:
        tag = find_culprit(repo, base, f, wrepo.git.diff("--", f))
        if tag is not None:
            return tag
    return None


def _format_series(wrepo: git.Repo, tree: Path, up: str, start: str, out: Path,
                   texts: list[message.PatchText], subjects: list[str], cocci: str,
                   fixes_signers: bool,
                   ) -> tuple[Path | None, list[Path], maintainers.Recipients]:
    """``git format-patch --base`` (+ cover letter), then get_maintainer's To:/Cc:.

    ``--base=up`` on ``start..HEAD`` writes ``base-commit: up`` and one
    ``prerequisite-patch-id:`` (``git patch-id --stable``) per commit of
    ``up..start``.  The semantic patch goes once per series: in the cover
    letter, or below the ``---`` of a single patch (b4's place for notes).
    """
    argv = ["format-patch", f"--base={up}", "-o", str(out.resolve()), "--no-signature"]
    if len(texts) > 1:
        argv += ["--cover-letter", "--numbered"]
    paths = [Path(n) for n in wrepo.git.execute(["git", *argv, f"{start}..HEAD"]).splitlines()]
    ids = "".join(f"prerequisite-patch-id: {patch_id(wrepo, c)}\n"
                  for c in wrepo.git.rev_list("--reverse", f"{up}..{start}").split())
    for p in paths:  # git < 2.40 hashes some hunks unlike `git patch-id --stable` (b4's)
        text = p.read_text()
        if "\nbase-commit: " in text:
            p.write_text(re.sub(r"^prerequisite-patch-id: [0-9a-f]+\n", "", text,
                                flags=re.M).replace(f"base-commit: {up}\n",
                                                    f"base-commit: {up}\n{ids}", 1))
    cover = next((p for p in paths if p.name.startswith("0000-")), None)
    patch_files = [p for p in paths if p is not cover]
    union = maintainers.Recipients()
    for pf in patch_files:
        rc = maintainers.recipients(tree, pf, fixes_signers=fixes_signers)
        union.merge(rc)
        pf.write_text(maintainers.add_headers(pf.read_text(), rc))
    csubj, cbody = message.cover_letter(texts, subjects, cocci)
    if cover is None:  # b4 puts a single patch's cover letter below its ---
        cbody = message.notes(texts[0], cocci)
    (out / B4_COVER).write_text(f"{csubj}\n\n{cbody}")
    if cover is not None:
        text = cover.read_text().replace("*** SUBJECT HERE ***", csubj)
        text = text.replace("*** BLURB HERE ***", cbody.rstrip("\n"))
        cover.write_text(maintainers.add_headers(text, union))
    else:
        pf = patch_files[0]
        msg, sep, rest = pf.read_text().partition("\n---\n")
        pf.write_text(msg + sep + message.notes(texts[0], cocci) + "\n" + rest)
    return cover, patch_files, union


def patch_id(repo: git.Repo, commit: str) -> str:
    """``git patch-id --stable`` of one commit, as b4 computes prerequisite-patch-id."""
    cwd = Path(repo.working_tree_dir or repo.git_dir)
    diff = run(["git", "diff-tree", "-p", "--no-color", commit], timeout=gitrepo.GIT_TIMEOUT,
               cwd=cwd).stdout
    proc = run(["git", "patch-id", "--stable"], timeout=gitrepo.GIT_TIMEOUT, cwd=cwd, input=diff)
    return proc.stdout.decode().split()[0]


def _am_check(repo: git.Repo, base: str, files: list[str], patches: list[Path],
              want_tree: str, env: dict[str, str]) -> bool:
    """``git am`` the series onto ``base`` in a scratch worktree; same tree as the branch?"""
    branch = f"{gitrepo.BRANCH_PREFIX}am-check-{os.getpid()}"
    wt, wrepo = gitrepo.create_sparse_worktree(repo, branch, base, files)
    try:
        with wrepo.git.custom_environment(**env):
            try:
                wrepo.git.execute(["git", "-c", "core.sparseCheckout=true", "am", "-q",
                                   *[str(p) for p in patches]],
                                  kill_after_timeout=GIT_AM_TIMEOUT)
            except git.GitCommandError:
                return False
        return bool(wrepo.head.commit.tree.hexsha == want_tree)
    finally:
        gitrepo.remove_worktree(repo, wt, branch)
