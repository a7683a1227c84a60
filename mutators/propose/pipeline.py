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
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import git

from harness.board import Board
from harness.variant import PRESETS, SITES, Variant, make_variant
from mutators import gitrepo
from mutators.apply import site_locations, spatch_version
from mutators.engine import SPATCH_TIMEOUT, apply_plan
from mutators.propose import checkpatch, evidence, maintainers, message, prefixes, series
from mutators.propose.fixes import FixesTag, find_culprit
from mutators.propose.fixes import resolve as resolve_fixes
from mutators.readback import ReadbackError, read_value
from mutators.rules import RuleError, plan
from mutators.space import parse_id

GIT_AM_TIMEOUT = 120.0


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
        out.append(make_variant(f"{target.name}@{k}/{len(units)}", "", vals))
    return out


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


def _port_notes(units: list[series.Unit], reference: Variant) -> list[str]:
    """Ports re-create someone else's change: say so, the authorship is not ours."""
    ks = [str(k) for k, u in enumerate(units, 1) if u.kind == series.PORT]
    if not ks:
        return []
    return [f"patch(es) {', '.join(ks)} of {len(units)} re-create {reference.name}'s own changes "
            "(not in this base): send the original patches with their authors where they "
            "exist, and only the fix patches as yours"]


def _git_env(repo: git.Repo) -> dict[str, str]:
    if identity(repo):
        return {}
    return {"GIT_AUTHOR_NAME": message.TOOL, "GIT_AUTHOR_EMAIL": f"{message.TOOL}@localhost",
            "GIT_COMMITTER_NAME": message.TOOL,
            "GIT_COMMITTER_EMAIL": f"{message.TOOL}@localhost"}


def _transform_rules(smpl: str) -> str:
    """The rules that change code (not the detection or marker-printing ones)."""
    keep = []
    for chunk in re.split(r"\n(?=@[^@])", smpl):
        head = chunk.split("\n", 1)[0]
        if head.startswith("@script:") or head.startswith("// site"):
            continue
        body = chunk.split("@@", 1)[-1] if chunk.count("@") >= 2 else chunk
        if any(ln[:1] in "+-" for ln in body.splitlines()[1:]):
            keep.append("\n".join(ln for ln in chunk.strip("\n").splitlines()
                                  if not ln.startswith("// site")))
    return "\n\n".join(keep)


def branch_for(variant_id: str) -> str:
    return gitrepo.branch_name(variant_id).replace(gitrepo.BRANCH_PREFIX,
                                                   gitrepo.BRANCH_PREFIX + "propose/", 1)


def _prepare_out(out: Path, force: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    old = sorted(out.glob("*.patch"))
    if old and not force:
        raise ProposeError(f"{out} already holds {len(old)} .patch files (use --force to "
                           "replace them)")
    for p in old + sorted(out.glob("cocci/*.cocci")):
        p.unlink()


def _send_commands(out: Path, files: list[Path], wt: Path, base: str) -> list[str]:
    rel = " ".join(str(f) for f in files)
    return [f"git send-email --dry-run {rel}",
            f"git send-email {rel}",
            f"cd {wt} && b4 prep -e {base[:12]} && b4 prep --auto-to-cc && b4 send --dry-run"]


def propose(req: ProposeRequest) -> ProposeResult:
    """Make the series; raises ProposeError/RepoError/RuleError/ToolError on bad input."""
    t0 = time.monotonic()
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
    rk = evidence.load_ranking(req.ranking, req.variant_id, req.variant.fingerprint()) \
        if req.ranking else None
    out = Path(req.out)
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
    try:
        res = _make_series(req, repo, tree, wt, wrepo, base, full, files, locations,
                           signoff, fixes_given, rk, out, t0)
        gitrepo.finish_worktree(wrepo)
        return res
    except BaseException:
        gitrepo.remove_worktree(repo, wt, branch)
        for f in [*out.glob("*.patch"), *out.glob("cocci/*.cocci")]:
            f.unlink(missing_ok=True)  # ours: _prepare_out refused or cleared older ones
        raise


def _make_series(req: ProposeRequest, repo: git.Repo, tree: Path, wt: Path, wrepo: git.Repo,
                 base: str, full: Any, files: list[str], locations: dict[str, str],
                 signoff: str | None, fixes_given: FixesTag | None,
                 rk: evidence.Ranking | None, out: Path, t0: float) -> ProposeResult:
    target, reference = req.variant, req.reference
    tree_values = _tree_values(wt, locations)
    whole = apply_plan(wt, full, req.timeout)
    changed = [o.site for o in whole.outcomes if o.status == "applied"]
    if not changed:
        raise ProposeError(f"variant {req.variant_id} is already what {base[:12]} has: "
                           "nothing to propose")
    expected = {f: (wt / f).read_bytes() for f in files}
    wrepo.git.checkout("--", *files)
    t_plan = time.monotonic()

    units = series.split(changed, tree_values, target, reference)
    ev = evidence.gather(req.boards, target, reference, rk) if req.boards else None
    if ev is not None:
        for sv in stage_variants(units, tree_values, target):
            ev.stages.append([evidence.boot(b, p, sv, sv.name)[0] for b, p in req.boards])
    t_ev = time.monotonic()

    env = _git_env(wrepo)
    base_desc = f'"{repo.git.log("-1", "--format=%s", base)}" (the base-commit below)'
    versions = (tool_version(), spatch_version())
    texts: list[message.PatchText] = []
    fixes_used: FixesTag | None = fixes_given
    for k, u in enumerate(units, 1):
        p = plan(target, locations, only=set(u.sites))
        r = apply_plan(wt, p, req.timeout)
        not_applied = [o.site for o in r.outcomes if o.site in u.sites and o.status != "applied"]
        if not_applied or not r.changed_files:
            raise RuleError(f"patch {k} ({', '.join(u.sites)}): rules did not apply on their own "
                            f"({', '.join(not_applied) or 'no change'})")
        u.files = r.changed_files
        fx = fixes_given
        if fx is None and u.kind == series.FIX:
            fx = _culprit(repo, wrepo, base, u.files)
        fixes_used = fixes_used or fx
        pt = message.PatchText(
            unit=u, prefix=prefixes.unit_prefix(repo, base, _numstat(wrepo, u.files)),
            tree_values=tree_values, target=target, reference=reference, evidence=ev,
            rules=_transform_rules("\n".join(fr.smpl for fr in p.files)),
            tool_version=versions[0], spatch_version=versions[1], base=base_desc, fixes=fx,
            trailers=message.Trailers(req.trailers.reported_by, req.trailers.closes,
                                      req.trailers.link, signoff),
            index=k, total=len(units))
        (out / "cocci").mkdir(exist_ok=True)
        (out / "cocci" / f"{k:04d}.cocci").write_text("".join(fr.smpl for fr in p.files))
        wrepo.git.add("-u", "--", *u.files)
        with wrepo.git.custom_environment(**env):
            wrepo.git.commit("-q", "--no-verify", "--cleanup=verbatim", "-m",
                             message.commit_message(pt))
        texts.append(pt)
    got = {f: (wt / f).read_bytes() for f in files}
    if got != expected:
        bad = [f for f in files if got[f] != expected[f]]
        raise RuleError(f"the patches do not add up to the variant in {', '.join(bad)}")
    t_commit = time.monotonic()

    subjects = [message.subject(t) for t in texts]
    root_fix = fixes_used is not None and \
        not repo.git.log("-1", "--format=%P", fixes_used.sha).strip()
    cover, patch_files, union = _format_series(wrepo, tree, base, out, texts, subjects,
                                               fixes_signers=not root_fix)
    t_fmt = time.monotonic()

    verdicts = [checkpatch.check(tree, pf) for pf in patch_files]
    t_cp = time.monotonic()
    am_ok = _am_check(repo, base, files, patch_files, wrepo.head.commit.tree.hexsha, env)
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
        send_commands=_send_commands(out, ([cover] if cover else []) + patch_files, wt, base),
        seconds={"plan": round(t_plan - t0, 3), "evidence": round(t_ev - t_plan, 3),
                 "commits": round(t_commit - t_ev, 3), "format": round(t_fmt - t_commit, 3),
                 "checkpatch": round(t_cp - t_fmt, 3), "am": round(t_am - t_cp, 3),
                 "total": round(time.monotonic() - t0, 3)},
        notes=evidence_notes(ev) + _port_notes(units, reference))


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


def _format_series(wrepo: git.Repo, tree: Path, base: str, out: Path,
                   texts: list[message.PatchText], subjects: list[str], fixes_signers: bool,
                   ) -> tuple[Path | None, list[Path], maintainers.Recipients]:
    """``git format-patch --base`` (+ cover letter), then get_maintainer's To:/Cc: headers."""
    argv = ["format-patch", f"--base={base}", "-o", str(out.resolve()), "--no-signature"]
    if len(texts) > 1:
        argv += ["--cover-letter", "--numbered"]
    paths = [Path(n) for n in wrepo.git.execute(["git", *argv, f"{base}..HEAD"]).splitlines()]
    cover = next((p for p in paths if p.name.startswith("0000-")), None)
    patch_files = [p for p in paths if p is not cover]
    union = maintainers.Recipients()
    for pf in patch_files:
        rc = maintainers.recipients(tree, pf, fixes_signers=fixes_signers)
        union.merge(rc)
        pf.write_text(maintainers.add_headers(pf.read_text(), rc))
    if cover is not None:
        csubj, cbody = message.cover_letter(texts, subjects)
        text = cover.read_text().replace("*** SUBJECT HERE ***", csubj)
        text = text.replace("*** BLURB HERE ***", cbody.rstrip("\n"))
        cover.write_text(maintainers.add_headers(text, union))
    return cover, patch_files, union


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
