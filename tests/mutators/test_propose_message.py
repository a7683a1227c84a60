"""Commit messages of a fixed scenario, pinned (a golden mbox message), and their rules.

The scenario: NEXT+rk_iommu_probe.dma_dev:=before_register proposed on a base
that has the series (its guard sites read back as NEXT), evidence from the
bundled seed board: one fix patch, Fixes: the series' commit from the NEXT
preset.  The same variant on a base as Debian's 6.12 (1/4 and 3/4 of the
series only) needs prerequisites, re-created "for testing, not for posting".
No kernel tree needed.  Regenerate the golden file with PROBEFUZZ_REGEN_GOLDEN=1.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from corpus.bundled import load_bundled
from harness.upstream import PRESETS as UPSTREAM
from harness.variant import NEXT, SITES
from mutators.propose import evidence, message, prefixes, series
from mutators.propose.fixes import FixesTag
from mutators.propose.pipeline import stage_variants
from mutators.rules import coccicheck_form, plan
from mutators.space import resolve
from tests.golden import check_golden

GOLDEN = Path(__file__).parent / "golden" / "propose.rk3568-odroid-m1.verify"
VID = "NEXT+rk_iommu_probe.dma_dev:=before_register"
BASE = message.base_description("Debian linux-source-6.12 6.12.117", True, NEXT)
_IB = UPSTREAM["NEXT"].introduced_by
assert _IB is not None and _IB.sha is not None
FIXES = FixesTag(_IB.sha, _IB.subject, "the NEXT preset")
REPORTER = "Marek Szyprowski <m.szyprowski@samsung.com>"
CLOSES = "https://lore.kernel.org/all/seed-report@samsung.com/"
LINK = "https://lore.kernel.org/r/series@arm.com/"


def tree_612() -> dict[str, Any]:
    """Site values as mutators.readback reads them from Debian 6.12.117."""
    vals = {n: s.v614 for n, s in SITES.items() if n != "iommu_init_device.dma_configure_lock"}
    for n, s in SITES.items():
        if s.patch in ("1/4", "3/4"):
            vals[n] = s.next
    return vals


def tree_next() -> dict[str, Any]:
    """Site values of a base that has the series (``probefuzz apply NEXT``'s branch)."""
    return {n: NEXT.value(n) for n in SITES}


def make_texts(signoff: str | None = None, fixes: FixesTag | None = FIXES,
               with_evidence: bool = True, tv: dict[str, Any] | None = None,
               ) -> list[message.PatchText]:
    target = resolve(VID).variant
    tv = tree_next() if tv is None else tv
    changed = [n for n in tv if tv[n] != target.value(n)]
    units = series.split(changed, tv, target, NEXT)
    ev = None
    if with_evidence:
        boards = [("rk3568-odroid-m1", load_bundled("rk3568-odroid-m1"))]
        ev = evidence.gather(boards, target, NEXT)
        for sv in stage_variants(units, tv, target):
            ev.stages.append([evidence.boot(b, p, sv, sv.name)[0] for b, p in boards])
    out = []
    for k, u in enumerate(units, 1):
        sites_per_file = Counter(SITES[s].file for s in u.sites)  # stands in for diff lines
        out.append(message.PatchText(
            unit=u, prefix=prefixes.unit_prefix(None, "HEAD", dict(sites_per_file)),
            tree_values=tv, target=target, reference=NEXT, evidence=ev,
            tool_version="0.1.0", spatch_version="1.1.1", base=BASE,
            fixes=fixes if u.kind == series.FIX else None,
            trailers=message.Trailers(REPORTER, CLOSES, LINK, signoff), index=k, total=len(units)))
    return out


def cocci(texts: list[message.PatchText]) -> str:
    fix = [t for t in texts if t.unit.kind == series.FIX]
    smpl = "".join(fr.smpl for t in fix
                   for fr in plan(t.target, only=set(t.unit.sites)).files)
    return coccicheck_form(smpl, message.cocci_description(fix), message.cocci_report(fix[0]),
                           message.cocci_comments(fix[0]))


def mail(t: message.PatchText, notes: str) -> str:
    """One patch as git format-patch writes it, up to the diff (headers pinned by hand)."""
    subj, body = message.commit_message(t).split("\n\n", 1)
    return (f"From probefuzz Mon Sep 17 00:00:00 2001\nSubject: [PATCH] {subj}\n\n{body}"
            f"---\n{notes}")


@pytest.fixture(scope="module")
def texts() -> list[message.PatchText]:
    return make_texts()


def test_golden_message(texts: list[message.PatchText]) -> None:
    assert len(texts) == 1
    check_golden(GOLDEN, mail(texts[0], message.notes(texts[0], cocci(texts))))


def test_only_the_fix_on_a_base_with_the_series(texts: list[message.PatchText]) -> None:
    assert [message.subject(t) for t in texts] == [
        "iommu/rockchip: Set the global dma_dev before registering"]
    assert [t.unit.kind for t in texts] == ["fix"]


def test_prerequisites_on_612_come_first_and_are_not_for_posting() -> None:
    ts = make_texts(tv=tree_612(), with_evidence=False)
    assert [t.unit.kind for t in ts] == ["port", "port", "fix"]
    assert [t.unit.key for t in ts[:2]] == ["2/4", "4/4"]
    m = message.prerequisite_message(ts[1])
    flat = " ".join(m.split())
    assert "For testing only, not for posting" in flat
    assert 'linux-next\'s patch 4/4 ("iommu: Get DT/ACPI parsing into the proper probe path")' \
        in flat
    assert "Signed-off-by" not in m and "Fixes:" not in m and "Reported-by" not in m


def _trailers(msg: str) -> list[str]:
    return msg.rstrip("\n").split("\n\n")[-1].splitlines()


def test_trailer_rules(texts: list[message.PatchText]) -> None:
    fix = message.commit_message(texts[0])
    tr = _trailers(fix)
    assert tr == ['Fixes: bcb81ac6ae3c ("iommu: Get DT/ACPI parsing into the proper probe path")',
                  f"Reported-by: {REPORTER}", f"Closes: {CLOSES}", f"Link: {LINK}"]
    assert "Signed-off-by" not in fix


def test_signoff_only_when_given() -> None:
    msgs = [message.commit_message(t) for t in make_texts(signoff="A B <a@b.org>",
                                                          with_evidence=False)]
    for m in msgs:
        assert _trailers(m)[-1] == "Signed-off-by: A B <a@b.org>"
        assert m.count("Signed-off-by:") == 1


def test_problem_is_title_and_trimmed_trace(texts: list[message.PatchText]) -> None:
    fix = message.commit_message(texts[0])
    assert "  BUG: kernel NULL pointer dereference in rk_iommu_of_xlate\n" in fix
    trace = fix.split("  Call trace:\n", 1)[1].split("\n\n", 1)[0].split()
    assert trace[:2] == ["devm_kmalloc", "rk_iommu_of_xlate"] and trace[-1] == "really_probe"
    assert "do_one_initcall" not in fix and not re.search(r"\[\s*\d+\.\d+\]", fix)
    assert "+0x" not in fix  # no offsets, no timestamps


def test_mechanism_change_and_tests_in_words(texts: list[message.PatchText]) -> None:
    fix = message.commit_message(texts[0])
    flat = " ".join(fix.split())
    # the mechanism in C terms: the order in rk_iommu_probe() and the path to the fault
    assert "rk_iommu_probe() sets the global dma_dev after registering." in flat
    assert ("rk_iommu_probe() reaches the fault through iommu_device_register() -> "
            "bus_for_each_dev() ->") in flat
    assert "before it sets the global dma_dev" in flat
    assert "rk_iommu_probe() sets the global dma_dev before registering, not after" in flat
    # evidence by prose names, how found and tested, and what was not
    assert re.search(r"rk3568-odroid-m1\s+linux-next\s+1 oops: BUG: kernel NULL pointer", fix)
    assert re.search(r"rk3568-odroid-m1\s+with the fix\s+no findings", fix)
    assert "probefuzz 0.1.0" in fix and "Coccinelle 1.1.1" in fix
    assert "Tested: the model boots of rk3568-odroid-m1 above; checkpatch.pl --strict" in flat
    assert "Not tested: not compiled, not booted on hardware or under QEMU" in flat
    # no model names, no Python reprs, no SmPL in the log
    for bad in ("NEXT", "V614", "before_register", "after_register", "{", "None", "@@",
                "PROBEFUZZ_"):
        assert bad not in fix, bad
    assert not re.search(r"'[\w ]*'", fix)  # a quoted Python string


def test_commit_log_lines_fit_checkpatch(texts: list[message.PatchText]) -> None:
    for t in texts + make_texts(tv=tree_612()):
        body = message.commit_message(t) if t.unit.kind == series.FIX else \
            message.prerequisite_message(t)
        # checkpatch GIT_COMMIT_ID: no commit ids in the body but the Fixes: tag's
        assert not re.search(r"\bcommit\s+[0-9a-f]{5,}", body, flags=re.I)
        # (checkpatch skips a stack dump: from a BUG:/WARNING: line to the next blank line)
        outside_dump = re.sub(r"^\s*(?:BUG|WARNING):.*?\n\n", "", body, flags=re.M | re.S)
        assert not re.search(r"(?:\s|^)[0-9a-f]{12,40}(?:[\s\"'\(\[]|$)",
                             outside_dump.replace(FIXES.line(), ""), flags=re.M)
        for ln in body.splitlines()[1:]:
            if not ln.startswith(("Fixes:", "Closes:", "Link:", "Reported-by:")):
                assert len(ln) <= 75, ln


def test_cocci_is_in_coccicheck_form(texts: list[message.PatchText]) -> None:
    c = cocci(texts)
    lines = c.splitlines()
    assert lines[0].startswith("/// Set the global dma_dev before registering")
    assert "// Confidence: Moderate" in lines and "virtual patch" in lines \
        and "virtual report" in lines
    assert any(ln.startswith("// Options: ") for ln in lines)
    assert re.search(r"^@s(\d+)_to depends on patch && \(!s\1_done\) exists@$", c, re.M)
    assert re.search(r"^@s(\d+)_to_r depends on report && \(!s\1_done\) exists@$", c, re.M)
    assert "coccilib.report.print_report(p[0], " in c
    # no Python reprs, no probefuzz markers or placeholders
    assert "'" not in c and "PROBEFUZZ" not in c and "// site" not in c


def test_ranking_in_evidence(tmp_path: Path) -> None:
    import json

    from tests.mutators.test_propose_parts import RANKING

    p = tmp_path / "ranking.json"
    p.write_text(json.dumps(RANKING))
    t = make_texts(with_evidence=True)[0]
    assert t.evidence is not None
    t.evidence.ranking = evidence.load_ranking(p, VID)
    msg = " ".join(message.commit_message(t).split())
    assert ("ranked this change 1 of 2 against linux-next over 2000 fuzzed probe orders "
            "per variant") in msg
    assert "0 oops, 0 deadlock, 0 group, 0 isolation, 0 warn, 2 defer" in msg
    assert "Reproducers (probefuzz repro): r1, r2." in msg


def test_budget_in_words_not_a_repr() -> None:
    assert message._budget({"variants": 40, "scenarios_per_variant": 50,
                            "time_per_variant": None}) == \
        "40 variants, 50 scenarios per variant"
    assert message._budget(2000) == "2000 fuzzed probe orders per variant"


def test_summaries_of_guard_changes() -> None:
    s = "platform_dma_configure.use_default_domain"
    v = resolve("NEXT+platform_dma_configure.use_default_domain:-dev->driver").variant
    assert message.summary(s, NEXT.value(s), v.value(s)) == \
        "Stop testing dev->driver in platform_dma_configure()"
    assert message.summary("acpi_iommu_configure_id.replay", SITES[
        "acpi_iommu_configure_id.replay"].v614, None) == \
        "Don't replay iommu_probe_device() after IORT/VIOT configuration"
    assert message.summary("iommu_device_use_default_domain.defer", None, NEXT.value(
        "iommu_device_use_default_domain.defer")).startswith("Add -EPROBE_DEFER")


def test_notes_for_a_variant_that_fixes_nothing_or_breaks_bisection() -> None:
    from mutators.propose.pipeline import evidence_notes

    boards = [("rk3568-odroid-m1", load_bundled("rk3568-odroid-m1"))]
    ev = evidence.gather(boards, NEXT, NEXT)  # NEXT "fixes" nothing and still oopses
    notes = evidence_notes(ev)
    assert any("avoids no finding of NEXT" in n for n in notes)
    assert any("still shows: BUG: kernel NULL pointer dereference in rk_iommu_of_xlate" in n
               for n in notes)
    ev.stages = [[evidence.boot(b, p, NEXT, "NEXT@1/2")[0] for b, p in boards], []]
    assert any("after patch 1/2" in n and "does not bisect" in n for n in evidence_notes(ev))
    assert evidence_notes(make_texts()[0].evidence) == []


def test_two_fix_patches_share_one_cover_letter_with_the_cocci(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.mutators.test_propose_message as me

    monkeypatch.setattr(me, "VID", VID + "+of_iommu_configure.replay:-dev->bus")
    ts = make_texts()
    assert [t.unit.kind for t in ts] == ["fix", "fix"]
    subjects = [message.subject(t) for t in ts]
    assert subjects == ["iommu: Stop testing dev->bus in of_iommu_configure()",
                        "iommu/rockchip: Set the global dma_dev before registering"]
    c = cocci(ts)
    _, body = message.cover_letter(ts, subjects, c)
    assert body.count("virtual report") == 1 and "- 1/2 iommu: Stop testing" in body
    for t in ts:
        m = message.commit_message(t)
        assert "semantic patch in the cover letter" in " ".join(m.split())
        assert "With the whole series, rk3568-odroid-m1 boots" in " ".join(m.split())
        assert "virtual report" not in m
    flat = " ".join(message.commit_message(ts[0]).split())
    assert ("drivers/iommu/of_iommu.c: In of_iommu_configure(), replay iommu_probe_device() "
            "after a successful parse: under if (!err && !dev_iommu_present), not if (!err && "
            "dev->bus && !dev_iommu_present).") in flat
